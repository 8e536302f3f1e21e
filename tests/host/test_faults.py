"""Faults and bad input: one clear line, a non-zero status, nothing half-made (issue 11's
findings, each as a test): a full BOCKER_ROOT, truncated state files, a zombie monitor, races
between verbs (windows widened with the engine's pause points), the port relay and a
half-closed client, a long command line, archives that are not archives, names that only
look valid."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.hostcheck import leftovers
from tests.support.session import BOCKER, CGROUP_PARENT, SESSION_ROOT, bocker


def clean(root) -> list[str]:
    return leftovers(str(root), CGROUP_PARENT, only_children=True)


def entries(root: Path) -> dict[str, list[str]]:
    return {sub: sorted(p.name for p in (root / sub).iterdir()) if (root / sub).is_dir() else []
            for sub in ("containers", "tmp", "network/bridge")}


# -- a full file system ------------------------------------------------------------------------
@pytest.fixture
def full_root():
    """A BOCKER_ROOT on a small tmpfs, with the built-in image made, then filled up."""
    root = SESSION_ROOT / f"full-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "bocker-test-full", str(root)], check=True)
    try:
        env = {"BOCKER_ROOT": str(root)}
        bocker("init", "--busybox", env=env, check=True)
        bocker("network", "ls", env=env, check=True)
        filler = root / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        yield root, env, filler
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_a_full_bocker_root_is_one_line_and_leaves_nothing(full_root):
    root, env, filler = full_root
    before = entries(root)
    for args in (["run", "busybox", "true"], ["run", "-d", "busybox", "sleep 5"]):
        r = bocker(*args, env=env)
        assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
        assert "No space left on BOCKER_ROOT" in r.stderr and "free space or move BOCKER_ROOT" in r.stderr
        assert entries(root) == before  # no container, no lease, nothing half-made
    assert [x for x in clean(root) if x != f"mount {root}"] == []  # the tmpfs itself is the test's
    filler.unlink()  # space freed: it works again
    r = bocker("run", "busybox", "echo back", env=env)
    assert r.returncode == 0 and r.stdout == "back\n"


def test_a_pull_onto_a_full_root(full_root, tmp_path):
    from tests.support.registry_fixtures import Registry, missing_tools
    if missing_tools():
        pytest.skip(f"needs {missing_tools()}")
    root, env, filler = full_root
    reg = Registry(tmp_path / "registry")
    try:
        other = {"BOCKER_ROOT": str(tmp_path / "other")}
        bocker("init", "--busybox", env=other, check=True)
        bocker("push", "busybox", f"{reg.host}/full/busybox:1", env=other, check=True)
        before = entries(root)
        r = bocker("pull", f"{reg.host}/full/busybox:1", env=env)
        assert r.returncode != 0 and "No space left on BOCKER_ROOT" in r.stderr.splitlines()[-1], r.stderr
        assert "Traceback" not in r.stderr
        assert r.stderr.count("\n") == 1, r.stderr  # one line, not the bars' and threads' too
        assert entries(root) == before
    finally:
        reg.stop()


# -- files that are not what they should be ----------------------------------------------------
def test_a_truncated_state_json_is_listed_removable_and_repaired(fresh_root):
    bocker("run", "--name", "victim", "busybox", "true", check=True)
    cid = next((fresh_root / "containers").iterdir()).name
    (fresh_root / "containers" / cid / "state.json").write_text('{"ociVers')
    shown = bocker("inspect", cid)
    assert shown.returncode == 0 and '"Status": "broken"' in shown.stdout
    for verb in (["images"], ["ps"], ["run", "busybox", "true"], ["stats"]):
        r = bocker(*verb)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (verb, r.stderr)
    assert "broken" in bocker("ps").stdout or "broken" in bocker("inspect", cid).stdout
    r = bocker("gc")
    assert f"Removed: state of {cid}: repaired" in r.stdout
    assert '"Status": "exited (255)"' in bocker("inspect", cid).stdout
    (fresh_root / "containers" / cid / "state.json").write_text("")
    assert bocker("rm", cid).stdout == f"Removed: {cid}\n"  # a broken one is removable too


def test_a_container_whose_record_is_lost_is_removed_by_gc(fresh_root):
    bocker("run", "busybox", "true", check=True)
    cid = next((fresh_root / "containers").iterdir()).name
    (fresh_root / "containers" / cid / "container.json").write_text("{not json")
    r = bocker("gc")
    assert f"Removed: broken container {cid}" in r.stdout
    assert not (fresh_root / "containers" / cid).exists()


def test_a_broken_image_record(fresh_root, tmp_path):
    bocker("init", "--busybox", check=True)
    (tmp_path / "f").write_text("x")
    made = bocker("init", str(tmp_path), "--name", "mine", check=True).stdout.split()[-1]
    (fresh_root / "images" / f"{made}.json").write_text('{"id": "img_')
    r = bocker("images")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert bocker("run", "busybox", "echo fine").stdout == "fine\n"  # other images are not affected
    r = bocker("run", made, "true")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "broken" in r.stderr, r.stderr
    assert bocker("rmi", made).stdout == f"Removed: {made}\n"
    assert not (fresh_root / "images" / f"{made}.json").exists()


def test_gc_removes_broken_image_records(fresh_root, tmp_path):
    (tmp_path / "f").write_text("y")
    made = bocker("init", str(tmp_path), check=True).stdout.split()[-1]
    (fresh_root / "images" / f"{made}.json").write_text("[")
    r = bocker("gc")
    assert f"Removed: broken image {made}" in r.stdout


def test_a_zombie_monitor_counts_as_dead():
    from bocker_magics.engine.container.status import pid_alive as _pid_alive
    from bocker_magics.engine.kernel.linux import process_start_time
    child = subprocess.Popen(["sleep", "0"])
    start = process_start_time(child.pid)
    time.sleep(0.3)  # it has exited: a zombie until waited for
    with open(f"/proc/{child.pid}/stat") as f:
        assert f.read().split(") ")[1][0] == "Z"
    assert not _pid_alive(child.pid, start)
    child.wait()


# -- races, the windows widened -----------------------------------------------------------------
def test_commit_while_rm_of_the_same_container(fresh_root, tmp_path):
    bocker("run", "-d", "--name", "both", "busybox", "echo kept > /kept; sleep 30", check=True)
    time.sleep(0.3)
    commit = subprocess.Popen([BOCKER, "commit", "both", f"both-img:{os.getpid()}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "BOCKER_PAUSE_AT": "commit", "BOCKER_PAUSE_SECONDS": "1.5",
                                   "BOCKER_PAUSE_MARK": str(tmp_path / "paused")})
    _wait_paused(tmp_path / "paused")  # commit holds the container's lock, paused
    rm = bocker("rm", "-f", "both")
    out, err = commit.communicate(timeout=30)
    assert commit.returncode == 0 and out.startswith("Created: img_"), err
    assert rm.returncode == 0  # it waited for the commit
    # the image has the container's files
    assert bocker("run", f"both-img:{os.getpid()}", "cat /kept").stdout == "kept\n"


def _wait_paused(mark, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not mark.exists():
        assert time.monotonic() < deadline, "the command never reached its pause point"
        time.sleep(0.01)


def test_rmi_while_a_run_of_the_image_starts(fresh_root, tmp_path):
    bocker("init", "--busybox", check=True)
    (tmp_path / "f").write_text("z")
    made = bocker("init", str(tmp_path), "--name", "racy", check=True).stdout.split()[-1]
    run = subprocess.Popen([BOCKER, "run", "-d", "racy", "sleep 30"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "BOCKER_PAUSE_AT": "create", "BOCKER_PAUSE_SECONDS": "1.5",
                                "BOCKER_PAUSE_MARK": str(tmp_path / "paused")})
    _wait_paused(tmp_path / "paused")  # the run has found the image and waits before taking the lock
    rmi = bocker("rmi", "racy")
    out, err = run.communicate(timeout=30)
    assert rmi.returncode == 0
    # the run sees the image is gone: one line, nothing made; never a container on missing layers
    assert run.returncode != 0 and "removed meanwhile" in err and err.count("\n") == 1, (out, err)
    assert list((fresh_root / "containers").iterdir()) == []
    assert not (fresh_root / "images" / f"{made}.json").exists()


def test_rmi_after_a_run_took_the_image_only_untags_it(fresh_root):
    bocker("run", "--name", "base", "busybox", "printf w > /f", check=True)
    made = bocker("commit", "base", "used", check=True).stdout.split()[-1]
    bocker("rm", "base", check=True)
    bocker("run", "-d", "used", "sleep 30", check=True)
    assert bocker("rmi", "used").returncode == 0
    layers = json.loads((fresh_root / "images" / f"{made}.json").read_text())["layers"]
    assert all((fresh_root / "layers" / "sha256" / d.split(":")[1]).is_dir() for d in layers)
    cid = next((fresh_root / "containers").iterdir()).name
    assert bocker("exec", cid, "cat", "/f").stdout == "w"
    bocker("rm", "-f", cid, check=True)


# -- the port relay and a client that half-closes ---------------------------------------------
def test_a_half_closed_client_gets_the_whole_answer(engine, busybox):
    port = free_port()
    r = engine.run(busybox, "mkdir -p /www; echo hello-through-the-relay > /www/index.html; httpd -f -p 80 -h /www",
                   detach=True, publish=[f"127.0.0.1:{port}:80"])
    try:
        deadline = time.monotonic() + 10
        answer = b""
        while time.monotonic() < deadline and b"200" not in answer:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
                    s.shutdown(socket.SHUT_WR)  # "I'm done sending": the answer must still come
                    while chunk := s.recv(65536):
                        answer += chunk
            except OSError:
                time.sleep(0.1)
        assert b"200 OK" in answer and b"hello-through-the-relay" in answer
    finally:
        engine.rm(r.id, force=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- long command lines ------------------------------------------------------------------------
def test_a_command_longer_than_the_kernel_takes_is_one_line(busybox, assert_nothing_left):
    # 1 MB of words: the seed's semantics join them into one argument of sh -c, which the
    # kernel caps at 128 KiB
    r = bocker("run", "busybox", "echo", *(["x" * 999] * 1000))
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "too long" in r.stderr
    assert_nothing_left()


def test_a_1mb_exec_command_line_runs(engine, busybox):
    r = engine.run(busybox, "sleep 30", detach=True, network="none")
    try:
        words = ["x" * 999] * 1000  # 1 MB in a thousand arguments: within ARG_MAX
        out = engine.exec(r.id, ["sh", "-c", 'echo "$#"', "sh", *words])
        assert out.exit_code == 0 and out.text == "1000\n"
    finally:
        engine.rm(r.id, force=True)


# -- archives and names ------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "random"])
def test_load_of_something_that_is_not_an_archive(tmp_path, content, assert_nothing_left):
    path = tmp_path / "x.tar"
    path.write_bytes(content)
    r = bocker("load", str(path))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "is not an image archive" in r.stderr, r.stderr
    assert_nothing_left()


@pytest.mark.parametrize("args", [
    ["run", "--name", "web\n", "busybox", "true"], ["init", "--busybox"],
    ["run", "--hostname", "hôst", "busybox", "true"], ["run", "-v", "/etc:/sys", "busybox", "true"],
    ["run", "-v", "/etc:/proc", "busybox", "true"], ["run", "-v", "/tmp:/dev/x", "busybox", "true"],
    ["run", "--mount", "type=bind,source=/etc,target=/proc/sys", "busybox", "true"],
])
def test_names_and_mounts_that_only_look_valid(args, tmp_path, busybox, assert_nothing_left):
    if args == ["init", "--busybox"]:
        (tmp_path / "f").write_text("x")
        args = ["init", str(tmp_path), "--name", "img\n"]
    r = bocker(*args)
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
    assert_nothing_left()
