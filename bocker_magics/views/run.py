"""RunReport: what `%bocker run` (and exec) returns: id, exit code, output, duration and the
container's cgroup accounting, with the monitor's plot when one ran."""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

from ._render import View, human_bytes, md_table


class RunReport(View):
    def __init__(self, result: Any, stats: Any = None, monitor: Any = None, detached: bool = False) -> None:
        self.result = result            # engine.RunResult
        self.stats = stats              # CgroupStats: the last sample of the run (or None)
        self.monitor = monitor          # Monitor, when --monitor
        self.detached = detached

    id = property(lambda self: self.result.id)
    exit_code = property(lambda self: self.result.exit_code)
    output = property(lambda self: self.result.output)
    text = property(lambda self: self.result.text)
    duration = property(lambda self: self.result.duration)
    oom_killed = property(lambda self: self.result.oom_killed)

    def accounting(self) -> dict[str, Any]:
        return asdict(self.stats) if self.stats is not None else {}

    def _fields(self) -> list[tuple[str, str]]:
        status = "running (detached)" if self.detached else (
            "oom-killed" if self.oom_killed else f"exited ({self.exit_code})")
        s = self.stats
        out = [("container", self.id), ("status", status), ("duration", f"{self.duration:.3f} s")]
        if s is not None:
            out += [("cpu seconds", "-" if s.cpu_seconds is None else f"{s.cpu_seconds:.3f}"),
                    ("memory peak", human_bytes(s.memory_peak if s.memory_peak is not None else s.memory_current)),
                    ("memory limit", human_bytes(s.memory_limit) if s.memory_limit else "none"),
                    ("pids", "-" if s.pids_current is None else str(s.pids_current))]
        return out

    def to_frame(self):
        import pandas as pd

        row = {"id": self.id, "exit_code": self.exit_code, "duration_s": self.duration,
               "oom_killed": self.oom_killed, **self.accounting()}
        return pd.DataFrame([row]).set_index("id")

    def _text(self) -> str:
        return "RunReport(" + ", ".join(f"{k}={v}" for k, v in self._fields()) + ")"

    def _html(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._fields())
        out = f"<table><tbody>{rows}</tbody></table>"
        if self.output:
            out += f"<details><summary>output ({len(self.output)} bytes)</summary><pre>{html.escape(self.text)}</pre></details>"
        if self.monitor is not None:
            out += self.monitor._html()
        return out

    def _markdown(self) -> str:
        md = md_table(["", ""], self._fields())
        if self.monitor is not None:
            md += "\n\n" + self.monitor._markdown()
        return md
