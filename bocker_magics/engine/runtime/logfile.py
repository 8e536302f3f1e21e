"""A container's log: what it printed, line by line, with the time and the stream.

The format is the one Kubernetes' CRI and podman's k8s-file driver use, a record per line:

    2026-12-01T10:00:00.123456789Z stdout F the whole line
    2026-12-01T10:00:00.123457001Z stderr P a line's start, written before its end came

`F` ends a line (the newline itself is not stored), `P` is a part of one. The monitor
writes; `bocker logs` reads (all, --tail N, --since T, -t, -f). Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator


def timestamp(ns: int | None = None) -> bytes:
    ns = time.time_ns() if ns is None else ns
    sec, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z").encode()


def parse_timestamp(text: str) -> float:
    """An RFC 3339 time (as the log has it, or with an offset), or seconds since the epoch."""
    import datetime
    try:
        return float(text)
    except ValueError:
        pass
    t = text.strip().replace("Z", "+00:00")
    if "." in t:  # datetime takes at most microseconds
        head, _, rest = t.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        t = f"{head}.{digits[:6]}{zone}"
    dt = datetime.datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.astimezone()  # a local time, as `docker logs --since` takes it
    return dt.timestamp()


def parse_since(text: str) -> float:
    """`logs --since`: an RFC 3339 time, seconds since the epoch, or a duration before now
    (10s, 5m, 1h, 1h30m), as Docker takes it."""
    import re
    t = text.strip()
    m = re.fullmatch(r"((\d+(\.\d+)?)h)?((\d+(\.\d+)?)m)?((\d+(\.\d+)?)s)?", t)
    if t and m and any(m.group(i) for i in (2, 5, 8)):
        seconds = float(m.group(2) or 0) * 3600 + float(m.group(5) or 0) * 60 + float(m.group(8) or 0)
        return time.time() - seconds
    try:
        return parse_timestamp(t)
    except ValueError:
        from ...errors import InvalidArgument
        raise InvalidArgument(f"Invalid --since '{text}': use a time (2026-12-01T10:00:00Z), seconds since the "
                              "epoch, or a duration such as 10m") from None


class LogWriter:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.full = False  # the disk filled up: the rest is relayed, not kept

    @classmethod
    def adopt(cls, fd: int, full: bool) -> LogWriter:
        """The log, open already (a monitor resumed from its sleeper, sleeper.py)."""
        w = cls.__new__(cls)
        w.fd, w.full = fd, full
        return w

    def write(self, stream: str, data: bytes) -> None:
        ts = timestamp()
        tag = stream.encode()
        out = []
        lines = data.split(b"\n")
        for i, line in enumerate(lines):
            last = i == len(lines) - 1
            if last and not line:
                break
            out.append(b"%s %s %s %s\n" % (ts, tag, b"P" if last else b"F", line))
        if out and not self.full:
            try:
                os.write(self.fd, b"".join(out))
            except OSError:
                self.full = True

    def close(self) -> None:
        os.close(self.fd)


class Record:
    """One record of the log. A plain class (not a dataclass): a monitor resumed from its
    sleeper (sleeper.py) imports this module, and dataclasses costs it ~10 ms."""

    __slots__ = ("time", "stream", "partial", "data")

    def __init__(self, time: str, stream: str, partial: bool, data: bytes) -> None:
        self.time = time          # as written, RFC 3339 with nanoseconds
        self.stream = stream      # stdout | stderr
        self.partial = partial
        self.data = data          # without the newline

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self) -> str:
        return f"Record({self.time!r}, {self.stream!r}, {self.partial!r}, {self.data!r})"

    @property
    def seconds(self) -> float:
        return parse_timestamp(self.time)

    def text(self, timestamps: bool = False) -> bytes:
        out = self.data if self.partial else self.data + b"\n"
        return (self.time.encode() + b" " + out) if timestamps else out


def parse(line: bytes) -> Record | None:
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    return Record(parts[0].decode(), parts[1].decode(), parts[2] == b"P", parts[3] if len(parts) == 4 else b"")


def read(source, *, tail: int | None = None, since: float | None = None,
         start: int = 0) -> tuple[list[Record], int]:
    """The records of the log (a path, or a file open for reading) from byte `start` on, and
    the offset after the last whole one."""
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as f:
                return read(f, tail=tail, since=since, start=start)
        except FileNotFoundError:
            return [], start
    source.seek(start)
    data = source.read()
    end = data.rfind(b"\n") + 1
    records = [r for r in (parse(line) for line in data[:end].splitlines()) if r is not None]
    if since is not None:
        records = [r for r in records if r.seconds >= since]
    if tail is not None:
        records = _last_lines(records, tail)
    return records, start + end


def _last_lines(records: list[Record], n: int) -> list[Record]:
    """The records of the last n lines (a line may be several P records and an F)."""
    if n <= 0:
        return []
    count = 0
    for i in range(len(records) - 1, -1, -1):
        if not records[i].partial:
            count += 1
            if count > n:
                return records[i + 1:]
    return records


def follow(path: str, running, *, start: int = 0, interval: float = 0.05, opened=None) -> Iterator[Record]:
    """Records as they are written, until `running()` is False and the log is read out.

    The log is read through one open file: a container removed while followed (docker-py's
    `run(remove=True)` removes it before reading the stream out) still has its last lines read.
    `opened`: the log, already open (it is closed at the end)."""
    offset, f = start, opened
    try:
        while True:
            alive = running()
            if f is None:
                with contextlib.suppress(FileNotFoundError):  # not started yet: its monitor makes it
                    f = open(path, "rb")
            if f is not None:
                records, offset = read(f, start=offset)
                yield from records
            if not alive:
                if f is not None:
                    records, offset = read(f, start=offset)
                    yield from records
                return
            time.sleep(interval)
    finally:
        if f is not None:
            f.close()
