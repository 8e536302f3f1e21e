"""The `bocker` command: the seed's verbs, headers, messages and exit codes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.hostcheck import leftovers
from tests.support.session import BOCKER, CGROUP_PARENT, bocker


def created_id(result: subprocess.CompletedProcess) -> str:
    m = re.fullmatch(r"Created: (img_[0-9a-f]+)\n", result.stdout)
    assert m, result.stdout + result.stderr
    return m.group(1)


# -- help -------------------------------------------------------------------------------
def test_help_lists_every_verb_with_a_usage_line():
    r = bocker("help")
    assert r.returncode == 0
    for verb in ("init", "images", "run", "ps", "logs", "rm", "help"):
        assert re.search(rf"^\tbocker {verb}\b", r.stdout, re.M), verb
    # the seed's layout: "Purpose:" then a tab-indented usage line
    assert "Create an image from a directory:\n\tbocker init <directory>" in r.stdout


def test_no_arguments_prints_help_and_fails_like_the_seed():
    r = bocker()
    assert r.returncode == 1 and "bocker run" in r.stdout


def test_unknown_verb_is_one_line():
    r = bocker("frobnicate")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "frobnicate" in r.stderr


def test_not_root_is_one_clear_line(fresh_root):
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BOCKER, "ps"],
                       capture_output=True, text=True, env=os.environ)
    assert r.returncode != 0
    assert r.stderr.strip() == "bocker needs root: run it with sudo (namespaces, mounts and cgroups are root's)"
    assert not fresh_root.exists()


# -- images -----------------------------------------------------------------------------
def test_init_a_directory_then_images(fresh_root, tmp_path):
    (tmp_path / "bin").mkdir()
    os.link("/bin/busybox", tmp_path / "bin" / "busybox") if False else None
    (tmp_path / "hello.txt").write_text("hi\n")
    r = bocker("init", str(tmp_path))
    assert r.returncode == 0
    image_id = created_id(r)
    lines = bocker("images", check=True).stdout.splitlines()
    assert lines == ["IMAGE_ID\t\tSOURCE", f"{image_id}\t\t{tmp_path}"]  # the seed's, whole lines
    assert bocker("images", "-q").stdout == f"{image_id}\n"
    lines = bocker("images", "--format", "table", check=True).stdout.splitlines()
    assert lines[0] == "IMAGE_ID\t\tSOURCE\t\tNAMES\t\tLAYERS\t\tCREATED"
    assert lines[1].startswith(f"{image_id}\t\t{tmp_path}\t\t<none>\t\t1\t\t")


def test_ids_never_collide(fresh_root, tmp_path):
    ids = {created_id(bocker("init", str(tmp_path))) for _ in range(20)}
    assert len(ids) == 20


def test_busybox_is_built_in_and_named(fresh_root):
    image_id = created_id(bocker("init", "--busybox"))
    images = bocker("images", "--format", "table", check=True).stdout
    assert re.search(rf"^{image_id}\t\tbuilt-in BusyBox .*\t\tbusybox:latest\t\t", images, re.M)
    # the same image again, by name: no second copy
    assert created_id(bocker("init", "--busybox")) == image_id
    assert bocker("run", "busybox", "echo", "by", "name").stdout == "by name\n"


def test_init_missing_directory(fresh_root, assert_nothing_left):
    r = bocker("init", "/nonexistent/dir")
    assert r.returncode == 1
    assert r.stderr == "No directory named '/nonexistent/dir' exists\n"
    assert_nothing_left()


def test_named_image_and_name_taken(fresh_root, tmp_path):
    created_id(bocker("init", str(tmp_path), "--name", "mine:v1"))
    assert "mine:v1" in bocker("images", "--format", "table").stdout
    r = bocker("init", str(tmp_path), "--name", "mine:v1")
    assert r.returncode == 1 and r.stderr == "Image named 'mine:v1' exists\n"


@pytest.mark.parametrize("bad", ["../x", "a/../../b", "/etc", "x\x01y", "UPPER"])
def test_image_names_that_could_escape_are_refused(fresh_root, tmp_path, bad, assert_nothing_left):
    r = bocker("init", str(tmp_path), "--name", bad)
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
    assert_nothing_left()


# -- run --------------------------------------------------------------------------------
def test_one_word_is_a_script_for_sh_several_are_the_program_and_its_arguments():
    r = bocker("run", "busybox", "sleep 0.1 && echo hi")  # the seed's form
    assert (r.returncode, r.stdout) == (0, "hi\n")
    r = bocker("run", "busybox", "echo", "a", "b")
    assert r.stdout == "a b\n"
    r = bocker("run", "busybox", "sh", "-c", "echo out; echo err >&2")  # Docker's form
    assert (r.returncode, r.stdout, r.stderr) == (0, "out\n", "err\n")
    r = bocker("run", "busybox", "echo", "$HOME", "a;b")  # each word as it is: the shell adds nothing
    assert r.stdout == "$HOME a;b\n"
    assert bocker("run", "busybox", "exit", "3").returncode == 3  # and a builtin still works, as in the seed


def test_run_exit_status_is_the_commands():
    assert bocker("run", "busybox", "exit 3").returncode == 3


def test_command_not_found_is_127_as_a_shell(assert_nothing_left):
    r = bocker("run", "busybox", "no-such-command")
    assert r.returncode == 127
    assert "no-such-command: not found" in r.stderr and r.stdout == ""  # the shell says so on stderr


def test_output_streams_live_not_at_the_end():
    p = subprocess.Popen([BOCKER, "run", "busybox", "echo first; sleep 1.5; echo second"],
                         stdout=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    assert p.stdout.readline() == "first\n"
    t_first = time.monotonic() - t0
    assert p.stdout.readline() == "second\n"
    t_second = time.monotonic() - t0
    p.wait(10)
    assert t_second - t_first > 1.0, (t_first, t_second)


def test_run_options(tmp_path):
    (tmp_path / "data.txt").write_text("from the host\n")
    r = bocker("run", "--name", f"opts-{os.getpid()}", "--hostname", "box1", "-e", "GREETING=hello",
               "-w", "/work/dir", "-v", f"{tmp_path}:/mnt/host", "busybox",
               "hostname; echo $GREETING; pwd; cat /mnt/host/data.txt; echo new > /mnt/host/out.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "box1\nhello\n/work/dir\nfrom the host\n"
    assert (tmp_path / "out.txt").read_text() == "new\n"
    ps = bocker("ps", "--format", "table").stdout
    assert re.search(rf"\t\topts-{os.getpid()}$", ps, re.M)
    r = bocker("run", "--name", f"opts-{os.getpid()}", "busybox", "true")
    assert r.returncode == 1 and "exists" in r.stderr


def test_readonly_volume(tmp_path):
    r = bocker("run", "-v", f"{tmp_path}:/ro:ro", "busybox", "touch /ro/x")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    assert not (tmp_path / "x").exists()


def test_volume_target_through_an_image_symlink_stays_inside(fresh_root, tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    for applet in ("sh", "cat", "ls"):
        os.symlink("/bin/busybox", tree / "bin" / applet)
    import shutil
    shutil.copy("/bin/busybox", tree / "bin" / "busybox")
    os.symlink("/etc", tree / "escape")  # absolute: must resolve inside the container's root
    image = created_id(bocker("init", str(tree)))
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "marker").write_text("volume\n")
    r = bocker("run", "-v", f"{vol}:/escape/sub", image, "cat /etc/sub/marker")
    assert r.stdout == "volume\n", r.stdout + r.stderr
    assert not Path("/etc/sub").exists()


def test_seed_limit_spellings_and_defaults():
    cat = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares"
    assert bocker("run", "busybox", cat).stdout.split() == ["512000000", "512"]
    r = bocker("--MEM_LIMIT=256", "--CPU_SHARE=256", "run", "busybox", cat)
    assert r.stdout.split() == ["256000000", "256"], r.stderr


def test_docker_limit_spellings():
    r = bocker("run", "-m", "64m", "--cpu-shares", "300", "--cpus", "0.5", "--pids-limit", "20", "busybox",
               "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us "
               "cpu/cpu.cfs_period_us pids/pids.max; grep -c / /proc/self/cgroup")
    assert r.stdout.split()[:5] == [str(64 << 20), "300", "50000", "100000", "20"], r.stdout + r.stderr


def test_container_joins_its_own_cgroups():
    r = bocker("run", "busybox", "cat /proc/self/cgroup; hostname")
    cid = r.stdout.split()[-1]
    for controller in ("memory", "cpu", "pids"):
        assert re.search(rf"^\d+:{controller}:/{CGROUP_PARENT}/{cid}$", r.stdout, re.M), r.stdout


def test_memory_limit_kills_a_process_over_it():
    r = bocker("run", "-m", "16m", "busybox", "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived")
    assert r.returncode == 137 and "survived" not in r.stdout
    cid = bocker("ps").stdout.splitlines()[-1].split("\t")[0]
    assert "\t\toom-killed\t\t" in bocker("ps", "--format", "table").stdout.splitlines()[-1], cid


def test_pids_limit_stops_a_fork_bomb():
    # forks in a child shell (a shell that can't fork gives up); then read with builtins only
    r = bocker("run", "--pids-limit", "8", "busybox",
               "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done' 2>/dev/null; "
               "read n < /sys/fs/cgroup/pids/pids.current; read e < /sys/fs/cgroup/pids/pids.events; echo $n $e")
    current, _, refused = r.stdout.split()
    assert int(current) <= 8 and int(refused) > 0, r.stdout


@pytest.mark.parametrize("args,message", [
    (["-m", "1k"], "below the minimum"),
    (["-m", "lots"], "Invalid memory size 'lots'"),
    (["--cpus", "0"], "cpus"),
    (["--cpus", "1000"], "cpus"),
    (["--cpu-shares", "1"], "shares"),
    (["--pids-limit", "-3"], "pids"),
    (["--MEM_LIMIT=abc"], "--MEM_LIMIT"),
])
def test_bad_limits_are_one_line_and_change_nothing(args, message, assert_nothing_left):
    if args[0].startswith("--MEM"):
        r = bocker(*args, "run", "busybox", "true")
    else:
        r = bocker("run", *args, "busybox", "true")
    assert r.returncode != 0
    assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert_nothing_left()


@pytest.mark.parametrize("ref,message", [
    ("img_0000000000", "No image named 'img_0000000000' exists"),
    ("nosuchimage", "No image named 'nosuchimage' exists"),
    ("../../etc", "Invalid image"),
    ("a\x01b", "Invalid image"),
])
def test_missing_or_bad_image(ref, message, assert_nothing_left):
    r = bocker("run", ref, "true")
    assert r.returncode == 1 and r.stderr.startswith(message), r.stderr
    assert r.stderr.count("\n") == 1
    assert_nothing_left()


@pytest.mark.parametrize("args", [
    ["--name", "a/b"], ["--name", ".."], ["--hostname", "bad host"], ["-v", "/nonexistent:/x"],
    ["-v", "./relative:/x"], ["-w", "relative"], ["-e", "=novalue"], ["--ulimit", "nofile=2:1"], ["--sysctl", "kernel.panic=1"],
    ["--restart", "sometimes"], ["--tmpfs", "relative"], ["--mount", "type=nfs,target=/x"], ["-v", "/etc:/sys"],
    ["-v", "/etc:/proc/x"], ["--device", "/nonexistent"], ["--security-opt", "apparmor=x"], ["-u", "nosuchuser"],
    ["--oom-score-adj", "5000"], ["--pid", "container:nosuch"], ["--hostname", "hôst"],
])
def test_bad_run_options(args, busybox, assert_nothing_left):
    r = bocker("run", *args, "busybox", "true")
    assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
    assert_nothing_left()


def test_no_overlayfs_is_one_clear_line(tmp_path, assert_nothing_left):
    # A mount namespace of its own where /proc/filesystems lists no overlay: what a kernel
    # without overlayfs shows. The real file is untouched.
    fake = tmp_path / "filesystems"
    fake.write_text("".join(l for l in open("/proc/filesystems") if "overlay" not in l))
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        f"mount --bind {fake} /proc/filesystems && exec {BOCKER} run busybox true"],
                       capture_output=True, text=True, env=os.environ)
    assert r.returncode == 1
    assert r.stderr == "No overlayfs on this host: load it with 'modprobe overlay' (kernel option CONFIG_OVERLAY_FS)\n"
    assert_nothing_left()


def test_ctrl_c_stops_the_container_and_cleans_up():
    p = subprocess.Popen([BOCKER, "run", "--name", f"sigint-{os.getpid()}", "busybox", "echo up; sleep 30"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    line = [l for l in bocker("ps", "--format", "table").stdout.splitlines() if l.endswith(f"sigint-{os.getpid()}")][0]
    assert "\t\texited (137)\t\t" in line
    assert leftovers(os.environ["BOCKER_ROOT"], CGROUP_PARENT, only_children=True) == []


# -- ps, logs, rm -----------------------------------------------------------------------
def test_ps_prints_the_seeds_lines_and_the_wider_table_on_request(fresh_root):
    bocker("run", "busybox", "exit 4")
    lines = bocker("ps", check=True).stdout.splitlines()
    cid = lines[1].split("\t")[0]
    assert lines == ["CONTAINER_ID\t\tCOMMAND", f"{cid}\t\texit 4"]  # the seed's, whole lines
    assert re.fullmatch(r"ps_[0-9a-f]{10}", cid)
    assert bocker("ps", "-a").stdout.splitlines() == lines  # -a accepted: ps lists every container anyway
    lines = bocker("ps", "--format", "table", check=True).stdout.splitlines()
    assert lines[0] == "CONTAINER_ID\t\tCOMMAND\t\tSTATUS\t\tIMAGE\t\tCREATED\t\tRESTARTS\t\tPORTS\t\tNAME"
    cols = lines[1].split("\t\t")
    assert cols[0] == cid and cols[1:4] == ["exit 4", "exited (4)", "busybox:latest"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cols[4]) and cols[5] == "0"
    assert "--format table" in bocker("help").stdout  # help says where the wider table is


def test_ps_is_right_after_the_starting_process_dies(fresh_root):
    p = subprocess.Popen([BOCKER, "run", "--name", "survivor", "busybox", "echo up; sleep 30"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    p.kill()  # kill -9 of the process that started it: the container's monitor lives on
    p.wait()
    line = bocker("ps", "--format", "table").stdout.splitlines()[1]
    assert line.split("\t\t")[2] == "running" and line.endswith("survivor")
    r = bocker("rm", "survivor")
    assert r.returncode == 1 and "is running" in r.stderr
    r = bocker("rm", "-f", "survivor")
    assert r.returncode == 0 and r.stdout == "Removed: survivor\n"
    assert bocker("ps").stdout.splitlines()[1:] == []
    assert leftovers(str(fresh_root), CGROUP_PARENT, only_children=True) == []


def test_logs_keep_the_output(fresh_root):
    bocker("run", "busybox", "echo out; echo err >&2")
    cid = bocker("ps").stdout.splitlines()[1].split("\t")[0]
    logs = bocker("logs", cid)
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")  # each line on the stream it was printed on
    r = bocker("logs", "ps_0000000000")
    assert r.returncode == 1 and r.stderr == "No container named 'ps_0000000000' exists\n"


def test_rm_container_and_image_messages(fresh_root, tmp_path):
    bocker("run", "busybox", "true")
    cid = bocker("ps").stdout.splitlines()[1].split("\t")[0]
    assert bocker("rm", cid).stdout == f"Removed: {cid}\n"
    assert bocker("rm", cid).stderr == f"No container named '{cid}' exists\n"
    image = created_id(bocker("init", str(tmp_path)))
    assert bocker("rm", image).stdout == f"Removed: {image}\n"
    r = bocker("rm", image)
    assert r.returncode == 1 and r.stderr == f"No image named '{image}' exists\n"


def test_rm_of_an_image_in_use_untags_it_and_layers_stay(fresh_root, tmp_path):
    import shutil
    tree = tmp_path / "img"
    shutil.copytree(Path(_busybox_layer()), tree, symlinks=True)
    (tree / "only-here").write_text("x")  # not the busybox layer, which stays in use
    image = created_id(bocker("init", str(tree), "--name", "inuse"))
    bocker("run", "inuse", "true", check=True)
    cid = bocker("ps").stdout.splitlines()[1].split("\t")[0]
    assert bocker("rm", "inuse").stdout == "Removed: inuse\n"
    assert image not in bocker("images").stdout
    layers = set((fresh_root / "layers" / "sha256").iterdir())
    assert len(layers) == 2  # busybox's and the image's: the untagged image keeps its layer
    assert bocker("ps", "--format", "{{.Status}}").stdout == "exited (0)\n"  # and its container is unaffected
    bocker("rm", cid, check=True)
    assert len(set((fresh_root / "layers" / "sha256").iterdir())) == 1
    assert [p.name for p in (fresh_root / "images").iterdir()] == [bocker("images", "-q").stdout.strip() + ".json"]


def _busybox_layer() -> str:
    from bocker_magics.engine.engine import Engine
    with Engine() as e:
        return str(e.images_store.layer_paths(e.busybox())[0])


def test_parallel_bocker_processes_never_corrupt_state(fresh_root):
    bocker("init", "--busybox", check=True)
    procs = [subprocess.Popen([BOCKER, "run", "busybox", f"echo {i}"], stdout=subprocess.PIPE, text=True)
             for i in range(10)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sorted(outs) == sorted(f"{i}\n" for i in range(10))
    lines = bocker("ps", "--format", "table", check=True).stdout.splitlines()[1:]
    assert len(lines) == 10 and len({l.split("\t")[0] for l in lines}) == 10
    assert all("\t\texited (0)\t\t" in l for l in lines)
