"""bocker-runc on its own: runc's command line and runtime.md's lifecycle, against the real
kernel. Every container runs from a bundle of the busybox image with the config.json
`runc spec` writes; its cgroup is under the session's parent, its state under the session's
root, so the session's final check sees anything left. podman and containerd driving it:
test_runc_peers.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bocker_magics.lab.runc import Runc, busybox_bundle, busybox_rootfs, launcher, read_config, write_config
from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT, SESSION_ROOT

RUNC = shutil.which("runc") or "/usr/sbin/runc"


@pytest.fixture(scope="session")
def runc_bin(tmp_path_factory) -> str:
    return launcher(tmp_path_factory.mktemp("runc-bin"))


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory) -> Path:
    from bocker_magics.engine.engine import Engine
    engine = Engine(SESSION_ROOT / "root", cgroup_parent=CGROUP_PARENT)
    try:
        return busybox_rootfs(tmp_path_factory.mktemp("runc-rootfs") / "rootfs", engine)
    finally:
        engine.close()


@pytest.fixture
def rt(runc_bin, tmp_path):
    root = SESSION_ROOT / f"runc-{tmp_path.name}"
    r = Runc(runc_bin, root)
    yield r
    for cid in (os.listdir(root) if root.exists() else []):
        if not cid.startswith("."):
            r("delete", "--force", cid, check=False)
    left = [n for n in (os.listdir(root) if root.exists() else []) if not n.startswith(".")]
    shutil.rmtree(root, ignore_errors=True)
    assert left == [], f"state left in {root}: {left}"
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []


@pytest.fixture
def make_bundle(tmp_path, rootfs):
    def make(name: str, args: list[str], **kw) -> Path:
        kw.setdefault("cgroups_path", f"/{CGROUP_PARENT}/runc-{name}")
        return busybox_bundle(tmp_path / name, None, args, rootfs=rootfs, **kw)
    return make


def cgroup_dirs(name: str) -> list[str]:
    return [d for d in (f"/sys/fs/cgroup/{h}/{CGROUP_PARENT}/runc-{name}" for h in os.listdir("/sys/fs/cgroup"))
            if os.path.isdir(d)]


def wait_status(rt: Runc, cid: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (now := rt.status(cid)) != status:
        assert time.monotonic() < deadline, f"{cid} is {now}, not {status}"
        time.sleep(0.02)


def error_of(r: subprocess.CompletedProcess, code: int = 1) -> str:
    """The one error line runc's callers read (stderr, logrus' text form without --log);
    runc's exit status is 1, 255 for exec, 3 for a command it does not know."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith('time="') and " level=error msg=" in lines[0], lines[0]
    return json.loads(lines[0].split(" level=error msg=", 1)[1])


# -- the command line ---------------------------------------------------------------------------
def test_version_help_and_features(rt):
    assert rt("--version").stdout.splitlines() == ["bocker-runc version 0.1.0", "spec: 1.0.2-dev"]
    assert "create [--bundle B]" in rt("--help").stdout
    features = json.loads(rt("features").stdout)
    if os.access(RUNC, os.X_OK):  # the shape runc 1.1 prints
        theirs = json.loads(subprocess.run([RUNC, "features"], capture_output=True, text=True).stdout)
        assert set(features) == set(theirs)
        assert set(features["linux"]) == set(theirs["linux"])
    assert "user" in features["linux"]["namespaces"] and "time" not in features["linux"]["namespaces"]
    assert features["linux"]["cgroup"]["systemd"] is False
    assert "tmpcopyup" in features["mountOptions"] and "poststop" in features["hooks"]
    assert error_of(rt("frobnicate", check=False), code=3) == "No help topic for 'frobnicate'\n"  # urfave/cli's
    assert "flag provided but not defined: -nope" in error_of(rt("create", "--nope", "x", check=False))


def test_systemd_cgroup_and_unmapped_user_namespaces_are_refused_in_one_line(rt, make_bundle):
    line = error_of(rt("--systemd-cgroup", "state", "x", check=False))
    assert "--systemd-cgroup is not supported by bocker-runc" in line and "cgroupfs" in line
    b = make_bundle("userns", ["true"])
    config = read_config(b)
    config["linux"]["namespaces"].append({"type": "user"})
    write_config(b, config)
    line = error_of(rt("create", "--bundle", b, "userns", check=False))
    assert "a new user namespace needs linux.uidMappings and linux.gidMappings" in line
    config["linux"]["namespaces"].pop()
    config["linux"]["namespaces"].append({"type": "time"})
    write_config(b, config)
    assert "time namespaces are not supported by bocker-runc" in error_of(rt("create", "--bundle", b, "x", check=False))
    config["linux"]["namespaces"].pop()
    config["linux"]["intelRdt"] = {"closID": "x"}
    write_config(b, config)
    assert "linux.intelRdt.closID: not supported by bocker-runc yet" in error_of(rt("create", "--bundle", b, "x", check=False))
    assert rt("list", "--format", "json").stdout.strip() == "[]"
    assert cgroup_dirs("userns") == []


def test_spec_writes_runcs_default_config_once(rt, tmp_path):
    rt("spec", "--bundle", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["root"] == {"path": "rootfs", "readonly": True}
    assert config["process"]["args"] == ["sh"] and config["process"]["terminal"] is True
    if os.access(RUNC, os.X_OK):
        other = tmp_path / "runc"
        other.mkdir()
        subprocess.run([RUNC, "spec", "--bundle", other], check=True)
        theirs = json.loads((other / "config.json").read_text())
        assert config["process"]["capabilities"] == theirs["process"]["capabilities"]
        assert [m["destination"] for m in config["mounts"]] == [m["destination"] for m in theirs["mounts"]]
        assert config["linux"]["resources"] == theirs["linux"]["resources"]
    assert "exists. Remove it first" in error_of(rt("spec", "--bundle", tmp_path, check=False))


# -- the lifecycle ------------------------------------------------------------------------------
def test_create_start_kill_delete(rt, make_bundle, tmp_path, schema):
    b = make_bundle("life", ["sh", "-c", "echo started; exec sleep 1000"])
    out = tmp_path / "out"
    pid_file = tmp_path / "pid"
    with open(out, "w") as f:
        rt("create", "--bundle", b, "--pid-file", pid_file, "life", stdout=f, stderr=f)
    pid = int(pid_file.read_text())  # written before create returned
    state = rt.state("life")
    assert schema("state-schema.json", state) == []
    assert (state["status"], state["pid"], state["bundle"]) == ("created", pid, str(b))
    assert state["rootfs"] == str(b / "rootfs")
    # the process is there, in its namespaces and cgroup, blocked opening the exec fifo for
    # writing (the kernel's wait_for_partner); the program has not run
    assert Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner"
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert f"/{CGROUP_PARENT}/runc-life" in Path(f"/proc/{pid}/cgroup").read_text()
    assert out.read_text() == ""
    assert rt("list").stdout.splitlines()[1].split()[:3] == ["life", str(pid), "created"]

    rt("start", "life")
    state = rt.state("life")
    assert schema("state-schema.json", state) == [] and state["status"] == "running"
    assert not (SESSION_ROOT / f"runc-{tmp_path.name}" / "life" / "exec.fifo").exists()
    deadline = time.monotonic() + 5
    while out.read_text() != "started\n":
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.02)
    assert os.readlink(f"/proc/{pid}/exe").endswith("busybox")
    assert json.loads(rt("ps", "--format", "json", "life").stdout) == [pid]
    table = rt("ps", "life").stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"] and [line.split()[1] for line in table[1:]] == [str(pid)]

    rt("kill", "life", "KILL")
    wait_status(rt, "life", "stopped")
    state = rt.state("life")
    assert schema("state-schema.json", state) == [] and state["pid"] == 0
    assert cgroup_dirs("life")  # the cgroup lives until delete
    rt("delete", "life")
    assert cgroup_dirs("life") == []
    assert not (SESSION_ROOT / f"runc-{tmp_path.name}" / "life").exists()
    assert "container does not exist" == error_of(rt("state", "life", check=False))


def test_run_in_the_foreground_returns_the_exit_status_and_deletes(rt, make_bundle):
    b = make_bundle("fg", ["sh", "-c", "echo out; echo err >&2; exit 7"])
    r = rt("run", "--bundle", b, "fg", check=False)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    assert rt.status("fg") == "absent" and cgroup_dirs("fg") == []
    r = rt("run", "--detach", "--bundle", b, "fg2", check=False)
    assert r.returncode == 0
    wait_status(rt, "fg2", "stopped")
    rt("delete", "fg2")


def test_operations_in_the_wrong_state_fail_and_change_nothing(rt, make_bundle):
    b = make_bundle("wrong", ["sleep", "1000"])
    rt("create", "--bundle", b, "wrong")
    before = rt.state("wrong")
    for args, words in ((("resume", "wrong"), "container not paused"),
                        (("start", "--nope", "wrong"), "flag provided but not defined: -nope"),
                        (("create", "--bundle", b, "wrong"), "container with given ID already exists")):
        assert words in error_of(rt(*args, check=False)), args
        assert rt.state("wrong") == before
    rt("pause", "wrong")  # runc freezes a created container too, and thaws it back to created
    assert rt.status("wrong") == "paused"
    assert "cannot start a container in the paused state" in error_of(rt("start", "wrong", check=False))
    rt("resume", "wrong")
    assert rt.state("wrong") == before
    rt("start", "wrong")
    running = rt.state("wrong")
    for args, words in ((("start", "wrong"), "cannot start an already running container"),
                        (("resume", "wrong"), "container not paused"),
                        (("delete", "wrong"), "cannot delete container wrong that is not stopped: running"),
                        (("kill", "wrong", "NOSUCH"), 'unknown signal "NOSUCH"')):
        assert words in error_of(rt(*args, check=False)), args
        assert rt.state("wrong") == running
    rt("pause", "wrong")
    assert rt.status("wrong") == "paused"
    assert "cannot exec in a paused container" in error_of(rt("exec", "wrong", "true", check=False), code=255)
    assert "container not running" == error_of(rt("pause", "wrong", check=False))  # runc's words for "already paused"
    rt("resume", "wrong")
    assert rt.state("wrong") == running
    rt("kill", "wrong", "9")
    wait_status(rt, "wrong", "stopped")
    stopped = rt.state("wrong")
    for args, words in ((("start", "wrong"), "cannot start a container that has stopped"),
                        (("kill", "wrong"), "container not running"),
                        (("exec", "wrong", "true"), "cannot exec in a stopped container"),
                        (("pause", "wrong"), "container not running")):
        assert words in error_of(rt(*args, check=False), code=255 if args[0] == "exec" else 1), args
        assert rt.state("wrong") == stopped
    rt("delete", "wrong")


def test_an_unknown_container(rt):
    for verb in ("state", "start", "kill", "delete", "pause", "resume", "ps"):
        assert "container does not exist" == error_of(rt(verb, "ghost", check=False)), verb
    assert rt("delete", "--force", "ghost").returncode == 0  # containerd's second delete, runc's answer
    assert "invalid container ID format" == error_of(rt("state", "../x", check=False))


def test_delete_of_a_created_container_kills_it_and_removes_every_host_object(rt, make_bundle, tmp_path):
    b = make_bundle("gone", ["sleep", "1000"], cgroups_path="")
    config = read_config(b)
    config["linux"].pop("cgroupsPath", None)  # the default place: /bocker-runc/<id>
    write_config(b, config)
    rt("create", "--bundle", b, "gone")
    pid = rt.state("gone")["pid"]
    mine = [f"/sys/fs/cgroup/{h}/bocker-runc/gone" for h in ("memory", "pids", "freezer", "devices")]
    assert all(os.path.isdir(d) for d in mine)
    rt("delete", "gone")  # as runc: a created container needs no --force, it is killed
    assert not any(os.path.exists(d) for d in mine)
    assert not any(os.path.exists(os.path.dirname(d)) for d in mine), "the default parent goes when empty"
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert not (SESSION_ROOT / f"runc-{tmp_path.name}" / "gone").exists()


def test_kill_takes_names_and_numbers_and_all(rt, make_bundle, tmp_path):
    b = make_bundle("sig", ["sh", "-c", "trap 'echo usr1' USR1; trap 'echo usr2' USR2; "
                                        "sleep 1000 & sleep 1000 & while true; do sleep 0.05; done"])
    out = tmp_path / "out"
    with open(out, "w") as f:
        rt("run", "--detach", "--bundle", b, "sig", stdout=f)
    for sig in ("USR1", "SIGUSR2", "10"):
        rt("kill", "sig", sig)
        time.sleep(0.3)
    assert out.read_text().split() == ["usr1", "usr2", "usr1"]
    pids = json.loads(rt("ps", "--format", "json", "sig").stdout)
    assert len(pids) >= 3
    rt("kill", "--all", "sig", "KILL")
    wait_status(rt, "sig", "stopped")
    deadline = time.monotonic() + 5
    while json.loads(rt("ps", "--format", "json", "sig").stdout) or any(Path(f"/proc/{p}").exists() and
                                                                       ")" in Path(f"/proc/{p}/stat").read_text() and
                                                                       Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
                                                                       for p in pids):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rt("delete", "sig")


def test_pause_freezes_and_resume_thaws(rt, make_bundle):
    b = make_bundle("frz", ["sleep", "1000"])
    rt("run", "-d", "--bundle", b, "frz")
    rt("pause", "frz")
    assert rt.status("frz") == "paused"
    pid = rt.state("frz")["pid"]
    assert Path(f"/sys/fs/cgroup/freezer/{CGROUP_PARENT}/runc-frz/freezer.state").read_text().strip() == "FROZEN"
    rt("resume", "frz")
    assert rt.status("frz") == "running" and Path(f"/proc/{pid}").exists()
    rt("delete", "--force", "frz")


def test_update_changes_the_cgroups_limits(rt, make_bundle):
    b = make_bundle("upd", ["sleep", "1000"])
    rt("run", "-d", "--bundle", b, "upd")
    memory = f"/sys/fs/cgroup/memory/{CGROUP_PARENT}/runc-upd"
    res = {"memory": {"limit": 64 << 20, "swap": 128 << 20}, "cpu": {"shares": 512, "quota": 50000, "period": 100000},
           "pids": {"limit": 100}}
    rt("update", "--resources", "-", "upd", input=json.dumps(res))  # podman's form: a file, or stdin
    assert int(Path(memory, "memory.limit_in_bytes").read_text()) == 64 << 20
    if Path(memory, "memory.memsw.limit_in_bytes").exists():
        assert int(Path(memory, "memory.memsw.limit_in_bytes").read_text()) == 128 << 20
    cpu = f"/sys/fs/cgroup/cpu/{CGROUP_PARENT}/runc-upd"
    assert Path(cpu, "cpu.shares").read_text().strip() == "512"
    assert Path(cpu, "cpu.cfs_quota_us").read_text().strip() == "50000"
    assert Path(f"/sys/fs/cgroup/pids/{CGROUP_PARENT}/runc-upd/pids.max").read_text().strip() == "100"
    rt("update", "--memory", "32m", "--memory-swap", "32m", "--pids-limit", "50", "upd")  # shrinking: memsw last
    assert int(Path(memory, "memory.limit_in_bytes").read_text()) == 32 << 20
    assert Path(f"/sys/fs/cgroup/pids/{CGROUP_PARENT}/runc-upd/pids.max").read_text().strip() == "50"
    assert "not supported" in error_of(rt("update", "--resources", "-", "upd", input='{"blockIO": {"weight": 300}}',
                                          check=False))
    rt("delete", "--force", "upd")


def test_create_applies_every_resource_runc_applies(rt, make_bundle):
    """memory.reservation, swappiness, cpu.cpus and mems (refused "not supported by bocker-runc
    yet" before), cpu.idle, blockIO throttles: written by the cgroup drivers as the engine's
    monitor writes them, read back from the group's files (v1 here; test_resources.py has the
    v2 files)."""
    b = make_bundle("res", ["sleep", "1000"])
    config = read_config(b)
    dev = next((open(f"/sys/block/{n}/dev").read().strip() for n in sorted(os.listdir("/sys/block"))
                if not n.startswith(("loop", "ram", "zram"))), None)
    config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 20},
        "cpu": {"shares": 512, "cpus": "0", "mems": "0", "idle": 0},
        "pids": {"limit": 30},
        **({"blockIO": {"throttleReadBpsDevice": [{"major": int(dev.split(":")[0]), "minor": int(dev.split(":")[1]),
                                                    "rate": 1 << 20}]}} if dev else {}),
    }
    write_config(b, config)
    if not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("the v1 files: this host is cgroup v2 (test_resources.py covers v2)")
    rt("create", "--bundle", b, "res")
    memory = f"/sys/fs/cgroup/memory/{CGROUP_PARENT}/runc-res"
    assert Path(memory, "memory.soft_limit_in_bytes").read_text().strip() == str(32 << 20)
    assert Path(memory, "memory.swappiness").read_text().strip() == "20"
    cpuset = f"/sys/fs/cgroup/cpuset/{CGROUP_PARENT}/runc-res"
    assert (Path(cpuset, "cpuset.cpus").read_text().strip(), Path(cpuset, "cpuset.mems").read_text().strip()) == \
        ("0", "0")
    pid = rt.state("res")["pid"]
    assert f"{CGROUP_PARENT}/runc-res" in Path(f"/proc/{pid}/cgroup").read_text().split("cpuset:")[1].split("\n")[0]
    if dev:
        blkio = f"/sys/fs/cgroup/blkio/{CGROUP_PARENT}/runc-res"
        assert Path(blkio, "blkio.throttle.read_bps_device").read_text().strip() == f"{dev} {1 << 20}"
    # update takes any of them too (runc update --cpuset-cpus / -r)
    rt("update", "--resources", "-", "res", input=json.dumps({"memory": {"reservation": 16 << 20}}))
    assert Path(memory, "memory.soft_limit_in_bytes").read_text().strip() == str(16 << 20)
    rt("delete", "--force", "res")
    assert cgroup_dirs("res") == []


# -- exec -----------------------------------------------------------------------------------
def test_exec_joins_the_container(rt, make_bundle, tmp_path):
    b = make_bundle("ex", ["sleep", "1000"])
    rt("run", "-d", "--bundle", b, "ex")
    pid = rt.state("ex")["pid"]
    r = rt("exec", "--env", "X=1", "--cwd", "/tmp", "ex", "sh", "-c",
           "echo $X $(pwd) $$; for n in ipc mnt net pid uts; do readlink /proc/self/ns/$n; done; exit 4",
           check=False)
    assert r.returncode == 4
    lines = r.stdout.split("\n")
    assert lines[0].split()[:2] == ["1", "/tmp"] and lines[0].split()[2] != "1"
    assert lines[1:6] == [os.readlink(f"/proc/{pid}/ns/{n}") for n in ("ipc", "mnt", "net", "pid", "uts")]
    # --process (containerd's and podman's form), detached, with a pid file: left to our caller
    proc = dict(read_config(b)["process"], args=["sh", "-c", "echo detached > /dev/shm/x; sleep 1000"])
    (tmp_path / "p.json").write_text(json.dumps(proc))
    rt("exec", "--process", tmp_path / "p.json", "--detach", "--pid-file", tmp_path / "exec.pid", "ex")
    epid = int((tmp_path / "exec.pid").read_text())
    assert epid in json.loads(rt("ps", "--format", "json", "ex").stdout)
    assert rt("exec", "ex", "cat", "/dev/shm/x").stdout == "detached\n"
    r = rt("exec", "ex", "nonexistent", check=False)
    assert error_of(r, code=255) == ('exec failed: unable to start container process: exec: "nonexistent": '
                                     "executable file not found in $PATH")
    rt("delete", "--force", "ex")


def test_a_user_namespace_with_its_mappings_and_a_cgroup_namespace(rt, make_bundle):
    # podman --userns / Kubernetes' user namespaces hand runc a user namespace and its maps;
    # the bundle's root is the caller's to own (here the host's 0: nobody inside)
    base = 1 << 30
    b = make_bundle("uns", ["sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; "
                                        "touch /bin/x 2>&1; echo rc=$?; exec sleep 1000"])
    config = read_config(b)
    config["root"]["readonly"] = False
    config["linux"]["namespaces"] += [{"type": "user"}, {"type": "cgroup"}]
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": base, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": base, "size": 65536}]
    write_config(b, config)
    out = b / "out"
    with open(out, "w") as f:
        rt("run", "-d", "--bundle", b, "uns", stdout=f, stderr=f)
    pid = rt.state("uns")["pid"]
    deadline = time.monotonic() + 5
    while "rc=" not in out.read_text():
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.02)
    lines = out.read_text().splitlines()
    assert lines[0] == "0" and lines[1].split() == ["0", str(base), "65536"]
    assert lines[2] == "65534" and "Permission denied" in lines[3] and lines[4] == "rc=1"
    status = Path(f"/proc/{pid}/status").read_text()
    assert f"Uid:\t{base}\t{base}\t{base}\t{base}" in status  # on the host: nobody's uid
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    assert os.readlink(f"/proc/{pid}/ns/cgroup") != os.readlink("/proc/self/ns/cgroup")
    # exec joins the same user namespace
    r = rt("exec", "uns", "sh", "-c", "id -u; readlink /proc/self/ns/user")
    assert r.stdout.split() == ["0", os.readlink(f"/proc/{pid}/ns/user")]
    rt("delete", "--force", "uns")


def test_the_containers_fds_are_the_callers_0_1_2_and_preserved_ones(rt, make_bundle, tmp_path):
    b = make_bundle("fds", ["sh", "-c", "ls /proc/self/fd; cat <&3"])
    extra = os.open(tmp_path / "secret", os.O_RDWR | os.O_CREAT)   # an fd the caller leaked (not CLOEXEC)
    os.write(extra, b"leak")
    keep_r, keep_w = os.pipe()
    os.write(keep_w, b"passed\n")
    os.close(keep_w)
    try:
        os.set_inheritable(extra, True)
        # the caller's fd 3 is a pipe the container may have (--preserve-fds 1); fd `extra`
        # (above 3) must not reach it
        r = subprocess.run([*rt.argv("run", "--preserve-fds", "1", "--bundle", b, "fds")], capture_output=True,
                           text=True, pass_fds=(extra, keep_r, 3), stdin=subprocess.DEVNULL, timeout=30,
                           preexec_fn=lambda: os.dup2(keep_r, 3))
    finally:
        os.close(extra)
        os.close(keep_r)
    assert r.returncode == 0, r.stderr
    fds = r.stdout.split()
    assert fds[-1] == "passed"
    listed = sorted(int(x) for x in fds[:-1])
    assert listed[:4] == [0, 1, 2, 3] and str(extra) not in fds[:-1] and str(keep_r) not in fds[:-1]
    assert len(listed) <= 5  # (+ the directory ls reads)


def test_create_leaves_pid_1_to_a_subreaper_caller(rt, make_bundle):
    """podman's conmon and containerd's shim are subreapers: after create, pid 1 is their child."""
    b = make_bundle("reap", ["sh", "-c", "exit 7"])
    script = textwrap.dedent(f"""
        import ctypes, json, os, subprocess, sys
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        argv = {rt.argv()!r}
        subprocess.run(argv + ["create", "--bundle", {str(b)!r}, "--pid-file", {str(b / 'pid')!r}, "reap"], check=True)
        pid = int(open({str(b / 'pid')!r}).read())
        ppid = [l.split()[1] for l in open(f"/proc/{{pid}}/status") if l.startswith("PPid:")][0]
        subprocess.run(argv + ["start", "reap"], check=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({{"me": os.getpid(), "ppid": int(ppid), "code": os.waitstatus_to_exitcode(status)}}))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["ppid"] == seen["me"] and seen["code"] == 7
    rt("delete", "reap")


def test_a_terminal_goes_over_the_console_socket(rt, make_bundle, tmp_path):
    b = make_bundle("tty", ["sh", "-c", "tty; stty size; read line; echo got $line"], terminal=True,
                    consoleSize={"height": 30, "width": 100})
    path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    try:
        r = rt("create", "--bundle", b, "--console-socket", path, "tty", check=False)
        assert r.returncode == 0, r.stderr
        conn, _ = listener.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        conn.close()
        master = fds[0]
        rt("start", "tty")
        seen = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b"30 100" in seen and b"hello" not in seen:
                os.write(master, b"hello\n")  # once it reads: the terminal echoes what it is given
            if b"got hello" in seen:
                break
            try:
                seen += os.read(master, 1024)
            except OSError:
                break
        os.close(master)
    finally:
        listener.close()
    text = seen.decode().replace("\r", "")
    assert "/dev/pts/0\n30 100\n" in text and "got hello" in text
    rt("delete", "--force", "tty")
    # without a socket a detached create has nowhere to send the terminal: refused, nothing made
    line = error_of(rt("create", "--bundle", b, "tty2", check=False))
    assert "cannot allocate tty" in line and rt.status("tty2") == "absent"


def test_run_relays_a_terminal_when_the_caller_gives_no_socket(rt, make_bundle):
    import pty
    b = make_bundle("relay", ["sh", "-c", "tty; exit 5"], terminal=True)
    master, slave = pty.openpty()
    p = subprocess.Popen(rt.argv("run", "--bundle", b, "relay"), stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(30) == 5
    os.close(master)
    assert b"/dev/pts/0" in seen


# -- hooks ------------------------------------------------------------------------------------
HOOK = """#!/bin/sh
# phase, the mount namespace it runs in, whether the root's mounts are there, the state on stdin
echo "$1 $(readlink /proc/self/ns/mnt) $([ -e {rootfs}/proc/self/status ] && echo mounted || echo bare) $(cat)" >> {log}
"""


def test_hooks_run_where_and_with_the_state_the_spec_says(rt, make_bundle, tmp_path):
    log = tmp_path / "hooks.log"
    hook = tmp_path / "hook.sh"
    b = make_bundle("hk", ["sh", "-c", "cat /started-here 2>/dev/null; sleep 1000"])
    hook.write_text(HOOK.format(log=log, rootfs=b / "rootfs"))
    hook.chmod(0o755)
    config = read_config(b)
    config["root"]["readonly"] = False
    config["hooks"] = {phase: [{"path": str(hook), "args": ["hook.sh", phase]}]
                       for phase in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
    # startContainer runs after pivot_root: its path is the container's
    config["hooks"]["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c", "echo start-hook > /started-here"]}]
    write_config(b, config)
    out = tmp_path / "out"
    with open(out, "w") as f:
        rt("create", "--bundle", b, "hk", stdout=f)
    pid = rt.state("hk")["pid"]
    host_mnt = os.readlink("/proc/self/ns/mnt")
    lines = [line.split(" ", 3) for line in log.read_text().splitlines()]
    assert [fields[0] for fields in lines] == ["prestart", "createRuntime", "createContainer"]
    assert lines[0][1] == lines[1][1] == host_mnt, "prestart, createRuntime: the runtime's namespaces"
    assert lines[2][1] == os.readlink(f"/proc/{pid}/ns/mnt"), "createContainer: the container's"
    assert lines[2][2] == "mounted", "createContainer: the root's mounts made, before pivot_root"
    for *_, state in lines:
        st = json.loads(state)
        assert (st["id"], st["pid"], st["bundle"]) == ("hk", pid, str(b))
    assert json.loads(lines[0][3])["status"] == "creating"
    rt("start", "hk")
    lines = [line.split(" ", 3) for line in log.read_text().splitlines()]
    assert lines[3][0] == "poststart" and json.loads(lines[3][3])["status"] == "running"
    deadline = time.monotonic() + 5
    while "start-hook" not in out.read_text():
        assert time.monotonic() < deadline, "the startContainer hook ran before the program"
        time.sleep(0.02)
    rt("delete", "--force", "hk")
    last = log.read_text().splitlines()[-1].split(" ", 3)
    assert last[0] == "poststop" and json.loads(last[3])["status"] == "stopped"


def test_a_failing_prestart_hook_fails_create_and_leaves_nothing(rt, make_bundle, tmp_path):
    b = make_bundle("hkfail", ["true"])
    config = read_config(b)
    config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}],
                       "createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]}
    write_config(b, config)
    line = error_of(rt("create", "--bundle", b, "hkfail", check=False))
    assert "The prestart hook /bin/sh failed with status 3: nope" in line
    assert rt.status("hkfail") == "absent" and cgroup_dirs("hkfail") == []
    config["hooks"].pop("prestart")
    write_config(b, config)
    t0 = time.monotonic()
    assert "ran past its timeout of 1s" in error_of(rt("create", "--bundle", b, "hkfail", check=False))
    assert time.monotonic() - t0 < 4
    assert rt.status("hkfail") == "absent" and cgroup_dirs("hkfail") == []


# -- what callers' configs need ------------------------------------------------------------------
def test_podman_and_docker_config_details(rt, make_bundle):
    """tmpcopyup, `capabilities: {}`, zero values, only a deny-all device rule (runc adds its
    default allow list), a network namespace given by path, rlimits."""
    b = make_bundle("cfg", ["sh", "-c", "cat /etc/hostname-copy; grep -E '^Cap(Eff|Bnd)' /proc/self/status; "
                                        "echo x > /dev/null && head -c 4 /dev/urandom | wc -c; "
                                        "ip -o link | grep -c veth-peer; ulimit -n"])
    config = read_config(b)
    (b / "rootfs" / "etc" / "hostname-copy").write_text("copied up\n")
    config["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                             "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]})
    config["process"]["capabilities"] = {}
    config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 777, "soft": 777}]
    config["linux"]["resources"]["cpu"] = {"shares": 0}
    config["linux"]["resources"]["blockIO"] = {"weight": 0}
    config["linux"]["resources"]["memory"] = {"disableOOMKiller": False}
    assert config["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    netns = "runc-test-netns"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "link", "add", "veth-host", "type", "veth", "peer", "name", "veth-peer",
                        "netns", netns], check=True)
        config["linux"]["namespaces"] = [ns if ns["type"] != "network" else
                                         {"type": "network", "path": f"/run/netns/{netns}"}
                                         for ns in config["linux"]["namespaces"]]
        write_config(b, config)
        r = rt("run", "--bundle", b, "cfg", check=False)
    finally:
        subprocess.run(["ip", "link", "del", "veth-host"], check=False)
        subprocess.run(["ip", "netns", "del", netns], check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n") == ["copied up", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000",
                                    "4", "1", "777", ""]
    assert (b / "rootfs" / "etc" / "hostname-copy").read_text() == "copied up\n"


def test_the_devices_policy_stops_a_made_node(rt, make_bundle):
    """An attack: mknod is allowed (runc's default list), but a block device outside the
    allow list can not be opened, nor can the host's memory."""
    b = make_bundle("dev", ["sh", "-c", "mknod /dev/sda b 8 0; mknod /dev/mem2 c 1 1; "
                                        "head -c1 /dev/sda; echo rc=$?; head -c1 /dev/mem2; echo rc=$?"])
    r = rt("run", "--bundle", b, "dev", check=False)
    assert "rc=1\n" in r.stdout and r.stdout.count("rc=1") == 2, r.stdout + r.stderr
    assert "Operation not permitted" in r.stderr


def test_log_file_json_lines_and_the_same_error_on_stderr(runc_bin, tmp_path):
    log = tmp_path / "log.json"
    rt = Runc(runc_bin, SESSION_ROOT / f"runc-{tmp_path.name}", log=str(log), log_format="json")
    r = rt("kill", "ghost", "9", check=False)
    assert r.returncode == 1 and r.stderr == "container does not exist\n"
    record = json.loads(log.read_text().splitlines()[-1])
    assert set(record) == {"level", "msg", "time"}
    assert record["level"] == "error" and record["msg"] == "container does not exist"
    assert record["time"].endswith("Z")
    r = Runc(runc_bin, tmp_path / "x", log=str(log), log_format="yaml")("state", "x", check=False)
    assert "invalid log-format: yaml" in r.stderr


# -- cost -------------------------------------------------------------------------------------------
HEAVY = {"json", "re", "enum", "signal", "collections", "dataclasses", "inspect", "typing", "importlib", "socket"}


def test_the_verbs_import_none_of_the_heavy_stdlib(rt, make_bundle, tmp_path):
    """A caller starts an interpreter per verb, so a verb's imports are its cost: create's path
    has none of json, re, enum, dataclasses, inspect, typing (together ~20 ms once), and
    start, state, delete do not load the spec model, init or cgroups either."""
    b = make_bundle("imports", ["true"])
    code = ("import sys, os; sys.path.insert(0, sys.argv[1]); from bocker_magics.runc import main; "
            "status = main(sys.argv[3:]); open(sys.argv[2], 'w').write(' '.join(sorted(sys.modules))); "
            "os._exit(status)")
    parent = str(Path(__file__).resolve().parents[2])
    seen = {}
    for verb, args in (("create", ["create", "--bundle", str(b), "imports"]), ("start", ["start", "imports"]),
                       ("state", ["state", "imports"]), ("delete", ["delete", "--force", "imports"])):
        out = tmp_path / f"{verb}.modules"
        subprocess.run([sys.executable, "-I", "-S", "-c", code, parent, str(out), "--root", rt.root, *args],
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30)
        seen[verb] = set(out.read_text().split())
        if verb == "start":
            wait_status(rt, "imports", "stopped")
    assert "bocker_magics.engine.runtime.init" in seen["create"]  # the whole path was taken
    for verb, modules in seen.items():
        assert sorted(modules & HEAVY) == [], verb
    for verb in ("start", "state", "delete"):
        assert [m for m in ("bocker_magics.engine.spec", "bocker_magics.engine.runtime.init",
                            "bocker_magics.engine.kernel.cgroups") if m in seen[verb]] == [], verb


# -- runc itself ------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.access(RUNC, os.X_OK), reason="runc is not installed (apt-get install runc)")
def test_a_runc_spec_bundle_gives_the_same_output_as_under_runc(rt, make_bundle, tmp_path):
    """The same user, capabilities, devices, fds, mount points, rlimits and read-only root.
    (Mount options differ in details runc's own, such as the order of masked and read-only
    paths, and runc binds every cgroup v1 hierarchy where the engine binds its six.)"""
    script = ("hostname; id; ls /dev; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; ulimit -n; "
              "cat /proc/1/cmdline; echo; ls /proc/self/fd; "
              "awk '{print $2, $3}' /proc/mounts | grep -v cgroup | sort; touch /x 2>&1; echo x > /dev/null && echo ok")
    b = make_bundle("same", ["sh", "-c", script])
    ours = rt("run", "--bundle", b, "same", check=False)
    # runc makes its cgroup in every hierarchy, and leaves the parents: a parent of its own
    config = read_config(b)
    parent = f"{CGROUP_PARENT}-runc"
    config["linux"]["cgroupsPath"] = f"/{parent}/same"
    write_config(b, config)
    try:
        theirs = subprocess.run([RUNC, "--root", tmp_path / "runc-root", "run", "--bundle", b, "same"],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    finally:
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            if os.path.isdir(f"/sys/fs/cgroup/{hierarchy}/{parent}"):
                os.rmdir(f"/sys/fs/cgroup/{hierarchy}/{parent}")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == theirs.returncode
    assert ours.stdout == theirs.stdout
    assert "Read-only file system" in ours.stdout
    assert cgroup_dirs("same") == []
