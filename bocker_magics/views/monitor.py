"""Monitor: a container's memory and CPU sampled over time from its cgroup, plotted.

    m = Monitor(engine, interval=0.2); m.start(container_id) ... m.stop()
    m.to_frame()   # time_s, cpu_seconds, cpu_percent, memory_bytes, pids
    m.png()        # the plot (matplotlib Agg), also in the HTML so exported reports show it

Sampling runs in a thread and ends when the container stops or `stop()` is called.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from ._render import View, human_bytes, md_table, png_data_uri


class Monitor(View):
    def __init__(self, engine: Any, interval: float = 0.2, container_id: str | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.container_id = container_id
        self.samples: list[tuple[float, Any]] = []  # (seconds since start, CgroupStats)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._png: bytes | None = None

    # -- sampling ---------------------------------------------------------------------------
    def sample(self) -> bool:
        """Take one sample; False once the container no longer runs."""
        from ..errors import BockerError

        try:
            c = self.engine.container(self.container_id)
            if not c.running:
                return False
            stats = self.engine.stats([self.container_id])[c.id]
        except (BockerError, OSError):
            return False
        if stats.cpu_seconds is None and stats.memory_current is None and stats.pids_current is None:
            return False  # the cgroup went away: the container has exited
        self.samples.append((time.monotonic() - self._t0, stats))
        self._png = None
        return True

    def start(self, container_id: str | None = None) -> "Monitor":
        if container_id is not None:
            self.container_id = container_id
        self._t0 = time.monotonic()
        self.sample()  # at least one sample, however short the run
        self._thread = threading.Thread(target=self._loop, name=f"bocker-monitor-{self.container_id}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.sample():
                break

    def stop(self) -> "Monitor":
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self

    def follow(self, duration: float | None = None) -> "Monitor":
        """Sample in this thread until the container exits (or `duration` seconds pass, or
        the kernel is interrupted)."""
        self._t0 = time.monotonic()
        deadline = None if duration is None else self._t0 + duration
        with contextlib.suppress(KeyboardInterrupt):
            while self.sample():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(self.interval)
        return self

    @property
    def last(self) -> Any:
        """The last CgroupStats sampled (None before any)."""
        return self.samples[-1][1] if self.samples else None

    # -- data -------------------------------------------------------------------------------
    def to_frame(self):
        import pandas as pd

        rows, prev = [], None
        for t, s in self.samples:
            pct = None
            if prev is not None and s.cpu_seconds is not None and prev[1].cpu_seconds is not None and t > prev[0]:
                pct = 100.0 * (s.cpu_seconds - prev[1].cpu_seconds) / (t - prev[0])
            rows.append({"time_s": t, "cpu_seconds": s.cpu_seconds, "cpu_percent": pct,
                         "memory_bytes": s.memory_current, "pids": s.pids_current})
            prev = (t, s)
        return pd.DataFrame(rows, columns=["time_s", "cpu_seconds", "cpu_percent", "memory_bytes", "pids"])

    def png(self) -> bytes:
        """Memory and CPU over time, as a PNG (matplotlib's Agg backend: no display needed)."""
        if self._png is None:
            import io

            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            frame = self.to_frame()
            fig = Figure(figsize=(7, 3.2), dpi=80)
            FigureCanvasAgg(fig)
            mem, cpu = fig.subplots(1, 2)
            mem.plot(frame["time_s"], frame["memory_bytes"].astype(float) / (1 << 20), marker=".")
            mem.set_title("memory"); mem.set_xlabel("seconds"); mem.set_ylabel("MiB")
            cpu.plot(frame["time_s"], frame["cpu_percent"].astype(float), marker=".", color="tab:red")
            cpu.set_title("cpu"); cpu.set_xlabel("seconds"); cpu.set_ylabel("% of one CPU")
            fig.suptitle(f"container {self.container_id}")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            self._png = buf.getvalue()
        return self._png

    # -- rendering --------------------------------------------------------------------------
    def _summary(self) -> list[tuple[str, str]]:
        frame = self.to_frame()
        peak = frame["memory_bytes"].max() if len(frame) else None
        cpu = self.last.cpu_seconds if self.last is not None else None
        return [("container", str(self.container_id)), ("samples", str(len(frame))),
                ("seconds", f"{frame['time_s'].max():.2f}" if len(frame) else "-"),
                ("memory peak (sampled)", human_bytes(None if peak != peak else peak)),
                ("cpu seconds", "-" if cpu is None else f"{cpu:.3f}")]

    def _text(self) -> str:
        return "Monitor: " + ", ".join(f"{k} {v}" for k, v in self._summary())

    def _html(self) -> str:
        import html

        info = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._summary())
        img = f'<img alt="memory and cpu of {html.escape(str(self.container_id))}" src="{png_data_uri(self.png())}">' \
            if self.samples else "<p>no samples: the container was not running</p>"
        return f"<figure>{img}<figcaption><table><tbody>{info}</tbody></table></figcaption></figure>"

    def _markdown(self) -> str:
        img = f"![memory and cpu]({png_data_uri(self.png())})\n\n" if self.samples else ""
        return img + md_table(["", ""], self._summary())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(include, exclude)
        if self.samples:
            import base64

            bundle["image/png"] = base64.b64encode(self.png()).decode()
        return bundle

    def widget(self):
        """An image that refreshes while the container runs."""
        import ipywidgets

        image = ipywidgets.Image(format="png", value=self.png() if self.samples else b"")
        label = ipywidgets.HTML(self._text())

        def refresh() -> None:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(max(self.interval, 0.5))
                if self.samples:
                    image.value, label.value = self.png(), self._text()
            if self.samples:
                image.value, label.value = self.png(), self._text()

        threading.Thread(target=refresh, daemon=True).start()
        return ipywidgets.VBox([image, label])
