"""What a path in a container is (Docker's `HEAD /containers/{id}/archive`): its name, size,
mode, modification time and a symlink's target, read through the container's root as cp
reads it (copy.py): the running container's own root, or a stopped one's layers."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import NotFound

if TYPE_CHECKING:
    from .container import Containers


@dataclass
class PathStat:
    name: str
    size: int
    mode: int           # st_mode: the type and permission bits
    mtime: float
    link_target: str

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


def path_stat(containers: Containers, ref: str, path: str) -> PathStat:
    from .copy import _resolving, container_root
    with container_root(containers, ref, archive=False, writing=False) as root:
        with _resolving(root, path, path.endswith("/") or path.endswith("/.")) as (root, r, shown):
            entry = r.entry
            if r.name is None:  # the root itself
                st = os.fstat(r.parent.fds[0])
                return PathStat("/", st.st_size, st.st_mode, st.st_mtime, "")
            if entry is None:
                raise NotFound(f"Could not find the file {path} in container {ref}")
            link = ""
            if stat.S_ISLNK(entry.st.st_mode):
                try:
                    link = os.readlink(entry.name, dir_fd=entry.fd)
                except OSError:
                    link = ""
            return PathStat(shown or entry.name, entry.st.st_size, entry.st.st_mode, entry.st.st_mtime, link)
