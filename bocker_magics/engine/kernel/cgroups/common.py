"""The cgroup interface shared by the v1 and v2 drivers (youki's ``libcgroups/src/common.rs``).

Callers see :class:`CgroupStats`, :class:`CgroupDriver` and :class:`Cgroup`, and give a group
the spec's linux.resources (engine/spec/) as they are: :meth:`Cgroup.create` and
:meth:`Cgroup.apply_resources` write what it says. Everything that differs between cgroup v1
and v2 (hierarchies, file names, units, the freezer, how a group is killed) lives in
``v1.py``/``v1_resources.py`` and ``v2.py``/``v2_resources.py``.

Stdlib only and cheap to import: the single-threaded helper that starts every container
imports this module, so no subprocess, no ``re``, no third-party packages.
"""

from __future__ import annotations

import _signal  # signal's C half: signal.py makes enums, and enum is a cost on every bocker-runc verb
import os
import time
from abc import ABC, abstractmethod

from bocker_magics.engine.kernel import cgroupfs  # the files a status reads: bocker-runc reads them without us
from bocker_magics.errors import BockerError, Conflict, InvalidArgument, NotFound

from .files import (  # noqa: F401  (the drivers' and callers' names, from here as before)
    Mount,
    read_int,
    read_keyed,
    read_mounts,
    read_text,
    rmdir_quiet,
    write_file,
    write_limit,
)
from .stats import CgroupStats

TYPE_CHECKING = False  # not typing's: the monitor does not import typing
if TYPE_CHECKING:
    from bocker_magics.engine.kernel.devices import DeviceRule

MIN_SHARES = 2
MAX_SHARES = 262144
MIN_WEIGHT = 1
MAX_WEIGHT = 10000


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares -> cgroup v2 cpu.weight, the formula of runc and crun.

    Maps [2, 262144] onto [1, 10000]: 2 -> 1, 1024 -> 39, 262144 -> 10000.
    """
    if not MIN_SHARES <= shares <= MAX_SHARES:
        raise InvalidArgument(f"cpu shares {shares} out of range; use a value from {MIN_SHARES} to {MAX_SHARES}")
    return 1 + ((shares - 2) * 9999) // 262142


def weight_to_shares(weight: int) -> int:
    """cpu.weight -> the largest cpu.shares that :func:`shares_to_weight` maps to it.

    The inverse of a many-to-one map: taking the largest makes the default 1024 (weight 39)
    and the maximum 262144 round-trip exactly.
    """
    weight = min(max(weight, MIN_WEIGHT), MAX_WEIGHT)
    return min(1 + (weight * 262142 + 9998) // 9999, MAX_SHARES)


# --------------------------------------------------------------------------- names


def check_container_id(container_id: str) -> str:
    if (
        not isinstance(container_id, str)
        or not container_id
        or "/" in container_id
        or "\0" in container_id
        or container_id in (".", "..")
    ):
        raise InvalidArgument(f"bad container id {container_id!r} for a cgroup; use a name without '/'")
    return container_id


def split_group_path(path: str) -> tuple[str, str]:
    """An OCI cgroupsPath -> (its parent, relative to the hierarchy's root; its last part)."""
    parts = path.strip("/").split("/") if isinstance(path, str) else []
    if not parts or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise InvalidArgument(f"bad cgroupsPath {path!r}: use a path such as /bocker/NAME, without '..'")
    return "/".join(parts[:-1]), parts[-1]


def check_parent(parent: str) -> str:
    parts = parent.strip("/").split("/") if isinstance(parent, str) else []
    if not parts or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise InvalidArgument(
            f"bad cgroup parent {parent!r}; use a relative path such as 'bocker' (set BOCKER_CGROUP_PARENT)"
        )
    return "/".join(parts)


# --------------------------------------------------------------------------- interface


class Cgroup(ABC):
    """The group of one container, in every hierarchy the driver uses.

    ``_dirs`` maps a hierarchy or controller name to the group's directory; on v1 several
    co-mounted controllers share one directory.
    """

    def __init__(self, container_id: str, dirs: dict[str, str]) -> None:
        self.container_id = check_container_id(container_id)
        self._paths = dict(dirs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.container_id!r}, {self._paths!r})"

    # -- where it lives

    def paths(self) -> dict[str, str]:
        """Hierarchy or controller name -> the group's directory there."""
        return dict(self._paths)

    def _dirs(self) -> list[str]:
        return list(dict.fromkeys(self._paths.values()))

    def procs_files(self) -> list[str]:
        """The cgroup.procs files; a process joins by writing "0" to each (this works from
        inside a new pid namespace, where its host pid is unknown)."""
        return [os.path.join(d, "cgroup.procs") for d in self._dirs()]

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._dirs())

    # -- lifecycle

    def create(self, resources=None) -> None:
        """Make the group in every hierarchy it needs and apply ``resources`` (the spec's
        linux.resources; None: no limit); all or nothing."""
        from .resources import set_fields
        fields = set_fields(resources)
        self._check_resources(resources, fields)
        self._add_hierarchies(fields)
        for d in self._dirs():
            if os.path.isdir(d):
                raise Conflict(
                    f"a cgroup for container {self.container_id} already exists at {d}; "
                    "remove that container or run gc"
                )
        made: list[str] = []
        try:
            for attempt in range(5):
                try:
                    self._prepare_parents(fields)
                    for d in self._dirs():
                        if d in made:
                            continue
                        os.makedirs(os.path.dirname(d), exist_ok=True)
                        try:
                            os.mkdir(d)
                        except FileExistsError:
                            raise Conflict(
                                f"a cgroup for container {self.container_id} already exists at {d}; "
                                "remove that container or run gc"
                            ) from None
                        made.append(d)
                        self._made_dir(d)
                    break
                except FileNotFoundError:
                    # the engine's parent dir was removed as we made it (the last container
                    # of another engine just ended): make it again
                    if attempt == 4:
                        raise
            if resources is not None:
                self._write(resources, fields)
                self._set_spec_devices(resources)
        except BaseException as e:
            for d in reversed(made):
                rmdir_quiet(d)
            if isinstance(e, OSError):
                raise BockerError(
                    f"cannot create the cgroup of container {self.container_id}: {e}; "
                    "check that cgroups are writable (run as root)"
                ) from None
            raise

    def apply_resources(self, resources) -> None:
        """Write the spec's linux.resources into the existing group: every field that is set,
        exactly as the spec says it, and nothing else (its devices, when it has any, replace
        the devices policy). `create` does the same for a new group; `runc update` this."""
        from .resources import set_fields
        fields = set_fields(resources)
        self._check_resources(resources, fields)
        self._must_exist()
        self._write(resources, fields)
        self._set_spec_devices(resources)

    update = apply_resources

    def _set_spec_devices(self, resources) -> None:
        if resources.devices:
            from bocker_magics.engine.kernel.devices import rules_from_oci
            from bocker_magics.engine.spec import object_json
            self.set_devices(rules_from_oci([object_json(r) for r in resources.devices]))

    def join_files(self) -> list[str]:
        """The files a single-threaded process writes "0" to, to join the group by itself
        (its host pid may be unknown to it). Default: cgroup.procs."""
        return self.procs_files()

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the group."""
        for f in self.procs_files():
            try:
                write_file(f, str(pid))
            except ProcessLookupError:
                raise NotFound(f"process {pid} does not exist; it cannot join a cgroup") from None
            except FileNotFoundError:
                raise NotFound(f"no cgroup for container {self.container_id}; create it first") from None

    def pids(self) -> list[int]:
        """Processes in the group (in any hierarchy), as seen from this pid namespace."""
        return cgroupfs.procs(self._dirs())

    def kill_all(self) -> None:
        """SIGKILL every process of the group."""
        self._kill_loop()

    def _kill_loop(self, rounds: int = 3) -> None:
        # Sending signals pid by pid races with fork: repeat while new pids show up.
        seen: set[int] = set()
        for _ in range(rounds):
            pids = [p for p in self.pids() if p not in seen]
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, _signal.SIGKILL)
                except ProcessLookupError:
                    pass
            seen.update(pids)

    def destroy(self, timeout: float = 5.0) -> None:
        """Kill what is left, wait for it to go, remove the group everywhere. Idempotent."""
        if not self.exists():
            return
        # Empty already (pid 1 of its own pid namespace took every process with it): the
        # kernel removes an empty group at once, no freeze and kill round needed
        if all(rmdir_quiet(d) for d in self._dirs()):
            return
        deadline = time.monotonic() + timeout
        delay = 0.0005
        try:
            self.kill_all()
        except (BockerError, OSError):
            pass  # gone meanwhile, or a freezer that would not freeze: kill pid by pid below
        while True:
            if all(rmdir_quiet(d) for d in self._dirs()):
                return
            if time.monotonic() >= deadline:
                left = self.pids()
                raise BockerError(
                    f"cgroup of container {self.container_id} still busy after {timeout:g}s "
                    f"(processes {left or 'exiting'}); a process is stuck in the kernel, try again later"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
            self._kill_loop()

    # -- the version-specific part

    @abstractmethod
    def _check_resources(self, resources, fields: list[str]) -> None:
        """Raise HostUnsupported (one line) for a set field this host's cgroups do not offer:
        a controller not mounted or enabled, a file this version lacks; InvalidArgument for a
        value no kernel takes."""

    def _add_hierarchies(self, fields: list[str]) -> None:
        """Add the directories the fields need besides the usual ones (v1: cpuset, blkio, ...)."""

    def _prepare_parents(self, fields: list[str]) -> None:
        """Make the engine's parent dirs ready (v2: enable controllers)."""

    def _made_dir(self, d: str) -> None:
        """A directory of the group was just made (v1 cpuset: give it its parent's cpus and mems)."""

    @abstractmethod
    def _write(self, resources, fields: list[str]) -> None:
        """Write the set fields of the spec's resources into the group's files."""

    @abstractmethod
    def set_devices(self, rules: list[DeviceRule]) -> None:
        """Make ``rules`` (``kernel.devices.DeviceRule``, OCI order) the group's devices policy:
        v1 writes devices.deny/allow, v2 attaches a device BPF program. Again for an update."""

    @abstractmethod
    def stats(self) -> CgroupStats: ...

    @abstractmethod
    def oom_killed(self) -> bool:
        """True once the OOM killer has killed a task of this group."""

    FREEZE_TIMEOUT = 5.0

    def freeze(self) -> None:
        """Stop every task of the group; returns once all are frozen (thawed again and an
        error after FREEZE_TIMEOUT, if a task is stuck in the kernel)."""
        deadline = time.monotonic() + self.FREEZE_TIMEOUT
        delay = 0.0001
        while True:
            self._request_freeze()
            if self._is_frozen():
                return
            if time.monotonic() >= deadline:
                self.thaw()
                raise BockerError(
                    f"could not freeze container {self.container_id} within {self.FREEZE_TIMEOUT:g}s "
                    "(a task is stuck in the kernel); try again"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    @abstractmethod
    def _request_freeze(self) -> None:
        """Ask the kernel to freeze the group (asked again while it is not yet frozen)."""

    @abstractmethod
    def _is_frozen(self) -> bool: ...

    def is_frozen(self) -> bool:
        """Whether the group is frozen now (a paused container); False when it is gone or
        the host has no freezer."""
        try:
            return self._is_frozen()
        except (BockerError, OSError):
            return False

    @abstractmethod
    def thaw(self) -> None: ...

    def _must_exist(self) -> None:
        if not self.exists():
            raise NotFound(f"no cgroup for container {self.container_id}; is it running?")


class CgroupDriver(ABC):
    """One cgroup version on this host: where the engine's groups live and what they can do."""

    name: str = ""

    def __init__(self, parent: str) -> None:
        self.parent = check_parent(parent)

    @abstractmethod
    def group(self, container_id: str) -> Cgroup:
        """The group of ``container_id`` (not created: see :meth:`Cgroup.create`)."""

    @abstractmethod
    def parent_dirs(self) -> list[str]:
        """The engine's own directory in each hierarchy (<mount>/<parent>)."""

    @abstractmethod
    def available_controllers(self) -> set[str]:
        """Controllers this driver can use for limits and accounting."""

    def swap_accounting(self) -> bool:
        """Whether the kernel limits memory+swap here (v1 memsw, v2 memory.swap.max)."""
        return False

    def list_groups(self) -> list[str]:
        """Container ids that have a group in any hierarchy (for gc)."""
        ids: set[str] = set()
        for d in self.parent_dirs():
            try:
                with os.scandir(d) as it:
                    ids.update(e.name for e in it if e.is_dir(follow_symlinks=False))
            except FileNotFoundError:
                pass
        return sorted(ids)

    def remove_parent(self) -> None:
        """rmdir the engine's parent dir in each hierarchy, if empty (never anything above
        what the engine made: with parent "a/b", "a" goes only if it is empty too)."""
        depth = len(self.parent.split("/"))
        for d in self.parent_dirs():
            for _ in range(depth):
                if not rmdir_quiet(d):
                    break
                d = os.path.dirname(d)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(parent={self.parent!r})"
