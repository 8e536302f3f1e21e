"""Dashboard: the containers this Jupyter kernel made, at a glance.

    %bocker dashboard            # a live table (ipywidgets) with stop and logs buttons per row,
                                 # refreshed every 2 s for 10 minutes; a static table elsewhere
    d = Dashboard(engine, ids)   # ids: a callable giving the container ids to show
    d.snapshot()                 # the rows now (status, ports, CPU %, memory of limit, pids)

The static table (text, HTML, Markdown) is what nbconvert, a report and GitHub show; the
widget is what JupyterLab shows where ipywidgets render. Stop sends the container's stop
signal (then SIGKILL after its timeout), as `%bocker stop` does; logs shows its log's tail
below the table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .. import format
from ._render import Table, no_math
from .hints import limit_size
from .ps import _ports, status


class Dashboard(Table):
    caption = "this kernel's containers"
    headers = ("name", "id", "status", "ports", "CPU %", "MEM USAGE / LIMIT", "PIDS")
    widths = {"name": 24, "ports": 40}
    empty = "None of the containers this kernel made is left: %bocker run -d --name web busybox httpd -f starts one"

    def __init__(self, engine: Any, ids: Callable[[], list[str]], interval: float = 2.0,
                 duration: float = 600.0) -> None:
        self.engine = engine
        self.ids = ids
        self.interval = interval
        self.duration = duration
        self._cpu: dict[str, tuple[float, float]] = {}   # id -> (when, cpu seconds): CPU % between refreshes
        self._rows = self.snapshot()
        self._stop = threading.Event()

    # -- the data ------------------------------------------------------------------------------
    def _containers(self) -> list[Any]:
        wanted = list(self.ids())
        have = {c.id: c for c in self.engine.ps()}
        return [have[i] for i in wanted if i in have]

    def snapshot(self) -> list[list[Any]]:
        containers = self._containers()
        running = [c.id for c in containers if c.running]
        stats = self.engine.stats(running) if running else {}
        now = time.monotonic()
        rows = []
        for c in containers:
            s = stats.get(c.id)
            cpu = "-"
            if s is not None and s.cpu_seconds is not None:
                before = self._cpu.get(c.id)
                if before is not None and now > before[0]:
                    cpu = f"{100 * (s.cpu_seconds - before[1]) / (now - before[0]):.1f}%"
                self._cpu[c.id] = (now, s.cpu_seconds)
            memory = "-"
            if s is not None and s.memory_current is not None:
                memory = format.size(s.memory_current) + (f" / {limit_size(s.memory_limit)}" if s.memory_limit else "")
            pids = "-" if s is None or s.pids_current is None else s.pids_current
            rows.append([c.name or "-", c.id, status(c), _ports(c) or "-", cpu, memory, pids])
        return rows

    def rows(self) -> list[list[Any]]:
        return self._rows

    def refresh(self) -> None:
        self._rows = self.snapshot()

    # -- the live widget -----------------------------------------------------------------------
    def widget(self):
        import ipywidgets

        table = ipywidgets.HTML(self._html())
        buttons = ipywidgets.VBox()
        logs = ipywidgets.Output(layout=ipywidgets.Layout(max_height="240px", overflow="auto"))
        note = ipywidgets.HTML()

        def act(what: str, ref: str) -> Callable[[Any], None]:
            def click(_: Any) -> None:
                try:
                    if what == "stop":
                        self.engine.stop(ref)
                        note.value = no_math(f"<p>stopped {format.shorten(ref, 40)}</p>")
                        redraw()
                    else:
                        text = self.engine.logs(ref).decode(errors="replace")
                        logs.clear_output()
                        with logs:
                            print(f"--- logs of {ref} (last 50 lines) ---")
                            print("".join(text.splitlines(keepends=True)[-50:]), end="")
                except Exception as e:  # a container gone meanwhile: one line, not a traceback
                    note.value = no_math(f"<p>{type(e).__name__}: {format.shorten(str(e), 200)}</p>")
            return click

        shown_rows: list[tuple[str, str]] = []

        def redraw() -> None:
            self.refresh()
            table.value = self._html()
            key = [(r[1], r[2]) for r in self._rows]
            if key == shown_rows:   # the same containers in the same states: keep the buttons
                return
            shown_rows[:] = key
            rows = []
            for r in self._rows:
                name, cid, state = r[0], r[1], r[2]
                stop = ipywidgets.Button(description="stop", disabled=not state.startswith(("running", "paused")),
                                         layout=ipywidgets.Layout(width="70px"))
                log = ipywidgets.Button(description="logs", layout=ipywidgets.Layout(width="70px"))
                stop.on_click(act("stop", cid))
                log.on_click(act("logs", cid))
                label = ipywidgets.Label(f"{name} ({cid})", layout=ipywidgets.Layout(width="260px"))
                rows.append(ipywidgets.HBox([label, stop, log]))
            buttons.children = rows

        def follow() -> None:
            end = time.monotonic() + self.duration
            failures = 0
            while not self._stop.wait(self.interval) and time.monotonic() < end:
                try:
                    redraw()
                    failures = 0
                except Exception as e:  # a container removed mid-read: try again; the engine gone: stop
                    failures += 1
                    note.value = no_math(f"<p>not refreshed: {type(e).__name__}: {format.shorten(str(e), 160)}</p>")
                    if failures >= 10:
                        return

        redraw()
        box = ipywidgets.VBox([table, buttons, note, logs])
        threading.Thread(target=follow, name="bocker-dashboard", daemon=True).start()
        return box

    @classmethod
    def shown(cls, engine: Any, ids: Callable[[], list[str]], interval: float = 2.0,
              duration: float = 600.0) -> Any:
        """The dashboard as a notebook shows it: its widget with the static table beside it
        (for nbconvert and GitHub) where a Jupyter frontend is, the static table elsewhere."""
        from .live import WithWidget, updates_in_place

        d = cls(engine, ids, interval, duration)
        if not updates_in_place():
            return d
        try:
            return WithWidget(d, d.widget())
        except ImportError:  # no ipywidgets: the table
            return d

    def stop(self) -> None:
        """Stop refreshing the live widget."""
        self._stop.set()
