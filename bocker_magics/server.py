"""The bocker server: a warm Engine that runs the command line's requests (client.py).

One per identity (client.server_identity: the BOCKER_ROOT, the BOCKER_* variables, the
namespaces, the interpreter, the code's version), listening on
BOCKER_ROOT/server/<name>.sock (a 0700 directory; the peer must be root, SO_PEERCRED, and in
the server's own namespaces). Started by a client (double fork, its own session), it
leaves when idle (BOCKER_SERVER_IDLE seconds, default 600), at once when its socket (its
BOCKER_ROOT) disappears, and when told to by a newer version of itself, after the requests
it is serving.

A request runs the command line's own code (cli.main: the verbs, their parsing, their
renderers) in a thread of its own, with the client's fds as stdin/stdout/stderr (sys.std*
are thread-local proxies here), the client's cwd and umask (the thread unshares its
filesystem context: CLONE_FS) and environment. The server holds no container: each is run
by its monitor (runtime/monitor.py) as in process, so a server that exits, or is killed,
loses none; what a server killed mid-start left is what `bocker gc` removes, as after a
killed `bocker run`.

Here: the server (its loop, a connection, a request's run) and its start (main). The thread
a request runs in (its streams, terminal, CLONE_FS, interrupts; the kept workers) is
server_threads.py; the servers of a root seen from outside (the directory, the log, telling
one to leave, stopping them, finding them) is server_dir.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

from . import client
from .client import code_version, decode_request, namespace_ids, root_of, server_identity
from .server_dir import (  # noqa: F401  (importable from here, as before)
    LOG_LIMIT,
    Log,
    ServerDir,
    _alive,
    _peer,
    retire_older,
    server_processes,
    stop_servers,
    tell_to_leave,
)
from .server_threads import (  # noqa: F401
    CLONE_FS,
    RemoteTerminal,
    Request,
    ThreadStream,
    Workers,
    _async_raise,
    _exit_status,
    _streams,
    _text_stream,
    _unshare_fs,
)

DEFAULT_IDLE = 600.0
POLL = 0.25           # how often it looks at its socket (its root) and the clock
VERSION_POLL = 2.0    # how often it looks at its code
MAX_FDS = 4
REQUEST_TIMEOUT = 10.0  # for a peer to send its request once connected


# -- the server ---------------------------------------------------------------------------
class Server:
    def __init__(self, name: str, identity: str, engine: Any, listener: socket.socket, sdir: ServerDir,
                 log: Log, idle: float) -> None:
        self.name = name
        self.identity = identity
        self.engine = engine
        self.listener = listener
        self.sdir = sdir
        self.logfile = log
        self.idle = idle
        self.version = identity.rsplit("version=", 1)[1]
        self.namespaces = namespace_ids()
        self.sock_ino = sdir.inode(name + ".sock")
        self.active = 0
        self.last = time.monotonic()
        self.quitting = False
        self.lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.workers = Workers(self.log)

    def log(self, text: str) -> None:
        self.logfile.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} bocker-server {os.getpid()} {self.name}: {text}\n")

    # -- the loop ----------------------------------------------------------------------------
    def serve(self) -> str:
        """Serve until a reason to leave; returns it."""
        next_version = time.monotonic() + VERSION_POLL
        while True:
            if self.quitting and self.listener.fileno() >= 0:
                self.listener.close()
            waiting = [self._wake_r] if self.quitting else [self.listener, self._wake_r]
            ready, _, _ = select.select(waiting, [], [], POLL)
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 64)
            if self.listener in ready:
                try:
                    conn, _ = self.listener.accept()
                except OSError:
                    conn = None
                if conn is not None:
                    with self.lock:
                        self.active += 1
                    self.workers.submit(self._serve_connection, conn)
            now = time.monotonic()
            with self.lock:
                idle = self.active == 0
                if self.quitting:
                    if idle:
                        return "retired, and its last request is done"
                    continue
                if not self._socket_is_ours():
                    return "its socket is gone (the root was removed, or another server took its place)"
                if idle and now - self.last > self.idle:
                    return f"idle for {self.idle:g} s"
            if now >= next_version:
                next_version = now + VERSION_POLL
                if code_version() != self.version:
                    self.retire("its code changed on disk")

    def _socket_is_ours(self) -> bool:
        return self.sock_ino is not None and self.sdir.inode(self.name + ".sock") == self.sock_ino

    def retire(self, why: str) -> None:
        """No new requests (the socket goes); leave once the ones being served are done."""
        with self.lock:
            if self.quitting:
                return
            self.quitting = True
            if self._socket_is_ours():
                self.sdir.unlink(self.name + ".sock")
            self.sock_ino = None
        self.log(f"retiring: {why}")
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"q")

    # -- one connection ----------------------------------------------------------------------
    def _serve_connection(self, conn: socket.socket) -> None:
        fds: list[int] = []
        try:
            pid, uid = _peer(conn)
            conn.settimeout(REQUEST_TIMEOUT)
            data, fds = _receive(conn)  # read before any answer: unread data would reset the connection
            conn.settimeout(None)
            if uid != 0:
                self.log(f"refused pid {pid}: uid {uid}")
                with contextlib.suppress(OSError):
                    conn.send(b"rthe bocker server serves root only")
                return
            if data == b"quit":  # a newer version of this server, or a clean-up
                self.retire(f"told to leave by pid {pid}")
                conn.send(b"bye %d" % os.getpid())
                return
            if pid <= 0 or namespace_ids(str(pid)) != self.namespaces:
                # a server in another network namespace would plug containers into the wrong network
                self.log(f"refused pid {pid}: it is in other namespaces")
                conn.send(b"rthe client is in other namespaces than this server")
                return
            try:
                request = decode_request(data)
            except (ValueError, IndexError):
                conn.send(b"rnot a request")
                return
            if request["identity"] != self.identity or len(fds) != 4:
                conn.send(b"rthe request is for another server")
                return
            status = self._run(conn, request, fds)
            fds = []  # _run closed them
            with contextlib.suppress(OSError):
                conn.send(b"x%d" % status)
        except Exception:
            self.log("a request failed:\n" + traceback.format_exc())
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # the watcher's recv ends
            conn.close()
            with self.lock:
                self.active -= 1
                self.last = time.monotonic()

    def _run(self, conn: socket.socket, request: dict, fds: list[int]) -> int:
        """The command, in this thread, with the client's fds, cwd, umask and environment."""
        from .cli import Face
        from .cli import main as cli_main
        from .engine import Interrupts, interrupts_from
        stdin_fd, out_fd, err_fd, cwd_fd = fds
        if not getattr(_streams, "own_fs", False):
            _unshare_fs()  # this thread's own cwd and umask (set to the client's for each request)
            _streams.own_fs = True
        os.fchdir(cwd_fd)
        os.close(cwd_fd)
        os.umask(request["umask"])
        unbuffered = bool(request["environ"].get("PYTHONUNBUFFERED"))
        stdout = _text_stream(out_fd, "strict", unbuffered)
        stderr = _text_stream(err_fd, "backslashreplace", True)
        stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(stdin_fd, "r", closefd=False)), encoding="utf-8")
        interrupts = Interrupts()
        served = Request(threading.get_ident(), interrupts)

        def terminal(fd: int) -> RemoteTerminal:
            t = RemoteTerminal(fd)
            served.terminals.append(t)
            return t

        _streams.stdin, _streams.stdout, _streams.stderr = stdin, stdout, stderr
        status = 130
        try:
            try:
                try:
                    self.workers.submit(self._watch, conn, served)
                    with interrupts_from(interrupts):
                        status = cli_main(request["argv"], Face(stdin=stdin_fd, environ=request["environ"],
                                                                terminal=terminal, stderr=stderr), self.engine)
                except SystemExit as e:  # argparse's --help
                    status = _exit_status(e.code, stderr)
                except KeyboardInterrupt:
                    status = 130
                except Exception:
                    # a bug: its traceback, as the command in process would print it
                    with contextlib.suppress(Exception):
                        stderr.write(traceback.format_exc())
                    status = 1
                finally:
                    served.finish()
            except KeyboardInterrupt:
                pass
            for stream in (stdout, stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
        finally:
            _streams.stdin = _streams.stdout = _streams.stderr = None
            with contextlib.suppress(OSError):
                os.chdir("/")  # a kept thread must not pin the client's directory (or its mount)
            for stream in (stdout, stderr):
                with contextlib.suppress(Exception):
                    stream.close()
            with contextlib.suppress(Exception):
                stdin.close()
            os.close(stdin_fd)
            interrupts.close()
            for t in served.terminals:
                t.close()
        return status

    def _watch(self, conn: socket.socket, served: Request) -> None:
        """The client's messages while its command runs: Ctrl-C, SIGWINCH, and its end."""
        while True:
            try:
                msg = conn.recv(64)
            except OSError:
                msg = b""
            if served.done:
                return
            if not msg:
                served.stop(hang_up=True)
                return
            for byte in msg:
                if byte == ord("i"):
                    served.stop(hang_up=False)
                elif byte == ord("w"):
                    for t in served.terminals:
                        t.notify_winch()


def _receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    """The request: its first packet says its length and carries the fds."""
    msg, fds, _flags, _addr = socket.recv_fds(conn, client.CHUNK + 64, MAX_FDS)
    if msg == b"quit":
        return msg, fds
    header, _, data = msg.partition(b"\n")
    total = int(header)
    parts = [data]
    have = len(data)
    while have < total:
        chunk = conn.recv(client.CHUNK + 64)
        if not chunk:
            raise ValueError("the request was cut short")
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts), fds


def _warm(engine: Any, log) -> None:
    """What the first commands would import or start: now, while nobody waits."""
    import importlib
    try:
        for module in ("bocker_magics.terminal", "bocker_magics.progress", "bocker_magics.engine.options",
                       "bocker_magics.engine.users", "bocker_magics.engine.inspect", "bocker_magics.engine.gc",
                       "bocker_magics.engine.runtime.logfile", "bocker_magics.engine.kernel.seccomp",
                       "bocker_magics.engine.network.ports", "bocker_magics.engine.network.etc_files",
                       "bocker_magics.engine.network.model", "bocker_magics.engine.volumes"):
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
    except Exception:
        log("warming up failed:\n" + traceback.format_exc())


def main(argv: list[str] | None = None) -> int:
    """`python -P -m bocker_magics.server READY_FD NAME ROOT`, as client._start runs it."""
    ready_fd, name = (argv if argv is not None else sys.argv[1:])[:2]
    ready = int(ready_fd)
    environ = os.environ
    root = root_of(environ)
    mine, identity = server_identity(environ)  # before leaving the client's directory: a relative BOCKER_ROOT
    os.chdir("/")
    sdir = ServerDir(root)
    logfile = Log(sdir, name)

    def fail(why: str) -> int:
        with contextlib.suppress(OSError):
            os.write(ready, f"failed: {why}\n".encode())
        logfile.write(f"bocker-server {os.getpid()} {name}: did not start: {why}\n")
        return 1

    try:
        if mine != name:
            return fail(f"this environment's server is {mine}, not {name}")
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the clients'
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        sys.stdout = ThreadStream("stdout", logfile)
        sys.stderr = ThreadStream("stderr", logfile)
        sys.stdin = ThreadStream("stdin", sys.stdin)
        __import__("bocker_magics.cli")  # the verbs and renderers, warm
        from .engine import Engine
        engine = Engine(root)
        for part in ("containers", "volumes", "boot_id"):
            getattr(engine, part)  # made here, not by two requests at once
        engine.launcher.start()  # the shim boots meanwhile
        # pyroute2 is imported on the netlink thread meanwhile; that thread is made here, so
        # that it shares this thread's cwd ("/"), not a request's (each request unshares its own)
        engine.networks.warm()
        sdir.unlink(name + ".sock")  # a killed server's (clients start servers under a lock)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sdir.at(name + ".sock", listener.bind)
        sdir.at(name + ".sock", lambda p: os.chmod(p, 0o600))
        listener.listen(64)
        idle = float(environ.get("BOCKER_SERVER_IDLE") or DEFAULT_IDLE)
        server = Server(name, identity, engine, listener, sdir, logfile, idle)
    except Exception as e:
        logfile.write(traceback.format_exc())
        return fail(f"{type(e).__name__}: {e}")
    os.write(ready, b"ready\n")
    os.close(ready)
    server.log("listening")
    threading.Thread(target=_warm, args=(engine, server.log), daemon=True, name="bocker-warm").start()
    with contextlib.suppress(Exception):
        retire_older(sdir, name, server.log)
    why = server.serve()
    server.log(f"leaving: {why}")
    if server._socket_is_ours():
        sdir.unlink(name + ".sock")
    sdir.unlink(name + ".lock")  # the next client makes it again
    with contextlib.suppress(Exception):
        engine.close()  # the shim exits; the containers' monitors live on
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
