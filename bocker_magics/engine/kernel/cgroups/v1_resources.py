"""The spec's linux.resources in cgroup v1 files (runc's libcontainer/cgroups/fs, a controller
each): every field runc applies, in runc's order, with the kernel's own units.

    memory   limit_in_bytes, memsw.limit_in_bytes (swap: memory+swap), soft_limit_in_bytes
             (reservation), kmem(.tcp).limit_in_bytes, swappiness, oom_control, use_hierarchy
    cpu      shares, cfs_period_us, cfs_quota_us, rt_period_us, rt_runtime_us, idle
    cpuset   cpus, mems                 pids      max
    blkio    weight (or bfq.weight), leaf_weight, weight_device, leaf_weight_device,
             throttle.{read,write}_{bps,iops}_device
    hugetlb  <size>.limit_in_bytes      net_cls   classid      net_prio  ifpriomap
    rdma     max

A write is planned first (each file looked up in the group's directory: one line when the
kernel lacks it, before anything is written), then made.
"""

from __future__ import annotations

import os

from bocker_magics.errors import InvalidArgument

from .common import read_int
from .resources import Plan, controllers_needed, label, missing_controller_error

# The hierarchy a field's files live in (a field's own name first, then its first part).
CONTROLLER = {"memory": "memory", "cpu.cpus": "cpuset", "cpu.mems": "cpuset", "cpu": "cpu", "pids": "pids",
              "blockIO": "blkio", "hugepageLimits": "hugetlb", "network.classID": "net_cls",
              "network.priorities": "net_prio", "rdma": "rdma"}


def check(r, fields: list[str], mounted) -> None:
    """Refuse before anything is made: unified (v2 only), a controller not mounted, a value
    no kernel takes."""
    if "unified" in fields:
        raise InvalidArgument("invalid configuration: cannot use unified on cgroup v1 (linux.resources.unified "
                              "holds cgroup v2 files): remove it, or run on a cgroup v2 host")
    for field, ctrl in controllers_needed(fields, CONTROLLER).items():
        if ctrl not in mounted:
            raise missing_controller_error(label(field), ctrl, "v1", "not mounted on this host")
    swappiness = r.memory.swappiness
    if swappiness is not None and swappiness > 100:
        raise InvalidArgument(f"invalid memory swappiness value: {swappiness} (valid range is 0-100)")


def write(dirs: dict[str, str], r, fields: list[str]) -> None:
    """Every set field of `r` into the group's files (dirs: controller -> its directory)."""
    want = set(fields)
    plan = Plan(dirs, "v1")
    swap_first = _memory(plan, r.memory, want)
    _cpu(plan, r.cpu, want)
    if "cpu.cpus" in want:
        plan.add("cpuset", "cpu.cpus", "cpuset.cpus", r.cpu.cpus)
    if "cpu.mems" in want:
        plan.add("cpuset", "cpu.mems", "cpuset.mems", r.cpu.mems)
    if "pids.limit" in want:
        plan.add("pids", "pids.limit", "pids.max", r.pids.limit if r.pids.limit > 0 else "max")
    _block_io(plan, r.block_io, want)
    for h in r.hugepage_limits:
        plan.add("hugetlb", "hugepageLimits", f"hugetlb.{h.page_size}.limit_in_bytes", h.limit,
                 f"hugepageLimits {h.page_size}={h.limit}")
    if "network.classID" in want:
        plan.add("net_cls", "network.classID", "net_cls.classid", r.network.class_id)
    for p in r.network.priorities:
        plan.add("net_prio", "network.priorities", "net_prio.ifpriomap", f"{p.name} {p.priority}")
    for device, limits in r.rdma.items():
        plan.add("rdma", "rdma", "rdma.max", _rdma_line(device, limits), f"rdma {device}")
    if swap_first:
        _swap_before_memory(plan)
    plan.run()


def _memory(plan: Plan, m, want: set[str]) -> bool:
    """Plan the memory files; True when memory+swap must be written before the limit (it
    may never be below it: raise memsw first when the limits grow, lower it last)."""
    if not any(f.startswith("memory.") for f in want):
        return False
    swap = m.swap
    if m.limit == -1 and not swap and os.path.exists(os.path.join(plan.dirs["memory"], "memory.memsw.limit_in_bytes")):
        swap = -1  # unlimited memory with swap not given: memory+swap unlimited too (runc)
    swap_first = False
    if m.limit and swap:
        current = read_int(os.path.join(plan.dirs["memory"], "memory.limit_in_bytes"))
        swap_first = swap == -1 or current is None or current < swap
    if m.limit:
        plan.add("memory", "memory.limit", "memory.limit_in_bytes", m.limit)
    if swap:
        plan.add("memory", "memory.swap", "memory.memsw.limit_in_bytes", swap,
                 f"memory={m.limit}, memory+swap={swap}" if m.limit else None)
    if m.reservation:
        plan.add("memory", "memory.reservation", "memory.soft_limit_in_bytes", m.reservation)
    if m.kernel:
        plan.add("memory", "memory.kernel", "memory.kmem.limit_in_bytes", m.kernel)
    if m.kernel_tcp:
        plan.add("memory", "memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", m.kernel_tcp)
    if m.disable_oom_killer:
        plan.add("memory", "memory.disableOOMKiller", "memory.oom_control", 1)
    if m.swappiness is not None:
        plan.add("memory", "memory.swappiness", "memory.swappiness", m.swappiness)
    if m.use_hierarchy is not None:
        plan.add("memory", "memory.useHierarchy", "memory.use_hierarchy", int(m.use_hierarchy))
    return swap_first


def _swap_before_memory(plan: Plan) -> None:
    writes = plan.writes
    limit = next(i for i, w in enumerate(writes) if w[0].endswith("/memory.limit_in_bytes"))
    memsw = next(i for i, w in enumerate(writes) if w[0].endswith("/memory.memsw.limit_in_bytes"))
    writes[limit], writes[memsw] = writes[memsw], writes[limit]


def _cpu(plan: Plan, c, want: set[str]) -> None:
    if "cpu.shares" in want:
        plan.add("cpu", "cpu.shares", "cpu.shares", c.shares)
    if "cpu.period" in want:
        plan.add("cpu", "cpu.period", "cpu.cfs_period_us", c.period)
    if "cpu.quota" in want:
        quota = c.quota if c.quota > 0 else -1
        shown = f"cpus={c.quota / (c.period or 100_000):g}" if c.quota > 0 else None
        plan.add("cpu", "cpu.quota", "cpu.cfs_quota_us", quota, shown)
    # the realtime budget: the period first, so that the runtime fits in it
    if "cpu.realtimePeriod" in want:
        plan.add("cpu", "cpu.realtimePeriod", "cpu.rt_period_us", c.realtime_period)
    if "cpu.realtimeRuntime" in want:
        plan.add("cpu", "cpu.realtimeRuntime", "cpu.rt_runtime_us", c.realtime_runtime)
    if "cpu.idle" in want:
        plan.add("cpu", "cpu.idle", "cpu.idle", c.idle)


def _block_io(plan: Plan, b, want: set[str]) -> None:
    if "blockIO.weight" in want:
        plan.add("blkio", "blockIO.weight", ("blkio.weight", "blkio.bfq.weight"), b.weight)
    if "blockIO.leafWeight" in want:
        plan.add("blkio", "blockIO.leafWeight", "blkio.leaf_weight", b.leaf_weight)
    for wd in b.weight_device:
        if wd.weight is not None:
            plan.add("blkio", "blockIO.weightDevice", ("blkio.weight_device", "blkio.bfq.weight_device"),
                     f"{wd.major}:{wd.minor} {wd.weight}")
        if wd.leaf_weight is not None:
            plan.add("blkio", "blockIO.weightDevice", "blkio.leaf_weight_device",
                     f"{wd.major}:{wd.minor} {wd.leaf_weight}")
    for field, attr, name in THROTTLES:
        for td in getattr(b, attr):
            plan.add("blkio", field, f"blkio.throttle.{name}", f"{td.major}:{td.minor} {td.rate}")


THROTTLES = (("blockIO.throttleReadBpsDevice", "throttle_read_bps_device", "read_bps_device"),
             ("blockIO.throttleWriteBpsDevice", "throttle_write_bps_device", "write_bps_device"),
             ("blockIO.throttleReadIOPSDevice", "throttle_read_iops_device", "read_iops_device"),
             ("blockIO.throttleWriteIOPSDevice", "throttle_write_iops_device", "write_iops_device"))


def _rdma_line(device: str, limits) -> str:
    line = device
    if limits.hca_handles is not None:
        line += f" hca_handle={limits.hca_handles}"
    if limits.hca_objects is not None:
        line += f" hca_object={limits.hca_objects}"
    return line
