"""Monitor: a container's memory and CPU sampled over time from its cgroup, plotted.

    m = Monitor(engine, interval=0.2); m.start(container_id) ... m.stop()
    m = Monitor(engine, 0.5, container_id).follow(duration=10)   # in this thread
    m.to_frame()   # time_s, cpu_seconds, cpu_percent, memory_bytes, pids
    m.png()        # the plot (matplotlib Agg), also in the HTML so exported reports show it

Sampling runs in a thread (`start`) or in the caller's (`follow`) and ends when the container
stops, `stop()` is called or the time is up. The figures are the sample's: cpu seconds used
while it sampled (not the container's lifetime total), the sampled memory peak.

While it samples, `show_live()` puts the plot and summary in the cell and redraws them as
samples come (`views.live.LiveDisplay`); a widget from `.widget()` follows too.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

from .. import format
from ._render import View, no_math, png_data_uri

REDRAW_SECONDS = 0.5  # a live plot is redrawn at most this often (a PNG costs tens of ms)


class Monitor(View):
    def __init__(self, engine: Any, interval: float = 0.2, container_id: str | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.container_id = container_id
        self.label = container_id  # "name (id)" once known
        self.samples: list[tuple[float, Any]] = []  # (seconds since start, CgroupStats)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._png: tuple[int, bytes] | None = None  # (samples it shows, the PNG)
        self._widgets: list[tuple[Any, Any]] = []  # (Image, HTML) of each widget made
        self._live = None
        self.live_widget = None  # the widget that showed it live (live_widgets on), once it ended
        # the cgroup's own high-water mark, when the run's report knows it: shown as the peak
        # instead of the samples' (a short run's samples miss the true peak; one figure, not two)
        self.known_peak: int | None = None
        self._drawn = 0.0  # when the widgets were last redrawn

    # -- sampling ---------------------------------------------------------------------------
    def sample(self) -> bool:
        """Take one sample; False once the container no longer runs."""
        from ..errors import BockerError

        try:
            c = self.engine.container(self.container_id)
            if not c.running:
                return False
            self.label = f"{c.name} ({c.id})" if c.name else c.id
            stats = self.engine.stats([self.container_id])[c.id]
        except (BockerError, OSError):
            return False
        if stats.cpu_seconds is None and stats.memory_current is None and stats.pids_current is None:
            return False  # the cgroup went away: the container has exited
        self.samples.append((time.monotonic() - self._t0, stats))
        self._redraw()
        return True

    def start(self, container_id: str | None = None) -> Monitor:
        if container_id is not None:
            self.container_id = self.label = container_id
        self._t0 = time.monotonic()
        self.sample()  # at least one sample, however short the run
        self._thread = threading.Thread(target=self._loop, name=f"bocker-monitor-{self.container_id}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.sample():
                break

    def stop(self) -> Monitor:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self

    def follow(self, duration: float | None = None) -> Monitor:
        """Sample in this thread until the container exits or `duration` seconds pass. An
        interrupt ends the sampling and goes on up (the caller decides what it means)."""
        self._t0 = time.monotonic()
        deadline = None if duration is None else self._t0 + duration
        while self.sample():
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(self.interval)
        return self

    @property
    def last(self) -> Any:
        """The last CgroupStats sampled (None before any)."""
        return self.samples[-1][1] if self.samples else None

    # -- live -------------------------------------------------------------------------------
    def show_live(self, widget: bool = False) -> Monitor:
        """Show the plot and summary in the cell now and redraw them as samples come (in a
        Jupyter kernel; elsewhere nothing is shown until the result)."""
        from .live import LiveDisplay

        self._live = LiveDisplay(self, widget=widget, min_interval=REDRAW_SECONDS)
        return self

    def end_live(self) -> Any:
        """Remove the live output (the result shows the final picture); returns the live
        widget, if there was one, for the result to show."""
        live, self._live = self._live, None
        if live is None:
            return None
        live.close()
        self.live_widget = live.widget
        return live.widget

    def _redraw(self) -> None:
        if self._live is not None:
            self._live.refresh()
        elif self._widgets:
            # a widget made by hand: follow, as often as a live display would
            now = time.monotonic()
            if now - self._drawn >= REDRAW_SECONDS:
                self._drawn = now
                for w in list(self._widgets):
                    self._fill(*w)

    # -- data -------------------------------------------------------------------------------
    def to_frame(self):
        import pandas as pd

        rows, prev = [], None
        for t, s in list(self.samples):
            pct = None
            if prev is not None and s.cpu_seconds is not None and prev[1].cpu_seconds is not None and t > prev[0]:
                pct = 100.0 * (s.cpu_seconds - prev[1].cpu_seconds) / (t - prev[0])
            rows.append({"time_s": t, "cpu_seconds": s.cpu_seconds, "cpu_percent": pct,
                         "memory_bytes": s.memory_current, "pids": s.pids_current})
            prev = (t, s)
        return pd.DataFrame(rows, columns=["time_s", "cpu_seconds", "cpu_percent", "memory_bytes", "pids"])

    def sampled_cpu_seconds(self) -> float | None:
        """CPU time the container used while it was sampled."""
        cpu = [s.cpu_seconds for _, s in list(self.samples) if s.cpu_seconds is not None]
        return cpu[-1] - cpu[0] if len(cpu) >= 2 else None

    def png(self) -> bytes:
        """Memory and CPU over time, as a PNG (matplotlib's Agg backend: no display needed)."""
        samples = len(self.samples)
        if self._png is None or self._png[0] != samples:
            import io

            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            frame = self.to_frame()
            fig = Figure(figsize=(7, 3.2), dpi=80)
            FigureCanvasAgg(fig)
            mem, cpu = fig.subplots(1, 2)
            mem.plot(frame["time_s"], frame["memory_bytes"].astype(float) / (1 << 20), marker=".")
            mem.set_title("memory")
            mem.set_xlabel("seconds")
            mem.set_ylabel("MiB")
            cpu.plot(frame["time_s"], frame["cpu_percent"].astype(float), marker=".", color="tab:red")
            cpu.set_title("cpu")
            cpu.set_xlabel("seconds")
            cpu.set_ylabel("% of one CPU")
            fig.suptitle(f"container {self.label}")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            self._png = (samples, buf.getvalue())
        return self._png[1]

    # -- rendering --------------------------------------------------------------------------
    def _summary(self) -> list[tuple[str, str]]:
        samples = list(self.samples)
        if not samples:
            return [("container", str(self.label)), ("samples", "0")]
        seconds = samples[-1][0] - samples[0][0]
        memory = [s.memory_current for _, s in samples if s.memory_current is not None]
        cpu = self.sampled_cpu_seconds()
        average = f"{100 * cpu / seconds:.0f}% of one CPU" if cpu is not None and seconds > 0 else "-"
        last = samples[-1][1]
        return [("container", str(self.label)), ("samples", f"{len(samples)} over {format.duration(seconds)}"),
                ("cpu (sampled)", "-" if cpu is None else f"{cpu:.3f} s, {average}"),
                (("memory peak", format.size(self.known_peak)) if self.known_peak is not None else
                 ("memory peak (sampled)", format.size(max(memory) if memory else None))),
                ("memory now", format.size(last.memory_current)),
                ("pids", "-" if last.pids_current is None else str(last.pids_current))]

    def _text(self) -> str:
        return "Monitor: " + ", ".join(f"{k} {v}" for k, v in self._summary())

    def _summary_html(self) -> str:
        info = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._summary())
        return f'<table style="text-align:left"><tbody>{info}</tbody></table>'

    def _html(self) -> str:
        img = f'<img alt="memory and cpu of {html.escape(str(self.label))}" src="{png_data_uri(self.png())}">' \
            if self.samples else "<p>no samples: the container was not running</p>"
        return f"<figure>{img}<figcaption>{self._summary_html()}</figcaption></figure>"

    # no text/markdown: the PNG is carried once, in the HTML (exported reports show it there)

    def widget(self):
        """The plot and the summary as widgets; they follow while the monitor samples."""
        import ipywidgets

        image = ipywidgets.Image(format="png", value=self.png() if self.samples else b"")
        label = ipywidgets.HTML(no_math(self._summary_html()))
        self._widgets.append((image, label))
        return ipywidgets.VBox([image, label])

    def refresh_widget(self, box: Any) -> None:
        image, label = box.children
        self._fill(image, label)

    def _fill(self, image: Any, label: Any) -> None:
        if self.samples:
            image.value = self.png()
        label.value = self._summary_html()
