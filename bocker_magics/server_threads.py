"""The thread that serves one request (server.py): sys.std* that are its client's fds in that
thread only (ThreadStream), the client's terminal through its fd 0 (RemoteTerminal), its own
cwd and umask (CLONE_FS), Ctrl-C from the client as a KeyboardInterrupt in that thread
(Request), and the threads kept for the next request (Workers)."""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import queue
import termios
import threading
import traceback
import tty as _tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .terminal import Terminal

CLONE_FS = 0x00000200


# -- the streams of the thread that serves a request ------------------------------------------
class _Streams(threading.local):
    stdin: Any = None
    stdout: Any = None
    stderr: Any = None
    own_fs: bool = False  # this thread unshared its filesystem context (CLONE_FS)


_streams = _Streams()


class ThreadStream:
    """sys.stdout (stdin, stderr) of the thread that serves a request: its client's; the
    server's own (its log) elsewhere. print() and the renderers need no change."""

    def __init__(self, name: str, default: Any) -> None:
        self._name = name
        self._default = default

    def current(self) -> Any:
        return getattr(_streams, self._name) or self._default

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.current(), attr)


class RemoteTerminal(Terminal):
    """The client's terminal, through its fd 0: raw mode set here (termios works on any fd
    of a terminal), SIGWINCH relayed as a message (a signal reaches the client, not us)."""

    @contextlib.contextmanager
    def raw(self) -> Iterator[RemoteTerminal]:
        saved = termios.tcgetattr(self.fd)
        try:
            _tty.setraw(self.fd, termios.TCSANOW)
            yield self
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)

    def notify_winch(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._winch_w, b"w")


def _async_raise(ident: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in the thread `ident` at its next bytecode (None: cancel a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                               ctypes.py_object(exc) if exc is not None else None)


_libc = ctypes.CDLL(None, use_errno=True)


def _unshare_fs() -> None:
    if _libc.unshare(CLONE_FS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@dataclass
class Request:
    """One command being served: its thread, its client's messages, its terminal."""

    ident: int
    interrupts: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    terminals: list[RemoteTerminal] = field(default_factory=list)

    def stop(self, hang_up: bool) -> None:
        """Ctrl-C (or the client gone): the attach loop hears it; anything else gets a
        KeyboardInterrupt, as a Ctrl-C in process would raise."""
        with self.lock:
            if self.done:
                return
            if self.interrupts.streaming:
                self.interrupts.hang_up() if hang_up else self.interrupts.interrupt()
            else:
                _async_raise(self.ident, KeyboardInterrupt)

    def finish(self) -> None:
        while True:
            try:
                with self.lock:
                    self.done = True
                    _async_raise(self.ident, None)
                return
            except KeyboardInterrupt:
                continue  # raised just before: done is set on the next pass


class Workers:
    """Threads kept for the next request: starting a thread is cheap, but now and then
    (the kernel's clone under load) slow, and it is on the path of every command."""

    KEEP = 16  # idle threads kept; more leave

    def __init__(self, log) -> None:
        self._idle: list[queue.SimpleQueue] = []
        self._lock = threading.Lock()
        self._log = log

    def submit(self, fn, *args: Any) -> None:
        with self._lock:
            q = self._idle.pop() if self._idle else None
        if q is None:
            q = queue.SimpleQueue()
            threading.Thread(target=self._loop, args=(q,), daemon=True, name="bocker-worker").start()
        q.put((fn, args))

    def _loop(self, q: queue.SimpleQueue) -> None:
        while True:
            fn, args = q.get()
            try:
                fn(*args)
            except BaseException:
                self._log("a worker failed:\n" + traceback.format_exc())
            with self._lock:
                if len(self._idle) >= self.KEEP:
                    return
                self._idle.append(q)


def _text_stream(fd: int, errors: str, unbuffered: bool) -> io.TextIOWrapper:
    tty = os.isatty(fd)
    stream = io.TextIOWrapper(io.BufferedWriter(io.FileIO(fd, "w", closefd=True)), encoding="utf-8",
                              errors=errors, line_buffering=tty and not unbuffered, write_through=unbuffered)
    return stream


def _exit_status(code: Any, stderr: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    stderr.write(f"{code}\n")
    return 1
