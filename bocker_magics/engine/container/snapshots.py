"""What a long-lived engine (the bocker server, a notebook's kernel) keeps of each
container's two files between reads: container.json and state.json, parsed and validated.
`ps` of 500 containers read and validated 1,000 JSON files each time (~0.1 ms a container,
most of `ps`); with this, an unchanged container costs two stats.

A file is known by what stat says of it: device, inode, size, mtime and ctime (ns). Every
write of these files is a new file renamed into place (fileio.atomic_write): a new inode
and a new ctime; an edit in place moves mtime and ctime. What the kernel stamps a file with
is a clock that ticks coarsely (a jiffy), so two writes within one tick could leave all of
a file's times as they were: a file whose times are within RACY_NS of the moment it was
read is not kept, only read again until it has aged (git's "racy" index entries). A file
that changes while it is read (its key before and after differ) is not kept either.

Nothing kept is handed out. A Container is given a Frozen record and state, which becomes
the caller's own copy the first time it reads Container.record or .state (record.py): one
who changes what it got (connect appends a network, gc sets a state) changes its copy, not
what the next `ps` sees; and a `ps` that prints ids and commands copies nothing.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

RACY_NS = 100_000_000  # 0.1 s: longer than any tick of the clock files are stamped with

FileKey = tuple[int, int, int, int, int]
T = TypeVar("T")


def file_key(path: str) -> FileKey | None:
    """(device, inode, size, mtime_ns, ctime_ns) of `path`; None when it can't be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Frozen(Generic[T]):
    """A parsed record or state the cache keeps: `kept` is read, never changed (and never
    leaves the engine); thaw() is a copy of one's own (a pickle of it, made once, loaded)."""

    __slots__ = ("_pickled", "kept")

    def __init__(self, kept: T) -> None:
        self.kept = kept
        self._pickled: bytes | None = None

    def thaw(self) -> T:
        data = self._pickled
        if data is None:
            data = self._pickled = pickle.dumps(self.kept, protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.loads(data)


@dataclass(frozen=True)
class Snapshot:
    keys: tuple[FileKey, FileKey]   # container.json's, state.json's
    record: Frozen[Any]             # a ContainerRecord
    state: Frozen[Any]              # a State


class Snapshots:
    """The kept files of one store's containers, by container id. Threads may share it (the
    server's requests): a Snapshot is never changed, only replaced or dropped."""

    def __init__(self, racy_ns: int = RACY_NS) -> None:
        self._kept: dict[str, Snapshot] = {}
        self.racy_ns = racy_ns

    @staticmethod
    def keys(cdir: str) -> tuple[FileKey | None, FileKey | None]:
        return file_key(os.path.join(cdir, "container.json")), file_key(os.path.join(cdir, "state.json"))

    def get(self, cid: str, keys: tuple[FileKey | None, FileKey | None]) -> Snapshot | None:
        """The kept snapshot if both files are still the ones it was read from."""
        snap = self._kept.get(cid)
        if snap is not None and snap.keys == keys:
            return snap
        return None

    @staticmethod
    def now() -> int:
        """Take it before the files are stat'ed and read: keep() compares their times with it."""
        return time.time_ns()

    def keep(self, cid: str, cdir: str, keys: tuple[FileKey | None, FileKey | None], record: Any, state: Any,
             read_at: int) -> Snapshot | None:
        """Keep what was just read (`keys` stat'ed before reading, at `read_at`, from now());
        None, and nothing kept, if a file changed meanwhile or is too young to tell apart."""
        if keys[0] is None or keys[1] is None or self.keys(cdir) != keys:
            self._kept.pop(cid, None)
            return None
        young = read_at - self.racy_ns
        if any(k[3] >= young or k[4] >= young for k in keys):
            self._kept.pop(cid, None)
            return None
        snap = Snapshot(keys, Frozen(record), Frozen(state))  # type: ignore[arg-type]
        self._kept[cid] = snap
        return snap

    def forget(self, cid: str) -> None:
        self._kept.pop(cid, None)

    def retain(self, cids: set[str]) -> None:
        """Drop what is kept of containers not among `cids` (removed ones)."""
        for cid in [c for c in self._kept if c not in cids]:
            self._kept.pop(cid, None)

    def __len__(self) -> int:
        return len(self._kept)
