"""The byte streams of attach, logs and exec: multiplexed frames without a tty (a header of
the stream's number and the payload's length before each payload), raw bytes with one; and
the pty size a client sets with `resize`, as the engine's stream() asks a terminal for it."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading

STREAM_NUMBER = {"stdin": 0, "stdout": 1, "stderr": 2}


def frame(stream: str, data: bytes) -> bytes:
    return struct.pack(">BxxxL", STREAM_NUMBER.get(stream, 1), len(data)) + data


class SocketOutput:
    """Writes a process's output to a hijacked connection; a client that left is no error
    (the process goes on, as with dockerd)."""

    def __init__(self, sock: socket.socket, tty: bool, want: tuple[str, ...] = ("stdout", "stderr")) -> None:
        self.sock = sock
        self.tty = tty
        self.want = want
        self.gone = False
        self.lock = threading.Lock()

    def __call__(self, data: bytes, stream: str) -> None:
        if self.gone or not data or stream not in self.want:
            return
        payload = data if self.tty else frame(stream, data)
        try:
            with self.lock:
                self.sock.sendall(payload)
        except OSError:
            self.gone = True

    def finish(self) -> None:
        """All written: the client reads to the end of the stream."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)


class PtySize:
    """A terminal for the engine's stream(): size() and a winch fd that a `resize` wakes."""

    def __init__(self, rows: int = 24, cols: int = 80) -> None:
        self.rows, self.cols = rows, cols
        self._r, self._w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.winch_fd = self._r
        self._lock = threading.Lock()
        self._closed = False

    def size(self) -> tuple[int, int]:
        return self.rows, self.cols

    def set(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        with self._lock, contextlib.suppress(OSError):
            if not self._closed:  # a resize after the end: never a write to a reused fd number
                os.write(self._w, b"w")

    def drain_winch(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._r, 64):
                pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for fd in (self._r, self._w):
                with contextlib.suppress(OSError):
                    os.close(fd)
