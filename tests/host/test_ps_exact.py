"""`ps` through the bocker server (a long-lived engine that keeps each container's parsed
files, its monitor's pidfd and its freezer file open: container/snapshots.py, probes.py) is
exact: whatever changed a container (pause, unpause, stop, start, restart, rename, kill -9 of
its monitor, rm), the very next `ps` says so, with no wait; and it says it to a second
server of the same root, which keeps its own."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, bocker


def table() -> dict[str, str]:
    out = bocker("ps", "--format", "{{.Names}} {{.Status}}", check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_ps_shows_every_change_at_once(fresh_root):
    for name in ("pa", "pb", "pc"):
        bocker("run", "-d", "--network", "none", "--name", name, "busybox", "sleep 300", check=True)
    assert table() == {"pa": "running", "pb": "running", "pc": "running"}
    time.sleep(0.3)  # the files age past what a coarse file clock could hide: from now on, kept
    assert table() == {"pa": "running", "pb": "running", "pc": "running"}

    bocker("pause", "pa", check=True)
    assert table()["pa"] == "paused"
    bocker("unpause", "pa", check=True)
    assert table()["pa"] == "running"

    bocker("stop", "-t", "0", "pb", check=True)
    assert table()["pb"] == "exited (137)"
    bocker("start", "pb", check=True)
    assert table()["pb"] == "running"
    bocker("restart", "-t", "0", "pb", check=True)  # its cgroup made again: the freezer file too
    bocker("pause", "pb", check=True)
    assert table()["pb"] == "paused"
    bocker("unpause", "pb", check=True)
    assert table()["pb"] == "running"

    bocker("rename", "pc", "pd", check=True)
    assert table() == {"pa": "running", "pb": "running", "pd": "running"}

    cid = bocker("ps", "-q", "--filter", "name=^pa$", check=True).stdout.strip()
    state = json.loads((fresh_root / "containers" / cid / "state.json").read_text())
    os.kill(state["monitorPid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{state['monitorPid']}") and time.monotonic() < deadline:
        time.sleep(0.01)  # reaped by its reaper: gone, not a zombie, from here on
    assert table()["pa"] == "dead"
    # another engine of the same root (no server: the command in its own process) agrees
    assert bocker("ps", "--format", "{{.Names}} {{.Status}}", env={"BOCKER_NO_SERVER": "1"},
                  check=True).stdout.splitlines()[0] == "pa dead"
    assert "Removed: state of" in bocker("gc", check=True).stdout
    assert table()["pa"] == "exited (255)"

    bocker("rm", "-f", "pa", "pb", check=True)
    assert table() == {"pd": "running"}
    bocker("rm", "-f", "pd", check=True)
    assert table() == {}
    assert leftovers(str(fresh_root), CGROUP_PARENT, only_children=True) == []


def test_a_killed_monitor_is_dead_at_once_even_unreaped(fresh_root):
    """A monitor killed and not yet reaped (a zombie) is dead to ps already."""
    bocker("run", "-d", "--network", "none", "--name", "pz", "busybox", "sleep 300", check=True)
    time.sleep(0.3)
    assert table() == {"pz": "running"}
    cid = bocker("ps", "-q", check=True).stdout.strip()
    monitor = json.loads((fresh_root / "containers" / cid / "state.json").read_text())["monitorPid"]
    os.kill(monitor, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _running(monitor) and time.monotonic() < deadline:
        time.sleep(0.005)  # until the signal has landed: a zombie, or gone
    assert table()["pz"] == "dead"
    bocker("gc", check=True)
    bocker("rm", "-f", "pz", check=True)
    assert leftovers(str(fresh_root), CGROUP_PARENT, only_children=True) == []


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b") ", 1)[1][:1] not in (b"Z", b"X")
    except OSError:
        return False
