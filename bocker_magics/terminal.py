"""The user's terminal, for `run -it`, `exec -it` and `attach`: raw mode while attached, its
size (and a wake-up on SIGWINCH), and Docker's detach keys. The engine relays the bytes
(containers.stream); this is the face's side of a terminal, which a notebook has none of."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import termios
import tty as _tty
from collections.abc import Iterator

from .errors import InvalidArgument

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(text: str) -> bytes:
    """Docker's spelling: a comma-separated list of `ctrl-X` or single characters
    (ctrl-@, ctrl-a … ctrl-z, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_)."""
    out = bytearray()
    for part in (p.strip() for p in text.split(",")):
        if len(part) == 1:
            out.append(ord(part))
        elif part.lower().startswith("ctrl-") and len(part) == 6:
            c = part[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise InvalidArgument(f"Invalid --detach-keys '{text}': ctrl- takes a letter or @ [ \\ ] ^ _")
        else:
            raise InvalidArgument(f"Invalid --detach-keys '{text}': use e.g. ctrl-p,ctrl-q or ctrl-a,d")
    if not out:
        raise InvalidArgument("Invalid --detach-keys '': give at least one key, e.g. ctrl-p,ctrl-q")
    return bytes(out)


class Terminal:
    """A terminal the engine relays a container's pty to."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._winch_r, self._winch_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._old_handler = None

    @staticmethod
    def is_terminal(fd: int) -> bool:
        return os.isatty(fd)

    def size(self) -> tuple[int, int]:
        """(rows, cols) of the terminal."""
        try:
            rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(self.fd, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            return 24, 80
        return rows or 24, cols or 80

    @property
    def winch_fd(self) -> int:
        """Readable after each SIGWINCH (the terminal changed its size)."""
        return self._winch_r

    def drain_winch(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._winch_r, 64):
                pass

    @contextlib.contextmanager
    def raw(self) -> Iterator[Terminal]:
        """Raw mode (every key goes to the container: ^C to its foreground process), the
        SIGWINCH wake-up, and the terminal as it was afterwards, whatever happens."""
        saved = termios.tcgetattr(self.fd)

        def on_winch(signum, frame) -> None:
            with contextlib.suppress(OSError):
                os.write(self._winch_w, b"w")

        self._old_handler = signal.signal(signal.SIGWINCH, on_winch)
        try:
            _tty.setraw(self.fd, termios.TCSANOW)
            yield self
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
            signal.signal(signal.SIGWINCH, self._old_handler or signal.SIG_DFL)

    def close(self) -> None:
        for fd in (self._winch_r, self._winch_w):
            with contextlib.suppress(OSError):
                os.close(fd)
