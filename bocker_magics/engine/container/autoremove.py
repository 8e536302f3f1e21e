"""--rm of a detached container: removed (with its anonymous volumes) once it has ended, as
Docker's daemon does, with no bocker process up.

An attached run (`bocker run --rm`, `docker run --rm`) is removed by the engine that streams
it, as soon as the run's result is in (launch.py). A detached one has nobody waiting: its
Launch carries an exit command (exit_command below) that its monitor starts once the end is
recorded in state.json and the cgroup, lease and ports are gone (runtime/exitcommand.py, as
conmon's --exit-command). That command is this module in a fresh interpreter: an engine on
the same BOCKER_ROOT, which removes the container from its exit record if it is still
ended (a container started again meanwhile is left to its new run). `bocker gc` does the same
for one whose exit command never ran (its monitor killed, the command failed).

    monitor: state.json exited -> cleanup -> spawn python -I -c BOOT PARENT ROOT CGROUP_PARENT ID
    here:    container lock -> still exited and --rm? -> rm -v (removal.py)

`restart` holds the container's lock from its stop to its new start, so the removal its stop
set off finds the container running again and leaves it, as Docker keeps an --rm container
across a restart.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import NotFound

if TYPE_CHECKING:
    from .room import Room

# How the monitor starts it: `python -I -c BOOT PACKAGE_PARENT ROOT CGROUP_PARENT ID` (site
# kept: the removal may need pyroute2 for a veth left behind)
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from bocker_magics.engine.container.autoremove import main; main(sys.argv[2:])")


def exit_command(rooms: Room, cid: str) -> list[str]:
    """The argv a detached --rm container's monitor starts at its end."""
    import bocker_magics
    package_parent = str(Path(bocker_magics.__file__).resolve().parent.parent)
    return [sys.executable, "-I", "-c", BOOT, package_parent, str(rooms.store.root), rooms.cgroup_parent, cid]


def remove_if_ended(rooms: Room, cid: str) -> bool:
    """Remove an --rm container whose run has ended, with its anonymous volumes; True if it
    was removed. One running again, or gone, is left; so is one whose start failed (the
    engine that started it reports that, and run's undo removes it)."""
    from .removal import _rm
    from .status import Status
    try:
        with rooms.store.container_lock(cid):
            c = rooms.load(cid)
            if c.record is None or not c.record.auto_remove or c.status is not Status.EXITED:
                return False
            _rm(rooms, c, force=False, volumes=True)
            return True
    except NotFound:
        return False


def main(argv: list[str]) -> None:
    root, cgroup_parent, cid = argv
    from ..engine import Engine
    engine = Engine(root, cgroup_parent=cgroup_parent)
    try:
        remove_if_ended(engine.containers, cid)
    finally:
        engine.close()
