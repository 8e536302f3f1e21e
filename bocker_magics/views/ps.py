"""ContainerTable: `%bocker ps` as a table (HTML, text, Markdown) and a pandas frame."""

from __future__ import annotations

from typing import Any

from ._render import Table, when


class ContainerTable(Table):
    caption = "containers"
    headers = ("id", "name", "image", "command", "status", "exit_code", "pid", "created")

    def __init__(self, containers: list[Any]) -> None:
        self.containers = list(containers)

    def rows(self) -> list[list[Any]]:
        return [[c.id, c.name, c.image_name, c.command, c.status_text, c.exit_code, c.pid, when(c.created)]
                for c in self.containers]

    def frame_rows(self) -> list[list[Any]]:
        import pandas as pd

        return [[c.id, c.name, c.image_name, c.command, c.status_text, c.exit_code, c.pid,
                 pd.Timestamp(c.created, unit="s")] for c in self.containers]

    def __iter__(self):
        return iter(self.containers)

    def __getitem__(self, i: int):
        return self.containers[i]
