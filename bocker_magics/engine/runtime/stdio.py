"""The container's stdio, as its monitor relays it: the output of pid 1 (its pipes, or the
pty master) to the log and to every attached client; the clients' input to its stdin.
A client is a SOCK_SEQPACKET socket speaking protocol.py's frames: the one that started the
run (`run` in the foreground, `exec`), or one that came through the attach socket
(`bocker attach`). Stdlib only: a monitor's idle loop runs this code."""

from __future__ import annotations

import collections
import errno
import fcntl
import os
import socket
import struct

from ... import _cjson  # json's loads without its imports (re): a resumed monitor pays them
from .eventloop import Loop
from .logfile import LogWriter
from .protocol import CONTROL, EVENT_DETACHED, OP_DETACH, OP_EOF, OP_HELLO, OP_RESIZE, STDERR, STDIN, STDOUT, control

CHUNK = 65536
HIGH_WATER = 4 << 20      # a client this far behind stops the container's output until it reads
ATTACH_SOCKET = "attach.sock"
_TIOCSWINSZ = 0x5414


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
        self.adopt_listener(s)

    def adopt_listener(self, s: socket.socket) -> None:
        """The attach socket, bound and listening (by listen(), or before a sleep: sleeper.py)."""
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
            self._control(c, _cjson.loads(data or b"{}"))

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

