"""The container room's pure parts: the status state machine and the detach keys (no root,
no kernel)."""

from __future__ import annotations

import pytest

from bocker_magics.engine.container.attach import DetachKeys
from bocker_magics.engine.container.status import STATUSES, Status, derive
from bocker_magics.engine.spec import State

BOOT = "boot-1"


def always(pid, start) -> bool:
    return True


def never(pid, start) -> bool:
    return False


def state(**fields) -> State:
    return State(id="ps_0000000001", bundle="/b", boot_id=BOOT, monitor_pid=10, monitor_start=1, **fields)


def test_status_is_text_to_the_faces():
    assert Status.RUNNING == "running" and f"{Status.PAUSED}" == "paused" and str(Status.DEAD) == "dead"
    assert STATUSES == ("created", "restarting", "running", "paused", "exited", "dead", "failed", "broken")


@pytest.mark.parametrize("status, running, alive, may_run, ended", [
    (Status.CREATED, False, False, True, False),
    (Status.RUNNING, True, True, True, False),
    (Status.PAUSED, True, True, True, False),
    (Status.RESTARTING, False, True, True, False),
    (Status.EXITED, False, False, False, True),
    (Status.FAILED, False, False, False, True),
    (Status.DEAD, False, False, False, False),
    (Status.BROKEN, False, False, False, False),
])
def test_status_properties(status, running, alive, may_run, ended):
    assert (status.is_running, status.is_alive, status.may_run, status.has_ended) == (running, alive, may_run, ended)


def test_derive_follows_the_phase_the_monitor_and_the_freezer():
    frozen, thawed = (lambda: True), (lambda: False)
    assert derive(state(phase="created"), BOOT, thawed, never) is Status.CREATED
    assert derive(state(phase="starting"), BOOT, thawed, always) is Status.CREATED
    assert derive(state(phase="starting"), BOOT, thawed, never) is Status.DEAD
    assert derive(state(phase="running"), BOOT, thawed, always) is Status.RUNNING
    assert derive(state(phase="running"), BOOT, frozen, always) is Status.PAUSED
    assert derive(state(phase="running"), BOOT, thawed, never) is Status.DEAD
    assert derive(state(phase="running"), "another-boot", thawed, always) is Status.DEAD
    assert derive(state(phase="restarting"), BOOT, thawed, always) is Status.RESTARTING
    assert derive(state(phase="exited"), BOOT, thawed, never) is Status.EXITED
    assert derive(state(phase="failed"), BOOT, thawed, never) is Status.FAILED
    # a state without a phase: its OCI status says enough
    assert derive(state(status="stopped"), BOOT, thawed, never) is Status.EXITED


def test_detach_keys_pass_ordinary_input_and_stop_at_the_keys():
    keys = DetachKeys(b"\x10\x11")  # ctrl-p ctrl-q
    assert keys.feed(b"abc") == (b"abc", False)
    assert keys.feed(b"x\x10") == (b"x", False)       # a partial match is held back
    assert keys.feed(b"y") == (b"\x10y", False)        # ... and was ordinary input after all
    assert keys.feed(b"a\x10\x11rest") == (b"a", True)
    assert DetachKeys(None).feed(b"\x10\x11") == (b"\x10\x11", False)
