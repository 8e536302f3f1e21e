"""`rmi NAME` of an image that has other names too: that name goes, the image stays (as
Docker's `docker rmi` of one of several tags)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFound
from .store import write_json

if TYPE_CHECKING:
    from .engine import Engine
    from .images import Image


def untag(engine: Engine, name: str) -> Image:
    from .distribution.reference import parse_image_name
    full = ":".join(parse_image_name(name))
    images = engine.images_store
    with engine.store.lock():
        for img in images.list():
            if full in img.names:
                img.names = [n for n in img.names if n != full]
                write_json(engine.store.image_file(img.id), img.to_json())
                return img
    raise NotFound(f"No image named '{name}' exists")
