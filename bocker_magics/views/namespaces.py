"""NamespaceTable: the namespace inodes of processes side by side (article 2.1.3).

Rows are the namespace kinds, columns the processes (the host first), cells the inode of
`readlink /proc/PID/ns/KIND`. Two processes share a namespace when the inodes are equal; a
cell that differs from the first column is marked (<mark> in HTML, bold in Markdown, '*'
in text).
"""

from __future__ import annotations

import os
from typing import Any

from ..engine.kernel.namespaces import KINDS, ns_inodes
from ._render import View, html_table, md_table, text_table


def host_column() -> tuple[str, int]:
    """The host's process for the first column: pid 1 when its links are readable (not in
    every sandbox), else this process."""
    try:
        ns_inodes(1)
        if os.readlink("/proc/1/ns/mnt"):
            return "host (pid 1)", 1
    except OSError:
        pass
    return f"host (this process, pid {os.getpid()})", os.getpid()


def process_label(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f"pid {pid} ({f.read().strip()})"
    except OSError:
        return f"pid {pid}"


class NamespaceTable(View):
    def __init__(self, columns: dict[str, dict[str, int]]) -> None:
        """columns: label -> {kind: inode}; the first column is the reference."""
        self.columns = dict(columns)
        present = {k for inodes in self.columns.values() for k in inodes}
        self.kinds = [k for k in KINDS if k in present]

    @classmethod
    def of(cls, pids: dict[str, int] | list[int], host: bool = True) -> NamespaceTable:
        """A table of processes: {label: pid}, or pids labelled by their command; the host first."""
        if not isinstance(pids, dict):
            pids = {process_label(p): p for p in pids}
        columns: dict[str, dict[str, int]] = {}
        if host:
            label, pid = host_column()
            columns[label] = ns_inodes(pid)
        for label, pid in pids.items():
            inodes = ns_inodes(pid) if os.path.isdir(f"/proc/{pid}/ns") else {}
            if not inodes:
                raise ProcessLookupError(f"process {pid} ({label}) does not exist")
            columns[label] = inodes
        return cls(columns)

    @property
    def labels(self) -> list[str]:
        return list(self.columns)

    def inode(self, label: str, kind: str) -> int | None:
        return self.columns[label].get(kind)

    def differs(self, label: str, kind: str) -> bool:
        first = next(iter(self.columns.values()))
        return self.columns[label].get(kind) != first.get(kind)

    def _grid(self) -> tuple[list[str], list[list[Any]], set[tuple[int, int]]]:
        headers = ["namespace"] + self.labels
        rows, marks = [], set()
        for i, kind in enumerate(self.kinds):
            rows.append([kind] + [self.inode(label, kind) for label in self.labels])
            marks |= {(i, j + 1) for j, label in enumerate(self.labels) if j and self.differs(label, kind)}
        return headers, rows, marks

    def to_frame(self):
        import pandas as pd

        frame = pd.DataFrame({label: [self.inode(label, k) for k in self.kinds] for label in self.labels},
                             index=pd.Index(self.kinds, name="namespace"))
        return frame.astype("Int64")

    def _text(self) -> str:
        return text_table(*self._grid()) + "\n(* differs from the first column)"

    def _html(self) -> str:
        headers, rows, marks = self._grid()
        return html_table(headers, rows, marks=marks, row_headers=True,
                          caption="namespace inodes (marked: differs from the first column)")

    def _markdown(self) -> str:
        return md_table(*self._grid()) + "\n\n(**bold**: differs from the first column)"
