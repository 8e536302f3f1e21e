"""The spec's linux.resources in cgroup v2 files (runc's libcontainer/cgroups/fs2), in runc's
order: pids, memory, io, cpu, cpuset, hugetlb, rdma, then unified.

    pids     pids.max                  memory   memory.swap.max (swap - limit), memory.max,
    io       io.bfq.weight or io.weight (converted), io.max           memory.low (reservation)
    cpu      cpu.weight (from shares), cpu.max (quota period), cpu.idle
    cpuset   cpuset.cpus, cpuset.mems  hugetlb  hugetlb.<size>.max     rdma  rdma.max
    unified  each key, a file of the group, as given

v2 has no file for some of the spec's fields (v1 knobs): kernel memory, swappiness,
disabling the OOM killer, a flat hierarchy, realtime CPU budgets, leaf weights, net_cls and
net_prio. A spec that sets one is refused in one line before anything is made.
"""

from __future__ import annotations

import os

from bocker_magics.errors import HostUnsupported, InvalidArgument

from .common import read_int, shares_to_weight
from .resources import Plan, controllers_needed, refuse_unoffered

CONTROLLER = {"memory": "memory", "cpu.cpus": "cpuset", "cpu.mems": "cpuset", "cpu": "cpu", "pids": "pids",
              "blockIO": "io", "hugepageLimits": "hugetlb", "rdma": "rdma"}

# what v2 has no file for, and why
UNOFFERED = {
    "memory.kernel": "kernel memory is charged to memory.max, there is no limit of its own",
    "memory.kernelTCP": "TCP buffer memory is charged to memory.max, there is no limit of its own",
    "memory.swappiness": "there is no per-group swappiness (memory.swappiness is v1's)",
    "memory.disableOOMKiller": "the OOM killer can't be disabled per group (memory.oom_control is v1's)",
    "cpu.realtimeRuntime": "there are no realtime CPU budgets (cpu.rt_runtime_us is v1's)",
    "cpu.realtimePeriod": "there are no realtime CPU budgets (cpu.rt_period_us is v1's)",
    "blockIO.leafWeight": "there are no leaf weights (blkio.leaf_weight is v1's)",
    "network.classID": "there is no net_cls controller",
    "network.priorities": "there is no net_prio controller",
}


def unified_controller(key: str) -> str:
    if "/" in key or key in ("", ".", ".."):
        raise InvalidArgument(f"unified resource {key!r} must be a file name (no slashes)")
    ctrl, dot, _ = key.partition(".")
    if not dot or not ctrl:
        raise InvalidArgument(f"unified resource {key!r} must be in the form CONTROLLER.PARAMETER")
    return ctrl


def needed(r, fields: list[str]) -> dict[str, str]:
    """field -> the controller it needs ("unified.KEY" for each unified key of a controller)."""
    # useHierarchy (true: checked) is what every v2 group is: nothing to write
    out = controllers_needed([f for f in fields if f not in ("unified", "memory.useHierarchy")], CONTROLLER)
    for key in r.unified if "unified" in fields else ():
        ctrl = unified_controller(key)
        if ctrl != "cgroup":  # cgroup.* are core files: every group has them
            out[f"unified.{key}"] = ctrl
    return out


def check(r, fields: list[str]) -> None:
    """Refuse before anything is made what v2 has no file for, and values no kernel takes."""
    for field in fields:
        if field in UNOFFERED:
            raise refuse_unoffered(field, "v2", UNOFFERED[field])
    if r.memory.use_hierarchy is False:
        raise refuse_unoffered("memory.useHierarchy", "v2", "every v2 group is hierarchical")
    for wd in r.block_io.weight_device:
        if wd.leaf_weight is not None:
            raise refuse_unoffered("blockIO.weightDevice[].leafWeight", "v2", UNOFFERED["blockIO.leafWeight"])
    m = r.memory
    if m.swap and m.swap != -1 and m.limit is not None and m.limit > 0 and m.swap < m.limit:
        raise InvalidArgument(f"linux.resources.memory.swap {m.swap} is below memory.limit {m.limit}: memory+swap "
                              "limit should be >= memory limit")


def _max(v: int) -> str:
    return "max" if v < 0 else str(v)


def write(d: str, r, fields: list[str]) -> None:
    """Every set field of `r` into the files of the group at `d`."""
    want = set(fields)
    plan = Plan({c: d for c in ("memory", "cpu", "cpuset", "pids", "io", "hugetlb", "rdma", "unified")}, "v2")
    if "pids.limit" in want:
        plan.add("pids", "pids.limit", "pids.max", _max(r.pids.limit))
    _memory(plan, d, r.memory, want)
    _io(plan, d, r.block_io, want)
    _cpu(plan, r.cpu, want)
    if "cpu.cpus" in want:
        plan.add("cpuset", "cpu.cpus", "cpuset.cpus", r.cpu.cpus)
    if "cpu.mems" in want:
        plan.add("cpuset", "cpu.mems", "cpuset.mems", r.cpu.mems)
    for h in r.hugepage_limits:
        plan.add("hugetlb", "hugepageLimits", f"hugetlb.{h.page_size}.max", h.limit,
                 f"hugepageLimits {h.page_size}={h.limit}")
    for device, limits in r.rdma.items():
        line = device + "".join(f" {k}={v}" for k, v in (("hca_handle", limits.hca_handles),
                                                         ("hca_object", limits.hca_objects)) if v is not None)
        plan.add("rdma", "rdma", "rdma.max", line, f"rdma {device}")
    for key, value in r.unified.items() if "unified" in want else ():
        plan.add("unified", f"unified.{key}", key, value, f"unified {key}={value}")
    plan.run()


def _memory(plan: Plan, d: str, m, want: set[str]) -> None:
    if m.swap:
        plan.add("memory", "memory.swap", "memory.swap.max", _swap(d, m))
    elif m.limit == -1 and os.path.exists(os.path.join(d, "memory.swap.max")):
        plan.add("memory", "memory.swap", "memory.swap.max", "max")  # unlimited memory: swap too (runc)
    if m.limit:
        plan.add("memory", "memory.limit", "memory.max", _max(m.limit))
    if m.reservation:
        plan.add("memory", "memory.reservation", "memory.low", _max(m.reservation))


def _swap(d: str, m) -> str:
    """The spec's swap is memory+swap (v1's memsw); v2 limits the swap alone: the difference."""
    if m.swap == -1:
        return "max"
    limit = m.limit or read_int(os.path.join(d, "memory.max"))  # an update may give swap alone
    if limit is None or limit < 0:
        raise InvalidArgument(f"linux.resources.memory.swap {m.swap} needs a memory limit: unable to set swap "
                              "limit without memory limit (give linux.resources.memory.limit)")
    if m.swap < limit:
        raise InvalidArgument(f"linux.resources.memory.swap {m.swap} is below the memory limit {limit}: "
                              "memory+swap limit should be >= memory limit")
    return str(m.swap - limit)


def _cpu(plan: Plan, c, want: set[str]) -> None:
    if "cpu.shares" in want:
        weight = shares_to_weight(min(max(c.shares, 2), 262144))  # v1's kernel clamps shares so
        plan.add("cpu", "cpu.shares", "cpu.weight", weight, f"cpu shares={c.shares} (cpu.weight {weight})")
    if "cpu.quota" in want or "cpu.period" in want:
        quota = c.quota if c.quota and c.quota > 0 else None
        period = c.period or 100_000
        shown = f"cpus={quota / period:g}" if quota else None
        plan.add("cpu", "cpu.quota" if quota else "cpu.period", "cpu.max", f"{quota or 'max'} {period}", shown)
    if "cpu.idle" in want:
        plan.add("cpu", "cpu.idle", "cpu.idle", c.idle)


def _io(plan: Plan, d: str, b, want: set[str]) -> None:
    bfq = os.path.join(d, "io.bfq.weight")
    if "blockIO.weight" in want:
        if os.path.exists(bfq):
            plan.add("io", "blockIO.weight", "io.bfq.weight", b.weight)
        else:
            # blkio's 10..1000 onto io.weight's 1..10000, runc's conversion
            plan.add("io", "blockIO.weight", "io.weight", 1 + (b.weight - 10) * 9999 // 990)
    if b.weight_device:
        if not _bfq_per_device(bfq):
            raise HostUnsupported("linux.resources.blockIO.weightDevice cannot be set: this kernel's cgroup v2 io "
                                  "controller has no per-device weight (io.bfq.weight of BFQ); remove it")
        for wd in b.weight_device:
            if wd.weight is not None:
                plan.add("io", "blockIO.weightDevice", "io.bfq.weight", f"{wd.major}:{wd.minor} {wd.weight}")
    for attr, key in (("throttle_read_bps_device", "rbps"), ("throttle_write_bps_device", "wbps"),
                      ("throttle_read_iops_device", "riops"), ("throttle_write_iops_device", "wiops")):
        for td in getattr(b, attr):
            field = "blockIO." + {"rbps": "throttleReadBpsDevice", "wbps": "throttleWriteBpsDevice",
                                  "riops": "throttleReadIOPSDevice", "wiops": "throttleWriteIOPSDevice"}[key]
            plan.add("io", field, "io.max", f"{td.major}:{td.minor} {key}={td.rate or 'max'}")


def _bfq_per_device(path: str) -> bool:
    # BFQ before Linux 5.4 takes one default weight; later ones "default N" and "MAJ:MIN N" lines
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return False
    return not text.isdigit()

