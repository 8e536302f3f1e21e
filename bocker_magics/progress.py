"""A terminal progress display for pull and push: a bar per layer on stderr.

The engine reports registry.Progress events through a callback; this draws them. On a
terminal the bars are redrawn in place (at most ~10 times a second); otherwise one line is
printed per layer when it is done, so logs stay readable. `close(ok)` ends it: the last
picture of every bar, and unfinished layers marked failed when the work failed (on a
terminal; elsewhere the error's one line is all a failure prints). The `bocker`
command and terminal IPython (the magics outside a notebook) both use it.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from . import format

_WIDTH = 30
_FINAL = {"done": "Pull complete", "exists": "Already exists", "pushed": "Pushed"}


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.layers: dict[str, Any] = {}
        self.failed = False
        self.drawn = 0
        self.last = 0.0
        self.lock = threading.Lock()

    def __call__(self, p: Any) -> None:
        with self.lock:
            before = self.layers.get(p.layer)
            self.layers[p.layer] = p
            final = p.status in _FINAL
            if not self.tty:
                if final and (before is None or before.status != p.status):
                    self.stream.write(f"{p.layer}: {_FINAL[p.status]}\n")
                    self.stream.flush()
                return
            now = time.monotonic()
            if final or now - self.last > 0.1:
                self.last = now
                self._draw()

    def close(self, ok: bool = True) -> None:
        """The work ended: draw the final state (unfinished layers: failed, when not ok)."""
        with self.lock:
            self.failed = not ok
            if self.tty and self.layers:
                self._draw()
            # not a terminal: no line per unfinished layer, the error's one line says it failed
            # (a log or a script reads one line for a failed pull, as with Docker)

    def _line(self, p: Any) -> str:
        if p.status in _FINAL:
            return f"{p.layer}: {_FINAL[p.status]}"
        if self.failed:
            return f"{p.layer}: Failed"
        if p.status == "waiting":
            return f"{p.layer}: Waiting"
        word = "Uploading" if p.status == "uploading" else "Extracting" if p.status == "extracting" else "Downloading"
        fraction = p.current / p.total if p.total else 0.0
        return f"{p.layer}: {word} {format.bar(fraction, _WIDTH)} {format.size(p.current)}/{format.size(p.total)}"

    def _draw(self) -> None:
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}A")
        for p in self.layers.values():
            out.append(f"\x1b[2K{self._line(p)}\n")
        self.drawn = len(self.layers)
        self.stream.write("".join(out))
        self.stream.flush()
