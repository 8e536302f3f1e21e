"""Tables of the verbs issue 14 added: `%bocker top` (ProcessTable), `history` (HistoryTable),
`volume ls` (VolumeTable), `system df` (DiskUsageTable). Each is a Table (text, HTML,
Markdown) with `.to_frame()`.

    procs = %bocker top web
    procs.to_frame()     # pid, container_pid, ppid, user, state, cpu_seconds, command
"""

from __future__ import annotations

from typing import Any

from ._render import Table, human_bytes, when


class ProcessTable(Table):
    caption = "processes"
    headers = ("pid", "container_pid", "ppid", "container_ppid", "user", "state", "cpu_seconds", "command")
    widths = {"command": 60}
    empty = "No processes (the container is exiting)"

    def __init__(self, processes: list[Any], label: str = "") -> None:
        self.processes = list(processes)
        if label:
            self.caption = f"processes of {label}"

    def rows(self) -> list[list[Any]]:
        return [[p.pid, p.container_pid, p.ppid, p.container_ppid, p.user, p.state, round(p.cpu_seconds, 2),
                 p.command] for p in self.processes]

    def __iter__(self):
        return iter(self.processes)


class HistoryTable(Table):
    caption = "history"
    headers = ("image", "created", "created_by", "size", "comment")
    widths = {"created_by": 60, "comment": 40}
    empty = "No history"

    def __init__(self, rows: list[Any], label: str = "") -> None:
        self.steps = list(rows)
        if label:
            self.caption = f"history of {label}"

    def rows(self) -> list[list[Any]]:
        return [[h.image, when(h.created) if h.created else "-", h.created_by, human_bytes(h.size), h.comment]
                for h in self.steps]

    def frame_rows(self) -> list[list[Any]]:
        import pandas as pd

        return [[h.image, pd.Timestamp(h.created, unit="s") if h.created else None, h.created_by, h.size,
                 h.comment] for h in self.steps]


class VolumeTable(Table):
    caption = "volumes"
    headers = ("name", "driver", "mountpoint", "labels", "created")
    widths = {"name": 40, "mountpoint": 60}
    empty = "No volumes: %bocker volume create NAME, or run -v NAME:/path, makes one"

    def __init__(self, volumes: list[Any]) -> None:
        self.volumes = list(volumes)

    def rows(self) -> list[list[Any]]:
        return [[v.name, v.driver, v.mountpoint, ", ".join(f"{k}={x}" for k, x in v.labels.items()),
                 when(v.created)] for v in self.volumes]


class DiskUsageTable(Table):
    caption = "disk usage"
    headers = ("type", "total", "active", "size", "reclaimable")
    empty = "Nothing on disk"

    def __init__(self, rows: list[Any]) -> None:
        self.usage = list(rows)

    def rows(self) -> list[list[Any]]:
        return [[r.kind, r.total, r.active, human_bytes(r.size), human_bytes(r.reclaimable)] for r in self.usage]

    def frame_rows(self) -> list[list[Any]]:
        return [[r.kind, r.total, r.active, r.size, r.reclaimable] for r in self.usage]
