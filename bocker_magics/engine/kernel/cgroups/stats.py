"""A group's accounting, the same fields on v1 and v2 (what `bocker stats` and the views show)."""

from __future__ import annotations

from bocker_magics._record import Record


class CgroupStats(Record):
    """Accounting of one group; the same fields on v1 and v2. A field is None when the
    controller behind it is not available (or, for limits, when there is no limit)."""

    __slots__ = (
        "cpu_seconds", "cpu_shares", "cpu_weight", "cpu_quota_cpus", "memory_current", "memory_peak",
        "memory_limit", "oom_kills", "pids_current", "pids_limit",
    )

    def __init__(
        self,
        cpu_seconds: float | None = None,
        cpu_shares: int | None = None,
        cpu_weight: int | None = None,
        cpu_quota_cpus: float | None = None,
        memory_current: int | None = None,
        memory_peak: int | None = None,
        memory_limit: int | None = None,
        oom_kills: int | None = None,
        pids_current: int | None = None,
        pids_limit: int | None = None,
    ) -> None:
        self.cpu_seconds = cpu_seconds  # CPU time used by all tasks, user + system
        self.cpu_shares = cpu_shares  # v1 shares; on v2 the weight converted back
        self.cpu_weight = cpu_weight  # v2 weight; on v1 the shares converted
        self.cpu_quota_cpus = cpu_quota_cpus  # quota / period; None = no quota
        self.memory_current = memory_current  # bytes charged now
        self.memory_peak = memory_peak  # high-water mark in bytes
        self.memory_limit = memory_limit  # bytes; None = unlimited
        self.oom_kills = oom_kills  # tasks killed by the OOM killer in this group
        self.pids_current = pids_current
        self.pids_limit = pids_limit  # None = max
