"""Room: what every container verb is given, and the containers read back from their
files and the kernel (runc's state_linux.go): load, list, find, get, the status of each
(status.py), and the cgroup driver, the one way to a container's freezer, pids and
accounting.

The room takes what it uses (the store, the image store, the networks, the volumes, the
shim's launcher) and never calls the Engine back. What is made on first use (networks,
volumes, the launcher, the default limits) comes as a zero-argument callable, so `ps`
pays for none of it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import BockerError, InvalidArgument, NotFound
from ..kernel import cgroupfs
from ..spec import Spec, State
from ..store import CONTAINER_PREFIX, Store, is_id, read_json
from .probes import Probes
from .record import Container, ContainerRecord
from .snapshots import Snapshots
from .status import Status, derive

if TYPE_CHECKING:
    from ..images import ImageStore
    from ..kernel.cgroups import Cgroup, CgroupDriver
    from ..limits import Limits
    from ..network.networks import Networks
    from ..runtime.launcher import Launcher
    from ..volumes import Volumes


class Room:
    def __init__(self, store: Store, images: ImageStore, *, cgroup_parent: str, default_network: str,
                 networks: Callable[[], Networks], volumes: Callable[[], Volumes],
                 launcher: Callable[[], Launcher], default_limits: Callable[[], Limits]) -> None:
        self.store = store
        self.images = images
        self.cgroup_parent = cgroup_parent
        self.default_network = default_network
        self.networks = networks
        self.volumes = volumes
        self.launcher = launcher
        self.default_limits = default_limits
        self.snapshots = Snapshots()  # the parsed files of each container, while unchanged
        self.probes = Probes()  # each monitor's life and each freezer, held open while asked
        self._freezer_files: dict[str, str] = {}

    @cached_property
    def boot_id(self) -> str:
        from ..kernel import linux
        return linux.boot_id()

    # -- the cgroup driver: the one way to a container's freezer, pids and accounting --------
    def cgroup_driver(self) -> CgroupDriver:
        from ..kernel.cgroups import detect
        return detect(parent=self.cgroup_parent)

    @cached_property
    def _driver(self) -> CgroupDriver | None:
        try:
            return self.cgroup_driver()
        except BockerError:
            return None

    def cgroup(self, cid: str) -> Cgroup | None:
        """The container's cgroup (the one its monitor made); None when the host has no
        usable cgroup hierarchy."""
        return self._driver.group(cid) if self._driver is not None else None

    def _frozen(self, cid: str) -> bool:
        # the freezer file of each container asked, found once (a v1 group probes its
        # hierarchies), then read through self.probes ("" when it has none)
        path = self._freezer_files.get(cid)
        if path is None:
            group = self.cgroup(cid)
            path = (cgroupfs.frozen_file(group.paths()) if group is not None else None) or ""
            self._freezer_files[cid] = path
        return bool(path) and self.probes.frozen(path)

    # -- reading ---------------------------------------------------------------------------
    def load(self, cid: str) -> Container:
        """The container as its files and the host say now. Its two files are parsed again
        only when they changed since the last read (snapshots.py); its status is always
        derived afresh (its monitor's life, its freezer)."""
        cdir = os.path.join(self.store.containers, cid)
        read_at = self.snapshots.now()
        keys = self.snapshots.keys(cdir)
        snap = self.snapshots.get(cid, keys)
        if snap is not None:
            record, state = snap.record.kept, snap.state.kept
        else:
            loaded = self._read(cid, cdir)
            if isinstance(loaded, Container):
                self.snapshots.forget(cid)
                return loaded
            record, state = loaded
            snap = self.snapshots.keep(cid, cdir, keys, record, state, read_at)
        # what is kept is only read here; the caller gets it Frozen (a copy of its own once it
        # reads it). What is not kept (a file too young) was read for this caller alone.
        given = (snap.record, snap.state) if snap is not None else (record, state)
        status = derive(state, self.boot_id, lambda: self._frozen(cid), self.probes.alive)
        return Container(
            id=cid, name=record.name, image=record.image, image_name=record.image_name,
            command=record.command, created=record.created, status=status,
            exit_code=state.exit_code, oom_killed=state.oom_killed,
            pid=state.pid or None, started_at=state.started_at, finished_at=state.finished_at,
            record=given[0], state=given[1], bundle=cdir)

    def _read(self, cid: str, cdir: str) -> tuple[ContainerRecord, State] | Container:
        """Its record and state from their files; a broken Container if they can't be read."""
        if not os.path.isdir(cdir):
            raise NotFound(f"No container named '{cid}' exists")
        try:
            record = ContainerRecord.from_json(read_json(Path(cdir, "container.json")))
        except FileNotFoundError:
            raise NotFound(f"No container named '{cid}' exists") from None
        except (ValueError, TypeError, KeyError) as e:
            return self._broken(cid, f"its record (container.json) is unreadable: {e}")
        try:
            state = State.load(os.path.join(cdir, "state.json"))
        except FileNotFoundError:
            return self._broken(cid, "it has no state.json", record)
        except BockerError as e:
            return self._broken(cid, f"its state is unreadable ({e})", record)
        return record, state

    def _broken(self, cid: str, problem: str, record: ContainerRecord | None = None) -> Container:
        return Container(id=cid, name=record.name if record else None, image=record.image if record else "",
                         image_name=record.image_name if record else "", command=record.command if record else "",
                         created=record.created if record else self.store.container_dir(cid).stat().st_mtime,
                         status=Status.BROKEN, record=record, problem=problem)

    def spec(self, cid: str) -> Spec:
        return Spec.load(self.store.container_dir(cid) / "config.json")

    def list(self) -> list[Container]:
        out = []
        with os.scandir(self.store.containers) as entries:
            names = [e.name for e in entries if e.name.startswith(CONTAINER_PREFIX)]
        for name in names:
            with contextlib.suppress(NotFound):
                out.append(self.load(name))
        ids = set(names)
        self.snapshots.retain(ids)
        for gone in [cid for cid in self._freezer_files if cid not in ids]:
            self._freezer_files.pop(gone, None)
        self.probes.sweep()
        return sorted(out, key=lambda c: c.created)

    def find(self, ref: str) -> Container | None:
        if "\0" in ref or "/" in ref or ref in ("", ".", ".."):
            raise InvalidArgument(f"Invalid container reference '{ref}': no '/', '..' or NUL")
        if is_id(ref) and ref.startswith(CONTAINER_PREFIX):
            try:
                return self.load(ref)
            except NotFound:
                return None
        for c in self.list():
            if c.name == ref:
                return c
        return None

    def get(self, ref: str) -> Container:
        c = self.find(ref)
        if c is None:
            raise NotFound(f"No container named '{ref}' exists")
        return c

    def holds_lease(self, cid: str) -> bool:
        """Whether a lease's owner may still use its address (else the lease is reclaimed)."""
        try:
            return self.load(cid).status.may_run
        except NotFound:
            return False

    def users_of_volume(self, name: str) -> list[str]:
        """The containers (any state) whose mounts name the volume."""
        return [c.name or c.id for c in self.list() if c.record is not None and name in c.record.volumes]
