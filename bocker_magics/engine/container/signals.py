"""Signals and waiting: kill (a signal to pid 1), stop (its stop signal, then SIGKILL), wait.

The monitor is the container's parent and records its end; these only send and watch.
A stop or kill the user asked for leaves a mark (STOP_MARK) so --restart does not bring it
back.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from typing import TYPE_CHECKING

from ...errors import Conflict, InvalidArgument
from ..runtime.monitor import STOP_MARK
from .status import Status, pid_alive

if TYPE_CHECKING:
    from .record import Container
    from .room import Room


def signal_number(sig: str | int) -> int:
    """The one signal parser (units.py), with Docker's words for what it can't read."""
    from ..units import signal_number as parse
    try:
        return parse(sig)
    except ValueError:
        raise InvalidArgument(f"Invalid signal '{sig}': use a name like TERM, KILL, HUP or a number") from None


def mark_stopped(rooms: Room, cid: str) -> None:
    """The user stopped it: its restart policy does not bring it back."""
    (rooms.store.container_dir(cid) / STOP_MARK).touch()


def thaw_if_paused(rooms: Room, c: Container) -> None:
    """After a signal to a paused container: let it act on it (a frozen task does not)."""
    if c.status is Status.PAUSED:
        group = rooms.cgroup(c.id)
        if group is not None and group.exists():
            group.thaw()


def kill(rooms: Room, ref: str, sig: str | int = "KILL", *, stopping: bool = True) -> str:
    """Send a signal to the container's pid 1 (`bocker kill -s SIG`)."""
    signum = signal_number(sig)
    c = rooms.get(ref)
    if not c.running or not pid_alive(c.state.pid, c.state.pid_start):
        raise Conflict(f"Container '{ref}' exists but is not running")
    if stopping and signum in (signal.SIGKILL, signal.SIGTERM):
        mark_stopped(rooms, c.id)
    with contextlib.suppress(ProcessLookupError):
        os.kill(c.state.pid, signum)
    stop_signal = c.record.stop_signal if c.record is not None else "SIGTERM"
    if stopping and c.status is Status.PAUSED and signum in (signal.SIGKILL, signal.SIGTERM,
                                                             signal_number(stop_signal)):
        # a frozen task acts on no signal: stop, kill and rm -f of a paused container
        # thaw it once the signal is sent (another signal waits for unpause)
        thaw_if_paused(rooms, c)
    return c.id


def stop(rooms: Room, ref: str, timeout: float | None = None) -> str:
    """Its stop signal (SIGTERM, or --stop-signal, or the image's StopSignal), then SIGKILL
    after `timeout` seconds (its --stop-timeout, or 10). A pid 1 that has no handler for
    the signal ignores it (the kernel protects a namespace's init), as in Docker."""
    c = rooms.get(ref)
    if timeout is None:
        timeout = c.record.stop_timeout if c.record is not None else 10
    if c.status is Status.RESTARTING:
        mark_stopped(rooms, c.id)
        wait(rooms, c.id, timeout=timeout)
        return c.id
    if c.running:
        with contextlib.suppress(Conflict):
            kill(rooms, c.id, c.record.stop_signal if c.record is not None else "TERM")
        mark_stopped(rooms, c.id)
        if wait(rooms, c.id, timeout=timeout) is None:
            with contextlib.suppress(Conflict):
                kill(rooms, c.id, "KILL")
            wait(rooms, c.id, timeout=30)
    return c.id


POLL = 0.02       # seconds between looks at the state, while nothing tells of a change
POLL_HELD = 0.25  # at most, while the monitor's pidfd tells of its exit


def wait(rooms: Room, ref: str, timeout: float | None = None) -> int | None:
    """Block until the container is no longer running; its exit code (None on timeout).

    A monitor records the end, then exits, unless a restart follows (its --restart, and no
    stop asked for). Where none can follow, its exit wakes the wait at once (a pidfd), and
    the state is read again only now and then meanwhile, less often as time goes by: a stop
    of many (each in a thread of the server) leaves the CPU to the monitors recording their
    ends. Else (a restart may come, within 100 ms: this run's end must be seen before it),
    or without a pidfd, the state is read every POLL."""
    cid = rooms.get(ref).id
    deadline = None if timeout is None else time.monotonic() + timeout
    watch = _MonitorWatch()
    stop_mark = rooms.store.container_dir(cid) / STOP_MARK
    try:
        while True:
            c = rooms.load(cid)
            if not c.status.is_alive and not c.starting:
                return c.exit_code
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            last_run = c.record is None or c.record.restart.name == "no" or stop_mark.exists()
            pause = watch.pause(c.state) if last_run else POLL
            if deadline is not None:
                pause = min(pause, deadline - now)
            watch.wait(pause)
    finally:
        watch.close()


class _MonitorWatch:
    """The pidfd of the monitor a wait watches (the state's monitor_pid, checked against its
    start time), and how long to wait on it next."""

    def __init__(self) -> None:
        self.key: tuple[int, int] | None = None
        self.fd: int | None = None
        self.step = POLL

    def pause(self, state) -> float:
        key = (state.monitor_pid, state.monitor_start) if state is not None else None
        if key != self.key:  # another monitor (a restart by another engine): watch that one
            self.close()
            self.key, self.step = key, POLL
            self.fd = _pidfd(*key) if key is not None else None
        if self.fd is None:
            return POLL
        pause, self.step = self.step, min(self.step * 1.5, POLL_HELD)
        return pause

    def wait(self, seconds: float) -> None:
        if self.fd is None:
            time.sleep(max(0.0, seconds))
            return
        if select.select([self.fd], [], [], max(0.0, seconds))[0]:
            self.close()  # it exited: what it recorded is read now (and every POLL, if not yet)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _pidfd(pid: int | None, start: int | None) -> int | None:
    """A pidfd of `pid` if it is the process that started at `start`, else None (read
    every POLL)."""
    if not pid or not start:
        return None
    from .probes import pidfd_of
    return pidfd_of(pid, start)[0]
