"""The container state (state.json): the OCI state and, beside it, the engine's fields."""

from __future__ import annotations

import os

from ... import _cjson
from ..fileio import atomic_write
from .codec import _dump, _parse, _read
from .model import (
    _OCI_VERSION,
    OCI_VERSION,
    PHASES,
    STATUSES,
    U32,
    U64,
    _at,
    _f,
    _Invalid,
    _Model,
    _model,
    _unknown,
)


@_model
class State(_Model):
    """A container's state: the OCI state (state-schema.json) and, beside it, ours.

    OCI's status has no "paused" (runtime-spec 1.0.2's state-schema.json allows creating,
    created, running, stopped), so a paused container is status "running" with paused=True;
    `runc_status` is what runc's `state` command prints ("paused" then).
    """

    oci_version: str = _f(OCI_VERSION, required=True, pattern=_OCI_VERSION)
    id: str = _f("", required=True)
    status: str = _f("creating", required=True, enum=STATUSES, noun="a container status")
    pid: int = _f(0, range=(0, 2**31 - 1, "a pid"))
    bundle: str = _f("", required=True)
    annotations: dict[str, str] = _f(factory=dict)
    # ours
    paused: bool = _f(False)
    exit_code: int | None = _f(range=(0, 255, "an exit code"))
    oom_killed: bool = _f(False, json="oomKilled")
    error: str = _f("")  # why it failed to start, or what was left behind
    created_at: float | None = _f()  # seconds since the epoch
    started_at: float | None = _f()
    finished_at: float | None = _f()
    monitor_pid: int = _f(0, range=(0, 2**31 - 1, "a pid"))
    monitor_start: int = _f(0, range=U64)  # its start time (/proc/PID/stat field 22): pid reuse
    pid_start: int = _f(0, range=U64)
    boot_id: str = _f("")  # a state from before a reboot describes nothing that runs
    # the engine's own lifecycle, finer than OCI's: created (made, never started), starting,
    # running, restarting (between two runs of --restart), exited, failed (never ran)
    phase: str = _f("", enum=PHASES, noun="a phase")
    restart_count: int = _f(0, range=U32)
    creator_pid: int = _f(0, range=(0, 2**31 - 1, "a pid"))  # the engine that launched it
    creator_start: int = _f(0, range=U64)
    netns: int | None = _f(range=U64)  # the network namespace's inode
    cgroup_driver: str = _f("")
    cgroup: dict[str, str] = _f(factory=dict)  # hierarchy -> the container's cgroup dir
    stats: dict[str, float] = _f(factory=dict)  # the final accounting, taken at exit
    unknown: dict[str, object] = _unknown()

    OCI_KEYS = ("ociVersion", "id", "status", "pid", "bundle", "annotations")

    def _check(self, path: str, raw: dict) -> None:
        if self.status in ("created", "running") and not self.pid:
            raise _Invalid(_at(path, "pid"), f"required when the status is {self.status} but missing")
        if self.paused and self.status != "running":
            raise _Invalid(_at(path, "paused"), f"a paused container is running (frozen), not {self.status}")

    @property
    def runc_status(self) -> str:
        return "paused" if self.paused else self.status

    def to_json(self, *, source: str = "state.json") -> dict:
        """The state.json: the OCI state with our fields beside it; validated."""
        obj = _dump(self)
        _parse(State, obj, source)
        return obj

    def oci_json(self) -> dict:
        """The OCI state alone: what hooks read on stdin and `state` prints."""
        return {k: v for k, v in self.to_json().items() if k in self.OCI_KEYS}

    @classmethod
    def from_json(cls, obj: dict | str | bytes, *, source: str = "state.json") -> State:
        return _parse(cls, obj, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> State:
        return cls.from_json(_read(path), source=os.fspath(path))

    def save(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        text = _cjson.dumps(self.to_json(source=os.fspath(path)), indent=1) + "\n"
        atomic_write(path, text.encode(), fsync=fsync)
