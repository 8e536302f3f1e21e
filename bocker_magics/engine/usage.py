"""Disk usage: what images, containers and volumes hold under BOCKER_ROOT (`system df`), and
the size of a tree (a layer, an upper dir, a volume) for history and prune.

Sizes are apparent sizes (st_size of files and links), each inode counted once: a layer
shared by several images counts once for the images together, as Docker's df counts it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .container import Containers
    from .images import ImageStore
    from .store import Store
    from .volumes import Volumes


def tree_size(path: str | os.PathLike[str], seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes of the files under `path` (never following a symlink), each inode once."""
    seen = set() if seen is None else seen
    total = 0
    stack = [str(path)]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += st.st_size
    return total


@dataclass
class UsageRow:
    kind: str            # Images | Containers | Local Volumes
    total: int
    active: int          # in use: images a container uses, running containers, volumes a container mounts
    size: int
    reclaimable: int     # what prune would free


def _layer_sizes(store: Store, digests: set[str]) -> dict[str, int]:
    return {d: tree_size(store.layer_dir(d)) for d in digests}


def disk_usage(rooms: Containers, image_store: ImageStore, volume_store: Volumes) -> list[UsageRow]:
    images = image_store.list(include_removed=True)
    containers = rooms.list()
    used_images = {c.image for c in containers}
    all_layers = {d for i in images for d in i.layers}
    sizes = _layer_sizes(rooms.store, all_layers)
    used_layers = {d for i in images if i.id in used_images for d in i.layers}
    image_rows = UsageRow("Images", sum(not i.removed for i in images),
                          sum(i.id in used_images and not i.removed for i in images),
                          sum(sizes.values()), sum(s for d, s in sizes.items() if d not in used_layers))
    upper = {c.id: tree_size(rooms.store.container_dir(c.id) / "upper") for c in containers}
    stopped = {c.id for c in containers if not c.running}
    container_row = UsageRow("Containers", len(containers), len(containers) - len(stopped),
                             sum(upper.values()), sum(s for cid, s in upper.items() if cid in stopped))
    volumes = volume_store.list()
    in_use = {name for c in containers if c.record is not None for name in c.record.volumes}
    vsizes = {v.name: tree_size(v.mountpoint) for v in volumes}
    volume_row = UsageRow("Local Volumes", len(volumes), sum(v.name in in_use for v in volumes),
                          sum(vsizes.values()), sum(s for n, s in vsizes.items() if n not in in_use))
    return [image_rows, container_row, volume_row]


def image_size(image, store=None) -> int:
    """The bytes of an image's layers on disk, each counted once (the default store: this
    BOCKER_ROOT's)."""
    from .store import Store
    store = store or Store()
    seen: set[tuple[int, int]] = set()
    return sum(tree_size(store.layer_dir(d), seen) for d in dict.fromkeys(image.layers))


def container_size(container) -> int:
    """The bytes a container wrote (its upper directory); 0 for one without a bundle."""
    state = container.state
    bundle = state.bundle if state is not None and state.bundle else None
    return tree_size(Path(bundle) / "upper") if bundle else 0
