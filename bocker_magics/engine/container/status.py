"""A container's status as `ps` shows it: a state machine read from its state.json, its
monitor's liveness and its cgroup's freezer.

    created ---start---> running <---pause/unpause---> paused
       ^                  |   ^
       |                  |   +---(--restart: a new run)--- restarting
       |                 exit                                   ^
       |                  v                                     |
       +---start---- exited (failed: it never ran) -------------+
    running/paused/restarting whose monitor is gone (kill -9, a reboot) -> dead (gc cleans up)
    a record or state that can't be read -> broken (gc repairs or removes it)

The state file holds the engine's phase (spec.State.phase: created, starting, running,
restarting, exited, failed), written by the engine and the monitor; the status is the
phase as the host now stands.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..spec import State


class Status(StrEnum):
    """A str as well (`status == "running"` holds), so the faces print and compare it as text."""

    CREATED = "created"          # made, not running (never started, or a start that failed)
    RESTARTING = "restarting"    # between two runs of --restart
    RUNNING = "running"
    PAUSED = "paused"            # its cgroup is frozen
    EXITED = "exited"
    DEAD = "dead"                # its monitor is gone (killed, or a reboot): nobody records its end
    FAILED = "failed"            # it never ran: its start failed
    BROKEN = "broken"            # its record or state can't be read

    @property
    def is_running(self) -> bool:
        """Its pid 1 lives (frozen or not)."""
        return self in (Status.RUNNING, Status.PAUSED)

    @property
    def is_alive(self) -> bool:
        """Its monitor owns it: running, paused, or about to run again."""
        return self in (Status.RUNNING, Status.PAUSED, Status.RESTARTING)

    @property
    def may_run(self) -> bool:
        """Alive, or made and not yet run: its address lease and its log are still its own."""
        return self.is_alive or self is Status.CREATED

    @property
    def has_ended(self) -> bool:
        """It ran to its end (or never could), and its monitor cleaned up after it."""
        return self in (Status.EXITED, Status.FAILED)


STATUSES = tuple(s.value for s in Status)


def pid_alive(pid: int | None, start: int | None) -> bool:
    """True if `pid` is still the process that started at `start` (pids get reused), and is
    not a zombie (a killed monitor nobody reaped is dead)."""
    from ..kernel.procfs import alive
    return bool(start) and alive(pid, start)

# a state without a phase (written before phases existed): its OCI status says enough
_PHASE_OF_OCI_STATUS = {"creating": "starting", "created": "running", "running": "running"}


def derive(state: State, boot_id: str, frozen: Callable[[], bool], alive=pid_alive) -> Status:
    """The status of a readable state: `frozen()` reads the container's freezer (asked of
    running ones only); `alive(pid, start)` says whether that process still runs."""
    phase = state.phase or _PHASE_OF_OCI_STATUS.get(state.status, "exited")
    if phase == "created":
        return Status.CREATED
    monitor_alive = alive(state.monitor_pid, state.monitor_start)
    if phase == "starting":
        if state.monitor_pid:
            return Status.CREATED if monitor_alive else Status.DEAD
        return Status.CREATED if alive(state.creator_pid, state.creator_start) else Status.DEAD
    if phase in ("running", "restarting"):
        if state.boot_id != boot_id or not monitor_alive:
            # the machine rebooted since, or its monitor was killed: nobody will record the
            # exit or clean up (gc will)
            return Status.DEAD
        if phase == "restarting":
            return Status.RESTARTING
        return Status.PAUSED if frozen() else Status.RUNNING
    return Status.FAILED if phase == "failed" else Status.EXITED
