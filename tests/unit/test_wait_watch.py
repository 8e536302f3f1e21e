"""wait()'s watch of a container's monitor (engine/container/signals.py): a pidfd of the
monitor the state names, its exit waking the wait at once, the state read less often
meanwhile; anything it cannot hold (no such process, another process on that pid) is read
every POLL. A real process plays the monitor; no root."""

from __future__ import annotations

import subprocess
import time

from bocker_magics.engine.container import signals
from bocker_magics.engine.kernel.procfs import start_time


class State:
    def __init__(self, pid: int, start: int) -> None:
        self.monitor_pid, self.monitor_start = pid, start


def test_the_monitors_exit_wakes_the_wait_at_once():
    proc = subprocess.Popen(["sleep", "30"])
    watch = signals._MonitorWatch()
    try:
        state = State(proc.pid, start_time(proc.pid))
        pauses = [watch.pause(state) for _ in range(12)]
        assert pauses[0] == signals.POLL and pauses == sorted(pauses) and pauses[-1] == signals.POLL_HELD
        proc.kill()
        t = time.monotonic()
        watch.wait(10)
        assert time.monotonic() - t < 5  # woken by the exit, not by the 10 s
        assert watch.pause(state) == signals.POLL  # then read every POLL until the state says so
    finally:
        watch.close()
        proc.kill()
        proc.wait()


def test_a_pid_that_is_not_the_monitor_is_read_every_poll():
    proc = subprocess.Popen(["sleep", "30"])
    watch = signals._MonitorWatch()
    try:
        assert watch.pause(State(proc.pid, start_time(proc.pid) + 1)) == signals.POLL  # another start: reused
        assert watch.fd is None
        assert watch.pause(State(0, 0)) == signals.POLL
        assert watch.pause(None) == signals.POLL
        t = time.monotonic()
        watch.wait(signals.POLL)
        assert time.monotonic() - t < 1
    finally:
        watch.close()
        proc.kill()
        proc.wait()


def test_another_monitor_in_the_state_is_watched_instead():
    a, b = subprocess.Popen(["sleep", "30"]), subprocess.Popen(["sleep", "30"])
    watch = signals._MonitorWatch()
    try:
        for _ in range(5):
            watch.pause(State(a.pid, start_time(a.pid)))
        assert watch.pause(State(b.pid, start_time(b.pid))) == signals.POLL  # a new monitor: from the start
        a.kill()
        a.wait()
        watch.wait(0.05)  # the one it holds now is b's: a's exit does not wake it
        assert watch.fd is not None
    finally:
        watch.close()
        for p in (a, b):
            p.kill()
            p.wait()
