"""What /proc/PID/stat says of a process: its state and its start time. A pid and its start
time name a process for good (the pid alone may be reused); a zombie is dead (a process
killed after its parent left is reparented to an init that may be slow to reap it).
Stdlib only, no ctypes: bocker-runc's `state` and `delete` read it at every call."""

from __future__ import annotations

import os


def stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of `pid`, or None if it is gone."""
    # os.open and os.read, not open(): a third of the syscalls (`ps` asks of every
    # container's monitor); the file is far shorter than one read's 4096 bytes
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    if not data:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[19])


def start_time(pid: int) -> int | None:
    st = stat(pid)
    return None if st is None else st[1]


def alive(pid: int | None, start: int | None = None) -> bool:
    """`pid` runs (not a zombie), and, given `start`, is the process that started then."""
    st = stat(pid) if pid else None
    return st is not None and st[0] not in ("Z", "X") and (start is None or st[1] == start)
