"""cgroup v1: one hierarchy per mounted controller (or per co-mounted set, e.g. cpu,cpuacct).

The group of a container is ``<mount>/<parent>/<id>`` in each hierarchy of the controllers
the engine uses. Mounts are found in /proc/self/mountinfo, never guessed from paths: hosts
differ (``/sys/fs/cgroup/cpu,cpuacct`` with symlinks on one, separate mounts on another).
"""

from __future__ import annotations

import _signal  # signal's C half: signal.py makes enums, and enum costs bocker-runc ~2 ms
import os

from bocker_magics.engine.kernel.devices import DeviceRule, write_v1
from bocker_magics.errors import BockerError, HostUnsupported

from .common import (
    Cgroup,
    CgroupDriver,
    CgroupStats,
    Limits,
    Mount,
    check_container_id,
    missing_controller_error,
    read_int,
    read_keyed,
    read_mounts,
    read_text,
    rmdir_quiet,
    shares_to_weight,
    split_group_path,
    write_file,
    write_limit,
)

# devices: every group gets one, so the container's devices policy has somewhere to live.
CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "freezer", "devices")

# The kernel's "no limit": PAGE_COUNTER_MAX pages, e.g. 9223372036854771712 with 4 KiB pages.
_UNLIMITED = 1 << 62



def controller_mounts(mounts: list[Mount] | None = None) -> dict[str, str]:
    """Controller -> mount point, for the v1 controllers the engine uses (first mount wins)."""
    found: dict[str, str] = {}
    for m in read_mounts() if mounts is None else mounts:
        if m.fstype != "cgroup":
            continue
        for opt in m.super_options:
            if opt in CONTROLLERS and opt not in found:
                found[opt] = m.mount_point
    return found


class V1Cgroup(Cgroup):
    def __init__(self, container_id: str, dirs: dict[str, str], path: str = "") -> None:
        super().__init__(container_id, dirs)
        self._rel = path or container_id  # its path below each hierarchy's mount
        self._made: list[str] = []         # levels made in a hierarchy the driver does not hold

    def set_cpuset(self, cpus: str) -> str:
        """cpuset.cpus (not one of the engine's limits: the lab's `cgset -r cpuset.cpus=…`).
        The group joins the cpuset hierarchy; each new level starts with its parent's cpus and
        mems (a v1 cpuset group starts empty, and takes no task so). Returns the file."""
        mount = next((m.mount_point for m in read_mounts() if m.fstype == "cgroup" and "cpuset" in m.super_options),
                     None)
        if mount is None:
            raise HostUnsupported("the cgroup v1 cpuset controller is not mounted; mount it "
                                  "(mount -t cgroup -o cpuset none /sys/fs/cgroup/cpuset)")
        d = mount
        for part in filter(None, self._rel.split("/")):
            parent_dir, d = d, os.path.join(d, part)
            if not os.path.isdir(d):
                os.mkdir(d)
                self._made.append(d)
                for f in ("cpuset.mems", "cpuset.cpus"):
                    write_file(os.path.join(d, f), (read_text(os.path.join(parent_dir, f)) or "").strip())
        write_file(os.path.join(d, "cpuset.cpus"), cpus)
        self._paths["cpuset"] = d
        return os.path.join(d, "cpuset.cpus")

    def destroy(self, timeout: float = 5.0) -> None:
        super().destroy(timeout)
        for d in reversed(self._made):  # the levels above the group that set_cpuset made
            rmdir_quiet(d)

    def _dir(self, controller: str) -> str | None:
        return self._paths.get(controller)

    def _file(self, controller: str, name: str) -> str | None:
        d = self._paths.get(controller)
        return None if d is None else os.path.join(d, name)

    def _check_controllers(self, limits: Limits) -> None:
        for label, ctrl in limits.needed_controllers().items():
            if ctrl not in self._paths:
                raise missing_controller_error(_LABEL[label], ctrl, "v1", "not mounted on this host")

    def _apply(self, limits: Limits) -> None:
        if limits.memory is not None:
            value = str(limits.memory)
            label = f"memory={limits.memory}"
            write_limit(self._file("memory", "memory.limit_in_bytes"), value, label)
            # memory+swap gets the same value, so swap cannot extend the limit (Docker's
            # default: --memory-swap = --memory). Present only with swap accounting on.
            memsw = self._file("memory", "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):
                write_limit(memsw, value, label)
        if limits.cpu_shares is not None:
            write_limit(self._file("cpu", "cpu.shares"), str(limits.cpu_shares), f"cpu_shares={limits.cpu_shares}")
        if limits.cpus is not None:
            label = f"cpus={limits.cpus:g}"
            write_limit(self._file("cpu", "cpu.cfs_period_us"), str(limits.cpu_period), label)
            write_limit(self._file("cpu", "cpu.cfs_quota_us"), str(limits.cpu_quota_us()), label)
        if limits.pids is not None:
            write_limit(self._file("pids", "pids.max"), str(limits.pids), f"pids={limits.pids}")

    def join_files(self) -> list[str]:
        # A thread that moves itself ("0" to tasks) skips the global threadgroup lock, whose
        # RCU grace period makes a cgroup.procs write (or a write of another pid) cost ~10 ms
        # here; for a process with one thread, tasks and cgroup.procs move the same.
        return [os.path.join(d, "tasks") for d in self._dirs()]

    def _apply_update(self, limits: Limits, swap: int | None) -> None:
        # memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes: raise memsw
        # first when the limits grow, lower it last when they shrink
        memsw = self._file("memory", "memory.memsw.limit_in_bytes")
        if limits.memory is None and swap is None or not os.path.exists(memsw or ""):
            self._apply(limits)
            return
        memory = limits.memory if limits.memory is not None else read_int(self._file("memory", "memory.limit_in_bytes"))
        total = -1 if swap == -1 else (swap if swap is not None else memory)
        label = f"memory={memory}, memory+swap={total}"
        limit_file = self._file("memory", "memory.limit_in_bytes")
        current = read_int(memsw)
        if total == -1 or current is None or total >= current:
            write_limit(memsw, str(total), label)
            write_limit(limit_file, str(memory), label)
        else:
            write_limit(limit_file, str(memory), label)
            write_limit(memsw, str(total), label)
        self._apply(Limits(cpu_shares=limits.cpu_shares, cpus=limits.cpus, pids=limits.pids,
                           cpu_period=limits.cpu_period))

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
        text = read_text(f)
        if text is None:
            self._must_exist()
            raise BockerError(f"{f} is missing; this kernel's v1 freezer is unusable")
        return text.strip()

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


_LABEL = {"memory": "memory", "cpu_shares": "cpu shares", "cpus": "cpus", "pids": "pids"}


class V1Driver(CgroupDriver):
    """cgroup v1 (legacy or hybrid hosts)."""

    name = "v1"

    def __init__(self, parent: str, mounts: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self.mounts = controller_mounts() if mounts is None else dict(mounts)
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
        return V1Cgroup(name, {c: os.path.join(m, parent, name) for c, m in self.mounts.items()},
                        path=os.path.join(parent, name))

    def parent_dirs(self) -> list[str]:
        return list(dict.fromkeys(os.path.join(m, self.parent) for m in self.mounts.values()))

    def available_controllers(self) -> set[str]:
        return set(self.mounts)
