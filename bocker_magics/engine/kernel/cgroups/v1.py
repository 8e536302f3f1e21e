"""cgroup v1: one hierarchy per mounted controller (or per co-mounted set, e.g. cpu,cpuacct).

The group of a container is ``<mount>/<parent>/<id>`` in each hierarchy of the controllers
the engine uses. Mounts are found in /proc/self/mountinfo, never guessed from paths: hosts
differ (``/sys/fs/cgroup/cpu,cpuacct`` with symlinks on one, separate mounts on another).
"""

from __future__ import annotations

import _signal  # signal's C half: signal.py makes enums, and enum is a cost on every bocker-runc verb
import os

from bocker_magics.engine.kernel import cgroupfs
from bocker_magics.engine.kernel.devices import DeviceRule, write_v1
from bocker_magics.errors import BockerError, HostUnsupported

from . import v1_resources
from .common import (
    Cgroup,
    CgroupDriver,
    CgroupStats,
    Mount,
    check_container_id,
    read_int,
    read_keyed,
    read_mounts,
    read_text,
    rmdir_quiet,
    shares_to_weight,
    split_group_path,
    write_file,
)
from .resources import controllers_needed

# Every group is made in these (devices: so the container's devices policy has somewhere to
# live) ...
CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "freezer", "devices")
# ... and in these only when its resources set a field of theirs (a cpuset group must be given
# cpus and mems before it takes a task: no cost for containers that set none).
EXTRA_CONTROLLERS = ("cpuset", "blkio", "hugetlb", "net_cls", "net_prio", "rdma")

# The kernel's "no limit": PAGE_COUNTER_MAX pages, e.g. 9223372036854771712 with 4 KiB pages.
_UNLIMITED = 1 << 62



def controller_mounts(mounts: list[Mount] | None = None, names: tuple[str, ...] = CONTROLLERS) -> dict[str, str]:
    """Controller -> mount point, for the v1 controllers `names` (first mount wins)."""
    found: dict[str, str] = {}
    for m in read_mounts() if mounts is None else mounts:
        if m.fstype != "cgroup":
            continue
        for opt in m.super_options:
            if opt in names and opt not in found:
                found[opt] = m.mount_point
    return found


class V1Cgroup(Cgroup):
    def __init__(self, container_id: str, dirs: dict[str, str], path: str = "",
                 mounts: dict[str, str] | None = None) -> None:
        super().__init__(container_id, dirs)
        self._rel = path or container_id  # its path below each hierarchy's mount
        self._mounts = dict(mounts or {})  # every hierarchy the driver found: controller -> mount
        self._made: list[str] = []         # levels made above the group in a cpuset hierarchy

    def set_cpuset(self, cpus: str) -> str:
        """cpuset.cpus of a group that exists (the lab's `cgset -r cpuset.cpus=…`): it joins
        the cpuset hierarchy if it is not there yet. Returns the file."""
        if "cpuset" not in self._mounts:
            raise HostUnsupported("the cgroup v1 cpuset controller is not mounted; mount it "
                                  "(mount -t cgroup -o cpuset none /sys/fs/cgroup/cpuset)")
        d = os.path.join(self._mounts["cpuset"], self._rel)
        if not os.path.isdir(d):
            self._cpuset_levels(d)
            os.mkdir(d)
            self._made.append(d)
            self._made_dir(d)
        write_file(os.path.join(d, "cpuset.cpus"), cpus)
        self._paths["cpuset"] = d
        return os.path.join(d, "cpuset.cpus")

    def _cpuset_levels(self, group_dir: str) -> None:
        # each new level above the group starts with its parent's cpus and mems (a v1 cpuset
        # group starts empty, and takes no task so)
        mount = self._mounts["cpuset"]
        d = mount
        for part in os.path.relpath(os.path.dirname(group_dir), mount).split("/"):
            if part in ("", "."):
                continue
            d = os.path.join(d, part)
            if not os.path.isdir(d):
                os.mkdir(d)
                self._made.append(d)
                self._made_dir(d)

    def _made_dir(self, d: str) -> None:
        mount = self._mounts.get("cpuset")
        if mount is not None and d.startswith(mount + "/"):
            parent = os.path.dirname(d)
            for f in ("cpuset.mems", "cpuset.cpus"):
                write_file(os.path.join(d, f), (read_text(os.path.join(parent, f)) or "").strip())

    def destroy(self, timeout: float = 5.0) -> None:
        super().destroy(timeout)
        for d in reversed(self._made):  # the levels above the group made for its cpuset
            rmdir_quiet(d)

    def _dir(self, controller: str) -> str | None:
        return self._paths.get(controller)

    def _file(self, controller: str, name: str) -> str | None:
        d = self._paths.get(controller)
        return None if d is None else os.path.join(d, name)

    def _check_resources(self, resources, fields: list[str]) -> None:
        if fields:
            v1_resources.check(resources, fields, set(self._mounts) | set(self._paths))

    def _add_hierarchies(self, fields: list[str]) -> None:
        for ctrl in controllers_needed(fields, v1_resources.CONTROLLER).values():
            if ctrl not in self._paths and ctrl in self._mounts:
                self._paths[ctrl] = os.path.join(self._mounts[ctrl], self._rel)

    def _prepare_parents(self, fields: list[str]) -> None:
        if "cpuset" in self._paths:
            self._cpuset_levels(self._paths["cpuset"])

    def _write(self, resources, fields: list[str]) -> None:
        if not fields:
            return
        for field, ctrl in controllers_needed(fields, v1_resources.CONTROLLER).items():
            if ctrl not in self._paths:  # an update of a group made without it: no process is there
                raise HostUnsupported(
                    f"linux.resources.{field} is not supported for container {self.container_id} here: its cgroup "
                    f"was made without the cgroup v1 {ctrl} controller (set the field when it is created)")
        v1_resources.write(self._paths, resources, fields)

    def join_files(self) -> list[str]:
        # A thread that moves itself ("0" to tasks) skips the global threadgroup lock, whose
        # RCU grace period a cgroup.procs write (or a write of another pid) waits for; for a
        # process with one thread, tasks and cgroup.procs move the same.
        return [os.path.join(d, "tasks") for d in self._dirs()]

    def set_devices(self, rules: list[DeviceRule]) -> None:
        d = self._dir("devices")
        if d is None:
            raise HostUnsupported(
                "a devices policy needs the cgroup v1 devices controller, which is not mounted on this host; "
                "mount it (mount -t cgroup -o devices none /sys/fs/cgroup/devices)"
            )
        self._must_exist()
        write_v1(d, rules)

    def stats(self) -> CgroupStats:
        self._must_exist()
        s = CgroupStats()
        if "cpuacct" in self._paths:
            ns = read_int(self._file("cpuacct", "cpuacct.usage"))
            s.cpu_seconds = None if ns is None else ns / 1e9
        if "cpu" in self._paths:
            s.cpu_shares = read_int(self._file("cpu", "cpu.shares"))
            if s.cpu_shares is not None:
                s.cpu_weight = shares_to_weight(min(max(s.cpu_shares, 2), 262144))
            quota = read_int(self._file("cpu", "cpu.cfs_quota_us"))
            period = read_int(self._file("cpu", "cpu.cfs_period_us"))
            if quota is not None and quota > 0 and period:
                s.cpu_quota_cpus = quota / period
        if "memory" in self._paths:
            s.memory_current = read_int(self._file("memory", "memory.usage_in_bytes"))
            s.memory_peak = read_int(self._file("memory", "memory.max_usage_in_bytes"))
            limit = read_int(self._file("memory", "memory.limit_in_bytes"))
            s.memory_limit = None if limit is None or limit >= _UNLIMITED else limit
            s.oom_kills = (read_keyed(self._file("memory", "memory.oom_control")) or {}).get("oom_kill")
        if "pids" in self._paths:
            s.pids_current = read_int(self._file("pids", "pids.current"))
            s.pids_limit = read_int(self._file("pids", "pids.max"))
        return s

    def oom_killed(self) -> bool:
        if "memory" not in self._paths:
            return False
        oom = read_keyed(self._file("memory", "memory.oom_control")) or {}
        if "oom_kill" in oom:
            return oom["oom_kill"] > 0
        # Kernels before 4.13 do not count kills: the group hit its limit and is (or was)
        # under OOM is the best sign there is.
        failcnt = read_int(self._file("memory", "memory.failcnt")) or 0
        return failcnt > 0 and (oom.get("under_oom", 0) > 0 or not self.pids())

    def _freezer_state(self) -> str:
        f = self._file("freezer", "freezer.state")
        if f is None:
            raise HostUnsupported(
                "pausing a container needs the cgroup v1 freezer controller, which is not mounted on this host"
            )
        state = cgroupfs.v1_freezer_state(self._paths["freezer"])
        if state is None:
            self._must_exist()
            raise BockerError(f"{f} is missing; this kernel's v1 freezer is unusable")
        return state

    def _request_freeze(self) -> None:
        # Writing FROZEN again nudges tasks that were missed (runc does the same): the
        # state can otherwise stay FREEZING while a task forks.
        self._freezer_state()
        write_file(self._file("freezer", "freezer.state"), "FROZEN")

    def _is_frozen(self) -> bool:
        return self._freezer_state() == "FROZEN"

    def thaw(self) -> None:
        self._freezer_state()
        write_file(self._file("freezer", "freezer.state"), "THAWED")

    def kill_all(self) -> None:
        # v1 has no cgroup.kill. Freeze first so nothing can fork while the signals go out,
        # then thaw so the frozen tasks act on SIGKILL (runc's signalAllProcesses).
        if "freezer" not in self._paths or read_text(self._file("freezer", "freezer.state")) is None:
            self._kill_loop()
            return
        try:
            self.freeze()
        except BockerError:
            pass  # could not freeze: signal anyway, in rounds
        try:
            for p in self.pids():
                try:
                    os.kill(p, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
        finally:
            try:
                self.thaw()
            except (BockerError, FileNotFoundError):
                pass
        self._kill_loop()


class V1Driver(CgroupDriver):
    """cgroup v1 (legacy or hybrid hosts)."""

    name = "v1"

    def __init__(self, parent: str, mounts: dict[str, str] | None = None,
                 extra: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self.mounts = controller_mounts() if mounts is None else dict(mounts)
        # the hierarchies a group joins only for resources of theirs (EXTRA_CONTROLLERS)
        self.extra = controller_mounts(names=EXTRA_CONTROLLERS) if extra is None else dict(extra)
        if not self.mounts:
            raise HostUnsupported(
                "no cgroup v1 controller (cpu, cpuacct, memory, pids, freezer, devices) is mounted; "
                "mount them or set BOCKER_CGROUP_DRIVER=v2"
            )

    def group(self, container_id: str) -> V1Cgroup:
        return self.group_at(f"{self.parent}/{check_container_id(container_id)}")

    def group_at(self, path: str) -> V1Cgroup:
        """The group at `path` (an OCI cgroupsPath: relative to each hierarchy's mount)."""
        parent, name = split_group_path(path)
        rel = os.path.join(parent, name)
        # the usual hierarchies, and the others where the group has a directory already
        dirs = {c: os.path.join(m, rel) for c, m in self.mounts.items()}
        dirs.update((c, os.path.join(m, rel)) for c, m in self.extra.items() if os.path.isdir(os.path.join(m, rel)))
        return V1Cgroup(name, dirs, path=rel, mounts={**self.mounts, **self.extra})

    def parent_dirs(self) -> list[str]:
        """The engine's directory in each usual hierarchy, and in the others where it is."""
        extra = [d for d in (os.path.join(m, self.parent) for m in self.extra.values()) if os.path.isdir(d)]
        return list(dict.fromkeys([*(os.path.join(m, self.parent) for m in self.mounts.values()), *extra]))

    def available_controllers(self) -> set[str]:
        return set(self.mounts) | set(self.extra)

    def swap_accounting(self) -> bool:
        mount = self.mounts.get("memory")
        return mount is not None and os.path.exists(os.path.join(mount, "memory.memsw.limit_in_bytes"))
