"""bocker-runc's runtime: runc's lifecycle (runtime-spec runtime.md) over the engine's one path
from a spec to pid 1. runc.py parses runc's command line and calls the Runtime's verbs.

    create ID   the bundle's config.json -> its cgroup, limits and devices policy -> pid 1 in
                its namespaces and root, waiting on the exec fifo; the state written (create.py)
    start ID    opens the fifo for reading: pid 1 goes on to exec; poststart hooks (lifecycle.py)
    state ID    created (pid 1 waits: the fifo is there) | running | paused (frozen) | stopped
                (state.py: the state in the engine's format, the status as runc reads it)
    kill, delete, ps, events, pause, resume, update (lifecycle.py); exec (exec.py)

    words.py    runc's words for every error its callers read, and its logging
    state.py    a container's directory, state.json (spec.State's format), its status
    bundle.py   config.json read and checked; `spec` and `features`
    create.py   create: the cgroup through the driver, pid 1 forked, served until READY
    lifecycle.py  start/run, kill, delete; ps, events, pause, resume, update
    exec.py     exec; consoles, the foreground's relay and signals

There is no monitor of ours between the caller and the container: what runs is the caller's
child. State lives in ROOT/ID/ (ROOT: --root, default /run/bocker-runc).

Stdlib only, and the verbs a caller runs per container besides create (start, kill, delete,
delete --force) import only os, time, select and _cjson (json's own C functions): here even
`json` (re, enum) costs as much as a whole runc start (benchmarks/bench_runc.py). The spec
model, init and the cgroup drivers come with create, exec, pause, resume, update, events:
each verb imports its module when it is called.
"""

from __future__ import annotations

from ...fileio import atomic_write  # noqa: F401  (the one atomic write: tests/unit/test_faces.py)
from . import state as _state
from .state import DEFAULT_ROOT, Container
from .words import Log, go_strerror  # noqa: F401  (runc.py's)


class Runtime:
    """The verbs of runc's command line on the containers under `root`; each lives in the
    module of its concept (above), imported when it is called."""

    def __init__(self, root: str = DEFAULT_ROOT, log: Log | None = None) -> None:
        import os
        self.root = os.path.abspath(root)
        self.log = log or Log()

    def load(self, cid: str) -> Container:
        return _state.load(self.root, cid)

    def ids(self) -> list[str]:
        return _state.ids(self.root)

    def create(self, cid: str, bundle: str | None = None, **kw) -> Container:
        from .create import create
        return create(self, cid, bundle, **kw)

    def run(self, cid: str, bundle: str | None = None, **kw) -> int:
        from .lifecycle import run
        return run(self, cid, bundle, **kw)

    def start(self, cid: str) -> None:
        from .lifecycle import start
        start(self, cid)

    def state(self, cid: str) -> dict:
        return self.load(cid).oci_state()

    def list(self) -> list[dict]:
        from ....errors import BockerError
        out = []
        for cid in self.ids():
            try:
                out.append(self.load(cid).oci_state())
            except BockerError:
                continue
        return out

    def kill(self, cid: str, sig: str = "SIGTERM", all: bool = False) -> None:
        from .lifecycle import kill
        kill(self, cid, sig, all)

    def delete(self, cid: str, force: bool = False) -> None:
        from .lifecycle import delete
        delete(self, cid, force)

    def pids(self, cid: str) -> list[int]:
        from .lifecycle import pids
        return pids(self, cid)

    def stats(self, cid: str) -> dict | None:
        from .lifecycle import stats
        return stats(self, cid)

    def pause(self, cid: str) -> None:
        from .lifecycle import pause
        pause(self, cid)

    def resume(self, cid: str) -> None:
        from .lifecycle import resume
        resume(self, cid)

    def update(self, cid: str, resources: dict) -> None:
        from .lifecycle import update
        update(self, cid, resources)

    def check_exec(self, c: Container, ignore_paused: bool = False) -> None:
        from .exec import check_exec
        check_exec(c, ignore_paused)

    def exec(self, cid: str, process: dict, **kw) -> int:
        from .exec import exec_
        return exec_(self, cid, process, **kw)

    def exec_process(self, cid: str, args: list[str], **kw) -> dict:
        from .exec import exec_process
        return exec_process(self, cid, args, **kw)
