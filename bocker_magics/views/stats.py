"""Cgroup accounting: one row per container, shown with `docker stats`'s columns (CONTAINER ID,
NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS); the frame has every field of
CgroupStats (the same on cgroup v1 and v2) and the measured ones.

    stats = %bocker stats --no-stream web   # one table (without --no-stream: live until interrupted)
    stats["memory_limit"]      # a column of the frame (bytes), as stats.to_frame() has it
    stats.loc["ps_…", "pids_current"]

`stats_frame` makes the pandas frame; `StatsTable` shows it and reads like the frame (`[]`,
`.loc`, `.iloc`, `.index`, `.columns`). `StatsTable.sampled(engine, stats)` takes a second
sample (CPU % is CPU time over wall time between the two, as `docker stats` computes it) and
reads each container's network and block I/O.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .. import format
from ..engine import CgroupStats
from ._render import Table
from .hints import limit_size

COLUMNS = list(CgroupStats.__slots__)


MEASURED = ["cpu_percent", "net_rx", "net_tx", "block_read", "block_write"]
HEADERS = ("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS")


def stats_frame(stats: dict[str, Any], names: dict[str, str | None] | None = None,
                measured: dict[str, dict[str, Any]] | None = None):
    """{container id: CgroupStats} -> DataFrame indexed by id, a `name` column first, then the
    CgroupStats fields, then what was measured beside them (CPU %, network and block bytes)."""
    import pandas as pd

    names = names or {}
    extra = MEASURED if measured else []   # the CgroupStats fields alone when nothing was measured
    rows = [{"name": names.get(cid), **s.as_dict(), **{k: (measured or {}).get(cid, {}).get(k) for k in extra}}
            for cid, s in stats.items()]
    frame = pd.DataFrame(rows, columns=["name"] + COLUMNS + extra, index=pd.Index(list(stats), name="container"))
    ints = ["cpu_shares", "cpu_weight", "memory_current", "memory_peak", "memory_limit", "oom_kills",
            "pids_current", "pids_limit"] + [c for c in ("net_rx", "net_tx", "block_read", "block_write") if c in extra]
    return frame.astype({c: "Int64" for c in ints} | {"cpu_seconds": "Float64", "cpu_quota_cpus": "Float64"}
                        | ({"cpu_percent": "Float64"} if extra else {}))


def net_io(pid: int | None) -> tuple[int, int] | None:
    """Bytes received and sent on every interface but lo of the process's network namespace."""
    if not pid:
        return None
    try:
        lines = open(f"/proc/{pid}/net/dev").read().splitlines()[2:]
    except OSError:
        return None
    rx = tx = 0
    for line in lines:
        name, _, rest = line.partition(":")
        if name.strip() == "lo":
            continue
        f = rest.split()
        rx, tx = rx + int(f[0]), tx + int(f[8])
    return rx, tx


def block_io(cgroup_dirs: dict[str, str] | None) -> tuple[int, int] | None:
    """Bytes read and written by the group: v1 blkio, v2 io.stat; None where neither is kept."""
    for d in (cgroup_dirs or {}).values():
        v1 = os.path.join(d, "blkio.throttle.io_service_bytes_recursive")
        v2 = os.path.join(d, "io.stat")
        try:
            if os.path.exists(v1):
                read = write = 0
                for line in open(v1):
                    f = line.split()
                    if len(f) == 3 and f[1] in ("Read", "Write"):
                        read, write = (read + int(f[2]), write) if f[1] == "Read" else (read, write + int(f[2]))
                return read, write
            if os.path.exists(v2):
                read = write = 0
                for line in open(v2):
                    for kv in line.split()[1:]:
                        k, _, v = kv.partition("=")
                        read += int(v) if k == "rbytes" else 0
                        write += int(v) if k == "wbytes" else 0
                return read, write
        except (OSError, ValueError):
            continue
    return None


def _pair(values: tuple[int, int] | None) -> str:
    return "-" if values is None else f"{format.size(values[0])} / {format.size(values[1])}"


def _host_memory() -> int | None:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class StatsTable(Table):
    caption = "cgroup accounting (docker stats)"
    headers = HEADERS
    empty = "No running containers to account for: %bocker stats NAME shows one that has exited"

    def __init__(self, stats: dict[str, Any], names: dict[str, str | None] | None = None,
                 measured: dict[str, dict[str, Any]] | None = None) -> None:
        self.stats = dict(stats)
        self.names = dict(names or {})
        self.measured = dict(measured or {})
        self._frame = None

    @classmethod
    def sampled(cls, engine: Any, first: dict[str, Any], interval: float = 0.5) -> StatsTable:
        """A second sample `interval` s after `first` (the engine's stats): CPU % between them,
        the network and block I/O of each container, its name."""
        if not first:
            return cls(first)
        t0 = time.monotonic()
        time.sleep(interval)
        second = engine.stats(list(first))
        elapsed = time.monotonic() - t0
        containers = {c.id: c for c in engine.ps()}
        measured: dict[str, dict[str, Any]] = {}
        for cid, s in second.items():
            before, c = first.get(cid), containers.get(cid)
            m: dict[str, Any] = {}
            if before is not None and s.cpu_seconds is not None and before.cpu_seconds is not None and c is not None \
                    and c.running:
                m["cpu_percent"] = round(100 * (s.cpu_seconds - before.cpu_seconds) / elapsed, 2)
            net = net_io(c.pid if c is not None and c.running else None)
            if net is not None:
                m["net_rx"], m["net_tx"] = net
            block = block_io(dict(getattr(c.state, "cgroup", None) or {}) if c is not None and c.state else None)
            if block is not None:
                m["block_read"], m["block_write"] = block
            measured[cid] = m
        return cls(second, {cid: c.name for cid, c in containers.items()}, measured)

    @classmethod
    def stream(cls, engine: Any, refs: list[str] | None = None, interval: float = 1.0,
               duration: float | None = None) -> StatsTable:
        """`docker stats`: one table in the cell, redrawn every `interval` s (CPU % over that
        interval) until the cell is interrupted (or `duration` s pass). Returns the last table."""
        from .live import updates_in_place

        handle = None
        if updates_in_place():
            from IPython.display import display

            handle = display({"text/plain": "sampling …"}, raw=True, display_id=True)
        end = None if duration is None else time.monotonic() + duration
        table = cls({})
        try:
            while True:
                first = engine.stats(refs)
                table = cls.sampled(engine, first, interval)
                if handle is not None:
                    handle.update(table._repr_mimebundle_(), raw=True)
                if end is not None and time.monotonic() >= end:
                    break
        except KeyboardInterrupt:
            pass  # the stop button ends it: the last table stays
        if handle is not None:
            handle.update({"text/plain": ""}, raw=True)   # the result shows the last table, once
        return table

    def rows(self) -> list[list[Any]]:
        out = []
        host = None
        for cid, s in self.stats.items():
            m = self.measured.get(cid, {})
            cpu = m.get("cpu_percent")
            limit = s.memory_limit
            if limit is None:
                host = host or _host_memory()
            of = limit or host
            usage = "-" if s.memory_current is None else (
                f"{format.size(s.memory_current)} / {limit_size(limit) if limit else format.size(host)}")
            mem_pct = "-" if s.memory_current is None or not of else f"{100 * s.memory_current / of:.2f}%"
            net = (m["net_rx"], m["net_tx"]) if "net_rx" in m else None
            block = (m["block_read"], m["block_write"]) if "block_read" in m else None
            out.append([cid, self.names.get(cid) or "-", "-" if cpu is None else f"{cpu:.2f}%", usage, mem_pct,
                        _pair(net), _pair(block), "-" if s.pids_current is None else s.pids_current])
        return out

    def to_frame(self):
        return self._df().copy()

    # reading it like its frame
    def _df(self):
        if self._frame is None:
            self._frame = stats_frame(self.stats, self.names, self.measured)
        return self._frame

    def __getitem__(self, key: Any) -> Any:
        return self._df()[key]

    def _ipython_key_completions_(self) -> list[str]:
        return ["name", *COLUMNS, *MEASURED]

    loc = property(lambda self: self._df().loc)
    iloc = property(lambda self: self._df().iloc)
    index = property(lambda self: self._df().index)
    columns = property(lambda self: self._df().columns)
