"""`pause` and `unpause`: the cgroup freezer stops every process of a container (pid 1 and
whatever it forked, exec'd ones too) without a signal it could see or catch, and lets them
go on where they were. `ps` reads the freezer to show "paused" (container/status.py).

The freezer is the container's own group: v1's freezer.state (FROZEN/THAWED), or v2's
cgroup.freeze. A paused container's monitor keeps running (it is outside the group), so
stop, kill and rm -f still work: the signal is sent, then the group thawed so it lands
(container/signals.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Conflict
from .container.status import Status

if TYPE_CHECKING:
    from .container import Containers


def pause(containers: Containers, ref: str) -> str:
    c = containers.get(ref)
    if c.status is Status.PAUSED:
        raise Conflict(f"Container '{ref}' is already paused")
    if c.status is not Status.RUNNING:
        raise Conflict(f"Container '{ref}' is not running ({c.status_text}): only a running one can be paused")
    containers.cgroup_driver().group(c.id).freeze()
    return c.id


def unpause(containers: Containers, ref: str) -> str:
    c = containers.get(ref)
    if c.status is not Status.PAUSED:
        raise Conflict(f"Container '{ref}' is not paused ({c.status_text})")
    containers.cgroup_driver().group(c.id).thaw()
    return c.id
