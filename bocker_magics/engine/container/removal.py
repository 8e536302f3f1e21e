"""Removal: rm (-f: killed first; -v: its anonymous volumes too, as Docker's: the ones made
for it by `-v /path` or a volume mount without a source; named volumes stay) and cleanup,
which takes away whatever a container still holds on the host. autoremove.py removes a
detached --rm container once it has ended."""

from __future__ import annotations

import contextlib
import shutil
from typing import TYPE_CHECKING

from ...errors import Conflict, ContainerStartError, ExitCodeError, NotFound
from ..network import plan as network_plan
from .signals import kill, mark_stopped, wait

if TYPE_CHECKING:
    from .record import Container
    from .room import Room


def rm(rooms: Room, ref: str, force: bool = False, volumes: bool = False) -> str:
    c = rooms.get(ref)
    with rooms.store.container_lock(c.id):  # one at a time with commit and cp of it
        return _rm(rooms, c, force, volumes)


def _rm(rooms: Room, c: Container, force: bool, volumes: bool) -> str:
    if c.status.is_alive:
        if not force:
            raise Conflict(f"Container '{c.id}' is running: stop it first, or use rm -f")
        _kill_and_wait(rooms, c)
        c = rooms.load(c.id)
    cleanup(rooms, c)
    if volumes and c.record is not None:
        # before the container goes: whoever sees it gone (wait --condition removed) sees
        # its volumes gone too, as Docker's
        remove_anonymous_volumes(rooms, c.record.anonymous_volumes, owner=c.id)
    shutil.rmtree(rooms.store.container_dir(c.id), ignore_errors=True)
    if c.image:
        rooms.images.forget_if_unused(c.image, in_use=lambda: any(o.image == c.image for o in rooms.list()))
    return c.id


def remove_anonymous_volumes(rooms: Room, names: list[str], owner: str | None = None) -> None:
    """The volumes made for one container alone (`owner`), unless another container mounts
    one by its name meanwhile (then it stays, as Docker's)."""
    for name in names:
        if not [o for o in rooms.list() if o.id != owner and o.record is not None and name in o.record.volumes]:
            with contextlib.suppress(NotFound, Conflict):
                rooms.volumes().remove(name, [])


def undo_failed_start(rooms: Room, cid: str, err: BaseException) -> None:
    """A `run` whose start failed: the container it made goes too, as if never made (a
    monitor that reported the failure has undone its own steps). Best effort: the start's
    own error is the one to report."""
    from .status import Status
    with contextlib.suppress(Exception):
        c = rooms.load(cid)
        if c.status in (Status.CREATED, Status.FAILED) or isinstance(err, (ContainerStartError, ExitCodeError)):
            rm(rooms, cid, force=True)


def _kill_and_wait(rooms: Room, c: Container, timeout: float = 10.0) -> None:
    mark_stopped(rooms, c.id)
    with contextlib.suppress(Conflict):
        kill(rooms, c.id, "KILL")
    wait(rooms, c.id, timeout=timeout)


def cleanup(rooms: Room, c: Container) -> None:
    """Whatever a monitor that died (kill -9) left: the cgroup (and its processes), the
    address lease, a veth that outlived its namespace. Mounts die with the container's
    mount namespace."""
    if not c.status.has_ended:
        group = rooms.cgroup(c.id)
        if group is not None and group.exists():
            group.destroy()
    if c.record is not None:
        network_plan.unplug(rooms.networks, c.id, c.record.network)

