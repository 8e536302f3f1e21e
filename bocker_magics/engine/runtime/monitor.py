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
While the container is idle (no client, no connection, no check soon) the monitor's process
execs the sleeper, a small C program that logs pid 1's output and execs this module again on
anything else (sleeper.py: why and how; _idle, _sleep and _adopt here).

The exec monitor (execmon.py) does the same for one more process in a running container: it
joins the container's namespaces and cgroup instead of making them. The shim rehearses what
every monitor runs (rehearsal.py). protocol.py has the picture of who says what to whom.
Stdlib only: this is a `python -I -S` process.

What a resumed monitor imports (sleeper.resume: an interpreter of its own, at every wake-up)
is what holding the container and ending it take. A start (starter.py: init.py, pid1.py, the
root's and seccomp's modules), an exec or a healthcheck (execmon.py) is imported when one
comes; the shim imports them all before it forks, so a forked monitor finds them loaded.
"""

from __future__ import annotations

import os
import signal
import socket
import time

from ... import _cjson  # json without its imports (re): every wake-up from the sleeper pays them
from ...errors import BockerError, StartFailure
from ..kernel import linux
from . import sleeper
from .eventloop import Loop
from .logfile import LogWriter
from .monitorfiles import DRIVERS, MonitorFiles  # noqa: F401 (monitor.DRIVERS: the shim's)
from .protocol import CONTROL, EVENT_EXITED, EVENT_FAILED, EVENT_STARTED, Channel, Launch, control
from .stdio import ATTACH_SOCKET, Stdio  # noqa: F401 (monitor.ATTACH_SOCKET, as before)

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
        self.relay = None
        self._ran_for = 0.0
        if launch.healthcheck:
            from .health import Checker, Healthcheck
            self.checker = Checker(Healthcheck(**launch.healthcheck), self.bundle, self.loop, self._spawn_check)

    # -- the holder ----------------------------------------------------------------------------
    def run(self, resumed: dict | None = None) -> int:
        stdio = None
        code, oom = 255, False
        try:
            if resumed is None:
                # what lives as long as the container, ready before it starts: its log, its
                # clients, its attach socket, its ports
                log = LogWriter(os.path.join(self.bundle, "log"))
                self.relay = self._ports()
                stdio = Stdio(self.loop, log, tty=False)
                if self.attach_fd is not None:
                    stdio.add_client(socket.socket(fileno=self.attach_fd), owner=True)
                stdio.listen(self.bundle)
                code, oom = self._run_once(stdio, True)
            else:  # the sleeper's (sleeper.py): all of that was made before, and pid 1 runs
                stdio = self._adopt(resumed)
                code, oom = self._hold(stdio, resumed["started"])
            while self._restart(code):
                code, oom = self._run_once(stdio, False)
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
            from .starter import os_failure
            self._failed(*os_failure(e, self.bundle))
        except Exception:
            import traceback
            self._failed("Bug: " + traceback.format_exc(), 125)
        finally:
            self._load_state()
            self._cleanup(self.relay)
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
        stdio.broadcast(CONTROL, _cjson.dumps({"event": EVENT_STARTED, "pid": self.pid}).encode())
        linux.crash_point("running")
        stdio.start(started["sources"], started["stdin_fd"], started["master"])
        if self.checker is not None:
            self.checker.start()
        return self._hold(stdio, now)

    def _hold(self, stdio: Stdio, started: float) -> tuple[int, bool]:
        """Relay pid 1's stdio (and ports, and checks) until its output ends; reap it. While
        the container is idle, the sleeper holds it in this process (sleeper.py)."""
        while stdio.output_open:
            if self._idle(stdio):
                self._sleep(stdio, started)  # returns only if the sleeper could not run
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
        self._ran_for = time.time() - started
        self._load_cgroup()
        return linux.exit_code(status), self.cgroup.oom_killed()

    def _idle(self, stdio: Stdio) -> bool:
        """Nothing for Python to do until an event the sleeper wakes us for: no client, no
        connection, no check soon, nothing ready on the loop (what woke us is handled
        first), pid 1 not ended."""
        if sleeper.path is None or stdio.clients or stdio.stdin_buffer or stdio.paused or stdio.stdin_closing:
            return False
        if self.relay is not None and self.relay.splices:
            return False
        c = self.checker
        if c is not None and (c._running is not None or c.next_at is None
                              or c.next_at - time.monotonic() < sleeper.MIN_SLEEP):
            return False
        if self.loop.sel.select(0):
            return False
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def _sleep(self, stdio: Stdio, started: float) -> None:
        c, relay = self.checker, self.relay
        ports = [(s.fileno(), port) for s, port in relay.listeners.items()] if relay is not None else []
        fds = {"ctl": self.ctl.fd, "netns": self.netns_fd, "listener": stdio.listener.fileno(),
               "log": stdio.log.fd, "stdin": stdio.stdin_fd, "master": stdio.master}
        record = {"launch": self.launch.to_json(), "pid": self.pid, "pid_start": self.pid_start, "tty": stdio.tty,
                  "started": started, "delay": getattr(self, "_delay", None), "log_full": stdio.log.full,
                  "fds": fds, "sources": stdio.sources, "ports": ports,
                  "health": {"next_at": c.next_at, "started": c.container_started} if c is not None else None}
        keep = [fd for fd in (self.ctl.fd, self.netns_fd, stdio.stdin_fd) if fd is not None and fd not in stdio.sources]
        sleeper.sleep(record, log_fd=stdio.log.fd, pid=self.pid, deadline=c.next_at if c is not None else None,
                      log_full=stdio.log.full, sources=stdio.sources,
                      wakes=[stdio.listener.fileno(), *(fd for fd, _ in ports)], keep=keep)

    def _adopt(self, r: dict):
        """The resumed monitor: the objects of what the sleeper held (its fds)."""
        fds = r["fds"]
        self.pid, self.pid_start = r["pid"], r["pid_start"]
        if r["delay"] is not None:
            self._delay = r["delay"]
        if r["ports"]:
            from ..network.relay import PortRelay
            self.relay = PortRelay.adopt(self.launch.endpoint.address if self.launch.endpoint else None, r["ports"])
            self.relay.attach(self.loop)
        stdio = Stdio(self.loop, LogWriter.adopt(fds["log"], r["log_full"]), tty=r["tty"])
        stdio.adopt_listener(socket.socket(fileno=fds["listener"]))
        stdio.start(r["sources"], fds["stdin"], fds["master"])
        if self.checker is not None and r["health"]:
            from .health import Health
            self.checker.health = Health.load(self.bundle) or Health()
            self.checker.container_started, self.checker.next_at = r["health"]["started"], r["health"]["next_at"]
        return stdio

    def _start(self, first: bool) -> dict:
        """One run's start, by a starter (starter.start_run)."""
        from .starter import start_run
        return start_run(self, self.ctl, self.netns_fd, first)

    def _spawn_check(self, argv: list[str], out_fd: int, timeout: float) -> int:
        """A healthcheck's runner (health.run_check): it enters the container as `exec` does
        (execmon.check_entry)."""
        from .execmon import check_entry
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


def monitor(launch: Launch, fds: dict[str, int], resumed: dict | None = None) -> int:
    code = Monitor(launch, fds).run(resumed)
    # after the end is recorded and cleaned up: the engine's exit command (exitcommand.py)
    from .exitcommand import start_exit_command
    start_exit_command(launch.exit_command)
    return code



def resume_monitor(record: dict) -> int:
    """The monitor again, in the sleeper's process (sleeper.resume)."""
    fds = record["fds"]
    return monitor(Launch.from_json(record["launch"]), {"ctl": fds["ctl"], "netns": fds["netns"]}, record)

