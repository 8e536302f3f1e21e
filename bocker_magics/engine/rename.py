"""`rename OLD NEW`: a container's name, changed in its record (running or not), under the
store's lock so that two names never collide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Conflict, InvalidArgument
from .store import check_container_name, read_json, write_json

if TYPE_CHECKING:
    from .container import Containers


def rename(containers: Containers, ref: str, new_name: str) -> str:
    check_container_name(new_name)
    with containers.store.lock():
        c = containers.get(ref)
        if c.name == new_name:
            raise InvalidArgument(f"Container '{ref}' is named '{new_name}' already: give another name")
        other = containers.find(new_name)
        if other is not None:
            raise Conflict(f"Container named '{new_name}' exists ({other.id}): remove it or choose another name")
        path = containers.store.container_dir(c.id) / "container.json"
        record = read_json(path)
        record["name"] = new_name
        write_json(path, record, fsync=False)
    return c.id
