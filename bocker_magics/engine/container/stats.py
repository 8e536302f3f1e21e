"""What a container used and what it printed: cgroup accounting (stats) and its log."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...errors import NotFound
from ..kernel.cgroups import CgroupStats
from ..runtime import logfile

if TYPE_CHECKING:
    from .room import Room


def _recorded(recorded: dict) -> CgroupStats:
    """The accounting its monitor took at exit, as a CgroupStats."""
    return CgroupStats(**{k: (int(v) if k != "cpu_seconds" and k != "cpu_quota_cpus" else v)
                          for k, v in recorded.items() if k in CgroupStats.__slots__})


def stats(rooms: Room, refs: list[str] | None = None) -> dict[str, CgroupStats]:
    """Cgroup accounting per container id (the same fields on v1 and v2): every running
    container, or the ones named. A container that is not running gives the stats its
    monitor recorded at exit, or an empty CgroupStats."""
    driver = rooms.cgroup_driver()
    containers = [rooms.get(r) for r in refs] if refs else [c for c in rooms.list() if c.running]
    out: dict[str, CgroupStats] = {}
    for c in containers:
        found = None
        if c.running:
            with contextlib.suppress(NotFound, OSError):
                found = driver.group(c.id).stats()
        if found is None:
            found = _recorded((c.state.stats if c.state is not None else {}) or {})
        out[c.id] = found
    return out


def log_records(rooms: Room, ref: str, *, tail: int | None = None, since: float | None = None,
                follow: bool = False) -> Iterator[logfile.Record]:
    """The log's records (time, stream, data); following: as they come, until it stops."""
    c = rooms.get(ref)
    path = str(rooms.store.container_dir(c.id) / "log")
    opened = None  # held while followed: a container removed meanwhile still has its log read out
    with contextlib.suppress(FileNotFoundError):  # no log before its first start
        opened = open(path, "rb")
    if not follow:
        with opened or contextlib.nullcontext():
            yield from logfile.read(opened or path, tail=tail, since=since)[0]
        return

    def running() -> bool:
        try:
            return rooms.load(c.id).status.may_run
        except NotFound:
            return False
    try:
        records, offset = logfile.read(opened or path, tail=tail, since=since)
        yield from records
    except BaseException:
        if opened is not None:
            opened.close()
        raise
    for r in logfile.follow(path, running, start=offset, opened=opened):
        if since is None or r.seconds >= since:
            yield r


def logs(rooms: Room, ref: str) -> bytes:
    """What it printed, stdout and stderr as they came (the seed's `bocker logs`)."""
    return b"".join(r.text() for r in log_records(rooms, ref))
