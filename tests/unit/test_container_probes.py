"""What ps asks of the host for each container, held open between calls
(container/probes.py): the same answers as /proc and the freezer files read afresh, a
monitor that died (killed, a zombie) is dead at once, and nothing is held once it is no
longer asked (the sweep), or past the limit. No root: real processes, freezer files as a
cgroup's would read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bocker_magics.engine.container.probes import Probes
from bocker_magics.engine.container.status import pid_alive
from bocker_magics.engine.kernel import cgroupfs, linux


@pytest.fixture
def child():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = None
    while start is None:
        start = linux.process_start_time(p.pid)
    yield p, start
    p.kill()
    p.wait()


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_live_process_is_held_and_its_death_seen_at_once(child):
    p, start = child
    probes = Probes()
    before = fds()
    assert probes.alive(p.pid, start) and probes.held() == 1 and fds() == before + 1
    assert probes.alive(p.pid, start)  # from the pidfd
    p.kill()
    p.wait()
    assert not probes.alive(p.pid, start) and probes.held() == 0 and fds() == before


def test_a_zombie_is_dead_held_or_not(child):
    p, start = child
    probes, fresh = Probes(), Probes()
    assert probes.alive(p.pid, start)
    os.kill(p.pid, signal.SIGKILL)
    while linux.process_start_time(p.pid) is not None and not _zombie(p.pid):
        time.sleep(0.005)
    assert _zombie(p.pid)  # not waited for yet
    assert not probes.alive(p.pid, start) and not fresh.alive(p.pid, start)
    assert not pid_alive(p.pid, start)  # as /proc says
    assert probes.held() == fresh.held() == 0


def test_another_start_time_is_another_process(child):
    p, start = child
    probes = Probes()
    assert not probes.alive(p.pid, start + 1) and not probes.alive(p.pid, 0) and not probes.alive(0, start)
    assert probes.held() == 0
    assert probes.alive(p.pid, start) and not probes.alive(p.pid, start + 1)


def test_past_the_limit_the_answers_are_read_as_before(child):
    p, start = child
    probes = Probes(limit=0)
    assert probes.alive(p.pid, start) and probes.held() == 0
    p.kill()
    p.wait()
    assert not probes.alive(p.pid, start)


def test_what_was_not_asked_since_the_last_sweep_is_closed(child, tmp_path):
    p, start = child
    probes = Probes()
    state = tmp_path / "freezer.state"
    state.write_text("THAWED\n")
    before = fds()
    assert probes.alive(p.pid, start) and not probes.frozen(str(state))
    assert probes.held() == 2 and fds() == before + 2
    probes.sweep()  # both asked since the start
    assert probes.held() == 2
    assert probes.alive(p.pid, start)
    probes.sweep()  # the freezer file was not asked since the last one
    assert probes.held() == 1
    probes.sweep()
    assert probes.held() == 0 and fds() == before
    assert probes.alive(p.pid, start)
    probes.close()
    assert probes.held() == 0 and fds() == before


def test_a_held_freezer_file_is_read_afresh_each_time(tmp_path):
    """The kernel writes a cgroup file's text at each read; here the file is changed in place."""
    v1 = tmp_path / "v1"
    v2 = tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    probes = Probes()
    state = cgroupfs.frozen_file({"freezer": str(v1), "memory": "/x"})
    events = cgroupfs.frozen_file({cgroupfs.V2_HIERARCHY: str(v2)})
    assert state == f"{v1}/freezer.state" and events == f"{v2}/cgroup.events"
    assert cgroupfs.frozen_file({"memory": "/x"}) is None
    assert not probes.frozen(state) and probes.held() == 0  # none yet: not frozen
    with open(state, "w") as f:
        f.write("THAWED\n")
    with open(events, "w") as f:
        f.write("populated 1\nfrozen 0\n")
    assert not probes.frozen(state) and not probes.frozen(events) and probes.held() == 2
    for path, text in ((state, "FROZEN\n"), (events, "populated 1\nfrozen 1\n")):
        with open(path, "r+") as f:
            f.write(text)
    assert probes.frozen(state) and probes.frozen(events)
    with open(state, "r+") as f:
        f.write("FREEZING\n")  # not yet frozen: Cgroup.is_frozen says no too
    assert not probes.frozen(state)
    probes.close()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b") ", 1)[1][:1] == b"Z"
    except OSError:
        return False


def test_a_dropped_probes_closes_what_it_held(child):
    import gc
    p, start = child
    before = fds()
    probes = Probes()
    assert probes.alive(p.pid, start) and fds() == before + 1
    del probes
    gc.collect()
    assert fds() == before
