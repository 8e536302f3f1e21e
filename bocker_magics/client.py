"""`bocker`, the command: a small client of a long-lived bocker server (server.py).

A fresh Python that imports the engine pays for its imports before it does anything (pyroute2
most of all), and that cost is several times the engine's own container start. So the command
is this module only (the interpreter and four C modules: no argparse, no json, no engine),
and the work is done by a server that keeps a warm Engine: one per BOCKER_ROOT and per
everything else that changes what a command does (server_identity), started by the first
command that needs it and leaving when idle.

The client hands the server its argv, environment, cwd, umask and its fds 0, 1 and 2 (with
SCM_RIGHTS), so the server reads and writes the client's own terminal or pipes; the
server's answer is the exit status. Ctrl-C is a message (the container is stopped, as in
process), and so is SIGWINCH (with -t the server puts the terminal in raw mode through
the passed fd 0).

When no server can be used (not root, BOCKER_NO_SERVER=1, a server that can't start) the
command runs in this process, as it always did: cli.main.

Wire format (SOCK_SEQPACKET, so messages keep their bounds):
  client -> server  the request: "<length>\\n" then NUL-separated fields, in packets of at
                    most CHUNK bytes, fds [0, 1, 2, cwd] with the first packet;
                    then b"i" (interrupt: Ctrl-C), b"w" (the terminal's size changed)
  server -> client  b"x<status>" (done), or b"r<reason>" (refused before anything ran:
                    the client runs the command itself)
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

PROTOCOL = b"bocker-request-1"
CHUNK = 60000
SERVER_DIR = "server"  # under BOCKER_ROOT: mode 0700, the sockets, the start locks, the logs
DEFAULT_ROOT = "/var/lib/bocker"
# What changes the server's behaviour besides the BOCKER_* variables: where registry
# credentials are found (DOCKER_CONFIG, HOME) and which programs it runs (PATH).
# the proxy variables too: a registry pull goes through the proxy its client's environment names
IDENTITY_VARIABLES = ("DOCKER_CONFIG", "HOME", "PATH", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                      "NO_PROXY", "no_proxy")
NOT_IDENTITY = ("BOCKER_NO_SERVER", "BOCKER_DEBUG_SERVER")
NAMESPACES = ("net", "mnt", "pid", "user", "cgroup")
START_TIMEOUT = 60.0


class NoServer(Exception):
    """Why no server can run this command (the client then runs it itself)."""


# -- who a server is ------------------------------------------------------------------------
def package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def code_version(directory: str | None = None) -> str:
    """A digest of the package's code as it is on disk (every .py file's path, size and
    mtime): a changed file means another server."""
    directory = directory or package_dir()
    parts: list[str] = []
    stack = [directory]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat(follow_symlinks=False)
                    parts.append(f"{entry.path[len(directory):]}\0{st.st_size}\0{st.st_mtime_ns}")
    parts.sort()
    return _digest("\n".join(parts))


def _digest(text: str) -> str:
    import _sha256  # C, no OpenSSL: importing hashlib loads OpenSSL, a large share of a command's start
    return _sha256.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def root_of(environ) -> str:
    return os.path.realpath(environ.get("BOCKER_ROOT") or DEFAULT_ROOT)


def namespace_ids(pid: str = "self") -> list[str]:
    out = []
    for ns in NAMESPACES:
        try:
            out.append(f"{ns}:{os.stat(f'/proc/{pid}/ns/{ns}').st_ino}")
        except OSError:
            out.append(f"{ns}:-")
    return out


def server_identity(environ, version: str | None = None) -> tuple[str, str]:
    """(name, identity): the server's name (its socket is SERVER_DIR/<name>.sock, the
    first part of the name shared by every version of it) and the full text it is told
    apart by: the root, the variables that change what it does, the namespaces it must
    share with its clients (a server in another network namespace would plug containers
    into the wrong network), the interpreter, the package and the code's version."""
    variables = sorted(f"{k}={v}" for k, v in environ.items()
                       if (k.startswith("BOCKER_") and k not in NOT_IDENTITY) or k in IDENTITY_VARIABLES)
    base = "\n".join([f"root={root_of(environ)}", *variables, *namespace_ids(), f"python={sys.executable}",
                      f"package={package_dir()}", f"euid={os.geteuid()}"])
    version = version or code_version()
    return f"{_digest(base)[:16]}-{version[:12]}", f"{base}\nversion={version}"


def server_dir(root: str) -> str:
    """SERVER_DIR in the root, made 0700 and root's (or NoServer)."""
    path = os.path.join(root, SERVER_DIR)
    try:
        os.makedirs(root, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise NoServer(f"can't make {path}: {e.strerror}") from None
    st = os.lstat(path)
    if st.st_uid != 0 or (st.st_mode & 0o170000) != 0o040000:
        raise NoServer(f"{path} is not a directory of root's")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def address(dirfd: int, name: str) -> str:
    """A socket's address through /proc/self/fd: a root's path may be longer than a unix
    socket address holds (108 bytes)."""
    return f"/proc/self/fd/{dirfd}/{name}"


# -- the conversation -------------------------------------------------------------------------
def _connect(dirfd: int, name: str):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    try:
        s.connect(address(dirfd, name + ".sock"))
    except OSError:
        s.close()
        return None
    return s


def connect(environ) -> tuple[object, str, str]:
    """A connection to this environment's server, started if there is none; (socket,
    name, identity). NoServer if none can be had."""
    name, identity = server_identity(environ)
    sdir = server_dir(root_of(environ))
    dirfd = os.open(sdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        s = _connect(dirfd, name)
        if s is None:
            s = _start(dirfd, name, root_of(environ))
        return s, name, identity
    finally:
        os.close(dirfd)


def _start(dirfd: int, name: str, root: str):
    """Start the server (double fork: its own session, no parent to wait for it) and wait
    until it listens; under a lock, so that commands started at once start one server."""
    import fcntl
    lock = os.open(address(dirfd, name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        s = _connect(dirfd, name)  # another command started it meanwhile
        if s is not None:
            return s
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child execs)
            try:
                os.setsid()
                if os.fork():
                    os._exit(0)
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.dup2(w, 3)
                os.closerange(4, 1 << 20)
                os.set_inheritable(3, True)
                # the root last: for ps (and server.server_processes) to tell whose it is
                os.execv(sys.executable, [sys.executable, "-P", "-m", "bocker_magics.server", "3", name, root])
            finally:
                os._exit(127)
        os.close(w)
        os.waitpid(pid, 0)
        try:
            answer = _read_all(r, START_TIMEOUT)
        finally:
            os.close(r)
        if not answer.startswith(b"ready"):
            raise NoServer("the server did not start: " + (answer.decode(errors="replace").strip() or "it exited"))
        s = _connect(dirfd, name)
        if s is None:
            raise NoServer("the server started but does not answer")
        return s
    finally:
        os.close(lock)  # the lock goes with it


def _read_all(fd: int, timeout: float) -> bytes:
    import select
    import time
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return data
        chunk = os.read(fd, 4096)
        if not chunk:
            return data
        data += chunk
        if b"\n" in data:
            return data


def encode_request(identity: str, argv: list[str], environ, cwd: str, umask: int) -> bytes:
    env = [os.fsencode(f"{k}={v}") for k, v in environ.items()]
    fields = [PROTOCOL, identity.encode("utf-8", "surrogateescape"), os.fsencode(cwd), b"%d" % umask,
              b"%d" % len(argv), *map(os.fsencode, argv), *env]
    return b"\0".join(fields)


def decode_request(data: bytes) -> dict:
    fields = data.split(b"\0")
    if fields[0] != PROTOCOL:
        raise ValueError("not a bocker request")
    argc = int(fields[4])
    argv = [os.fsdecode(f) for f in fields[5:5 + argc]]
    environ = {}
    for item in fields[5 + argc:]:
        key, _, value = os.fsdecode(item).partition("=")
        environ[key] = value
    return {"identity": fields[1].decode("utf-8", "surrogateescape"), "cwd": os.fsdecode(fields[2]),
            "umask": int(fields[3]), "argv": argv, "environ": environ}


def send_request(s, data: bytes, fds: list[int]) -> None:
    packets = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds))]
    s.sendmsg([b"%d\n" % len(data), packets[0]], rights)
    for p in packets[1:]:
        s.sendall(p)


def _std_fds() -> tuple[list[int], list[int]]:
    """Fds 0, 1, 2 to pass (a closed one as /dev/null, as Python itself would fail on it),
    and the ones opened for that."""
    fds, opened = [], []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            opened.append(null)
            fds.append(null)
    return fds, opened


def converse(s, name: str, identity: str, argv: list[str]) -> int | None:
    """Send the command, relay Ctrl-C and SIGWINCH, return its exit status; None when the
    server refused it before anything ran (run it here instead)."""
    environ = os.environ
    umask = os.umask(0o022)
    os.umask(umask)
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fds, opened = _std_fds()
    saved_tty = None
    if os.isatty(0):
        import termios  # the server makes it raw for -t: put it back if the server dies
        try:
            saved_tty = termios.tcgetattr(0)
        except termios.error:
            saved_tty = None
    try:
        send_request(s, encode_request(identity, argv, environ, os.getcwd() if _cwd_ok() else "", umask),
                     [*fds, cwd])
    except OSError:
        return None  # the server went away before it had the command: run it here
    finally:
        os.close(cwd)
        for fd in opened:
            os.close(fd)

    def forward(message: bytes):
        def handler(signum, frame):
            try:
                s.send(message)
            except OSError:
                pass
        return handler

    _signal.signal(_signal.SIGINT, forward(b"i"))
    _signal.signal(_signal.SIGWINCH, forward(b"w"))
    while True:
        try:
            msg = s.recv(65536)
        except ConnectionResetError:
            msg = b""
        if msg[:1] == b"x":
            return int(msg[1:])
        if msg[:1] == b"r":
            return None
        if not msg:
            if saved_tty is not None:
                import termios
                try:
                    termios.tcsetattr(0, termios.TCSADRAIN, saved_tty)
                except termios.error:
                    pass
            sys.stderr.write(f"bocker: the bocker server ({name}) ended before the command did: see its log in "
                             f"{os.path.join(root_of(environ), SERVER_DIR)}; if it was starting a container, "
                             "'bocker gc' removes what it left\n")
            return 137


def _cwd_ok() -> bool:
    try:
        os.getcwd()
        return True
    except OSError:
        return False


def in_process(argv: list[str]) -> int:
    from .cli import main as cli_main
    return cli_main(argv)


def main() -> int:
    argv = sys.argv[1:]
    if os.environ.get("BOCKER_NO_SERVER") == "1" or os.geteuid() != 0 or argv[:2] == ["system", "service"]:
        return in_process(argv)  # the Docker API service is a long-lived process of its own
    try:
        try:
            s, name, identity = connect(os.environ)
        except (NoServer, OSError) as e:
            if os.environ.get("BOCKER_DEBUG_SERVER"):
                sys.stderr.write(f"bocker: no server ({e}): running in this process\n")
            return in_process(argv)
        try:
            status = converse(s, name, identity, argv)
        finally:
            s.close()
    except KeyboardInterrupt:  # before the command reached the server
        return 130
    if status is None:
        return in_process(argv)
    return status


if __name__ == "__main__":
    sys.exit(main())
