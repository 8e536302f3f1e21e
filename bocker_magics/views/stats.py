"""Cgroup accounting as a pandas frame: one row per container, the same columns on cgroup
v1 and v2 (the fields of CgroupStats)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from ..engine.kernel.cgroups.common import CgroupStats

COLUMNS = [f.name for f in fields(CgroupStats)]


def stats_frame(stats: dict[str, Any], names: dict[str, str | None] | None = None):
    """{container id: CgroupStats} -> DataFrame indexed by id, a `name` column first."""
    import pandas as pd

    names = names or {}
    rows = [{"name": names.get(cid), **asdict(s)} for cid, s in stats.items()]
    frame = pd.DataFrame(rows, columns=["name"] + COLUMNS, index=pd.Index(list(stats), name="container"))
    ints = ["cpu_shares", "cpu_weight", "memory_current", "memory_peak", "memory_limit", "oom_kills",
            "pids_current", "pids_limit"]
    return frame.astype({c: "Int64" for c in ints} | {"cpu_seconds": "Float64", "cpu_quota_cpus": "Float64"})
