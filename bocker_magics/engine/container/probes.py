"""What `ps` asks of the host for every container at every call: whether its monitor still
runs, whether its cgroup is frozen. A long-lived engine (the bocker server, a notebook's)
asks it of the same processes and files again and again, so it holds them open:

- a monitor found alive (procfs: its pid, its start time, not a zombie) is held by a pidfd,
  and later answers poll it (readable once the process has exited, zombie or reaped): one
  syscall, where /proc/PID/stat is an open, a read, a close and a parse. A reused pid names
  another process, never the one a pidfd holds.
- a freezer file (v1 freezer.state, v2 cgroup.events) is kept open and read again at offset
  0 (the kernel writes its text afresh at each read). Once its group is removed the file
  answers ENODEV, even when a group of the same name was made since (a restart): it is then
  opened again.

What was not asked since the previous sweep (Room.list sweeps after each listing) is
closed, so what is held follows the containers that run. At most a quarter of the
open-files limit is held; past that, answers are read as they would be without this: the
same answers, more syscalls. Threads share one Probes (the server's requests): a lock
keeps an fd from being closed by one while another reads it.
"""

from __future__ import annotations

import os
import select
import threading

from ..kernel import cgroupfs, procfs

_pidfd_open = getattr(os, "pidfd_open", None)


def _open_files_limit() -> int:
    import resource
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def pidfd_of(pid: int, start: int) -> tuple[int | None, bool]:
    """(a pidfd that holds `pid`, True) when `pid` is the process that started at `start`;
    else (None, whether it is), /proc answering alone where no pidfd can be had."""
    if _pidfd_open is None:  # a Python built without it
        return None, procfs.alive(pid, start)
    try:
        fd = _pidfd_open(pid)
    except OSError:  # gone (ESRCH), no fd to be had (EMFILE), a kernel before 5.3: /proc answers
        return None, procfs.alive(pid, start)
    # opened first: if `pid` is still the process that started at `start`, fd holds it
    if not procfs.alive(pid, start):
        os.close(fd)
        return None, False
    return fd, True


def _exited(pidfd: int) -> bool:
    p = select.poll()
    p.register(pidfd, select.POLLIN)
    return bool(p.poll(0))


class Probes:
    def __init__(self, limit: int | None = None) -> None:
        self.limit = _open_files_limit() // 4 if limit is None else limit  # fds held, at most
        self._lock = threading.Lock()
        self._pidfds: dict[tuple[int, int], int] = {}
        self._files: dict[str, int] = {}
        self._asked: set[object] = set()  # keys of both, asked since the last sweep

    def alive(self, pid: int | None, start: int | None) -> bool:
        """status.pid_alive's answer: `pid` runs, is no zombie, and is the process that
        started at `start` (clock ticks since boot)."""
        if not pid or not start:
            return False
        key = (pid, start)
        with self._lock:
            fd = self._pidfds.get(key)
            if fd is not None:
                self._asked.add(key)
                if not _exited(fd):
                    return True
                del self._pidfds[key]
                os.close(fd)
                return False
        fd, alive = pidfd_of(pid, start)
        if fd is not None:
            self._hold(self._pidfds, key, fd)
        return alive

    def frozen(self, path: str) -> bool:
        """What the freezer file at `path` (cgroupfs.frozen_file) says now; False once it
        is gone, as Cgroup.is_frozen."""
        with self._lock:
            fd = self._files.get(path)
            if fd is not None:
                self._asked.add(path)
                try:
                    return cgroupfs.frozen_in(path, os.pread(fd, 4096, 0).decode())
                except OSError:  # ENODEV: its group was removed (and maybe made again)
                    del self._files[path]
                    os.close(fd)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            text = os.pread(fd, 4096, 0).decode()
        except OSError:
            os.close(fd)
            return False
        self._hold(self._files, path, fd)
        return cgroupfs.frozen_in(path, text)

    def _hold(self, table: dict, key: object, fd: int) -> None:
        with self._lock:
            self._asked.add(key)
            if key in table or len(self._pidfds) + len(self._files) >= self.limit:
                os.close(fd)
            else:
                table[key] = fd

    def sweep(self) -> None:
        """Close what was not asked since the last sweep."""
        with self._lock:
            for table in (self._pidfds, self._files):
                for key in [k for k in table if k not in self._asked]:
                    os.close(table.pop(key))
            self._asked = set()

    def held(self) -> int:
        return len(self._pidfds) + len(self._files)

    def close(self) -> None:
        with self._lock:
            for table in (self._pidfds, self._files):
                for fd in table.values():
                    os.close(fd)
                table.clear()
            self._asked = set()

    def __del__(self) -> None:  # an engine dropped without close(): its fds go with it
        try:
            self.close()
        except Exception:
            pass
