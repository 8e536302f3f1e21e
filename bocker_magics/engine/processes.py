"""`top`: a running container's processes, each with its pid as the host sees it and as the
container does (the last NSpid of /proc/PID/status: the pid in its innermost pid namespace).

The processes are those of the container's cgroup: pid 1 and everything it forked, exec'd
ones too, whatever their parent. Read from /proc only; nothing runs in the container.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import Conflict

if TYPE_CHECKING:
    from .container import Containers

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    pid: int                 # as the host sees it
    container_pid: int       # as the container sees it (its own pid namespace)
    ppid: int                # the parent, as the host sees it
    container_ppid: int      # the parent, as the container sees it (0: outside it)
    uid: int
    user: str                # the uid's name in the container's /etc/passwd, else the number
    state: str               # R, S, D, Z, T ... (/proc/PID/stat)
    cpu_seconds: float
    command: str             # its argv, or [name] when it has none (a kernel thread, a zombie)


def _status_fields(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def _command(pid: int, name: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        argv = []
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    return text or f"[{name}]"


def _cpu_and_state(pid: int) -> tuple[str, float]:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def read_process(pid: int, names: dict[int, str]) -> Process | None:
    """One process from /proc (None when it has gone meanwhile)."""
    try:
        status = _status_fields(pid)
        state, cpu = _cpu_and_state(pid)
    except (OSError, ValueError, IndexError):
        return None
    nspids = [int(x) for x in status.get("NSpid", str(pid)).split()]
    uid = int(status.get("Uid", "0").split()[0])
    return Process(pid=pid, container_pid=nspids[-1], ppid=int(status.get("PPid", "0")), container_ppid=0,
                   uid=uid, user=names.get(uid, str(uid)), state=state, cpu_seconds=cpu,
                   command=_command(pid, status.get("Name", "?")))


def _user_names(root: str) -> dict[int, str]:
    from .users import container_file
    names: dict[int, str] = {}
    for line in (container_file(root, "etc/passwd") or b"").decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            names.setdefault(int(parts[2]), parts[0])
    return names


def top(containers: Containers, ref: str) -> list[Process]:
    """The container's processes, pid 1 first (by the container's own pids)."""
    c = containers.get(ref)
    if not c.running or not c.pid:
        raise Conflict(f"Container '{ref}' is not running ({c.status_text}): top shows a running one's processes")
    group = containers.cgroup_driver().group(c.id)
    names = _user_names(f"/proc/{c.pid}/root")
    found = [p for p in (read_process(pid, names) for pid in group.pids()) if p is not None]
    inside = {p.pid: p.container_pid for p in found}
    for p in found:
        p.container_ppid = inside.get(p.ppid, 0)
    return sorted(found, key=lambda p: p.container_pid)
