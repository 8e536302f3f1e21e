"""ImageTable: `%bocker images` (and the image `init`/`commit` make) as a table and a frame.

    images = %bocker images
    images["busybox:latest"]   # an image by name or id (images[0] is the first row)
    images.to_frame()          # every value whole (the table shortens sources and digests)
"""

from __future__ import annotations

from typing import Any

from ._render import Table, when


class ImageTable(Table):
    caption = "images"
    headers = ("id", "names", "source", "layers", "created")
    widths = {"names": 40, "source": 52}  # a digest keeps 12 hex digits
    empty = "No images: %bocker init --busybox makes the built-in one, %bocker pull NAME fetches one"

    def __init__(self, images: list[Any]) -> None:
        self.images = list(images)

    def rows(self) -> list[list[Any]]:
        return [[i.id, ", ".join(i.names) or "<none>", i.source, len(i.layers), when(i.created)]
                for i in self.images]

    def frame_rows(self) -> list[list[Any]]:
        import pandas as pd

        return [[i.id, list(i.names), i.source, len(i.layers), pd.Timestamp(i.created, unit="s")]
                for i in self.images]

    @property
    def id(self) -> str:
        """The id of the first image (what `init` and `commit` made)."""
        return self.images[0].id

    def __iter__(self):
        return iter(self.images)

    def __getitem__(self, key: int | str):
        """A row by position, or an image by id or one of its names (`busybox` is
        `busybox:latest`)."""
        if isinstance(key, str):
            for i in self.images:
                if key == i.id or key in i.names or f"{key}:latest" in i.names:
                    return i
            raise KeyError(key)
        return self.images[key]

    def _ipython_key_completions_(self) -> list[str]:
        return [n for i in self.images for n in i.names] + [i.id for i in self.images]
