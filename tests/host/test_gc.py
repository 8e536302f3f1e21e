"""Crash safety: a run that fails halfway leaves the host as it was, and after kill -9 of
the engine or of a container's monitor at any step, `bocker gc` leaves a clean host."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, ENGINE_KILLED, bocker


def clean(root) -> list[str]:
    return leftovers(str(root), CGROUP_PARENT, only_children=True)


@pytest.mark.parametrize("step", ["created", "starting", "cgroup", "forked", "running", "exited"])
def test_kill_9_at_each_step_then_gc_leaves_a_clean_host(fresh_root, step):
    bocker("init", "--busybox", check=True)
    command = "true" if step == "exited" else "sleep 30"  # "exited": after pid 1 exits
    r = bocker("run", "--name", "victim", "busybox", command, env={"BOCKER_CRASH_AT": step})
    assert r.returncode != 0
    if step == "created":  # the engine itself was killed
        assert r.returncode == ENGINE_KILLED
    else:
        assert r.stderr == f"The monitor of container {_cid(fresh_root)} was killed: run 'bocker gc' to remove what it left\n"
    ps = bocker("ps", "--format", "table").stdout.splitlines()
    assert ps[1].split("\t\t")[2] == "dead", ps
    r = bocker("gc")
    assert r.returncode == 0 and "Removed: state of" in r.stdout
    assert clean(fresh_root) == []
    assert bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "exited (255)"
    state = json.loads((fresh_root / "containers" / _cid(fresh_root) / "state.json").read_text())
    assert "gc" in state["error"]
    assert bocker("rm", "victim").returncode == 0
    assert bocker("gc").stdout == ""  # nothing more to do


def _cid(root) -> str:
    return next((root / "containers").iterdir()).name


def test_kill_9_of_the_engine_during_init_then_gc(fresh_root, tmp_path):
    (tmp_path / "f").write_text("x")
    r = bocker("init", str(tmp_path), env={"BOCKER_CRASH_AT": "init-copied"})
    assert r.returncode == ENGINE_KILLED
    assert list((fresh_root / "tmp").iterdir())  # the half-made layer
    out = bocker("gc", check=True).stdout
    assert out.startswith("Removed: half-made init-")
    assert list((fresh_root / "tmp").iterdir()) == [] and list((fresh_root / "images").iterdir()) == []


def test_kill_9_of_the_starting_engine_leaves_the_container_running(fresh_root):
    # The engine is not the container's parent: a killed `bocker run` changes nothing.
    import subprocess

    from tests.support.session import BOCKER
    p = subprocess.Popen([BOCKER, "run", "busybox", "echo up; sleep 30"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    p.kill()
    p.wait()
    assert bocker("gc").stdout == ""  # nothing is garbage: it runs, with its monitor
    assert bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "running"
    bocker("rm", "-f", _cid(fresh_root), check=True)
    assert clean(fresh_root) == []


def test_stale_running_state_after_a_reboot_is_corrected(fresh_root):
    bocker("run", "busybox", "true", check=True)
    cid = _cid(fresh_root)
    path = fresh_root / "containers" / cid / "state.json"
    state = json.loads(path.read_text())
    state.update(status="running", phase="running", bootId="0" * 36, monitorPid=1, monitorStart=0, pid=1, pidStart=0)
    path.write_text(json.dumps(state))
    assert bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "dead"
    assert f"Removed: state of {cid}: exited (255)" in bocker("gc").stdout
    assert bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "exited (255)"


def test_half_written_state_files_are_removed(fresh_root):
    bocker("run", "busybox", "true", check=True)
    cid = _cid(fresh_root)
    tmp = fresh_root / "containers" / cid / "state.json.999999.tmp"
    tmp.write_text("{half")
    assert f"Removed: half-written {cid}/state.json.999999.tmp" in bocker("gc").stdout
    assert not tmp.exists()


# -- a start that fails at each step leaves the host as it was ---------------------------
def test_a_limit_the_kernel_refuses(fresh_root, assert_nothing_left):
    bocker("init", "--busybox", check=True)
    before = set((fresh_root / "containers").iterdir())
    r = bocker("run", "--cpus", "0.0005", "busybox", "true")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cpu" in r.stderr, r.stderr
    assert set((fresh_root / "containers").iterdir()) == before
    assert clean(fresh_root) == []


def test_a_missing_binary(fresh_root, tmp_path):
    (tmp_path / "empty").mkdir()
    image = bocker("init", str(tmp_path / "empty"), check=True).stdout.split()[-1]
    r = bocker("run", image, "true")
    assert r.returncode == 127 and r.stderr == "/bin/sh: No such file or directory in the container\n"
    assert list((fresh_root / "containers").iterdir()) == []
    assert clean(fresh_root) == []


def test_a_mount_error(fresh_root, tmp_path):
    (tmp_path / "x").write_text("x")
    image = bocker("init", str(tmp_path), check=True).stdout.split()[-1]
    layer = json.loads((fresh_root / "images" / f"{image}.json").read_text())["layers"][0]
    shutil.rmtree(fresh_root / "layers" / "sha256" / layer.split(":")[1])  # a layer lost on disk
    r = bocker("run", image, "true")
    assert r.returncode == 1
    assert r.stderr == "Could not mount the image's layers: No such file or directory\n"
    assert list((fresh_root / "containers").iterdir()) == []
    assert clean(fresh_root) == []
