"""`exec` (one more process in the container: init.exec_init in a fork that joined its
namespaces and cgroup, runc's setns process) and what a foreground `run` or `exec` needs: the
caller's console socket, a console relay of our own, signals forwarded, the exit status."""

from __future__ import annotations

import os

from ....errors import Conflict, InvalidArgument
from ...fileio import atomic_write
from .lifecycle import rmtree
from .state import Container
from .words import start_failure


def exec_(rt, cid: str, process: dict, *, detach: bool = False, pid_file: str | None = None,
         console_socket: str | None = None, preserve_fds: int = 0, ignore_paused: bool = False) -> int:
    """One more process in the container (init.exec_init): its pid file is written once
    it runs; detached, it is left to our caller (a subreaper) to reap; else its exit
    status is returned."""
    from ...kernel import capabilities, linux
    from ...spec import Process, read_object
    from ..init import EXEC_NAMESPACES, ExecConfig, exec_init
    from ..protocol import SYNC_ERROR, Sync
    from .bundle import load_spec
    from .create import seccomp_of

    c = rt.load(cid)
    check_exec(c, ignore_paused)
    proc = read_object(Process, process, "the process")
    relay = None
    if proc.terminal and not console_socket:
        if detach:
            raise InvalidArgument("cannot allocate tty if bocker-runc will detach without setting "
                                  "console socket (give --console-socket)")
        relay = ConsoleRelay()
        console_socket = relay.path
    spec = load_spec(c.dir)
    ns_fds: dict[str, int] = {}
    for kind in EXEC_NAMESPACES + ("pid", "user"):
        try:
            ns_fds[kind] = os.open(f"/proc/{c.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
    if not c.running():  # after opening: the fds name its namespaces for good
        raise Conflict("cannot exec in a stopped container")
    for kind in [k for k, fd in ns_fds.items() if os.fstat(fd).st_ino == os.stat(f"/proc/self/ns/{k}").st_ino]:
        os.close(ns_fds.pop(kind))  # our own: joining it again is a no-op, and cgroup's is refused
    fill_fds(preserve_fds)
    seccomp = seccomp_of(rt, spec)
    console = connect_console(console_socket) if proc.terminal else None
    ours, theirs = linux.socketpair_seqpacket()
    capabilities.set_dumpable(False)  # see create.spawn
    if "pid" in ns_fds:
        linux.setns(ns_fds["pid"], linux.CLONE_NEWPID)  # our child is born in the container's pid ns
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            exec_init(proc, ExecConfig(sync=theirs.fileno(), namespaces=ns_fds,
                                       cgroup_dirs=list(c.cgroup.values()),
                                       console=console.fileno() if console else None, seccomp=seccomp,
                                       preserve_fds=preserve_fds))
        finally:
            os._exit(125)
    theirs.close()
    for fd in ns_fds.values():
        os.close(fd)
    if console is not None:
        console.close()
    report = Sync(ours).receive()  # EOF: it exec'ed
    ours.close()
    if report.get("type") == SYNC_ERROR:
        os.waitpid(pid, 0)
        if relay is not None:
            relay.close()
        raise start_failure(report)
    if pid_file:
        atomic_write(os.path.abspath(pid_file), str(pid).encode(), fsync=False)
    if detach:
        return 0
    if relay is not None:
        relay.accept()
    return wait_foreground(pid, relay)


def check_exec(c: Container, ignore_paused: bool = False) -> None:
    """runc exec's checks, in its order, before the process is read."""
    status = c.status()
    if status == "stopped":
        raise Conflict("cannot exec in a stopped container")
    if status == "paused" and not ignore_paused:
        raise Conflict("cannot exec in a paused container (use --ignore-paused to override)")
    if status == "creating":
        raise Conflict(f"container {c.id} is still being created: try again")


def exec_process(rt, cid: str, args: list[str], *, tty: bool = False, cwd: str | None = None,
                 env: list[str] = (), user: str | None = None, caps: list[str] = (),
                 no_new_privs: bool = False, ignore_paused: bool = False) -> dict:
    """runc exec without --process: the container's own process, with these changes."""
    from ...spec import object_json
    from .bundle import load_spec
    c = rt.load(cid)
    check_exec(c, ignore_paused)
    if not args:
        raise InvalidArgument("process args cannot be empty")
    base = object_json(load_spec(c.dir).process)
    base["args"] = list(args)
    base["terminal"] = tty
    base.pop("consoleSize", None)
    if cwd:
        base["cwd"] = cwd
    if env:
        base["env"] = list(base.get("env", [])) + list(env)
    if user:
        uid, _, gid = user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise InvalidArgument(f"--user {user}: give UID[:GID] as numbers")
        base["user"] = {**base.get("user", {}), "uid": int(uid), "gid": int(gid or 0)}
    if caps:
        sets = base.setdefault("capabilities", {})
        for name in ("bounding", "effective", "permitted", "ambient"):
            sets[name] = list(dict.fromkeys([*sets.get(name, []), *caps]))
    if no_new_privs:
        base["noNewPrivileges"] = True
    return base


# -- fds, consoles, foreground -------------------------------------------------------------------
def fill_fds(preserve_fds: int) -> None:
    """--preserve-fds N hands fds 3..3+N-1 to the container: a hole there is filled with
    /dev/null, so that no fd of ours lands in the range."""
    for fd in range(3, 3 + preserve_fds):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def connect_console(path: str | None):
    """A connected socket to the caller's --console-socket (the pty master goes over it)."""
    import _socket  # not socket: its imports cost every create
    if not path:
        raise InvalidArgument("process.terminal is set but no --console-socket was given")
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        if len(path) < 100:
            s.connect(path)
        else:  # a socket address holds ~108 bytes: go through the directory's fd
            dirfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                s.connect(f"/proc/self/fd/{dirfd}/{os.path.basename(path)}")
            finally:
                os.close(dirfd)
    except OSError as e:
        s.close()
        raise InvalidArgument(f"cannot connect to the console socket {path}: {e.strerror}") from None
    return s


class ConsoleRelay:
    """A console socket of our own, for a foreground run or exec with a terminal: the pty
    master comes to us, and our stdin/stdout are relayed to it (raw, when stdin is a tty)."""

    def __init__(self) -> None:
        import socket
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="bocker-runc-console-")
        self.path = os.path.join(self.dir, "sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.master: int | None = None

    def accept(self) -> None:
        from ..init import receive_fd
        conn, _ = self.listener.accept()
        try:
            self.master = receive_fd(conn)
        finally:
            conn.close()
            self._close_listener()

    def _close_listener(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            rmtree(self.dir)

    def close(self) -> None:
        self._close_listener()
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def relay(self) -> None:
        """Copy stdin -> master and master -> stdout until the container's side closes."""
        import select
        import termios
        saved = None
        if os.isatty(0):
            import tty
            saved = termios.tcgetattr(0)
            tty.setraw(0)
        try:
            sources = [self.master, 0]
            while self.master in sources:
                ready, _, _ = select.select(sources, [], [])
                for fd in ready:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:  # EIO: every slave fd is closed
                        data = b""
                    if fd == self.master:
                        if not data:
                            sources.remove(fd)
                        else:
                            _write_all(1, data)
                    elif not data:
                        sources.remove(0)
                    else:
                        _write_all(self.master, data)
        finally:
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
            self.close()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def wait_foreground(pid: int, relay: ConsoleRelay | None) -> int:
    """Forward the usual signals to the process, relay its terminal, return its exit status."""
    import gc
    import signal

    gc.enable()  # runc.cli turns it off for a verb's milliseconds; this may last

    def forward(signo, _frame) -> None:
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            pass
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, forward)
    if relay is not None:
        relay.relay()
    _, status = os.waitpid(pid, 0)
    from ...kernel.linux import exit_code
    return exit_code(status)
