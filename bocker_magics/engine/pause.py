"""`pause` and `unpause`: the cgroup freezer stops every process of a container (pid 1 and
whatever it forked, exec'd ones too) without a signal it could see or catch, and lets them
go on where they were. `ps` reads the freezer to show "paused" (Containers._status).

The freezer is the container's own group: v1's freezer.state (FROZEN/THAWED), or v2's
cgroup.freeze. A paused container's monitor keeps running (it is outside the group), so
stop, kill and rm -f still work: the signal is sent, then the group thawed so it lands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Conflict
from .kernel.cgroups import detect

if TYPE_CHECKING:
    from .containers import Container
    from .engine import Engine


def freezer_of(engine: Engine, c: Container):
    """The container's cgroup (the one its monitor made)."""
    return detect(parent=engine.cgroup_parent).group(c.id)


def pause(engine: Engine, ref: str) -> str:
    c = engine.containers.get(ref)
    if c.status == "paused":
        raise Conflict(f"Container '{ref}' is already paused")
    if c.status != "running":
        raise Conflict(f"Container '{ref}' is not running ({c.status_text}): only a running one can be paused")
    freezer_of(engine, c).freeze()
    return c.id


def unpause(engine: Engine, ref: str) -> str:
    c = engine.containers.get(ref)
    if c.status != "paused":
        raise Conflict(f"Container '{ref}' is not paused ({c.status_text})")
    freezer_of(engine, c).thaw()
    return c.id


def thaw_if_paused(engine: Engine, c: Container) -> None:
    """After a signal to a paused container: let it act on it (a frozen task does not)."""
    if c.status == "paused":
        group = freezer_of(engine, c)
        if group.exists():
            group.thaw()
