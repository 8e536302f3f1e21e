"""`commit CONTAINER NAME`: the container's changes (its upper dir) as a new layer over its
image's layers.

No copy of the image: the time grows with the size of the change. A running container is
frozen (cgroup freezer) while its layer is taken, so the layer is a consistent snapshot.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from .container.status import Status
from .kernel import linux

if TYPE_CHECKING:
    from .container import Containers
    from .images import Image, ImageStore


def commit(containers: Containers, images: ImageStore, ref: str, target: str) -> Image:
    c = containers.get(ref)
    parent = images.load(c.image)
    group = containers.cgroup_driver().group(c.id)

    @contextlib.contextmanager
    def frozen():
        if not (c.running and group.exists()) or c.status is Status.PAUSED:
            yield  # a paused container is frozen already, and stays so after
            return
        group.freeze()
        try:
            yield
        finally:
            group.thaw()

    store = containers.store
    with store.container_lock(c.id):  # an rm of it waits: the layer is all of it
        linux.pause_point("commit")
        return images.commit(parent, store.container_dir(c.id) / "upper", target,
                             source=f"{c.id}:{time.strftime('%Y%m%d-%H%M%S')}", freeze=frozen)
