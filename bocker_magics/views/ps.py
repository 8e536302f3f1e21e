"""ContainerTable: `%bocker ps` as a table (HTML, text, Markdown) and a pandas frame.

    table = %bocker ps
    table["web"]          # the container named web (or by id; table[0] is the first row)
    table.to_frame()      # every value whole (the table shortens long commands)
"""

from __future__ import annotations

from typing import Any

from ..engine.container.status import Status
from ._render import Table, when
from .run import status_line


def status(c: Any) -> str:
    """The container's status; an exit says whether the OOM killer took pid 1 or others."""
    if c.status != Status.EXITED:
        return c.status_text
    recorded = (getattr(c.state, "stats", None) or {}) if c.state is not None else {}
    return status_line(c.exit_code, c.oom_killed, recorded.get("oom_kills"))


def _ports(c: Any) -> str:
    """Its published ports as `docker ps` shows them (0.0.0.0:8080->80/tcp); '' when none."""
    from ..listing import ports_text

    try:
        return ports_text(c)
    except (AttributeError, TypeError):
        return ""


def _restarts(c: Any) -> int:
    """How often its restart policy brought it back (--restart)."""
    return getattr(c, "restart_count", 0)


class ContainerTable(Table):
    caption = "containers"
    headers = ("id", "name", "image", "command", "status", "exit_code", "restarts", "pid", "ports", "created")
    widths = {"name": 24, "image": 32, "command": 40, "status": 40, "ports": 40}
    empty = "No containers: %bocker run IMAGE COMMAND starts one"

    def __init__(self, containers: list[Any]) -> None:
        self.containers = list(containers)

    def rows(self) -> list[list[Any]]:
        return [[c.id, c.name, c.image_name, c.command, status(c), c.exit_code, _restarts(c), c.pid, _ports(c),
                 when(c.created)] for c in self.containers]

    def frame_rows(self) -> list[list[Any]]:
        import pandas as pd

        return [[c.id, c.name, c.image_name, c.command, status(c), c.exit_code, _restarts(c), c.pid, _ports(c),
                 pd.Timestamp(c.created, unit="s")] for c in self.containers]

    def __iter__(self):
        return iter(self.containers)

    def __getitem__(self, key: int | str):
        """A row by position, or a container by id or name."""
        if isinstance(key, str):
            for c in self.containers:
                if key in (c.id, c.name):
                    return c
            raise KeyError(key)
        return self.containers[key]

    def _ipython_key_completions_(self) -> list[str]:
        return [c.name for c in self.containers if c.name] + [c.id for c in self.containers]
