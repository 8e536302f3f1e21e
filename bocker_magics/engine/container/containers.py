"""Containers: the container verbs of one engine, as one interface (podman's
ContainerEngine), each written in its own module:

    record.py   the record (container.json), the Container that ps shows, RunResult
    status.py   the status state machine (Status): created, running, paused, ... dead
    room.py     what the verbs are given, and reading containers back (load, list, get)
    create.py   the bundle: spec, record, created state
    launch.py   start: plug, the hand-off to the shim, the first events
    attach.py   the stream loop, the detach keys, interrupts from another thread
    exec.py     one more process in a running container
    signals.py  kill, stop, wait
    removal.py  rm, and what a container still holds on the host (cleanup)
    stats.py    cgroup accounting and the log

Each module takes the Room; none calls back up into this class or the Engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import attach as _attach
from . import create as _create
from . import exec as _exec
from . import launch as _launch
from . import removal as _removal
from . import signals as _signals
from . import stats as _stats
from .room import Room

if TYPE_CHECKING:
    import socket

    from ..images import Image
    from ..kernel.cgroups import CgroupStats
    from ..options import RunOptions
    from .attach import Output
    from .record import Container, RunResult


class Containers(Room):
    # -- the verbs -------------------------------------------------------------------------
    def create(self, img: Image, command: str | list[str] | None, options: RunOptions,
               ref: str | None = None) -> Container:
        return _create.create(self, img, command, options, ref)

    def start(self, c: Container, *, attach: bool, **kwargs: Any) -> RunResult:
        return _launch.start(self, c, attach=attach, **kwargs)

    def attach(self, ref: str, **kwargs: Any) -> RunResult:
        return _attach.attach(self, ref, **kwargs)

    def connect(self, cid: str, stdin: bool = False) -> socket.socket:
        return _attach.connect(self, cid, stdin)

    def stream(self, cid: str, pid: int, sock: socket.socket, on_output: Output | None, capture: bool,
               *args: Any, **kwargs: Any) -> dict[str, Any]:
        return _attach.stream(self, cid, pid, sock, on_output, capture, *args, **kwargs)

    def exec(self, ref: str, command: str | list[str], **kwargs: Any) -> RunResult:
        return _exec.exec_in(self, ref, command, **kwargs)

    def kill(self, ref: str, sig: str | int = "KILL", *, stopping: bool = True) -> str:
        return _signals.kill(self, ref, sig, stopping=stopping)

    def stop(self, ref: str, timeout: float | None = None) -> str:
        return _signals.stop(self, ref, timeout)

    def wait(self, ref: str, timeout: float | None = None) -> int | None:
        return _signals.wait(self, ref, timeout)

    def rm(self, ref: str, force: bool = False, volumes: bool = False) -> str:
        return _removal.rm(self, ref, force, volumes)

    def cleanup(self, c: Container) -> None:
        _removal.cleanup(self, c)

    def stats(self, refs: list[str] | None = None) -> dict[str, CgroupStats]:
        return _stats.stats(self, refs)

    def log_records(self, ref: str, **kwargs: Any):
        return _stats.log_records(self, ref, **kwargs)

    def logs(self, ref: str) -> bytes:
        return _stats.logs(self, ref)
