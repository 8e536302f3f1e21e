"""`tag SOURCE TARGET`: one more name for an image. The name moves from any image that had
it (as `docker tag` re-points a tag); an image left with no name is dangling (image prune).
Records are changed as JSON, so fields this version does not know are kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .distribution.reference import parse_image_name
from .store import read_json, write_json

if TYPE_CHECKING:
    from .engine import Engine
    from .images import Image


def tag(engine: "Engine", source: str, target: str) -> "Image":
    name = ":".join(parse_image_name(target))
    store = engine.images_store
    img = engine.image(source)  # outside the lock: `busybox` is made on first use, under it
    with engine.store.lock():
        img = store.load(img.id)  # removed meanwhile: a one-line NotFound
        for other in store.list():
            if other.id != img.id and name in other.names:
                path = engine.store.image_file(other.id)
                record = read_json(path)
                record["names"] = [n for n in record.get("names", []) if n != name]
                write_json(path, record)
        path = engine.store.image_file(img.id)
        record = read_json(path)
        record["names"] = list(dict.fromkeys([*record.get("names", []), name]))
        write_json(path, record)
    return store.load(img.id)
