"""ImageTable: `%bocker images` (and the image `init`/`commit` make) as a table and a frame."""

from __future__ import annotations

from typing import Any

from ._render import Table, when


class ImageTable(Table):
    caption = "images"
    headers = ("id", "names", "source", "layers", "created")

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

    def __getitem__(self, i: int):
        return self.images[i]
