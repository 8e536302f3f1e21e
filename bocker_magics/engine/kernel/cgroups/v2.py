"""cgroup v2: one unified hierarchy; controllers are switched on per subtree.

The group of a container is ``<mount>/<parent>/<id>``. Its controllers come from
``cgroup.subtree_control`` of each directory above it, which :meth:`V2Cgroup.create`
fills in (mount root only where it lacks them, then the engine's parent). Freezing,
killing and CPU accounting (``cpu.stat``) are core files that work without any
controller, so a hybrid host's ``/sys/fs/cgroup/unified`` (no cpu/memory/pids there)
still runs containers: only limits are refused, with one clear line.
"""

from __future__ import annotations

import errno
import os

from bocker_magics.engine.kernel import cgroupfs, devices
from bocker_magics.engine.kernel.devices import DeviceRule
from bocker_magics.errors import BockerError, HostUnsupported

from . import v2_resources
from .common import (
    Cgroup,
    CgroupDriver,
    CgroupStats,
    read_int,
    read_keyed,
    read_text,
    split_group_path,
    weight_to_shares,
    write_file,
)
from .resources import label, missing_controller_error

# Enabled for the engine's subtree where the host offers them (a group's accounting); the
# others only when a container's resources need them.
CONTROLLERS = ("cpu", "memory", "pids")
KNOWN = (*CONTROLLERS, "cpuset", "io", "hugetlb", "rdma")
HIERARCHY = cgroupfs.V2_HIERARCHY  # the key of paths(): v2 has one hierarchy


def _controllers(path: str) -> set[str]:
    return set((read_text(path) or "").split())


class V2Cgroup(Cgroup):
    _needed: set[str] = set()  # controllers the resources being applied need (_check_resources)

    def __init__(self, container_id: str, driver: V2Driver, parent: str | None = None) -> None:
        # parent: the group's parent, relative to the mount (default: the driver's)
        self._parent = driver.parent if parent is None else parent
        super().__init__(container_id, {HIERARCHY: os.path.join(driver.mount, self._parent, container_id)})
        self._driver = driver
        self.path = self._paths[HIERARCHY]

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _check_resources(self, resources, fields: list[str]) -> None:
        self._needed: set[str] = set()
        if not fields:
            return
        v2_resources.check(resources, fields)
        have = _controllers(os.path.join(self._driver.mount, "cgroup.controllers"))
        for field, ctrl in v2_resources.needed(resources, fields).items():
            if ctrl in have:
                self._needed.add(ctrl)
            elif field.startswith("unified."):
                raise HostUnsupported(f"unified resource {field[8:]!r} can't be set: controller {ctrl!r} not "
                                      f"available at {self._driver.mount}; remove it from the configuration")
            else:
                raise missing_controller_error(label(field), ctrl, "v2", f"not enabled at {self._driver.mount}")

    def _write(self, resources, fields: list[str]) -> None:
        if fields:
            v2_resources.write(self.path, resources, fields)

    def set_cpuset(self, cpus: str) -> str:
        """cpuset.cpus (not one of the engine's limits: the lab's `cgset -r cpuset.cpus=…`): the
        cpuset controller enabled down to the group, then its cpus. Returns the file."""
        levels = [self._driver.mount]
        for part in filter(None, self._parent.split("/")):
            levels.append(os.path.join(levels[-1], part))
        for d in levels:
            if "cpuset" not in _controllers(os.path.join(d, "cgroup.subtree_control")):
                write_file(os.path.join(d, "cgroup.subtree_control"), "+cpuset")
        write_file(self._file("cpuset.cpus"), cpus)
        return self._file("cpuset.cpus")

    def _prepare_parents(self, fields: list[str]) -> None:
        """Enable cpu, memory and pids, and what the resources need, for the engine's subtree,
        top down.

        The mount root is written only where it lacks a controller (it is the host's);
        a controller that cannot be enabled is an error only if a field needs it.
        """
        root = self._driver.mount
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        needed = self._needed
        levels = [root]
        for part in filter(None, self._parent.split("/")):
            levels.append(os.path.join(levels[-1], part))
        wanted = set(CONTROLLERS) | needed
        for d in levels:
            wanted &= _controllers(os.path.join(d, "cgroup.controllers"))
            subtree = os.path.join(d, "cgroup.subtree_control")
            enabled = _controllers(subtree)
            for c in sorted(wanted - enabled):
                try:
                    write_file(subtree, f"+{c}")
                except OSError as e:
                    if c in needed:
                        raise HostUnsupported(
                            f"cannot enable the cgroup v2 {c} controller in {subtree} ({e.strerror}); "
                            f"run without the {c} limit or delegate the controller"
                        ) from None
                    wanted.discard(c)
            for c in sorted(needed - wanted):
                raise HostUnsupported(f"the cgroup v2 {c} controller is not available in {d}; run without "
                                      f"the {c} limit or delegate the controller")

    def set_devices(self, rules: list[DeviceRule]) -> None:
        # v2 has no devices controller: a device program attached to the group's directory
        # (it needs none enabled, so the controller-less unified mount of a hybrid host works)
        self._must_exist()
        devices.attach_v2(self.path, rules)  # devices_bpf.py, loaded here on first use

    def stats(self) -> CgroupStats:
        self._must_exist()
        s = CgroupStats()
        cpu = read_keyed(self._file("cpu.stat"))
        if cpu and "usage_usec" in cpu:
            s.cpu_seconds = cpu["usage_usec"] / 1e6
        s.cpu_weight = read_int(self._file("cpu.weight"))
        if s.cpu_weight is not None:
            s.cpu_shares = weight_to_shares(s.cpu_weight)
        cpu_max = read_text(self._file("cpu.max"))
        if cpu_max:
            quota, _, period = cpu_max.strip().partition(" ")
            if quota != "max" and period:
                s.cpu_quota_cpus = int(quota) / int(period)
        s.memory_current = read_int(self._file("memory.current"))
        s.memory_peak = read_int(self._file("memory.peak"))
        s.memory_limit = read_int(self._file("memory.max"))
        events = read_keyed(self._file("memory.events"))
        if events is not None:
            s.oom_kills = events.get("oom_kill", 0)
        s.pids_current = read_int(self._file("pids.current"))
        s.pids_limit = read_int(self._file("pids.max"))
        return s

    def oom_killed(self) -> bool:
        events = read_keyed(self._file("memory.events")) or {}
        return events.get("oom_kill", 0) > 0

    def _frozen(self) -> bool:
        frozen = cgroupfs.v2_frozen(self.path)
        if frozen is None:
            self._must_exist()
            return False
        return frozen

    def _freeze_file(self) -> str:
        f = self._file("cgroup.freeze")
        if not os.path.exists(f):
            self._must_exist()
            raise HostUnsupported("pausing a container needs cgroup.freeze (cgroup v2 on Linux 5.2 or later)")
        return f

    def _request_freeze(self) -> None:
        write_file(self._freeze_file(), "1")

    def _is_frozen(self) -> bool:
        return self._frozen()

    def thaw(self) -> None:
        write_file(self._freeze_file(), "0")

    def kill_all(self) -> None:
        kill = self._file("cgroup.kill")
        if os.path.exists(kill):
            # Linux 5.14+: the kernel kills every task, new forks included, in one write.
            try:
                write_file(kill, "1")
                return
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return  # the group went away meanwhile
        # Older kernels: freeze so nothing forks, signal, thaw so the signals land.
        frozen = False
        if os.path.exists(self._file("cgroup.freeze")):
            try:
                self.freeze()
                frozen = True
            except BockerError:
                pass
        try:
            self._kill_loop()
        finally:
            if frozen:
                try:
                    self.thaw()
                except (BockerError, OSError):
                    pass
        self._kill_loop()


class V2Driver(CgroupDriver):
    """cgroup v2 (pure v2 hosts, or the unified mount of a hybrid host)."""

    name = "v2"

    def __init__(self, parent: str, mount: str) -> None:
        super().__init__(parent)
        self.mount = mount.rstrip("/") or "/"
        if not os.path.exists(os.path.join(self.mount, "cgroup.procs")) or not os.path.exists(
            os.path.join(self.mount, "cgroup.controllers")
        ):
            raise HostUnsupported(
                f"{self.mount} is not a cgroup2 mount; set BOCKER_CGROUP_V2_MOUNT to one, "
                "or BOCKER_CGROUP_DRIVER=v1"
            )
        self.parent_dir = os.path.join(self.mount, self.parent)

    def group(self, container_id: str) -> V2Cgroup:
        return V2Cgroup(container_id, self)

    def group_at(self, path: str) -> V2Cgroup:
        """The group at `path` (an OCI cgroupsPath: relative to the mount, '/' or not)."""
        parent, name = split_group_path(path)
        return V2Cgroup(name, self, parent)

    def parent_dirs(self) -> list[str]:
        return [self.parent_dir]

    def available_controllers(self) -> set[str]:
        """The controllers the drivers use (cpu, memory, pids, cpuset, io, hugetlb, rdma),
        where the mount root offers them."""
        return _controllers(os.path.join(self.mount, "cgroup.controllers")) & set(KNOWN)

    def swap_accounting(self) -> bool:
        """Whether groups get memory.swap.max (swap accounting on): a group below the root
        shows it, where the memory controller is enabled there."""
        if "memory" not in self.available_controllers():
            return False
        with os.scandir(self.mount) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False) and os.path.exists(os.path.join(e.path, "memory.current")):
                    return os.path.exists(os.path.join(e.path, "memory.swap.max"))
        return True
