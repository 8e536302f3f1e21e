"""The verbs Docker users type every day (issue 14), through the `bocker` command as a user
types them: pause/unpause, top, port, rename, tag, history, prune, system df, info, version,
volumes, the listings' options (ps/images -q, -n, --filter, --format), several ids, the
restart count. Bad input for each new option is one line, a non-zero status, and nothing
changed."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, bocker


def detached(*args: str) -> str:
    r = bocker("run", "-d", *args, check=True)
    cid = r.stdout.strip()
    assert re.fullmatch(r"ps_[0-9a-f]{10}", cid), r.stdout + r.stderr
    return cid


def status(ref: str) -> str:
    return bocker("ps", "--filter", f"id={ref}" if ref.startswith("ps_") else f"name=^{ref}$",
                  "--format", "{{.Status}}", check=True).stdout.strip()


def freezer_state(cid: str) -> str:
    return Path(f"/sys/fs/cgroup/freezer/{CGROUP_PARENT}/{cid}/freezer.state").read_text().strip()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- pause / unpause -----------------------------------------------------------------------
def test_pause_freezes_every_process_and_unpause_lets_them_go_on(fresh_root):
    a = detached("--name", "pa", "busybox", "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
    b = detached("--name", "pb", "busybox", "sleep 60")
    r = bocker("pause", "pa", "pb")
    assert (r.returncode, r.stdout) == (0, "pa\npb\n"), r.stderr
    assert freezer_state(a) == "FROZEN" and freezer_state(b) == "FROZEN"
    assert status("pa") == "paused" and status("pb") == "paused"
    assert "paused" in bocker("ps", "--format", "table").stdout
    counter = fresh_root / "containers" / a / "upper" / "tmp" / "n"
    n1 = counter.read_text()
    time.sleep(0.4)
    assert counter.read_text() == n1  # frozen: the loop does not move
    r = bocker("exec", "pa", "true")
    assert r.returncode == 1 and r.stderr == "Container 'pa' is paused: unpause it first (bocker unpause pa)\n"
    r = bocker("pause", "pa")
    assert r.returncode == 1 and r.stderr == "Container 'pa' is already paused\n"
    assert bocker("unpause", "pa", "pb").stdout == "pa\npb\n"
    assert status("pa") == "running" and freezer_state(a) == "THAWED"
    wait_for(lambda: counter.read_text() not in ("", n1))
    r = bocker("unpause", "pa")
    assert r.returncode == 1 and r.stderr == "Container 'pa' is not paused (running)\n"
    bocker("rm", "-f", "pa", "pb", check=True)


def test_stop_kill_and_rm_f_of_a_paused_container_work(fresh_root):
    detached("--name", "ps1", "busybox", "sleep 60")
    detached("--name", "ps2", "busybox", "sleep 60")
    bocker("pause", "ps1", "ps2", check=True)
    r = bocker("stop", "-t", "1", "ps1")
    assert (r.returncode, r.stdout) == (0, "ps1\n")
    assert status("ps1") == "exited (137)"
    r = bocker("rm", "-f", "ps2")
    assert r.returncode == 0
    bocker("rm", "ps1", check=True)
    assert leftovers(str(fresh_root), CGROUP_PARENT, only_children=True) == []


def test_commit_of_a_paused_container_leaves_it_paused(fresh_root):
    detached("--name", "pc", "busybox", "echo x > /made; sleep 60")
    wait_for(lambda: bocker("diff", "pc").stdout.count("/made") == 1)
    bocker("pause", "pc", check=True)
    assert bocker("commit", "pc", "paused:v1").returncode == 0
    assert status("pc") == "paused"
    bocker("rm", "-f", "pc", check=True)
    bocker("rmi", "paused:v1", check=True)


@pytest.mark.parametrize("verb", ["pause", "unpause"])
def test_pause_of_what_is_not_running_is_one_line_and_changes_nothing(fresh_root, verb):
    bocker("run", "--name", "done", "busybox", "true", check=True)
    for ref, message in (("done", "is not running" if verb == "pause" else "is not paused"),
                         ("nosuch", "No container named 'nosuch' exists")):
        r = bocker(verb, ref)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert status("done") == "exited (0)"
    r = bocker(verb)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


# -- top -------------------------------------------------------------------------------------
def test_top_shows_host_and_container_pids(fresh_root):
    cid = detached("--name", "tp", "busybox", "sleep 60 & sleep 61")
    exec_ = bocker("exec", "-d", "tp", "sleep", "62")
    assert exec_.returncode == 0
    wait_for(lambda: "sleep 62" in bocker("top", "tp").stdout)
    lines = bocker("top", "tp", check=True).stdout.splitlines()
    assert lines[0] == "PID\t\tCONTAINER_PID\t\tPPID\t\tUSER\t\tSTAT\t\tTIME\t\tCOMMAND"
    rows = [line.split("\t\t") for line in lines[1:]]
    by_command = {r[6]: r for r in rows}
    assert set(by_command) == {"sleep 60", "sleep 61", "sleep 62"}, rows
    pid1 = by_command["sleep 61"]  # the shell exec'd its last command: that is pid 1
    assert pid1[1] == "1" and pid1[3] == "root"
    state = json.loads((fresh_root / "containers" / cid / "state.json").read_text())
    assert int(pid1[0]) == state["pid"]  # the host's pid
    for row in rows:  # each host pid's NSpid ends with the container's pid
        nspid = [line for line in open(f"/proc/{row[0]}/status") if line.startswith("NSpid:")][0].split()
        assert nspid[1] == row[0] and nspid[-1] == row[1]
    assert by_command["sleep 60"][2] == pid1[0]  # its parent, as the host sees it
    assert by_command["sleep 62"][1] not in ("1", by_command["sleep 60"][1])  # exec'd: a pid of its own
    r = bocker("top", "tp", "aux")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no ps options" in r.stderr
    bocker("rm", "-f", "tp", check=True)
    r = bocker("top", "tp")
    assert r.returncode == 1 and r.stderr == "No container named 'tp' exists\n"


def test_top_of_a_stopped_container_is_one_line(fresh_root):
    bocker("run", "--name", "t0", "busybox", "true", check=True)
    r = bocker("top", "t0")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "is not running" in r.stderr


# -- port, rename ------------------------------------------------------------------------------
def test_port_lists_what_is_published(fresh_root):
    from bocker_magics.engine.network.ports import free_port
    p1, p2 = free_port(), free_port()
    detached("--name", "pt", "-p", f"127.0.0.1:{p1}:80", "-p", f"{p2}:53/tcp", "busybox", "sleep 60")
    r = bocker("port", "pt", check=True)
    assert r.stdout == f"53/tcp -> 0.0.0.0:{p2}\n80/tcp -> 127.0.0.1:{p1}\n"
    assert bocker("port", "pt", "80").stdout == f"127.0.0.1:{p1}\n"
    assert bocker("port", "pt", "80/tcp").stdout == f"127.0.0.1:{p1}\n"
    r = bocker("port", "pt", "81")
    assert r.returncode == 1 and r.stderr == "No public port '81/tcp' published for pt\n"
    r = bocker("port", "pt", "eighty")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Invalid port 'eighty'" in r.stderr
    assert f"0.0.0.0:{p2}->53/tcp" in bocker("ps", "--format", "{{.Ports}}").stdout
    bocker("rm", "-f", "pt", check=True)


def test_rename_a_running_container(fresh_root):
    cid = detached("--name", "old", "busybox", "sleep 60")
    detached("--name", "other", "busybox", "sleep 60")
    r = bocker("rename", "old", "new")
    assert (r.returncode, r.stdout) == (0, "")
    assert bocker("ps", "--filter", f"id={cid}", "--format", "{{.Names}}").stdout == "new\n"
    assert bocker("exec", "new", "true").returncode == 0
    for args, message in ((["new", "other"], "Container named 'other' exists"),
                          (["new", "new"], "is named 'new' already"),
                          (["new", "bad/name"], "Invalid container name"),
                          (["new", "ps_0123456789"], "Invalid container name"),
                          (["nosuch", "x"], "No container named 'nosuch' exists")):
        r = bocker("rename", *args)
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and message in r.stderr, (args, r.stderr)
    assert sorted(bocker("ps", "--format", "{{.Names}}").stdout.split()) == ["new", "other"]
    bocker("rm", "-f", "new", "other", check=True)


# -- tag, history -----------------------------------------------------------------------------
def test_tag_names_an_image_and_moves_a_name(fresh_root, tmp_path):
    bocker("init", "--busybox", check=True)
    (tmp_path / "f").write_text("x")
    other = bocker("init", str(tmp_path), "--name", "mine:v1", check=True).stdout.split()[1]
    assert bocker("tag", "busybox", "mine:v1").returncode == 0
    assert bocker("tag", "busybox", "localhost:5000/lab/box").returncode == 0
    names = bocker("images", "--format", "{{.ID}} {{.Names}}").stdout
    assert "busybox:latest,mine:v1,localhost:5000/lab/box:latest" in names
    assert f"{other} \n" in names  # the name moved: the other image is dangling now
    assert bocker("images", "-q", "--filter", "dangling=true").stdout == f"{other}\n"
    assert bocker("run", "mine:v1", "echo", "tagged").stdout == "tagged\n"
    for args, message in ((["busybox", "Bad:Name"], "Invalid image name"), (["nosuch", "x:1"], "No image named"),
                          (["busybox"], "the following arguments are required")):
        r = bocker("tag", *args)
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert "Bad" not in bocker("images", "--format", "{{.Names}}").stdout


def test_history_is_a_row_per_step_newest_first(fresh_root):
    bocker("init", "--busybox", check=True)
    bocker("run", "--name", "h", "busybox", "echo x > /added", check=True)
    bocker("commit", "h", "hist:v1", check=True)
    lines = bocker("history", "hist:v1", check=True).stdout.splitlines()
    assert lines[0] == "IMAGE\t\tCREATED\t\tCREATED_BY\t\tSIZE\t\tCOMMENT"
    rows = [line.split("\t\t") for line in lines[1:]]
    image_id = bocker("images", "-q", "hist:v1").stdout.strip()
    assert [r[0] for r in rows] == [image_id, "<missing>"]
    assert rows[0][2].startswith("bocker commit ps_") and rows[1][2].startswith("built-in BusyBox")
    assert rows[0][3] != "0 B" and rows[1][3].endswith("MiB")  # each step's layer
    assert bocker("history", "-q", "hist:v1").stdout.splitlines() == [r[0] for r in rows]
    full = bocker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "hist:v1").stdout.splitlines()
    assert full[1].startswith("built-in BusyBox") and "…" not in full[1]
    r = bocker("history", "nosuch")
    assert r.returncode == 1 and r.stderr.startswith("No image named 'nosuch' exists")


def _set_history(history: list | None) -> str:
    from bocker_magics.engine.engine import Engine
    with Engine() as e:
        img = e.busybox()
        path = e.store.image_file(img.id)
        record = json.loads(path.read_text())
        record["history"] = history
        path.write_text(json.dumps(record))
        return img.id


def test_history_of_an_image_without_one_is_made_from_its_layers_and_config(fresh_root):
    image_id = _set_history(None)  # an image made before history was kept
    rows = [line.split("\t\t") for line in bocker("history", "busybox", check=True).stdout.splitlines()[1:]]
    assert rows[0][0] == image_id and all(r[0] == "<missing>" for r in rows[1:])
    assert [r[2] for r in rows[:2]] == ['CMD ["sh"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr…"]
    assert all(r[3] == "0 B" and r[4] == "from the image's config" for r in rows[:2])
    assert rows[2][2].startswith("built-in BusyBox") and rows[2][3].endswith("MiB")
    assert len(rows) == 3


def test_history_reads_the_images_own_history(fresh_root):
    image_id = _set_history([{"created": "2024-01-02T03:04:05Z", "created_by": "ADD rootfs /", "comment": "base"},
                             {"created": "2024-01-02T03:04:06Z", "created_by": 'CMD ["sh"]', "empty_layer": True}])
    rows = [line.split("\t\t") for line in bocker("history", "busybox", check=True).stdout.splitlines()[1:]]
    assert [(r[2], r[3] == "0 B", r[4]) for r in rows] == [('CMD ["sh"]', True, ""), ("ADD rootfs /", False, "base")]
    assert rows[0][0] == image_id and rows[1][0] == "<missing>"
    js = [json.loads(line) for line in bocker("history", "--format", "json", "busybox").stdout.splitlines()]
    assert js[1]["CreatedAt"].startswith("2024-01-02") and js[1]["Comment"] == "base"


# -- prune, df, info, version -------------------------------------------------------------------
def test_container_prune_removes_the_stopped_ones_only(fresh_root):
    keep = detached("--name", "keep", "busybox", "sleep 60")
    bocker("run", "--name", "gone1", "busybox", "head -c 5000 /dev/zero > /blob", check=True)
    bocker("run", "--name", "gone2", "-l", "tier=web", "busybox", "true", check=True)
    bocker("create", "--name", "gone3", "busybox", "true", check=True)
    r = bocker("container", "prune")  # no terminal to ask on: refused, nothing removed
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "add -f" in r.stderr
    r = bocker("container", "prune", "-f", "--filter", "label=tier=web")
    assert r.returncode == 0 and r.stdout.startswith("Deleted Containers:\nps_") and r.stdout.count("ps_") == 1
    r = bocker("container", "prune", "-f")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ps_") == 2 and re.search(r"^Total reclaimed space: 4\.9 KiB$", r.stdout, re.M), r.stdout
    assert bocker("ps", "-q").stdout == f"{keep}\n"
    r = bocker("container", "prune", "-f", "--filter", "bogus=1")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Invalid filter 'bogus=1'" in r.stderr
    assert bocker("container", "prune", "-f").stdout == "Total reclaimed space: 0 B\n"
    bocker("rm", "-f", "keep", check=True)


def test_image_prune_removes_dangling_images_and_with_a_every_unused_one(fresh_root, tmp_path):
    bocker("init", "--busybox", check=True)
    (tmp_path / "f").write_bytes(b"y" * 3000)
    named = bocker("init", str(tmp_path), "--name", "named:v1", check=True).stdout.split()[1]
    (tmp_path / "f").write_bytes(b"z" * 3000)  # a layer of its own (layers are shared by content)
    dangling = bocker("init", str(tmp_path), check=True).stdout.split()[1]
    bocker("run", "--name", "user", "busybox", "true", check=True)
    r = bocker("image", "prune", "-f")
    assert r.stdout.startswith(f"Deleted Images:\n{dangling}\n") and "Total reclaimed space: 2.9 KiB" in r.stdout
    assert sorted(bocker("images", "-q").stdout.split()) == sorted([named, bocker("images", "-q", "busybox").stdout.strip()])
    r = bocker("image", "prune", "-f", "-a")
    assert r.stdout.startswith(f"Deleted Images:\n{named}\n")
    assert bocker("images", "--format", "{{.Repository}}").stdout == "busybox\n"  # a container uses it
    r = bocker("image", "prune", "--filter", "until=later", "-f")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "until=later" in r.stderr


def test_system_df_counts_images_containers_and_volumes(fresh_root):
    bocker("init", "--busybox", check=True)
    bocker("run", "--name", "writer", "-v", "dfvol:/v", "busybox", "head -c 10000 /dev/zero > /big; "
           "head -c 2048 /dev/zero > /v/f", check=True)
    lines = bocker("system", "df", check=True).stdout.splitlines()
    assert lines[0] == "TYPE\t\tTOTAL\t\tACTIVE\t\tSIZE\t\tRECLAIMABLE"
    rows = {line.split("\t\t")[0]: line.split("\t\t")[1:] for line in lines[1:]}
    assert rows["Images"][:2] == ["1", "1"]
    assert rows["Containers"] == ["1", "0", "9.8 KiB", "9.8 KiB (100%)"]
    assert rows["Local Volumes"] == ["1", "1", "2.0 KiB", "0 B (0%)"]


def test_info_and_version(fresh_root):
    detached("--name", "i1", "busybox", "sleep 60")
    lines = bocker("info", check=True).stdout.splitlines()
    info = dict(line.strip().split(": ", 1) for line in lines if ": " in line)
    assert (info["Containers"], info["Running"], info["Paused"], info["Stopped"]) == ("1", "1", "0", "0")
    assert info["Storage Driver"] == "overlay" and info["Bocker Root Dir"] == str(fresh_root)
    assert info["Cgroup Version"] in ("1", "2") and info["Kernel Version"] == os.uname().release
    assert bocker("system", "info").stdout.splitlines() == lines
    from bocker_magics import __version__
    version = dict(line.split(": ", 1) for line in bocker("version", check=True).stdout.splitlines())
    assert version["Version"] == __version__ and version["OS/Arch"].startswith("linux/")
    assert bocker("--version").stdout == f"bocker {__version__}\n"
    bocker("rm", "-f", "i1", check=True)


# -- volumes ------------------------------------------------------------------------------------
def test_volume_create_ls_inspect_rm(fresh_root):
    assert bocker("volume", "create", "data1", "--label", "team=a").stdout == "data1\n"
    assert bocker("volume", "create", "data1").returncode == 0  # as Docker: an existing one is fine
    anonymous = bocker("volume", "create", check=True).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", anonymous)
    lines = bocker("volume", "ls", check=True).stdout.splitlines()
    assert lines[0] == "DRIVER\t\tVOLUME_NAME" and sorted(lines[1:]) == sorted(
        ["local\t\tdata1", f"local\t\t{anonymous}"])
    assert bocker("volume", "ls", "-q", "--filter", "label=team=a").stdout == "data1\n"
    info = json.loads(bocker("volume", "inspect", "data1", check=True).stdout)
    assert info[0]["Name"] == "data1" and info[0]["Labels"] == {"team": "a"} and info[0]["UsedBy"] == []
    mountpoint = Path(info[0]["Mountpoint"])
    bocker("run", "--name", "vu", "-v", "data1:/data", "busybox", "echo kept > /data/f", check=True)
    assert (mountpoint / "f").read_text() == "kept\n"
    assert bocker("volume", "ls", "-q", "--filter", "dangling=true").stdout == f"{anonymous}\n"
    r = bocker("volume", "rm", "data1")
    assert r.returncode == 1 and r.stderr == "Volume 'data1' is in use by vu: remove them first\n"
    assert (mountpoint / "f").exists()
    bocker("rm", "vu", check=True)  # without -v the volume stays
    assert bocker("run", "--rm", "-v", "data1:/d", "busybox", "cat /d/f").stdout == "kept\n"
    r = bocker("volume", "rm", "data1", anonymous, "nosuch")
    assert r.returncode == 1 and r.stdout == f"data1\n{anonymous}\n" and r.stderr == "No volume named 'nosuch' exists\n"
    assert bocker("volume", "rm", "-f", "nosuch").returncode == 0
    assert bocker("volume", "ls", "-q").stdout == ""


def test_rm_v_removes_the_anonymous_volumes_and_keeps_named_ones(fresh_root):
    """Docker's rule: `-v /path` (and a volume --mount without source=) is a volume made for
    that container alone, named by 64 hex digits; `rm -v` removes it, a named one stays even
    when only that container used it (its data has a name to be found by)."""
    bocker("run", "--name", "a", "-v", "only-a:/x", "-v", "shared:/y", "-v", "/anon",
           "--mount", "type=volume,target=/anon2", "busybox", "sh", "-c", "echo a > /anon/f; echo b > /anon2/f",
           check=True)
    bocker("run", "--name", "b", "-v", "shared:/y", "busybox", "true", check=True)
    anonymous = [v for v in bocker("volume", "ls", "-q").stdout.split() if v not in ("only-a", "shared")]
    assert len(anonymous) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", v) for v in anonymous)
    record = json.loads(bocker("inspect", "a", check=True).stdout)
    assert sorted(record["Config"]["anonymous_volumes"]) == sorted(anonymous)
    assert bocker("rm", "-v", "a", check=True).stdout == "Removed: a\n"
    assert bocker("volume", "ls", "-q").stdout == "only-a\nshared\n"   # named ones stay
    bocker("rm", "-v", "b", check=True)
    assert bocker("volume", "ls", "-q").stdout == "only-a\nshared\n"
    bocker("run", "--name", "c", "-v", "/keep", "busybox", "true", check=True)
    bocker("rm", "c", check=True)  # without -v an anonymous volume stays too, as Docker's
    assert len(bocker("volume", "ls", "-q").stdout.split()) == 3
    for v in bocker("volume", "ls", "-q").stdout.split():
        bocker("volume", "rm", v, check=True)
    assert bocker("volume", "ls", "-q").stdout == ""


def test_rm_v_keeps_an_anonymous_volume_another_container_mounts_by_name(fresh_root):
    bocker("run", "--name", "a", "-v", "/anon", "busybox", "sh", "-c", "echo kept > /anon/f", check=True)
    (name,) = bocker("volume", "ls", "-q").stdout.split()
    assert bocker("run", "--rm", "-v", f"{name}:/d", "busybox", "cat", "/d/f").stdout == "kept\n"
    bocker("create", "--name", "b", "-v", f"{name}:/d", "busybox", "true", check=True)
    bocker("rm", "-v", "a", check=True)
    assert bocker("volume", "ls", "-q").stdout == f"{name}\n"   # b mounts it: it stays
    bocker("rm", "b", check=True)
    bocker("volume", "rm", name, check=True)


def test_a_detached_rm_container_is_removed_when_it_exits_with_its_anonymous_volumes(fresh_root):
    """`run -d --rm`: the CLI has returned long before the exit; the container's monitor
    starts the engine's removal once the exit is recorded, with no bocker process up."""
    bocker("volume", "create", "keep", check=True)
    cid = detached("--rm", "-v", "/anon", "-v", "keep:/k", "busybox", "sleep", "30")
    assert status(cid) == "running"
    assert len(bocker("volume", "ls", "-q").stdout.split()) == 2
    r = bocker("ps", "-q", "--filter", f"id={cid}", check=True)
    assert r.stdout.strip() == cid
    bocker("stop", "-t", "1", cid, check=True)  # an exit nobody waits for
    wait_for(lambda: not (fresh_root / "containers" / cid).exists())
    assert bocker("ps", "-q").stdout == "" and bocker("volume", "ls", "-q").stdout == "keep\n"
    r = bocker("inspect", cid)
    assert r.returncode == 1 and r.stderr.startswith("No container") and r.stdout == ""
    # one that ends on its own, with a name: the name is free again once it is gone
    detached("--rm", "--name", "short", "busybox", "true")
    wait_for(lambda: bocker("ps", "-q").stdout == "")
    detached("--rm", "--name", "short", "busybox", "true")
    wait_for(lambda: bocker("ps", "-q").stdout == "")
    assert not any((fresh_root / "containers").iterdir())
    bocker("volume", "rm", "keep", check=True)


def test_restart_keeps_an_rm_container_and_its_next_exit_removes_it(fresh_root):
    """Docker's rule: restart is no exit of an --rm container's life (its stop's removal finds
    it running again); a stop is."""
    cid = detached("--rm", "busybox", "sleep", "30")
    first = json.loads(bocker("inspect", cid, check=True).stdout)["State"]["Pid"]
    # a window between its exit and its new start, where the removal its exit set off runs
    r = bocker("restart", "-t", "1", cid, env={"BOCKER_PAUSE_AT": "restart", "BOCKER_PAUSE_SECONDS": "5"})
    assert r.returncode == 0 and r.stdout.strip() == cid, r.stderr

    def removal_running() -> bool:  # the exit command the stop's exit started (autoremove.py)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(b"autoremove" in a for a in argv) and cid.encode() in argv:
                return True
        return False

    start = time.monotonic()
    while removal_running() or time.monotonic() - start < 1:
        assert status(cid) == "running"
        assert time.monotonic() - start < 30, "the removal never ended"
        time.sleep(0.1)
    assert status(cid) == "running"   # it ran and left it
    assert json.loads(bocker("inspect", cid, check=True).stdout)["State"]["Pid"] != first
    bocker("stop", "-t", "1", cid, check=True)
    wait_for(lambda: bocker("ps", "-q").stdout == "")


def test_a_created_rm_container_started_detached_goes_and_gc_removes_one_left_ended(fresh_root):
    cid = bocker("create", "--rm", "busybox", "true", check=True).stdout.strip()
    assert status(cid) == "created"          # never started: it stays
    bocker("start", cid, check=True)
    wait_for(lambda: bocker("ps", "-q").stdout == "")
    # a --rm container whose end nobody acted on (its exit command never ran): gc removes it
    cid = bocker("create", "--rm", "busybox", "true", check=True).stdout.strip()
    state = fresh_root / "containers" / cid / "state.json"
    data = json.loads(state.read_text())
    data.update(phase="exited", status="stopped", exit_code=0, finished_at=time.time())
    state.write_text(json.dumps(data))
    assert status(cid).startswith("exited")
    assert f"container {cid} (--rm): removed, it had ended" in bocker("gc", check=True).stdout
    assert bocker("ps", "-q").stdout == ""


@pytest.mark.parametrize("args,message", [
    (["volume", "create", "bad/name"], "Invalid volume name"),
    (["volume", "create", "a", "b"], "give one name"),
    (["volume", "inspect"], "give the volume's name"),
    (["volume", "inspect", "nosuch"], "No volume named 'nosuch' exists"),
    (["volume", "ls", "--filter", "driver=x"], "Invalid filter"),
    (["volume", "ls", "--format", "{{.Nope}}"], "no field .Nope"),
    (["volume", "rm", "--label", "a=b", "x"], "--label is an option of volume create"),
    (["volume", "frob"], "invalid choice"),
])
def test_bad_volume_input_is_one_line_and_changes_nothing(fresh_root, args, message):
    r = bocker(*args)
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert not (fresh_root / "volumes").exists() or list((fresh_root / "volumes").iterdir()) == []


# -- listings: ps, images ----------------------------------------------------------------------
def test_ps_quiet_last_filters_and_formats(fresh_root):
    a = bocker("run", "--name", "ex3", "-l", "tier=db", "busybox", "exit 3").stdout or None
    assert a is None
    b = detached("--name", "web1", "-l", "tier=web", "busybox", "sleep 60")
    c = bocker("create", "--name", "made", "busybox", "echo a long command line that goes on and on and on and on",
               check=True).stdout.strip()
    ids = bocker("ps", "-q", check=True).stdout.split()
    assert len(ids) == 3 and ids[1:] == [b, c]
    assert bocker("ps", "-n", "1", "-q").stdout == f"{c}\n" and bocker("ps", "-l", "-q").stdout == f"{c}\n"
    assert bocker("ps", "-n", "2", "-q").stdout.split() == [b, c]
    assert bocker("ps", "-q", "--filter", "status=running").stdout == f"{b}\n"
    assert bocker("ps", "-q", "-f", "status=created", "-f", "status=running").stdout.split() == [b, c]
    assert bocker("ps", "-q", "--filter", "label=tier").stdout.split() == [ids[0], b]
    assert bocker("ps", "-q", "--filter", "label=tier=web").stdout == f"{b}\n"
    assert bocker("ps", "-q", "--filter", "name=web").stdout == f"{b}\n"
    assert bocker("ps", "-q", "--filter", "exited=3").stdout == f"{ids[0]}\n"
    assert bocker("ps", "-q", "--filter", "ancestor=busybox").stdout.split() == ids
    assert bocker("ps", "-q", "--filter", "ancestor=busybox", "--filter", "status=exited").stdout == f"{ids[0]}\n"
    assert bocker("ps", "-q", "--filter", f"id={b[:6]}").stdout == f"{b}\n"
    # templates: fields, \t, table headers aligned, .Label, functions
    out = bocker("ps", "--filter", "name=web1", "--format", r'{{.ID}}\t{{.Status}}\t{{.Label "tier"}}').stdout
    assert out == f"{b}\trunning\tweb\n"
    out = bocker("ps", "--format", r"table {{.Names}}\t{{.State}}").stdout.splitlines()
    assert re.fullmatch(r"NAMES +STATE", out[0]) and out[0].index("STATE") == out[1].index("exited")
    assert bocker("ps", "-f", "name=web1", "--format", "{{.Names | upper}} {{json .Labels}}").stdout == \
        'WEB1 {"tier": "web"}\n'
    rows = [json.loads(line) for line in bocker("ps", "--format", "json").stdout.splitlines()]
    assert [r["ID"] for r in rows] == ids and rows[1]["Labels"] == {"tier": "web"} and rows[1]["RestartCount"] == 0
    assert rows[0]["Status"] == "exited (3)" and rows[0]["ExitCode"] == 3
    # --no-trunc: long commands whole
    short = bocker("ps", "-f", "name=made", "--format", "{{.Command}}").stdout.strip()
    whole = bocker("ps", "-f", "name=made", "--no-trunc", "--format", "{{.Command}}").stdout.strip()
    assert short.endswith("…") and len(short) == 40 and whole.endswith("on and on")
    bocker("rm", "-f", "web1", check=True)


@pytest.mark.parametrize("args,message", [
    (["--filter", "bogus=1"], "Invalid filter 'bogus=1'"),
    (["--filter", "status"], "Invalid filter 'status'"),
    (["--filter", "status=asleep"], "Invalid filter 'status=asleep'"),
    (["--filter", "exited=x"], "Invalid filter 'exited=x'"),
    (["--format", "{{.Nope}}"], "no field .Nope"),
    (["--format", "{{.ID"], "unclosed"),
    (["--format", "{{range .}}"], "no function 'range'"),
    (["--format", "{{frob .ID}}"], "no function 'frob'"),
    (["-n", "x"], "whole number"),
    (["-n", "-1"], "give 0 or more"),
    (["--no-such-option"], "unrecognized arguments"),
    (["--form", "json"], "unrecognized arguments"),  # never abbreviated
])
def test_bad_ps_input_is_one_line(fresh_root, args, message):
    r = bocker("ps", *args)
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert r.stdout == ""


def test_images_quiet_filters_and_formats(fresh_root, tmp_path):
    bocker("init", "--busybox", check=True)
    (tmp_path / "x").write_text("x")
    mine = bocker("init", str(tmp_path), "--name", "lab/mine:v2", check=True).stdout.split()[1]
    busybox = bocker("images", "-q", "busybox").stdout.strip()
    assert bocker("images", "-q").stdout.split() == [busybox, mine]
    assert bocker("images", "-q", "lab/*").stdout == f"{mine}\n"
    assert bocker("images", "-q", "--filter", "reference=lab/mine:v*").stdout == f"{mine}\n"
    assert bocker("images", "-q", "--filter", f"before={mine}").stdout == f"{busybox}\n"
    assert bocker("images", "-q", "--filter", "since=busybox").stdout == f"{mine}\n"
    assert bocker("images", "-q", "--filter", "dangling=false").stdout.split() == [busybox, mine]
    assert bocker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "busybox:latest\nlab/mine:v2\n"
    out = bocker("images", "--format", r"table {{.Repository}}\t{{.Tag}}\t{{.Size}}").stdout.splitlines()
    assert re.fullmatch(r"REPOSITORY +TAG +SIZE", out[0]) and re.search(r"KiB|MiB", out[1])
    rows = [json.loads(line) for line in bocker("images", "--format", "json").stdout.splitlines()]
    assert rows[1]["ID"] == mine and rows[1]["Names"] == ["lab/mine:v2"] and rows[1]["Layers"] == 1
    for args, message in ((["--filter", "dangling=maybe"], "dangling=true or dangling=false"),
                          (["--filter", "before=nosuch"], "No image named 'nosuch' exists"),
                          (["--format", "{{.Status}}"], "no field .Status")):
        r = bocker("images", *args)
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


# -- several ids, the restart count ------------------------------------------------------------
def test_restart_and_stop_take_several_ids_and_go_on_after_a_missing_one(fresh_root):
    detached("--name", "r1", "busybox", "sleep 60")
    detached("--name", "r2", "busybox", "sleep 60")
    r = bocker("restart", "-t", "1", "r1", "nosuch", "r2")
    assert r.returncode == 1 and r.stdout == "r1\nr2\n" and r.stderr == "No container named 'nosuch' exists\n"
    assert status("r1") == "running" and status("r2") == "running"
    r = bocker("stop", "-t", "1", "r1", "nosuch1", "r2", "nosuch2")
    assert r.stdout == "r1\nr2\n" and r.stderr.splitlines() == ["No container named 'nosuch1' exists",
                                                                 "No container named 'nosuch2' exists"]
    bocker("rm", "r1", "r2", check=True)


def test_ps_shows_how_often_the_restart_policy_brought_it_back(fresh_root):
    cid = detached("--name", "flaky", "--restart", "on-failure:2", "busybox", "exit 1")
    wait_for(lambda: status("flaky") == "exited (1)", timeout=20)
    assert bocker("ps", "--format", "{{.RestartCount}}").stdout == "2\n"
    line = bocker("ps", "--format", "table").stdout.splitlines()[1].split("\t\t")
    assert line[0] == cid and line[2] == "exited (1)" and line[5] == "2"
    assert json.loads(bocker("ps", "--format", "json").stdout)["RestartCount"] == 2
    detached("--name", "always", "--restart", "always", "busybox", "sleep 0.2")
    wait_for(lambda: int(bocker("ps", "-f", "name=always", "--format", "{{.RestartCount}}").stdout) >= 2,
             timeout=20)
    r = bocker("stop", "always")
    assert r.returncode == 0
    count = bocker("ps", "-f", "name=always", "--format", "{{.RestartCount}}").stdout
    time.sleep(0.5)
    assert bocker("ps", "-f", "name=always", "--format", "{{.RestartCount}} {{.State}}").stdout == \
        f"{count.strip()} exited\n"  # stopped by the user: not brought back
    bocker("rm", "flaky", "always", check=True)


def test_management_spellings_are_the_verbs(fresh_root):
    cid = detached("--name", "m1", "busybox", "sleep 60")
    assert bocker("container", "ls", "-q").stdout == f"{cid}\n"
    assert bocker("container", "inspect", "m1").returncode == 0
    assert bocker("image", "ls", "-q").stdout.startswith("img_")
    assert bocker("container", "rm", "-f", "m1").stdout == "Removed: m1\n"
    r = bocker("container", "frob")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
