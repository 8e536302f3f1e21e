"""The per-container monitor: a process of its own (forked by the shim, in its own session,
so it outlives the engine), that runs one container from its bundle to its end:

  1. makes the container's cgroup, its limits and its devices policy (spec.linux.resources),
  2. makes pid 1 in a new pid namespace (init.py does the rest: namespaces, root, process),
  3. relays the container's stdio: its stdout and stderr (or its pty) to the log and to
     every attached client, the clients' input to its stdin; the published ports,
  4. waits for pid 1, records the exit status (and an OOM kill) in state.json, restarts it
     if the restart policy says so,
  5. removes the cgroup. The mounts die with the container's mount namespace: none is
     ever made in the host's.

Steps 1-2 run in a short-lived child of the monitor, the starter (starter.py), for each
(re)start; the monitor itself keeps only what lives as long as the container (Monitor says
why: memory). Step 3 is stdio.py on eventloop.py's loop; pid 1 and its pipes, pid1.py.

The exec monitor (execmon.py) does the same for one more process in a running container: it
joins the container's namespaces and cgroup instead of making them. The shim rehearses what
every monitor runs (rehearsal.py). protocol.py has the picture of who says what to whom. The
names of those modules stay importable from here. Stdlib only: this is a `python -I -S`
process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from ...errors import BockerError, StartFailure
from ..kernel import linux
from .eventloop import Loop
from .execmon import check_entry, exec_monitor, open_namespaces  # noqa: F401 (monitor.exec_monitor)
from .logfile import LogWriter
from .monitorfiles import DRIVERS, MonitorFiles  # noqa: F401 (monitor.DRIVERS: the shim's)
from .pid1 import Child, cgroup_of, exit_code, seccomp_of, spawn  # noqa: F401 (names of monitor.py)
from .protocol import CONTROL, EVENT_EXITED, EVENT_FAILED, EVENT_STARTED, Channel, Launch, control
from .starter import MAX_REPORT, Starter, os_failure, start_run  # noqa: F401 (names of monitor.py)
from .stdio import ATTACH_SOCKET, CHUNK, HIGH_WATER, Client, Stdio  # noqa: F401 (names of monitor.py)

STOP_MARK = "stopped-by-user"  # the engine's stop/kill leaves it: no restart after that exit


class Monitor(MonitorFiles):
    """Two processes hold a container (measured, issue 22: memory per container).

    The *holder* (this object in the process the shim forked) lives as long as the container:
    its log, its attach socket and clients, its published ports, its healthchecks, its exit
    status and OOM record, its restarts. The *starter*, a child of the holder, does the
    work of each (re)start: reads the spec, writes the state, makes the cgroup, makes pid 1
    and takes it through the engine's go; it hands pid 1's stdio to the holder and exits.
    The holder is a subreaper, so pid 1 is its child from then on (it reaps it, as before).

    Why: a forked Python process owns a page as soon as it writes to it, and CPython writes
    to every object it touches (reference counts). Everything the start touches (the spec
    model, the cgroup drivers, init.py, the state's encoding) would stay in the holder's
    own memory for the container's life; in the starter it goes when the starter exits.
    The holder idles on what its event loop uses. After the container ends, the holder
    reads the spec and state again (cleanup, restart); a container that restarts pays that
    once more.

    A starter killed (kill -9, BOCKER_CRASH_AT) takes its holder with it: what it left is
    gc's, as when a monitor is killed. A holder killed takes its starter with it
    (PR_SET_PDEATHSIG)."""

    def __init__(self, launch: Launch, fds: dict[str, int]) -> None:
        holder = os.getpid()  # the state's monitor_pid: the process that lives as long as the container
        super().__init__(launch, holder, linux.process_start_time(holder) or 0)
        self.ctl = Channel(fds["ctl"])
        self.attach_fd = fds.get("attach")
        self.netns_fd = fds.get("netns")
        self.loop = Loop()
        # the spec, state and cgroup (MonitorFiles) are read only by the starter, or by the
        # holder once the container ended (or a healthcheck runs)
        self.pid: int | None = None
        self.pid_start = 0
        self.checker = None
        self._ran_for = 0.0
        if launch.healthcheck:
            from .health import Checker, Healthcheck
            self.checker = Checker(Healthcheck(**launch.healthcheck), self.bundle, self.loop, self._spawn_check)

    # -- the holder ----------------------------------------------------------------------------
    def run(self) -> int:
        relay = stdio = None
        code, oom = 255, False
        try:
            # what lives as long as the container, ready before it starts: its log, its
            # clients, its attach socket, its ports
            log = LogWriter(os.path.join(self.bundle, "log"))
            relay = self._ports()
            stdio = Stdio(self.loop, log, tty=False)
            if self.attach_fd is not None:
                stdio.add_client(socket.socket(fileno=self.attach_fd), owner=True)
            stdio.listen(self.bundle)
            first = True
            while True:
                code, oom = self._run_once(stdio, first)
                first = False
                if not self._restart(code):
                    break
            self._load_state()
            self.state.status, self.state.phase = "stopped", "exited"
            self.state.exit_code, self.state.oom_killed = code, oom
            self.state.finished_at = time.time()
            self.state.pid = 0
        except StartFailure as e:
            self._failed(e.message, e.code)
        except BockerError as e:
            self._failed(str(e), 125)
        except OSError as e:
            self._failed(*os_failure(e, self.bundle))
        except Exception:
            import traceback
            self._failed("Bug: " + traceback.format_exc(), 125)
        finally:
            self._load_state()
            self._cleanup(relay)
        try:
            self.save()
        except OSError:  # a full disk: the events below still say how it ended
            self.state.stats = {}
        if stdio is not None:
            if self.state.phase == "failed":
                stdio.finish(control(event=EVENT_FAILED, message=self.state.error, code=self.state.exit_code))
            else:
                stdio.finish(control(event=EVENT_EXITED, code=self.state.exit_code, oom_killed=self.state.oom_killed))
        if self.state.phase == "failed":
            self.ctl.send(event=EVENT_FAILED, message=self.state.error, code=self.state.exit_code)
        else:
            self.ctl.send(event=EVENT_EXITED, code=self.state.exit_code, oom_killed=self.state.oom_killed)
        return 0

    def _failed(self, message: str, code: int) -> None:
        self._load_state()
        self.state.status, self.state.phase = "stopped", "failed"
        self.state.error, self.state.exit_code = message, code
        self.state.pid = 0

    def _ports(self):
        if not self.launch.publish:
            return None
        from ..network.relay import PortRelay
        relay = PortRelay(self.launch.endpoint.address if self.launch.endpoint else None, self.launch.publish)
        relay.attach(self.loop)
        return relay

    def _run_once(self, stdio: Stdio, first: bool) -> tuple[int, bool]:
        """One run of pid 1: started by a starter, then held here until it exits."""
        started = self._start(first)
        self.pid, self.pid_start = started["pid"], started["pid_start"]
        if first and self.netns_fd is not None and self.launch.restart.name == "no":
            os.close(self.netns_fd)  # pid 1 holds the namespace now
            self.netns_fd = None
        now = time.time()
        stdio.tty = started["tty"]
        stdio.broadcast(CONTROL, json.dumps({"event": EVENT_STARTED, "pid": self.pid}).encode())
        linux.crash_point("running")
        stdio.start(started["sources"], started["stdin_fd"], started["master"])
        if self.checker is not None:
            self.checker.start()
        while stdio.output_open:
            if self.checker is None:
                self.loop.run_once()
            else:
                self.loop.run_once(self.checker.due())
                self.checker.tick()
        if self.checker is not None:
            self.checker.stop()  # nothing checks a stopped container
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        stdio.end_run()
        linux.crash_point("exited")
        self._ran_for = time.time() - now
        self._load_cgroup()
        return exit_code(status), self.cgroup.oom_killed()


    def _start(self, first: bool) -> dict:
        """One run's start, by a starter (starter.start_run)."""
        return start_run(self, self.ctl, self.netns_fd, first)

    def _spawn_check(self, argv: list[str], out_fd: int, timeout: float) -> int:
        """A healthcheck's runner (health.run_check): it enters the container as `exec` does
        (execmon.check_entry)."""
        from .health import run_check

        self._load_cgroup()
        enter = check_entry(self.pid, self.pid_start, self.spec, list(self.cgroup.paths().values()),
                            self.launch.seccomp, argv)
        return run_check(argv, out_fd, timeout, enter)

    def _restart(self, code: int) -> bool:
        """The restart policy (--restart), with Docker's back-off: 100 ms, doubled after each
        quick exit, back to 100 ms after a run of 10 s or more."""
        policy = self.launch.restart
        if policy.name == "no" or os.path.exists(os.path.join(self.bundle, STOP_MARK)):
            return False
        self._load_state()
        if policy.name == "on-failure" and (code == 0 or (policy.max_retries and
                                                          self.state.restart_count >= policy.max_retries)):
            return False
        self._delay = 0.1 if self._ran_for >= 10 or not hasattr(self, "_delay") else min(self._delay * 2, 60)
        self.state.status, self.state.phase, self.state.pid = "stopped", "restarting", 0
        self.state.exit_code = code
        self.save(fsync=False)
        deadline = time.monotonic() + self._delay
        while time.monotonic() < deadline:  # the ports and attach socket stay served meanwhile
            self.loop.run_once(max(0.0, deadline - time.monotonic()))
            if os.path.exists(os.path.join(self.bundle, STOP_MARK)):
                return False
        self.state.restart_count += 1
        self.save(fsync=False)  # the next starter reads it
        return True

    def _cleanup(self, relay) -> None:
        if self.pid is not None:  # a bug above while pid 1 ran: never leave it behind
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        if relay is not None:
            relay.close()
        if self.netns_fd is not None:
            os.close(self.netns_fd)
            self.netns_fd = None
        if self.state.phase == "exited":  # the starter made the cgroup; a failed start removed its own
            try:
                self._load_cgroup()
            except Exception as e:
                self.state.error = self.state.error or f"cgroup not removed: {e}"
        if self.cgroup is not None:
            try:
                if self.state.phase == "exited":  # the final accounting, before it goes
                    self.state.stats = {k: v for k, v in self.cgroup.stats().as_dict().items() if v is not None}
            except Exception:
                pass
            try:
                self.cgroup.destroy()
                self.driver.remove_parent()  # the engine's own dir goes with its last container
            except Exception as e:
                if not self.state.error:
                    self.state.error = f"cgroup not removed: {e}"
        release_lease(self.launch.lease, self.launch.id)  # the veths went with the network namespace
        for lease in _more_leases(self.bundle):  # its other networks' (network/plan.py write_leases)
            release_lease(lease, self.launch.id)
        try:
            os.unlink(os.path.join(self.bundle, ATTACH_SOCKET))
        except FileNotFoundError:
            pass



def _more_leases(bundle: str) -> list[str]:
    try:
        with open(os.path.join(bundle, "leases")) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []



def release_lease(lease: str | None, container_id: str) -> None:
    """Give the container's address back (the lease file holds its id)."""
    if not lease:
        return
    try:
        with open(lease) as f:
            mine = f.read().strip() == container_id
        if mine:
            os.unlink(lease)
    except OSError:
        pass


def monitor(launch: Launch, fds: dict[str, int]) -> int:
    code = Monitor(launch, fds).run()
    # after the end is recorded and cleaned up: the engine's exit command (exitcommand.py)
    from .exitcommand import start_exit_command
    start_exit_command(launch.exit_command)
    return code



from .rehearsal import REHEARSALS, rehearse  # noqa: E402,F401 (the shim's; it needs Monitor)
