"""Progress: long work (a pull, a push) shown in the cell while it goes, ending done or failed.

    p = Progress("pull busybox"); p(done, total); ...; p.close("pulled")   # or p.fail("refused")

In a notebook the line is one display that updates in place (<progress>, no JS); with
widgets on, an ipywidgets progress bar (green when done, red when failed). Where nothing
can update in place (terminal IPython, plain Python) it shows nothing: the magics use the
terminal bar there (bocker_magics.progress).
"""

from __future__ import annotations

import html
import time
from typing import Any

from .. import format
from ._render import no_math
from .live import updates_in_place

RUNNING, DONE, FAILED = "running", "done", "failed"


class Progress:
    def __init__(self, what: str, widget: bool = False, min_interval: float = 0.2) -> None:
        self.what = what
        self.done, self.total = 0, None
        self.note = ""
        self.state = RUNNING
        self._widget = None
        self._handle = None
        self._last = 0.0
        self._min_interval = min_interval
        self._t0 = time.monotonic()
        self._t1: float | None = None
        if not updates_in_place():
            return
        from IPython.display import display

        if widget:
            import ipywidgets

            self._widget = ipywidgets.FloatProgress(value=0, min=0, max=1, description=what[:20],
                                                    bar_style="info")
            self._label = ipywidgets.Label(self._text())
            display(ipywidgets.HBox([self._widget, self._label]))
        else:
            self._handle = display(self, display_id=True)

    def __call__(self, done: int, total: int | None = None, note: str = "") -> None:
        self.done, self.total, self.note = done, total, note
        now = time.monotonic()
        if now - self._last >= self._min_interval or (total and done >= total):
            self._last = now
            self._refresh()

    def _refresh(self) -> None:
        if self._widget is not None:
            w = self._widget
            if self.state == DONE:
                w.max, w.value, w.bar_style = 1, 1, "success"  # full, whatever the total was
            elif self.total:
                w.max, w.value = self.total, min(self.done, self.total)
            if self.state == FAILED:
                w.bar_style = "danger"
            self._label.value = self._text()
        elif self._handle is not None:
            self._handle.update(self)

    def close(self, note: str = "done") -> None:
        """The work finished: a full bar and `note`."""
        self.state, self.note, self._t1 = DONE, note, time.monotonic()
        if self.total:
            self.done = self.total
        self._refresh()

    def fail(self, note: str = "failed") -> None:
        """The work failed: the bar stops where it was (no animation) and says so."""
        self.state, self.note, self._t1 = FAILED, note, time.monotonic()
        self._refresh()

    def _text(self) -> str:
        seconds = (self._t1 or time.monotonic()) - self._t0
        amount = format.transferred(self.done, self.total) if self.done or self.total else ""
        head = f"{self.what}: failed" if self.state == FAILED else f"{self.what}:"
        return " ".join(p for p in (head, amount, self.note, f"({seconds:.1f} s)") if p)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        if self.state == RUNNING:
            # an indeterminate <progress> (no value) moves: only while the work goes on
            bar = (f'<progress value="{self.done}" max="{self.total}"></progress> ' if self.total
                   else "<progress></progress> ")
        elif self.state == DONE:
            bar = '<progress value="1" max="1"></progress> ✓ '
        else:
            bar = (f'<progress value="{self.done}" max="{self.total}"></progress> ' if self.total else "") + "✗ "
        return {"text/plain": self._text(), "text/html": no_math(f"<p>{bar}{html.escape(self._text())}</p>"),
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
        finished = sum(e.status in self.FINISHED for e in self.layers.values())
        if self.layers:
            note = f"{note} ({format.count(finished, 'layer')})"
        self.progress.close(note)

    def fail(self, note: str = "failed") -> None:
        self.progress.fail(note)
