"""attach: a container's (or an exec'd process's) stdio, relayed over its monitor's attach
socket until it ends; the detach keys leave it running, a Ctrl-C kills it.

The frames are runtime/protocol.py's: STDOUT/STDERR from the monitor, STDIN and CONTROL
(hello, resize, eof, detach) to it, CONTROL events (exited, failed, detached) back.
"""

from __future__ import annotations

import contextlib
import inspect as _inspect
import json
import os
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ...errors import Conflict, NotFound
from ..runtime.monitor import ATTACH_SOCKET
from ..runtime.protocol import (
    CONTROL,
    EVENT_DETACHED,
    EVENT_EXITED,
    EVENT_FAILED,
    OP_DETACH,
    OP_EOF,
    OP_HELLO,
    OP_RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    control,
)
from .record import RunResult

if TYPE_CHECKING:
    from .room import Room

MONITOR_DIED: dict[str, Any] = {"event": EVENT_FAILED, "message": "the monitor died", "code": 255}
Output = Callable[..., None]  # on_output(chunk) or on_output(chunk, stream)
CHUNK = 65536


def emitter(on_output: Output | None) -> Callable[[bytes, str], None] | None:
    """Callbacks take (chunk) or (chunk, stream): call each the way it is written."""
    if on_output is None:
        return None
    try:
        params = _inspect.signature(on_output).parameters.values()
        two = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 2 or any(
            p.kind == p.VAR_POSITIONAL for p in params)
    except (TypeError, ValueError):
        two = False
    return (lambda chunk, stream: on_output(chunk, stream)) if two else (lambda chunk, stream: on_output(chunk))


class Interrupts:
    """A Ctrl-C (or a hang-up) that comes from another process, for the attach loops of the
    thread that serves it (the bocker server relays its client's): a signal only ever
    reaches the main thread. `streaming` says whether such a loop is listening now."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.streaming = False

    def interrupt(self) -> None:
        """As Ctrl-C: the process is killed, its monitor tears it down, KeyboardInterrupt."""
        with contextlib.suppress(OSError):
            os.write(self._w, b"i")

    def hang_up(self) -> None:
        """The face is gone: the loop ends and leaves the container running (as when a
        `bocker run` is killed)."""
        with contextlib.suppress(OSError):
            os.write(self._w, b"d")

    def close(self) -> None:
        for fd in (self.fd, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


_thread_interrupts = threading.local()


@contextlib.contextmanager
def interrupts_from(source: Interrupts) -> Iterator[Interrupts]:
    """The attach loops (stream) of this thread also listen to `source`."""
    before = getattr(_thread_interrupts, "source", None)
    _thread_interrupts.source = source
    try:
        yield source
    finally:
        _thread_interrupts.source = before


class DetachKeys:
    """Watches the input for the detach keys (a sequence such as ctrl-p ctrl-q): what is
    ordinary input passes; a partial match that breaks off was ordinary input after all."""

    def __init__(self, keys: bytes | None) -> None:
        self.keys = keys or b""
        self.matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(the input to send on, whether the keys were typed: nothing after them goes on)."""
        if not self.keys:
            return data, False
        keys, out = self.keys, bytearray()
        for b in data:
            if self.matched and b != keys[self.matched]:
                out += keys[:self.matched]
                self.matched = 0
            if b == keys[self.matched]:
                self.matched += 1
                if self.matched == len(keys):
                    self.matched = 0
                    return bytes(out), True
                continue
            out.append(b)
        return bytes(out), False


class AttachLoop:
    """One relay of a container's stdio: see stream()."""

    def __init__(self, rooms: Room, cid: str, pid: int, sock: socket.socket, on_output: Output | None,
                 capture: bool, stdin: bytes | int | None, terminal: Any, detach_keys: bytes | None) -> None:
        self.rooms, self.cid, self.pid, self.sock = rooms, cid, pid, sock
        self.emit = emitter(on_output)
        self.capture, self.stdin, self.terminal = capture, stdin, terminal
        self.keys = DetachKeys(detach_keys)
        self.chunks: list[bytes] = []
        self.parts: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.final: dict[str, Any] = {}
        self.interrupted = False
        self.detached = False  # the detach keys were typed: no more input goes to it
        self.file_stdin = False  # a regular file or /dev/null: always readable, and epoll refuses it
        self.sel = selectors.DefaultSelector()
        self.remote: Interrupts | None = getattr(_thread_interrupts, "source", None)

    def send(self, message: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(message)

    def send_input(self, data: bytes) -> None:
        if self.detached:
            return
        if not data:
            self.send(control(op=OP_EOF))
            return
        data, typed = self.keys.feed(data)
        if data:
            self.send(STDIN + data)
        if typed:
            self.send(control(op=OP_DETACH))
            self.detached = True

    def resize(self) -> None:
        rows, cols = self.terminal.size()
        self.send(control(op=OP_RESIZE, rows=rows, cols=cols))

    def _register(self) -> None:
        self.sel.register(self.sock, selectors.EVENT_READ, "attach")
        if isinstance(self.stdin, int):
            try:
                self.sel.register(self.stdin, selectors.EVENT_READ, "stdin")
            except PermissionError:
                self.file_stdin = True
        if self.terminal is not None:
            self.sel.register(self.terminal.winch_fd, selectors.EVENT_READ, "winch")
        if self.remote is not None:
            self.sel.register(self.remote.fd, selectors.EVENT_READ, "remote")
            self.remote.streaming = True

    def run(self) -> dict[str, Any]:
        self._register()
        if self.terminal is not None:
            self.resize()
        if isinstance(self.stdin, (bytes, bytearray)):
            for i in range(0, len(self.stdin), CHUNK):
                self.send_input(bytes(self.stdin[i:i + CHUNK]))
            self.send_input(b"")
        try:
            while not self.final:
                try:
                    self._step()
                except KeyboardInterrupt:
                    # Ctrl-C or a notebook interrupt: stop it, then wait for the monitor to
                    # tear it down.
                    self.interrupted = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGKILL)
        finally:
            self.sel.close()
            if self.remote is not None:
                self.remote.streaming = False
        if self.interrupted:
            raise KeyboardInterrupt
        return {**self.final, "output": b"".join(self.chunks), "stdout": b"".join(self.parts["stdout"]),
                "stderr": b"".join(self.parts["stderr"])}

    def _step(self) -> None:
        if self.file_stdin and not self.detached:
            data = os.read(self.stdin, CHUNK)
            self.file_stdin = bool(data)
            self.send_input(data)
        for key, _ in self.sel.select(0 if self.file_stdin else None):
            if key.data == "stdin":
                data = b"" if self.detached else os.read(self.stdin, CHUNK)
                if not data:
                    self.sel.unregister(self.stdin)
                self.send_input(data)
            elif key.data == "winch":
                self.terminal.drain_winch()
                self.resize()
            elif key.data == "remote":
                what = os.read(self.remote.fd, 1)
                if what == b"d":  # leave it running, as a killed face would
                    self.final = {"event": EVENT_DETACHED}
                    return
                if what == b"i":
                    raise KeyboardInterrupt
            elif not self._receive():
                return

    def _receive(self) -> bool:
        """One frame from the monitor; False once the socket closed."""
        try:
            msg = self.sock.recv(1 << 17)
        except ConnectionResetError:
            # It closed with our input (stdin, an eof, a resize) unread. The kernel reports that
            # once, before the messages still queued for us: its final word (the exit code) is
            # read next, then the end.
            try:
                msg = self.sock.recv(1 << 17)
            except ConnectionResetError:
                msg = b""
        if not msg:
            ended = self._recorded_end()
            if ended is None:  # removed meanwhile (--rm by another)
                self.final = MONITOR_DIED if not self.chunks and not self.interrupted else {
                    "event": EVENT_EXITED, "code": 137}
            elif ended is False:
                self.final = MONITOR_DIED
            else:
                self.final = {"event": EVENT_EXITED, "code": 137 if ended.exit_code is None else ended.exit_code,
                              "oom_killed": ended.oom_killed}
            return False
        kind, data = msg[:1], msg[1:]
        if kind in (STDOUT, STDERR):
            stream = "stdout" if kind == STDOUT else "stderr"
            if self.capture:
                self.chunks.append(data)
                self.parts[stream].append(data)
            if self.emit is not None:
                self.emit(data, stream)
        elif kind == CONTROL:
            message = json.loads(data)
            if message.get("event") in (EVENT_EXITED, EVENT_FAILED, EVENT_DETACHED):
                self.final = message
        return True

    def _recorded_end(self, wait: float = 2.0):
        """After the attach socket closed without a final word: the container as its monitor
        recorded its end (a live monitor may close the socket a moment before it writes the
        state: seen with a tty), None when it was removed meanwhile, False when no end is
        recorded (its monitor died)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                c = self.rooms.load(self.cid)
            except NotFound:
                return None
            if c.status.has_ended:
                return c
            if not c.status.is_running or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


def stream(rooms: Room, cid: str, pid: int, sock: socket.socket, on_output: Output | None, capture: bool,
           stdin: bytes | int | None = None, terminal: Any = None,
           detach_keys: bytes | None = None) -> dict[str, Any]:
    """Relay a container's (or an exec'd process's) stdio until it ends: its output to
    `on_output`, `stdin` (bytes, or an fd read to its end) to it. With a `terminal`
    (size() and a winch_fd that wakes on SIGWINCH), its pty follows the terminal's size.
    `detach_keys` in the input leave it running (the result's event is "detached"). A
    KeyboardInterrupt kills it first, then waits for the monitor to tear it down, so the
    host is clean when this returns. The result: the final event plus output, stdout, stderr."""
    return AttachLoop(rooms, cid, pid, sock, on_output, capture, stdin, terminal, detach_keys).run()


def connect(rooms: Room, cid: str, stdin: bool = False) -> socket.socket:
    """A connection to the container's attach socket (its path may be longer than a socket
    address holds: reached through /proc/self/fd of its directory)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    dirfd = os.open(rooms.store.container_dir(cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/{ATTACH_SOCKET}")
    except OSError as err:
        sock.close()
        raise Conflict(f"Container '{cid}' can't be attached to ({err.strerror}): is it running?") from None
    finally:
        os.close(dirfd)
    sock.send(control(op=OP_HELLO, stdin=stdin))
    return sock


def attach(rooms: Room, ref: str, *, on_output: Output | None = None, stdin: bytes | int | None = None,
           capture: bool = False, terminal: Any = None, detach_keys: bytes | None = None) -> RunResult:
    """Attach to a running container's stdio through its monitor's attach socket; the
    detach keys leave it running."""
    t0 = time.perf_counter()
    c = rooms.get(ref)
    if not c.running:
        raise Conflict(f"Container '{ref}' exists but is not running: start it first")
    if stdin is not None and not c.record.stdin and not c.record.tty:
        stdin = None  # it was started without -i: there is no stdin to write to
    sock = connect(rooms, c.id, stdin=stdin is not None)
    try:
        result = stream(rooms, c.id, c.pid or 0, sock, on_output, capture, stdin, terminal, detach_keys)
    finally:
        sock.close()
    return RunResult(c.id, result.get("code", 0), result["output"], time.perf_counter() - t0,
                     result.get("oom_killed", False), result["stdout"], result["stderr"],
                     detached=result.get("event") == EVENT_DETACHED)
