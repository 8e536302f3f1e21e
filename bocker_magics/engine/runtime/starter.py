"""The starter: a short-lived child of a container's monitor that does the work of one
(re)start (monitor.Monitor says why: memory). It reads the spec, writes the state, makes
the cgroup (on the first run), makes pid 1 and takes it through the engine's go; it sends
the monitor pid 1's stdio fds and the state, and exits. The monitor is a subreaper while
it waits, so pid 1 is its child from then on.

A starter killed (kill -9, BOCKER_CRASH_AT) takes its monitor with it: what it left is
gc's, as when a monitor is killed. A monitor killed takes its starter (PR_SET_PDEATHSIG).
Stdlib only."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import time

from ...errors import BockerError, StartFailure
from ..kernel import capabilities, linux
from ..kernel.rootfs import Overlay, RootContext
from .init import receive_fd
from .monitorfiles import MonitorFiles
from .pid1 import Child, seccomp_of, spawn
from .protocol import EVENT_FAILED, EVENT_NETNS, EVENT_STARTED, OP_GO, SYNC_ERROR, SYNC_GO, SYNC_READY, Channel

MAX_REPORT = 1 << 20  # a state with its annotations
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1


def os_failure(e: OSError, bundle: str) -> tuple[str, int]:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"No space left on BOCKER_ROOT ({os.path.dirname(os.path.dirname(bundle))}): "
                "free space or move BOCKER_ROOT", 125)
    return f"Could not run the container: {e.strerror} ({e.filename or ''})", 125


# -- the monitor's side ----------------------------------------------------------------------------
def start_run(holder: MonitorFiles, ctl: Channel, netns_fd: int | None, first: bool) -> dict:
    """Fork a starter and wait for its word: started (pid 1 runs, its stdio comes with
    it) or failed (raised here). A starter that dies without a word was killed: so is
    its holder (the container's remains are gc's)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    capabilities._prctl(PR_SET_CHILD_SUBREAPER, 1)  # pid 1 is ours once its starter exits
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ours.close()
            capabilities._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a holder killed takes its starter
            if os.getppid() != holder.holder:
                os._exit(1)
            code = Starter(holder, ctl, netns_fd).run(first, theirs)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    theirs.close()
    try:
        msg, fds, _, _ = socket.recv_fds(ours, MAX_REPORT, 4)
    except OSError:
        msg, fds = b"", []
    finally:
        ours.close()
    os.waitpid(pid, 0)  # once it is gone, pid 1 is our child
    # and no more orphans come to us: pid 1's own (no pid namespace of its own) go to init
    capabilities._prctl(PR_SET_CHILD_SUBREAPER, 0)
    if not msg:
        os._exit(1)  # killed: as a killed monitor leaves it (gc's), for the same reasons
    head, _, holder._state_text = msg.partition(b"\n")
    report = json.loads(head)
    if report["event"] == EVENT_FAILED:
        for fd in fds:
            os.close(fd)
        if report.get("cgroup_error"):
            holder._load_state()
            holder.state.error = report["cgroup_error"]
        raise StartFailure(report["message"], report["code"])
    named = dict(zip(report["fds"], fds))
    sources = {named[k]: k for k in ("stdout", "stderr") if k in named}
    master = named.get("master")
    if master is not None:
        sources = {master: "stdout"}
    report.update(sources=sources, master=master, stdin_fd=master if master is not None else named.get("stdin"))
    holder.state = None  # the starter wrote it since: read again when needed
    return report


# -- the starter's side ----------------------------------------------------------------------------
class Starter(MonitorFiles):
    """One (re)start, in the forked starter: what the monitor had read comes with the fork."""

    def __init__(self, holder: MonitorFiles, ctl: Channel, netns_fd: int | None) -> None:
        super().__init__(holder.launch, holder.holder, holder.holder_start)
        self.spec, self.state, self.cgroup, self.driver = holder.spec, holder.state, holder.cgroup, holder.driver
        self._state_text = holder._state_text
        self.ctl, self.netns_fd = ctl, netns_fd
        self.pid: int | None = None
        self._made_cgroup = False

    def run(self, first: bool, report: socket.socket) -> int:
        """Start pid 1 and report to the monitor (exit status of the starter)."""
        try:
            try:
                child = self._start_pid1(first)
            except BaseException:
                if self.pid is not None:  # a bug while pid 1 ran: never leave it behind
                    try:
                        os.kill(self.pid, signal.SIGKILL)
                        os.waitpid(self.pid, 0)
                    except OSError:
                        pass
                raise
        except StartFailure as e:
            return self._report_failed(report, e.message, e.code)
        except BockerError as e:
            return self._report_failed(report, str(e), 125)
        except OSError as e:
            return self._report_failed(report, *os_failure(e, self.bundle))
        except Exception:
            import traceback
            return self._report_failed(report, "Bug: " + traceback.format_exc(), 125)
        return self._report_started(report, child)

    def _report_started(self, report: socket.socket, child: Child) -> int:
        names, fds = [], []
        for fd, stream in child.sources.items():
            names.append(stream)
            fds.append(fd)
        if child.stdin_fd is not None:
            names.append("stdin")
            fds.append(child.stdin_fd)
        if child.master is not None:
            names.append("master")
            fds.append(child.master)
        message = json.dumps({"event": EVENT_STARTED, "pid": child.pid, "pid_start": self.state.pid_start,
                              "tty": bool(self.spec.process.terminal), "fds": names}).encode()
        message += b"\n" + json.dumps(self.state.to_json()).encode()
        try:
            socket.send_fds(report, [message], fds)
        except OSError:
            return 1  # the holder is gone (killed): so are we, as it was
        return 0

    def _report_failed(self, report: socket.socket, message: str, code: int) -> int:
        cgroup_error = None
        if self.cgroup is not None and self._made_cgroup:
            try:
                self.cgroup.destroy()
                self.driver.remove_parent()  # the engine's own dir goes with its last container
            except Exception as e:
                cgroup_error = f"cgroup not removed: {e}"
        try:
            report.send(json.dumps({"event": EVENT_FAILED, "message": message, "code": code,
                                    "cgroup_error": cgroup_error}).encode())
        except OSError:
            return 1
        return 0

    def _start_pid1(self, first: bool) -> Child:
        """The start of one run, up to the program running: the state, the cgroup, pid 1,
        the engine's go. Returns pid 1 with its stdio (or its pty's master)."""
        spec = self._load_spec()
        if first:
            self.state = self._new_state()
            self.save(fsync=False)
            linux.crash_point("starting")
        else:
            self._load_state()
        self._load_cgroup()
        self._made_cgroup = True  # a first run makes it; a restart's is the run's own
        if first:
            # every field of spec.linux.resources, its devices policy included: bocker-runc's
            # create calls the same
            self.cgroup.create(spec.linux.resources)
            linux.crash_point("cgroup")
            for d in ("upper", "work", "merged"):
                os.makedirs(os.path.join(self.bundle, d), exist_ok=True)
        root = RootContext(root=os.path.join(self.bundle, "merged"),
                           overlay=Overlay(self.launch.layers_dir, self.launch.lowerdirs,
                                           os.path.join(self.bundle, "upper"), os.path.join(self.bundle, "work")),
                           cgroups=self.cgroup.paths())
        child = spawn(spec, root, stdin=self.launch.stdin, netns_fd=self.netns_fd,
                      seccomp=seccomp_of(self.launch.seccomp, spec), cgroup_files=self.cgroup.join_files())
        self.pid = child.pid
        if self.netns_fd is not None and first:
            self.state.netns = os.fstat(self.netns_fd).st_ino
        linux.crash_point("forked")
        self._go(child, first)
        self._record_running(child)
        if first:
            self.ctl.send(event=EVENT_STARTED, pid=child.pid)
        return child

    def _go(self, child: Child, first: bool) -> None:
        """The engine's go (after it plugged the network in), pid 1's ready, our go, its exec."""
        problem = None  # pid 1 joins its cgroup itself (spawn), before anything else
        if first and self.launch.endpoint is not None:
            self.ctl.send(event=EVENT_NETNS, pid=child.pid)  # the engine answers once it is plugged in
            answer = self.ctl.receive()
            if answer.get("op") != OP_GO:
                problem = answer.get("message", "the engine went away")
        report = child.sync.receive()
        master = None
        if report.get("type") == SYNC_READY and child.console is not None:
            master = receive_fd(child.console)
            child.console.close()
        if report.get("type") != SYNC_READY:
            self._reap(child)
            raise StartFailure(report.get("message") or problem or "pid 1 died before it was ready",
                               report.get("code", 125))
        if problem:
            self._reap(child)
            raise StartFailure(problem, 125)
        child.sync.send(type=SYNC_GO)
        final = child.sync.receive()  # {} (EOF) once the program was exec'ed
        if final.get("type") == SYNC_ERROR:
            self._reap(child)
            raise StartFailure(final["message"], final.get("code", 125))
        child.sync.close()
        child.master = master

    def _record_running(self, child: Child) -> None:
        now = time.time()
        self.state.status, self.state.phase, self.state.pid = "running", "running", child.pid
        self.state.pid_start = linux.process_start_time(child.pid) or 0
        self.state.started_at = now
        self.state.cgroup_driver, self.state.cgroup = self.driver.name, self.cgroup.paths()
        if self.state.netns is None:  # none/host: pid 1 has exec'ed, so it has unshared (if still there)
            try:
                self.state.netns = os.stat(f"/proc/{child.pid}/ns/net").st_ino
            except OSError:
                pass
        # not synced: were the host to crash now, the state says "starting" and gc knows what to do;
        # the exit status is synced (the final save)
        self.save(fsync=False)

    def _reap(self, child: Child) -> None:
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(child.pid, 0)
        self.pid = None
        child.sync.close()
