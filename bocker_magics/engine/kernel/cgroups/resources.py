"""The spec's linux.resources as the drivers read it: which fields are set, the controller each
needs, how a refusal names one, and a plan of writes (every file looked up before the first
is written). Version-free: v1_resources.py and v2_resources.py map the fields to files.
"""

from __future__ import annotations

import errno
import os

from bocker_magics.errors import HostUnsupported

from .common import write_file, write_limit

# The drivers read spec.linux.resources (engine/spec/resources.py) and write exactly what
# it says; a value of 0 (or false, or empty) is "not set", as runc reads the spec's Go types.


def set_fields(r) -> list[str]:
    """The fields of a linux.resources that are set, as paths below it ("memory.limit",
    "cpu.cpus", "blockIO.weight", "unified"); devices are not among them (set_devices)."""
    if r is None:
        return []
    m, c, b, n = r.memory, r.cpu, r.block_io, r.network
    pairs = (
        ("memory.limit", m.limit), ("memory.reservation", m.reservation), ("memory.swap", m.swap),
        ("memory.kernel", m.kernel), ("memory.kernelTCP", m.kernel_tcp),
        ("memory.swappiness", m.swappiness is not None), ("memory.disableOOMKiller", m.disable_oom_killer),
        ("memory.useHierarchy", m.use_hierarchy is not None),
        ("cpu.shares", c.shares), ("cpu.quota", c.quota), ("cpu.period", c.period),
        ("cpu.realtimeRuntime", c.realtime_runtime), ("cpu.realtimePeriod", c.realtime_period),
        ("cpu.cpus", c.cpus), ("cpu.mems", c.mems), ("cpu.idle", c.idle is not None),
        ("pids.limit", r.pids.limit),
        ("blockIO.weight", b.weight), ("blockIO.leafWeight", b.leaf_weight),
        ("blockIO.weightDevice", b.weight_device),
        ("blockIO.throttleReadBpsDevice", b.throttle_read_bps_device),
        ("blockIO.throttleWriteBpsDevice", b.throttle_write_bps_device),
        ("blockIO.throttleReadIOPSDevice", b.throttle_read_iops_device),
        ("blockIO.throttleWriteIOPSDevice", b.throttle_write_iops_device),
        ("hugepageLimits", r.hugepage_limits), ("network.classID", n.class_id),
        ("network.priorities", n.priorities), ("rdma", r.rdma), ("unified", r.unified),
    )
    return [name for name, v in pairs if v]


# How a refusal names a field: the limits `docker run` sets by the words users know them by.
_LABELS = {"memory.limit": "memory", "cpu.shares": "cpu shares", "cpu.quota": "cpus", "cpu.period": "cpus",
           "pids.limit": "pids"}


def label(field: str) -> str:
    return _LABELS.get(field) or f"linux.resources.{field}"


def controllers_needed(fields: list[str], table: dict[str, str]) -> dict[str, str]:
    """field -> the controller it needs, by `table` (a field's own name, else its first part)."""
    out = {}
    for f in fields:
        ctrl = table.get(f) or table.get(f.split(".")[0])
        if ctrl:
            out[f] = ctrl
    return out


def refuse_unoffered(field: str, version: str, why: str) -> HostUnsupported:
    """A field this cgroup version has no file for: one line."""
    return HostUnsupported(f"linux.resources.{field} cannot be set on cgroup {version}: {why}; "
                           "remove it from the configuration")


class Plan:
    """The writes of a driver's resources, each (file, value, label), planned first: every
    file is looked up in the group's directory (one line when the kernel lacks it) before
    anything is written."""

    def __init__(self, dirs: dict[str, str], version: str) -> None:
        self.dirs = dirs
        self.version = version
        self.writes: list[tuple[str, str, str]] = []

    def file(self, ctrl: str, field: str, *names: str) -> str:
        """The first of `names` the group's directory holds; one line when none is there."""
        d = self.dirs[ctrl]
        for name in names:
            path = os.path.join(d, name)
            if os.path.exists(path):
                return path
        raise HostUnsupported(f"linux.resources.{field} cannot be set: this kernel's cgroup {self.version} {ctrl} "
                              f"controller has no {' or '.join(names)}; remove it from the configuration")

    def add(self, ctrl: str, field: str, names: tuple[str, ...] | str, value, shown: str | None = None) -> None:
        names = (names,) if isinstance(names, str) else names
        self.writes.append((self.file(ctrl, field, *names), str(value), shown or f"{label(field)}={value}"))

    def run(self) -> None:
        """Make the writes. A CFS period smaller than the current one can be refused (EINVAL)
        while the old quota over it would exceed the parent's: when a quota follows, the
        period is written again after it (runc's order)."""
        retry = None
        quota_follows = any(w[0].endswith("/cpu.cfs_quota_us") for w in self.writes)
        for path, value, shown in self.writes:
            if quota_follows and path.endswith("/cpu.cfs_period_us"):
                try:
                    write_file(path, value)
                    continue
                except OSError as e:
                    if e.errno != errno.EINVAL:
                        write_limit(path, value, shown)  # raises, in one line
                    retry = (path, value, shown)
                    continue
            write_limit(path, value, shown)
            if retry is not None and path.endswith("/cpu.cfs_quota_us"):
                write_limit(*retry)


def missing_controller_error(label: str, controller: str, version: str, why: str) -> HostUnsupported:
    """One line: "memory limit needs the cgroup v2 memory controller, not enabled at X; ..." """
    return HostUnsupported(
        f"{label} limit needs the cgroup {version} {controller} controller, {why}; "
        f"run without the {label} limit or enable the controller"
    )
