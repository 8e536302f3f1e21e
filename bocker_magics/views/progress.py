"""Progress: long work (a pull, a long run) shown in the cell while it goes.

    p = Progress("pull busybox"); p(done, total); ...; p.close("pulled")

In a notebook the line is one display that updates in place (<progress>, no JS); with
widgets on, an ipywidgets progress bar. Where nothing can update in place (a terminal),
it stays quiet until close.
"""

from __future__ import annotations

import html
import time
from typing import Any

from ._render import human_bytes


class Progress:
    def __init__(self, what: str, widget: bool = False, min_interval: float = 0.2) -> None:
        self.what = what
        self.done, self.total = 0, None
        self.note = ""
        self._widget = None
        self._handle = None
        self._last = 0.0
        self._min_interval = min_interval
        self._t0 = time.monotonic()
        try:
            from IPython.display import display

            if widget:
                import ipywidgets

                self._widget = ipywidgets.FloatProgress(value=0, min=0, max=1, description=what[:20])
                display(self._widget)
            else:
                self._handle = display(self, display_id=True)
        except ImportError:
            pass

    def __call__(self, done: int, total: int | None = None, note: str = "") -> None:
        self.done, self.total, self.note = done, total, note
        now = time.monotonic()
        if now - self._last >= self._min_interval or (total and done >= total):
            self._last = now
            self._refresh()

    def _refresh(self) -> None:
        if self._widget is not None:
            if self.total:
                self._widget.max, self._widget.value = self.total, self.done
            self._widget.description = self.what[:20]
        elif self._handle is not None:
            self._handle.update(self)

    def close(self, note: str = "done") -> None:
        self.note = note
        if self.total:
            self.done = self.total
        self._refresh()

    def _text(self) -> str:
        amount = human_bytes(self.done) + (f" of {human_bytes(self.total)}" if self.total else "")
        return f"{self.what}: {amount} {self.note} ({time.monotonic() - self._t0:.1f} s)".strip()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bar = (f'<progress value="{self.done}" max="{self.total}"></progress> ' if self.total
               else "<progress></progress> " if self.note != "done" else "")
        return {"text/plain": self._text(), "text/html": f"<p>{bar}{html.escape(self._text())}</p>",
                "text/markdown": self._text()}


class LayerProgress:
    """The registry's per-layer progress events (layer, status, current, total) summed into
    one Progress line: bytes of every layer so far, and how many layers are done."""

    FINISHED = ("done", "exists", "pushed")

    def __init__(self, what: str, widget: bool = False) -> None:
        self.progress = Progress(what, widget=widget)
        self.layers: dict[str, Any] = {}

    def __call__(self, event: Any) -> None:
        self.layers[event.layer] = event
        done = sum(e.current for e in self.layers.values())
        total = sum(e.total for e in self.layers.values()) or None
        finished = sum(e.status in self.FINISHED for e in self.layers.values())
        self.progress(done, total, f"({finished}/{len(self.layers)} layers, {event.status} {event.layer})")

    def close(self, note: str = "done") -> None:
        self.progress.close(note)
