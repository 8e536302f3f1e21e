"""A bocker-runc container: its state directory, its state and its status (runc's
state_linux.go).

    ROOT/ID/state.json   its state in the engine's one format: spec.State's JSON (the OCI
                         state, and beside it pidStart, creatorPid/creatorStart, createdAt,
                         phase, cgroupDriver, cgroup: the group's directories)
    ROOT/ID/config.json  the spec as created: exec, the hooks after create, the rootfs
    ROOT/ID/exec.fifo    there while pid 1 waits for `start`

create writes the state through spec.State (validated, as the engine writes its own); the
other verbs read the same JSON with _cjson (json's C functions), not the spec model: start,
kill, delete and state run in an interpreter of their own per call, and must not import the
spec model or enum (tests/host/test_runc.py's test_the_verbs_import_none_of_the_heavy_stdlib).

The status is read from the host as runc reads it, in its order: no pid 1 (or another process
with its pid) -> stopped; its cgroup frozen -> paused; the exec fifo there -> created; else
running. A container whose create has not finished is "creating" while its creator lives.
The freezer and the processes are read through kernel/cgroupfs.py, the files the cgroup
drivers read.
"""

from __future__ import annotations

import os
import time

from .... import _cjson
from ....errors import BockerError, InvalidArgument, NotFound
from ...fileio import atomic_write
from ...kernel import cgroupfs
from ...kernel.procfs import alive
from .words import EMPTY_ID, INVALID_ID, NOT_EXIST

DEFAULT_ROOT = "/run/bocker-runc"
OCI_VERSION = "1.0.2-dev"
STATE = "state.json"
CONFIG = "config.json"
FIFO = "exec.fifo"  # init.EXEC_FIFO (init.py is imported by create alone)
OCI_KEYS = ("ociVersion", "id", "status", "pid", "bundle", "annotations")  # spec.State.OCI_KEYS
# the cgroup of a container whose config.json has no cgroupsPath: /bocker-runc/<id>
DEFAULT_CGROUP_PARENT = "bocker-runc"


def check_id(cid: str) -> str:
    """runc's id rule: ^[\\w+-\\.]+$ (letters, digits, _ and the range + , - .), not . or .."""
    if not cid:
        raise InvalidArgument(EMPTY_ID)
    if cid in (".", "..") or len(cid) > 1024 or not all(c.isascii() and (c.isalnum() or c in "_+,-.") for c in cid):
        raise InvalidArgument(INVALID_ID)
    return cid


def rfc3339(seconds: float) -> str:
    ns = int(round(seconds * 1e9))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


class Container:
    """One container's state directory and its state (spec.State's JSON, as a dict)."""

    __slots__ = ("dir", "state", "_config")

    def __init__(self, directory: str, state: dict) -> None:
        self.dir, self.state, self._config = directory, state, None

    @property
    def id(self) -> str:
        return self.state["id"]

    @property
    def pid(self) -> int:
        return self.state.get("pid", 0)

    @property
    def pid_start(self) -> int:
        return self.state.get("pidStart", 0)

    @property
    def cgroup(self) -> dict[str, str]:
        """The group's directories: hierarchy or controller -> directory."""
        return self.state.get("cgroup", {})

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, FIFO)

    def save(self, state) -> None:
        """Write a spec.State as state.json (create's; validated by the model)."""
        self.state = state.to_json(source=os.path.join(self.dir, STATE))
        atomic_write(os.path.join(self.dir, STATE), _cjson.dumps(self.state).encode(), fsync=False)

    def config(self) -> dict:
        """config.json as created, as JSON (not the spec model: see the module's docstring)."""
        if self._config is None:
            try:
                with open(os.path.join(self.dir, CONFIG), "rb") as f:
                    self._config = _cjson.loads(f.read())
            except (OSError, ValueError):
                self._config = {}
        return self._config

    @property
    def rootfs(self) -> str:
        path = (self.config().get("root") or {}).get("path", "")
        return os.path.normpath(os.path.join(self.state.get("bundle", ""), path)) if path else ""

    def running(self) -> bool:
        return alive(self.pid, self.pid_start)

    def frozen(self) -> bool:
        return cgroupfs.frozen(self.cgroup)

    def pids(self) -> list[int]:
        """Every process of its cgroup."""
        return cgroupfs.procs(self.cgroup.values())

    def status(self) -> str:
        if self.state.get("status") == "creating":
            return "creating" if alive(self.state.get("creatorPid", 0), self.state.get("creatorStart", 0)) \
                else "stopped"
        if not self.running():
            return "stopped"
        if self.frozen():  # runc's order: a created container may be paused too
            return "paused"
        return "created" if os.path.exists(self.fifo) else "running"

    def oci_state(self, status: str | None = None) -> dict:
        """runc's `state` JSON: the OCI state (state-schema.json) and runc's rootfs, created, owner."""
        status = status or self.status()
        out = {"ociVersion": self.state.get("ociVersion", OCI_VERSION), "id": self.id,
               "pid": 0 if status == "stopped" else self.pid, "status": status, "bundle": self.state["bundle"],
               "rootfs": self.rootfs, "created": rfc3339(self.state.get("createdAt") or 0), "owner": ""}
        if self.state.get("annotations"):
            out["annotations"] = self.state["annotations"]
        return out

    def hook_state(self, status: str) -> str:
        """The OCI state a hook reads on its stdin."""
        state = self.oci_state(status)
        return _cjson.dumps({k: state[k] for k in OCI_KEYS if k in state})


def cgroups_path(cid: str, config_path: str | None) -> str:
    """The container's cgroup, relative to each hierarchy: config.json's, or ours."""
    return config_path or f"/{DEFAULT_CGROUP_PARENT}/{cid}"


def container_dir(root: str, cid: str) -> str:
    return os.path.join(root, check_id(cid))


def load(root: str, cid: str) -> Container:
    d = container_dir(root, cid)
    try:
        with open(os.path.join(d, STATE), "rb") as f:
            state = _cjson.loads(f.read())
        if not isinstance(state, dict) or not isinstance(state.get("id"), str) or "bundle" not in state:
            raise ValueError("not a container state")
    except FileNotFoundError:
        raise NotFound(NOT_EXIST) from None
    except (ValueError, UnicodeDecodeError):
        raise BockerError(f"the state of container {cid} is unreadable ({d}/{STATE}): "
                          f"delete it with `delete --force {cid}`") from None
    return Container(d, state)


def ids(root: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return []
