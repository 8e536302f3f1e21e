"""Cgroups for containers: one interface, a v1 driver and a v2 driver, chosen at run time.

    from bocker_magics.engine.kernel.cgroups import detect
    cg = detect().group(container_id)
    cg.create(spec.linux.resources)   # the group, every resource the spec sets, its devices policy
    ...                       # the container's pid 1 writes "0" to each of cg.join_files()
    cg.apply_resources(resources)     # `runc update`: the fields given, nothing else
    cg.stats(); cg.freeze(); cg.thaw(); cg.destroy()

The drivers write exactly what the spec's linux.resources says (engine/spec/; Docker's
units and rules are engine/limits.py's and engine/options/'s, above the spec). Callers
never ask which version they got: the differences live in ``v1.py``/``v1_resources.py`` and
``v2.py``/``v2_resources.py`` (the shape of youki's ``libcgroups``). Stdlib only, cheap to
import.

Environment:
    BOCKER_CGROUP_DRIVER     v1 | v2, to override detection
    BOCKER_CGROUP_V2_MOUNT   the cgroup2 mount point to use
    BOCKER_CGROUP_PARENT     the engine's directory in each hierarchy (default "bocker")
"""

from __future__ import annotations

import os

from bocker_magics.errors import HostUnsupported, InvalidArgument

from .common import (
    Cgroup,
    CgroupDriver,
    CgroupStats,
    Mount,
    read_mounts,
    shares_to_weight,
    weight_to_shares,
)
from .v1 import EXTRA_CONTROLLERS, V1Cgroup, V1Driver, controller_mounts
from .v2 import V2Cgroup, V2Driver

__all__ = [
    "Cgroup",
    "CgroupDriver",
    "CgroupStats",
    "V1Cgroup",
    "V1Driver",
    "V2Cgroup",
    "V2Driver",
    "DEFAULT_PARENT",
    "detect",
    "read_mounts",
    "shares_to_weight",
    "v2_mount",
    "weight_to_shares",
]

DEFAULT_PARENT = "bocker"
CGROUP_ROOT = "/sys/fs/cgroup"


def _root_is_cgroup2(mounts: list[Mount]) -> bool:
    # The last mount on a path is the visible one.
    fstype = None
    for m in mounts:
        if m.mount_point == CGROUP_ROOT:
            fstype = m.fstype
    return fstype == "cgroup2"


def v2_mount(mounts: list[Mount] | None = None) -> str:
    """The cgroup2 mount point: $BOCKER_CGROUP_V2_MOUNT, else /sys/fs/cgroup when it is
    cgroup2 (pure v2), else the first cgroup2 mount (hybrid: /sys/fs/cgroup/unified)."""
    env = os.environ.get("BOCKER_CGROUP_V2_MOUNT")
    if env:
        return env
    mounts = read_mounts() if mounts is None else mounts
    if _root_is_cgroup2(mounts):
        return CGROUP_ROOT
    for m in mounts:
        if m.fstype == "cgroup2":
            return m.mount_point
    raise HostUnsupported(
        "no cgroup2 filesystem is mounted; mount one (mount -t cgroup2 none /sys/fs/cgroup/unified) "
        "or set BOCKER_CGROUP_DRIVER=v1"
    )


def detect(parent: str | None = None) -> CgroupDriver:
    """The driver for this host: $BOCKER_CGROUP_DRIVER if set, else v2 when /sys/fs/cgroup
    is a cgroup2 mount (pure v2), else v1 (legacy and hybrid hosts)."""
    if parent is None:
        parent = os.environ.get("BOCKER_CGROUP_PARENT") or DEFAULT_PARENT
    forced = os.environ.get("BOCKER_CGROUP_DRIVER", "").strip()
    if forced and forced not in ("v1", "v2"):
        raise InvalidArgument(f"BOCKER_CGROUP_DRIVER={forced!r} is unknown; set it to v1 or v2, or unset it")
    mounts = read_mounts()
    if forced == "v2" or (not forced and _root_is_cgroup2(mounts)):
        return V2Driver(parent, v2_mount(mounts))
    return V1Driver(parent, controller_mounts(mounts), controller_mounts(mounts, EXTRA_CONTROLLERS))
