"""A terminal progress display for pull and push: a bar per layer on stderr.

The engine reports registry.Progress events through a callback; this draws them. On a
terminal the bars are redrawn in place (at most ~10 times a second); otherwise one line is
printed per layer when it is done, so logs stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

_WIDTH = 30


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.layers: dict[str, Any] = {}
        self.drawn = 0
        self.last = 0.0
        self.lock = threading.Lock()

    def __call__(self, p: Any) -> None:
        with self.lock:
            before = self.layers.get(p.layer)
            self.layers[p.layer] = p
            final = p.status in ("done", "exists", "pushed")
            if not self.tty:
                if final and (before is None or before.status != p.status):
                    word = {"done": "Pull complete", "exists": "Already exists", "pushed": "Pushed"}[p.status]
                    self.stream.write(f"{p.layer}: {word}\n")
                    self.stream.flush()
                return
            now = time.monotonic()
            if final or now - self.last > 0.1:
                self.last = now
                self._draw()

    def _line(self, p: Any) -> str:
        if p.status == "exists":
            return f"{p.layer}: Already exists"
        if p.status in ("done", "pushed"):
            return f"{p.layer}: {'Pull complete' if p.status == 'done' else 'Pushed'}"
        if p.status == "waiting":
            return f"{p.layer}: Waiting"
        frac = p.current / p.total if p.total else 0.0
        bar = "=" * int(frac * _WIDTH)
        bar = (bar[:-1] + ">") if 0 < len(bar) < _WIDTH else bar
        word = "Uploading" if p.status == "uploading" else "Downloading"
        return f"{p.layer}: {word} [{bar:<{_WIDTH}}] {_size(p.current)}/{_size(p.total)}"

    def _draw(self) -> None:
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}A")
        for p in self.layers.values():
            out.append(f"\x1b[2K{self._line(p)}\n")
        self.drawn = len(self.layers)
        self.stream.write("".join(out))
        self.stream.flush()
