"""`export`: a container's filesystem as one tar (Docker's `docker export`), read from its
image's layers and its upper dir as a union, running or not: never through its mount
namespace, so /proc, /sys, /dev and the volumes are not in it (as Docker's)."""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING

from ..errors import Conflict

if TYPE_CHECKING:
    from .container import Containers


def export(containers: Containers, ref: str, out: IO[bytes]) -> None:
    from .copy import _DIR, Owner, Root, Tally, _from_container
    c = containers.get(ref)
    if c.record is None:
        raise Conflict(f"Container '{ref}' is broken ({c.problem}): nothing to export")
    cdir = containers.store.container_dir(c.id)
    opened: list[int] = []
    try:
        upper = cdir / "upper"
        if upper.is_dir():
            opened.append(os.open(upper, _DIR))
        for digest in reversed(c.record.layers):
            opened.append(os.open(containers.store.layer_dir(digest), _DIR))
        root = Root(opened, True, f"container {c.name or c.id}", Owner(True), upper=upper.is_dir())
        _from_container(root, "/", "-", False, Tally(), out)
    finally:
        for fd in opened:
            os.close(fd)
