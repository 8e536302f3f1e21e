"""RunReport: what `%bocker run` (and exec) returns: id, exit code, output, duration and the
container's cgroup accounting, with the monitor's plot when one ran.

The output itself is not repeated in the report when it was streamed into the cell already
(`.text` and `.output` hold it); with --quiet the report shows it, capped.
"""

from __future__ import annotations

import html
from typing import Any

from .. import format
from ._render import View, md_table, no_math
from .hints import limit_size

SHOWN_LINES = 200  # of an output that was not streamed (--quiet), in the report


SIGKILLED = 137  # 128 + SIGKILL: how a process the OOM killer took exits


def status_line(exit_code: int | None, oom_killed: bool, oom_kills: int | None) -> str:
    """How a run ended, in words that never contradict. The engine's `oom_killed` says the
    OOM killer acted in the container's group; it was pid 1 only if pid 1 died of SIGKILL.
    Otherwise pid 1 exited by itself: its status, and how many processes the killer took."""
    kills = oom_kills or (1 if oom_killed else 0)
    if kills and exit_code == SIGKILLED:
        return f"killed by the OOM killer (exit {exit_code})"
    line = f"exited ({exit_code})"
    if kills:
        line += f"; {format.count(kills, 'process')} killed by the OOM killer"
    return line


class RunReport(View):
    def __init__(self, result: Any, stats: Any = None, monitor: Any = None, detached: bool = False, *,
                 exec_in: str | None = None, label: str | None = None, streamed: bool = True,
                 command: str | None = None) -> None:
        self.result = result            # engine.RunResult
        self.stats = stats              # CgroupStats: recorded at exit, or the last sample (or None)
        self.monitor = monitor          # Monitor, when --monitor
        self.detached = detached
        self.exec_in = exec_in          # exec: the container it ran in (its name, or id)
        self.label = label or result.id  # "web (ps_…)"
        self.streamed = streamed        # the output went to the cell as it came
        self.command = command          # what ran, as the user gave it (one line), when known
        peak = getattr(stats, "memory_peak", None)
        if monitor is not None and peak is not None:
            monitor.known_peak = peak   # the report and its plot's summary show one peak

    id = property(lambda self: self.result.id)
    exit_code = property(lambda self: self.result.exit_code)
    output = property(lambda self: self.result.output)
    text = property(lambda self: self.result.text)
    duration = property(lambda self: self.result.duration)
    oom_killed = property(lambda self: self.result.oom_killed)  # the engine's: an OOM kill in the group

    @property
    def killed_by_oom(self) -> bool:
        """pid 1 itself was killed by the OOM killer (not only some other process)."""
        return bool(self.oom_killed or self.oom_kills) and self.exit_code == SIGKILLED

    @property
    def oom_kills(self) -> int | None:
        return getattr(self.stats, "oom_kills", None)

    def accounting(self) -> dict[str, Any]:
        return self.stats.as_dict() if self.stats is not None else {}

    @property
    def status(self) -> str:
        if self.exec_in is not None:
            return f"exec in {self.exec_in}: exit {self.exit_code}"
        if self.detached:
            return "running (detached)"
        return status_line(self.exit_code, self.oom_killed, self.oom_kills)

    def _fields(self) -> list[tuple[str, str]]:
        s = self.stats
        out = [("container", self.label), ("status", self.status), ("duration", format.duration(self.duration))]
        if s is not None and self.exec_in is None:
            out += [("cpu seconds", "-" if s.cpu_seconds is None else f"{s.cpu_seconds:.3f}"),
                    ("memory peak", format.size(s.memory_peak if s.memory_peak is not None else s.memory_current)),
                    ("memory limit", limit_size(s.memory_limit) if s.memory_limit else "none"),
                    ("pids", "-" if s.pids_current is None else str(s.pids_current))]
        return out

    def to_frame(self):
        import pandas as pd

        row = {"id": self.id, "exit_code": self.exit_code, "duration_s": self.duration,
               "oom_killed": self.oom_killed, **self.accounting()}
        return pd.DataFrame([row]).set_index("id")

    def _unstreamed(self) -> str | None:
        """The output to show in the report: only when the cell did not get it already."""
        if self.streamed or not self.output:
            return None
        lines = self.text.splitlines(keepends=True)
        shown = "".join(lines[:SHOWN_LINES])
        if len(lines) > SHOWN_LINES:
            shown += f"… {len(lines) - SHOWN_LINES} more lines: .text has them all\n"
        return shown

    def _text(self) -> str:
        """What the HTML shows, as lines a reader reads (never a Python repr): the container, how
        it ended and after how long, its command, its accounting; the output only where the cell
        did not get it already (else its size: no line is shown twice)."""
        output = self._unstreamed()
        if self.exec_in is not None:
            return self.status + ("\n" + output if output else "")
        fields = dict(self._fields())
        lines = [f"{fields.pop('container')}: {fields.pop('status')} after {fields.pop('duration')}"]
        if self.command:  # the text's alone: the HTML sits under the cell that holds the command
            lines.append(f"command: {self.command}")
        if fields:
            lines.append(", ".join(f"{k} {v}" for k, v in fields.items()))
        if output:
            lines.append("output:\n" + output.rstrip("\n"))
        elif self.output:
            lines.append(f"output: {format.count(len(self.text.splitlines()), 'line')}, streamed above "
                         "(.text has it)")
        return "\n".join(lines)

    def _html(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._fields())
        out = f'<table style="text-align:left"><tbody>{rows}</tbody></table>'
        output = self._unstreamed()
        if output:
            out += f"<pre>{html.escape(output)}</pre>"
        if self.monitor is not None:
            out += self.monitor._html()
        return out

    def widget(self):
        import ipywidgets

        table = ipywidgets.HTML(no_math(self._html() if self.monitor is None else self._html_without_plot()))
        return table if self.monitor is None else ipywidgets.VBox([table, self.monitor.widget()])

    def _html_without_plot(self) -> str:
        monitor, self.monitor = self.monitor, None
        try:
            return self._html()
        finally:
            self.monitor = monitor

    def _markdown(self) -> str | None:
        if self.monitor is not None:
            return None  # the plot is in the HTML; carried once
        md = md_table(["", ""], self._fields())
        output = self._unstreamed()
        return md + (f"\n\n```\n{output}```" if output else "")
