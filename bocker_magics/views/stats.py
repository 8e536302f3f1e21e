"""Cgroup accounting: one row per container, the same columns on cgroup v1 and v2 (the fields
of CgroupStats).

    stats = %bocker stats web
    stats["memory_limit"]      # a column of the frame (bytes), as stats.to_frame() has it
    stats.loc["ps_…", "pids_current"]

`stats_frame` makes the pandas frame; `StatsTable` shows it with sizes in KiB/MiB/GiB and
reads like the frame (`[]`, `.loc`, `.iloc`, `.index`, `.columns`).
"""

from __future__ import annotations

from typing import Any

from .. import format
from ..engine import CgroupStats
from ._render import Table

COLUMNS = list(CgroupStats.__slots__)
SIZES = {"memory_current", "memory_peak", "memory_limit"}


def stats_frame(stats: dict[str, Any], names: dict[str, str | None] | None = None):
    """{container id: CgroupStats} -> DataFrame indexed by id, a `name` column first."""
    import pandas as pd

    names = names or {}
    rows = [{"name": names.get(cid), **s.as_dict()} for cid, s in stats.items()]
    frame = pd.DataFrame(rows, columns=["name"] + COLUMNS, index=pd.Index(list(stats), name="container"))
    ints = ["cpu_shares", "cpu_weight", "memory_current", "memory_peak", "memory_limit", "oom_kills",
            "pids_current", "pids_limit"]
    return frame.astype({c: "Int64" for c in ints} | {"cpu_seconds": "Float64", "cpu_quota_cpus": "Float64"})


class StatsTable(Table):
    caption = "cgroup accounting"
    headers = ("container", "name", *COLUMNS)
    empty = "No running containers to account for: %bocker stats NAME shows one that has exited"

    def __init__(self, stats: dict[str, Any], names: dict[str, str | None] | None = None) -> None:
        self.stats = dict(stats)
        self.names = dict(names or {})
        self._frame = None

    def rows(self) -> list[list[Any]]:
        out = []
        for cid, s in self.stats.items():
            values = s.as_dict()
            out.append([cid, self.names.get(cid)] + [
                format.size(values[c]) if c in SIZES and values[c] is not None else values[c] for c in COLUMNS])
        return out

    def to_frame(self):
        if self._frame is None:
            self._frame = stats_frame(self.stats, self.names)
        return self._frame.copy()

    # reading it like its frame
    def _df(self):
        if self._frame is None:
            self._frame = stats_frame(self.stats, self.names)
        return self._frame

    def __getitem__(self, key: Any) -> Any:
        return self._df()[key]

    def _ipython_key_completions_(self) -> list[str]:
        return ["name", *COLUMNS]

    loc = property(lambda self: self._df().loc)
    iloc = property(lambda self: self._df().iloc)
    index = property(lambda self: self._df().index)
    columns = property(lambda self: self._df().columns)
