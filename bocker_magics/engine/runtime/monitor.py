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

Steps 1-2 run in a short-lived child of the monitor, the starter, for each (re)start; the
monitor itself keeps only what lives as long as the container (Monitor says why: memory).

The exec monitor does the same for one more process in a running container: it joins the
container's namespaces and cgroup instead of making them. protocol.py has the picture of
who says what to whom. Stdlib only: this is a `python -I -S` process.
"""

from __future__ import annotations

import collections
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import time

from ...errors import BockerError, StartFailure

# procfs and seccomp: imported here, so once by the shim; a monitor needs both at every start
# (a Seccomp loads its module when it is made, in the forked monitor: at each start)
from ..kernel import capabilities, linux
from ..kernel import procfs as _procfs  # noqa: F401
from ..kernel import seccomp as _seccomp_loader  # noqa: F401
from ..kernel.cgroups import detect
from ..kernel.process import Seccomp
from ..kernel.rootfs import Overlay, RootContext
from ..spec import Process, Spec, State, object_json, read_object
from .init import EXEC_NAMESPACES, ExecConfig, InitConfig, exec_init, fork_pid1, receive_fd
from .logfile import LogWriter
from .protocol import (
    CONTROL,
    EVENT_DETACHED,
    EVENT_EXITED,
    EVENT_FAILED,
    EVENT_NETNS,
    EVENT_STARTED,
    OP_DETACH,
    OP_EOF,
    OP_GO,
    OP_HELLO,
    OP_RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    SYNC_ERROR,
    SYNC_GO,
    SYNC_READY,
    Channel,
    ExecLaunch,
    Launch,
    Sync,
    control,
)

CHUNK = 65536
HIGH_WATER = 4 << 20      # a client this far behind stops the container's output until it reads
ATTACH_SOCKET = "attach.sock"
STOP_MARK = "stopped-by-user"  # the engine's stop/kill leaves it: no restart after that exit
_TIOCSWINSZ = 0x5414


# -- a small event loop ------------------------------------------------------------------------
class Loop:
    """selectors with a read and a write callback per file."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()

    def watch(self, f, read=None, write=None) -> None:
        events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        try:
            key = self.sel.get_key(f)
        except (KeyError, ValueError):
            key = None
        if not events:
            if key is not None:
                self.sel.unregister(f)
            return
        if key is None:
            self.sel.register(f, events, (read, write))
        else:
            self.sel.modify(f, events, (read, write))

    def remove(self, f) -> None:
        try:
            self.sel.unregister(f)
        except (KeyError, ValueError):
            pass

    def run_once(self, timeout: float | None = None) -> None:
        for key, mask in self.sel.select(timeout):
            read, write = key.data
            if mask & selectors.EVENT_READ and read:
                read(key.fileobj)
            # the read may have unregistered it
            if mask & selectors.EVENT_WRITE and write and self._still(key.fileobj, write):
                write(key.fileobj)

    def _still(self, f, cb) -> bool:
        try:
            return self.sel.get_key(f).data[1] is cb
        except (KeyError, ValueError):
            return False

    def close(self) -> None:
        self.sel.close()


# -- the container's stdio -------------------------------------------------------------------
class Client:
    """An attached client: a SOCK_SEQPACKET socket speaking protocol.py's frames."""

    def __init__(self, sock: socket.socket, owner: bool) -> None:
        self.sock = sock
        sock.setblocking(False)
        self.owner = owner          # the one that started the run: its stdin EOF closes stdin
        self.stdin = owner          # sends input (hello may say otherwise)
        self.streams = {"stdout", "stderr"}
        self.queue: collections.deque[bytes] = collections.deque()
        self.queued = 0


class Stdio:
    """Output of the container (pipes, or the pty master) to the log and the clients; input
    from the clients to its stdin (a pipe, or the pty master)."""

    def __init__(self, loop: Loop, log: LogWriter | None, tty: bool) -> None:
        self.loop = loop
        self.log = log
        self.tty = tty
        self.clients: list[Client] = []
        self.sources: dict[int, str] = {}       # fd -> stream
        self.stdin_fd: int | None = None
        self.stdin_buffer = bytearray()
        self.stdin_closing = False
        self.master: int | None = None
        self.paused = False                      # output reading stopped: a client is behind
        self.listener: socket.socket | None = None

    # sources and sinks of one run of the container
    def start(self, sources: dict[int, str], stdin_fd: int | None, master: int | None) -> None:
        self.sources = dict(sources)
        self.master = master
        self.stdin_fd = stdin_fd
        for fd in self.sources:
            os.set_blocking(fd, False)
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, False)
        self.stdin_buffer.clear()
        self.stdin_closing = False
        self._rewatch()

    @property
    def output_open(self) -> bool:
        return bool(self.sources)

    def _rewatch(self) -> None:
        for fd in self.sources:
            read = None if self.paused else self._read
            write = self._write_stdin if (fd == self.stdin_fd and self.stdin_buffer) else None
            self.loop.watch(fd, read=read, write=write)
        if self.stdin_fd is not None and self.stdin_fd not in self.sources:
            self.loop.watch(self.stdin_fd, write=self._write_stdin if self.stdin_buffer else None)

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: a pty whose every slave fd is closed
                raise
            data = b""
        if not data:
            self._close_source(fd)
            return
        stream = self.sources[fd]
        if self.log is not None:
            self.log.write(stream, data)
        self.broadcast(STDOUT if stream == "stdout" else STDERR, data, stream)

    def _close_source(self, fd: int) -> None:
        self.sources.pop(fd, None)
        if fd == self.stdin_fd:
            self.stdin_fd = None
        self.loop.remove(fd)
        os.close(fd)
        if fd == self.master:
            self.master = None

    def broadcast(self, kind: bytes, data: bytes, stream: str | None = None) -> None:
        for c in list(self.clients):
            if stream is None or stream in c.streams:
                self.send(c, kind + data)

    def send(self, c: Client, message: bytes) -> None:
        if not c.queue:
            try:
                c.sock.send(message)
                return
            except BlockingIOError:
                pass
            except OSError:
                self.drop(c)
                return
        c.queue.append(message)
        c.queued += len(message)
        self.loop.watch(c.sock, read=self._from_client, write=self._flush_client)
        if c.queued > HIGH_WATER and not self.paused:
            self.paused = True
            self._rewatch()

    def _flush_client(self, sock: socket.socket) -> None:
        c = self._client(sock)
        if c is None:
            return
        while c.queue:
            try:
                sock.send(c.queue[0])
            except BlockingIOError:
                return
            except OSError:
                self.drop(c)
                return
            c.queued -= len(c.queue.popleft())
        self.loop.watch(sock, read=self._from_client)
        if self.paused and all(x.queued <= HIGH_WATER // 2 for x in self.clients):
            self.paused = False
            self._rewatch()

    def _client(self, sock: socket.socket) -> Client | None:
        return next((c for c in self.clients if c.sock is sock), None)

    # clients
    def add_client(self, sock: socket.socket, owner: bool) -> Client:
        c = Client(sock, owner)
        self.clients.append(c)
        self.loop.watch(sock, read=self._from_client)
        return c

    def listen(self, bundle: str) -> None:
        """The attach socket, for `bocker attach` (bound by a relative path: a BOCKER_ROOT of
        any length fits in a socket address)."""
        path = os.path.join(bundle, ATTACH_SOCKET)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        dirfd = os.open(bundle, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            s.bind(f"/proc/self/fd/{dirfd}/{ATTACH_SOCKET}")
        finally:
            os.close(dirfd)
        os.chmod(path, 0o600)
        s.listen(8)
        s.setblocking(False)
        self.listener = s
        self.loop.watch(s, read=self._accept)

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        self.add_client(sock, owner=False)

    def _from_client(self, sock: socket.socket) -> None:
        c = self._client(sock)
        if c is None:
            return
        try:
            msg = sock.recv(CHUNK + 1)
        except BlockingIOError:
            return
        except OSError:
            msg = b""
        if not msg:
            self.drop(c)
            return
        kind, data = msg[:1], msg[1:]
        if kind == STDIN and c.stdin:
            self.feed(data)
        elif kind == CONTROL:
            self._control(c, json.loads(data or b"{}"))

    def _control(self, c: Client, op: dict) -> None:
        what = op.get("op")
        if what == OP_HELLO:
            c.stdin = bool(op.get("stdin", c.stdin))
            c.streams = {s for s in ("stdout", "stderr") if op.get(s, True)}
        elif what == OP_RESIZE and self.master is not None:
            rows, cols = int(op.get("rows", 0)), int(op.get("cols", 0))
            if rows > 0 and cols > 0:
                fcntl.ioctl(self.master, _TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        elif what == OP_EOF:
            if c.owner or op.get("close_stdin"):
                self.close_stdin()
        elif what == OP_DETACH:
            self.send(c, control(event=EVENT_DETACHED))
            self.drop(c, flush=True)

    def drop(self, c: Client, flush: bool = False) -> None:
        if c not in self.clients:
            return
        self.clients.remove(c)
        self.loop.remove(c.sock)
        if flush:
            c.sock.setblocking(True)
            try:
                for m in c.queue:
                    c.sock.send(m)
            except OSError:
                pass
        c.sock.close()
        if self.paused and all(x.queued <= HIGH_WATER // 2 for x in self.clients):
            self.paused = False
            self._rewatch()

    # stdin
    def feed(self, data: bytes) -> None:
        if self.stdin_fd is None or self.stdin_closing:
            return
        self.stdin_buffer += data
        self._write_stdin(self.stdin_fd)

    def _write_stdin(self, fd: int) -> None:
        while self.stdin_buffer and self.stdin_fd is not None:
            try:
                n = os.write(self.stdin_fd, self.stdin_buffer)
            except BlockingIOError:
                break
            except OSError:  # the container closed its stdin
                self.stdin_buffer.clear()
                break
            del self.stdin_buffer[:n]
        if not self.stdin_buffer and self.stdin_closing:
            self._finish_stdin()
        self._rewatch()

    def close_stdin(self) -> None:
        if self.tty or self.stdin_fd is None:
            return  # a terminal's EOF is a ^D the program reads
        self.stdin_closing = True
        if not self.stdin_buffer:
            self._finish_stdin()

    def _finish_stdin(self) -> None:
        if self.stdin_fd is not None and self.stdin_fd not in self.sources:
            self.loop.remove(self.stdin_fd)
            os.close(self.stdin_fd)
        self.stdin_fd = None

    def end_run(self) -> None:
        """The run's pipes are done with (a restart makes new ones)."""
        for fd in list(self.sources):
            self._close_source(fd)
        self._finish_stdin()

    def finish(self, message: bytes) -> None:
        """Tell every client how it ended, deliver what is queued, close."""
        for c in list(self.clients):
            self.send(c, message)
            self.drop(c, flush=True)
        if self.listener is not None:
            self.loop.remove(self.listener)
            self.listener.close()
            self.listener = None


# -- pid 1 ---------------------------------------------------------------------------------------
class Child:
    """One run of the container's pid 1, and the pipes (or pty) it was given."""

    def __init__(self, pid: int, sync: Sync, sources: dict[int, str], stdin_fd: int | None,
                 console: socket.socket | None) -> None:
        self.pid, self.sync, self.sources, self.stdin_fd, self.console = pid, sync, sources, stdin_fd, console
        self.master: int | None = None  # the pty's, once pid 1 sent it


def spawn(spec: Spec, root: RootContext, *, stdin: bool, netns_fd: int | None,
          seccomp: Seccomp | None, hook_state: str = "", cgroup_files: list[str] = ()) -> Child:
    """Pid 1 (init.fork_pid1: its pid namespace, cgroup and init.py), with its stdio: pipes,
    or a console socket for its pty."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tty = spec.process.terminal
    console_ours = console_theirs = None
    sources: dict[int, str] = {}
    child_fds: list[int] = []
    if tty:
        console_ours, console_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stdio = None
        stdin_w = None
    else:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if stdin:
            in_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        else:
            in_r, stdin_w = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), None
        stdio = (in_r, out_w, err_w)
        child_fds = [in_r, out_w, err_w]
        sources = {out_r: "stdout", err_r: "stderr"}

    def config(userns_fd: int | None) -> InitConfig:  # in the child: our ends go
        ours.close()
        if console_ours is not None:
            console_ours.close()
        for fd in sources:
            os.close(fd)
        if stdin_w is not None:
            os.close(stdin_w)
        return InitConfig(root=root, sync=theirs.detach(), stdio=stdio,
                          console=console_theirs.detach() if console_theirs is not None else None,
                          netns_fd=netns_fd, userns_fd=userns_fd, seccomp=seccomp, hook_state=hook_state)

    pid = fork_pid1(spec, config, cgroup_files)
    theirs.close()
    for fd in child_fds:
        os.close(fd)
    if console_theirs is not None:
        console_theirs.close()
    return Child(pid, Sync(ours), sources, stdin_w, console_ours)


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _seccomp(path: str | None, spec: Spec) -> Seccomp | None:
    if not path:
        return None
    from ..kernel.seccomp import filter_flags
    with open(path, "rb") as f:
        program = f.read()
    flags = filter_flags(object_json(spec.linux.seccomp)) if spec.linux.seccomp is not None else 0
    return Seccomp(program, flags)


def cgroup_of(driver, spec: Spec, launch_id: str):
    return driver.group_at(spec.linux.cgroups_path) if spec.linux.cgroups_path else driver.group(launch_id)


# -- the monitor ---------------------------------------------------------------------------------
DRIVERS: dict = {}  # cgroup parent -> driver, detected by the shim before it forks
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1


class Monitor:
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
        self.launch = launch
        self.bundle = launch.bundle
        self.ctl = Channel(fds["ctl"])
        self.attach_fd = fds.get("attach")
        self.netns_fd = fds.get("netns")
        self.holder = os.getpid()  # the state's monitor_pid: the process that lives as long as the container
        self.holder_start = linux.process_start_time(self.holder) or 0
        self.loop = Loop()
        # read only by the starter, or by the holder once the container ended (or a healthcheck runs)
        self.spec: Spec | None = None
        self.state: State | None = None
        self.cgroup = None
        self.driver = None
        self.pid: int | None = None
        self.pid_start = 0
        self.checker = None
        self._ran_for = 0.0
        self._state_text = b""  # the state of the run, as its starter sent it (read when it ends)
        if launch.healthcheck:
            from .health import Checker, Healthcheck
            self.checker = Checker(Healthcheck(**launch.healthcheck), self.bundle, self.loop, self._spawn_check)

    # -- what both read: the spec, the state, the cgroup -----------------------------------------
    def _load_spec(self) -> Spec:
        if self.spec is None:
            self.spec = Spec.load(os.path.join(self.bundle, "config.json"))
        return self.spec

    def _load_cgroup(self) -> None:
        if self.cgroup is None:
            self.driver = DRIVERS.get(self.launch.cgroup_parent) or detect(parent=self.launch.cgroup_parent)
            self.cgroup = cgroup_of(self.driver, self._load_spec(), self.launch.id)

    def _new_state(self) -> State:
        try:
            annotations = dict(self._load_spec().annotations)
        except Exception:
            annotations = {}
        state = State(id=self.launch.id, status="creating", bundle=self.bundle, phase="starting",
                      monitor_pid=self.holder, monitor_start=self.holder_start,
                      boot_id=self.launch.boot_id, annotations=annotations)
        previous = self._previous_state()
        if previous is not None:
            state.created_at = previous.created_at
            state.creator_pid, state.creator_start = previous.creator_pid, previous.creator_start
        return state

    def _load_state(self) -> State:
        """The state as the starter reported it, else as it saved it, else a new one."""
        if self.state is None and self._state_text:
            self.state = State.from_json(self._state_text)
        if self.state is None:
            previous = self._previous_state()
            ours = previous is not None and previous.monitor_pid == self.holder
            self.state = previous if ours else self._new_state()
        return self.state

    def _previous_state(self) -> State | None:
        try:
            return State.load(os.path.join(self.bundle, "state.json"))
        except Exception:
            return None

    def save(self, fsync: bool = True) -> None:
        self.state.save(os.path.join(self.bundle, "state.json"), fsync=fsync)

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
            self._failed(*_os_failure(e, self.bundle))
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
        return _exit_code(status), self.cgroup.oom_killed()

    def _start(self, first: bool) -> dict:
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
                if os.getppid() != self.holder:
                    os._exit(1)
                code = self._starter(first, theirs)
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
        head, _, self._state_text = msg.partition(b"\n")
        report = json.loads(head)
        if report["event"] == EVENT_FAILED:
            for fd in fds:
                os.close(fd)
            if report.get("cgroup_error"):
                self._load_state()
                self.state.error = report["cgroup_error"]
            raise StartFailure(report["message"], report["code"])
        named = dict(zip(report["fds"], fds))
        sources = {named[k]: k for k in ("stdout", "stderr") if k in named}
        master = named.get("master")
        if master is not None:
            sources = {master: "stdout"}
        report.update(sources=sources, master=master, stdin_fd=master if master is not None else named.get("stdin"))
        self.state = None  # the starter wrote it since: read again when needed
        return report

    # -- the starter ---------------------------------------------------------------------------
    def _starter(self, first: bool, report: socket.socket) -> int:
        child = None
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
            return self._report_failed(report, *_os_failure(e, self.bundle))
        except Exception:
            import traceback
            return self._report_failed(report, "Bug: " + traceback.format_exc(), 125)
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

    _made_cgroup = False

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
        seccomp = _seccomp(self.launch.seccomp, spec)
        root = RootContext(root=os.path.join(self.bundle, "merged"),
                           overlay=Overlay(self.launch.layers_dir, self.launch.lowerdirs,
                                           os.path.join(self.bundle, "upper"), os.path.join(self.bundle, "work")),
                           cgroups=self.cgroup.paths())
        child = spawn(spec, root, stdin=self.launch.stdin, netns_fd=self.netns_fd, seccomp=seccomp,
                      cgroup_files=self.cgroup.join_files())
        self.pid = child.pid
        if self.netns_fd is not None and first:
            self.state.netns = os.fstat(self.netns_fd).st_ino
        linux.crash_point("forked")
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
        if first:
            self.ctl.send(event=EVENT_STARTED, pid=child.pid)
        return child

    def _spawn_check(self, argv: list[str], out_fd: int, timeout: float) -> int:
        """A healthcheck's runner (health.run_check): the check runs as `exec` runs a process,
        in every namespace and the cgroup of pid 1, with the container's environment, user and
        working directory, and its seccomp filter."""
        from .health import run_check

        self._load_cgroup()
        pid, pid_start = self.pid, self.pid_start
        spec, cgroup_dirs = self.spec, list(self.cgroup.paths().values())

        def enter():
            ns_fds = open_namespaces(pid, pid_start)
            if "pid" in ns_fds:
                linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)
            process = read_object(Process, json.dumps({**object_json(spec.process), "args": argv,
                                                       "terminal": False}).encode(), "healthcheck")
            seccomp = _seccomp(self.launch.seccomp, spec)

            def exec_check(argv_: list[str], out: int, sync: int) -> None:
                null = os.open("/dev/null", os.O_RDONLY)
                exec_init(process, ExecConfig(sync=sync, namespaces=ns_fds, cgroup_dirs=cgroup_dirs,
                                              stdio=(null, out, out), seccomp=seccomp))

            return exec_check

        return run_check(argv, out_fd, timeout, enter)

    def _reap(self, child: Child) -> None:
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(child.pid, 0)
        self.pid = None
        child.sync.close()

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


MAX_REPORT = 1 << 20  # a state with its annotations


def _os_failure(e: OSError, bundle: str) -> tuple[str, int]:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"No space left on BOCKER_ROOT ({os.path.dirname(os.path.dirname(bundle))}): "
                "free space or move BOCKER_ROOT", 125)
    return f"Could not run the container: {e.strerror} ({e.filename or ''})", 125


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


# -- exec: one more process in a running container ------------------------------------------------


def open_namespaces(target: int, pid_start: int | None) -> dict[str, int]:
    """fds of the namespaces of `target` (the container's pid 1) that are not already ours;
    ProcessLookupError when it is gone or is another process by now."""
    ns_fds = {}
    for kind in EXEC_NAMESPACES + ("pid", "user"):
        try:
            ns_fds[kind] = os.open(f"/proc/{target}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
    # checked after opening: the fds now name that process's namespaces for good
    if pid_start is not None and linux.process_start_time(target) != pid_start:
        for fd in ns_fds.values():
            os.close(fd)
        raise ProcessLookupError
    same = {k for k, fd in ns_fds.items() if os.fstat(fd).st_ino == os.stat(f"/proc/self/ns/{k}").st_ino}
    for k in same:  # joining our own namespace again is a no-op, and cgroup's is refused
        os.close(ns_fds.pop(k))
    return ns_fds


def exec_monitor(launch: ExecLaunch, fds: dict[str, int]) -> int:
    """Fork a process into every namespace and the cgroup of the container's pid 1, exec
    the process there, relay its stdio, report its exit status."""
    ctl = Channel(fds["ctl"])
    try:
        ns_fds = open_namespaces(launch.pid, launch.pid_start)
    except (OSError, ProcessLookupError):
        ctl.send(event=EVENT_FAILED, message=f"Container '{launch.id}' exists but is not running", code=1)
        return 0
    spec = Spec.load(os.path.join(launch.bundle, "config.json"))
    try:
        with open(launch.process_file, "rb") as f:
            process = read_object(Process, f.read(), "exec process")
    finally:
        try:
            os.unlink(launch.process_file)
        except OSError:
            pass
    # Not dumpable (inherited by the child until it execs the program): a container process
    # can't open /proc/PID/exe, mem or fd of a process that is still the host's interpreter.
    capabilities.set_dumpable(False)
    if "pid" in ns_fds:
        linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)  # our child is born in the container's pid ns
    seccomp = _seccomp(launch.seccomp, spec)
    sync_ours, sync_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    tty = process.terminal
    sources: dict[int, str] = {}
    stdin_w = None
    if tty:
        console_ours, console_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    else:
        console_ours = console_theirs = None
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        if launch.stdin:
            in_r, stdin_w = os.pipe2(os.O_CLOEXEC)
        else:
            in_r = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        sources = {out_r: "stdout", err_r: "stderr"}
    pid = os.fork()
    if pid == 0:
        sync_ours.close()
        exec_init(process, ExecConfig(sync=sync_theirs.fileno(), namespaces=ns_fds,
                                      cgroup_dirs=list(launch.cgroup.values()),
                                      stdio=None if tty else (in_r, out_w, err_w),
                                      console=console_theirs.fileno() if tty else None, seccomp=seccomp))
        os._exit(125)
    sync_theirs.close()
    for fd in ns_fds.values():
        os.close(fd)
    master = None
    if tty:
        console_theirs.close()
    else:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    sync = Sync(sync_ours)
    report = sync.receive()  # EOF: exec'ed
    if report.get("type") == SYNC_ERROR:
        os.waitpid(pid, 0)
        ctl.send(event=EVENT_FAILED, message=report["message"], code=report.get("code", 125))
        return 0
    if tty:
        master = receive_fd(console_ours)
        console_ours.close()
        sources, stdin_w = {master: "stdout"}, master
    ctl.send(event=EVENT_STARTED, pid=pid)
    loop = Loop()
    stdio = Stdio(loop, None, tty)
    if "attach" in fds:
        stdio.add_client(socket.socket(fileno=fds["attach"]), owner=True)
    stdio.start(sources, stdin_w, master)
    while stdio.output_open:
        loop.run_once()
    _, status = os.waitpid(pid, 0)
    code = _exit_code(status)
    stdio.end_run()
    stdio.finish(control(event=EVENT_EXITED, code=code, oom_killed=False))
    ctl.send(event=EVENT_EXITED, code=code, oom_killed=False)
    return 0


# -- the shim's rehearsal -------------------------------------------------------------------------
REHEARSALS = 16  # CPython 3.11 quickens a function's code after 8 calls, its loops after 8 turns


def rehearse(request: dict) -> None:
    """What a monitor runs up to its idle loop, on throwaway objects, in the shim, REHEARSALS
    times (the shim's _warm): CPython writes into a function's code object (its warm-up
    counter, then the quickened bytecode and its caches) during its first calls, and fills
    caches on first use; done here, every monitor (a fork of the shim) finds that done and
    shares those pages instead of copying them. Measured (10 idle containers): a monitor's
    own memory (Private_Dirty) at its idle loop 1850 -> 1670 KiB, for ~40 ms once per shim.
    Nothing of it outlives the call: no file (the log is /dev/null), no process, no socket."""
    launch = Launch.from_json(request)
    launch.healthcheck = None  # a Checker would write the health file
    launch.publish = []
    for _ in range(REHEARSALS):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        r, w = os.pipe2(os.O_CLOEXEC)
        m = Monitor(launch, {"ctl": os.dup(a.fileno())})
        stdio = Stdio(m.loop, LogWriter(os.devnull), tty=False)
        stdio.add_client(socket.socket(fileno=os.dup(c.fileno())), owner=True)
        head = json.dumps({"event": EVENT_STARTED, "pid": 1, "pid_start": 1, "tty": False,
                           "fds": ["stdout"]}).encode()
        socket.send_fds(b, [head + b"\n{}"], [r])
        msg, fds, _, _ = socket.recv_fds(a, MAX_REPORT, 4)
        got, _, _ = msg.partition(b"\n")
        report = json.loads(got)
        named = dict(zip(report["fds"], fds))
        os.write(w, b"rehearsal\n")
        stdio.broadcast(CONTROL, json.dumps({"event": EVENT_STARTED, "pid": report["pid"]}).encode())
        stdio.start({named["stdout"]: "stdout"}, None, None)
        os.close(w)
        while stdio.output_open:
            m.loop.run_once(1.0)
        stdio.end_run()
        stdio.finish(control(event=EVENT_EXITED, code=0, oom_killed=False))
        stdio.log.close()
        m.ctl.close()
        m.loop.close()
        for s in (a, b, c, d):
            s.close()
        os.close(r)  # (stdio closed its copy)
