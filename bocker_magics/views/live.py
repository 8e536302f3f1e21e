"""Showing a view while it changes, and a widget that still reads where widgets do not render.

    live = LiveDisplay(monitor, widget=False)   # an output in the cell, updated in place
    live.refresh()                              # at most every `min_interval` seconds
    live.close()                                # the live output goes; the result shows the end

A display can only be updated in place where a Jupyter frontend is (a kernel); in terminal
IPython or plain Python `LiveDisplay` shows nothing, and the result is shown once at the end.
"""

from __future__ import annotations

import threading
import time
from typing import Any


def updates_in_place() -> bool:
    """True in a Jupyter kernel (its frontend updates a display by id); False in terminal
    IPython, an IPython shell of tests, or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# what a live output is left as when the result takes its place: nothing to see, and a
# mime type every exporter can render (nbconvert warns about an output with no data)
_GONE = {"text/plain": ""}


class LiveDisplay:
    """One output in the cell that shows `view` (its mime bundle, or its widget) and follows
    it: `refresh()` redraws it (at most every `min_interval` seconds, from any thread),
    `close()` removes it. The view may offer `refresh_widget(widget)`."""

    def __init__(self, view: Any, widget: bool = False, min_interval: float = 0.5) -> None:
        self.view = view
        self.min_interval = min_interval
        self.widget = None
        self._handle = None
        self._last = 0.0
        self._lock = threading.Lock()
        if not updates_in_place():
            return
        from IPython.display import display

        if widget:
            self.widget = view.widget()
            self._handle = display(self.widget, display_id=True)
        else:
            self._handle = display(view._repr_mimebundle_(), raw=True, display_id=True)
        self._last = time.monotonic()

    @property
    def shown(self) -> bool:
        return self._handle is not None

    def refresh(self, force: bool = False) -> None:
        if self._handle is None:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last < self.min_interval:
                return
            self._last = now
            if self.widget is not None:
                refresh = getattr(self.view, "refresh_widget", None)
                if refresh is not None:
                    refresh(self.widget)
            else:
                self._handle.update(self.view._repr_mimebundle_(), raw=True)

    def close(self) -> None:
        """Remove the live output: the cell's result shows the final picture, once."""
        with self._lock:
            if self._handle is not None:
                if self.widget is not None and hasattr(self.view, "refresh_widget"):
                    self.view.refresh_widget(self.widget)
                self._handle.update(_GONE, raw=True)
                self._handle = None


class WithWidget:
    """A view and its widget as one result: a widget frontend shows the widget; nbconvert,
    a report, terminal IPython or GitHub show the view's text/html and text/plain. Attributes
    are the view's (`r.exit_code`, `m.to_frame()`); `.live` is the widget."""

    def __init__(self, view: Any, widget: Any) -> None:
        self.view = view
        self.live = widget

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(self.view._repr_mimebundle_())
        shown = self.live._repr_mimebundle_() or {}
        bundle.update({k: v for k, v in shown.items() if k != "text/plain"})
        return bundle

    def __getattr__(self, name: str) -> Any:
        if name in ("view", "live"):  # not set yet (copy, pickle)
            raise AttributeError(name)
        return getattr(self.view, name)

    def __getitem__(self, key: Any) -> Any:
        return self.view[key]

    def __len__(self) -> int:
        return len(self.view)

    def __iter__(self):
        return iter(self.view)

    def _ipython_key_completions_(self) -> list[str]:
        keys = getattr(self.view, "_ipython_key_completions_", None)
        return keys() if keys else []

    def __repr__(self) -> str:
        return repr(self.view)
