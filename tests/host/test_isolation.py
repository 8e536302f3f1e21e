"""Docker's isolation, tested as attacks from inside a default container that must fail
(issue 11's findings): the devices cgroup, seccomp, users, read-only roots, limits.

The attacks run a small static C program (tests/support/programs/attack.c) bound into the container
read-only: one system call each, with harmless arguments, printing ok or its errno."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.session import SESSION_ROOT, bocker

PROGRAMS = Path(__file__).resolve().parents[1] / "support" / "programs"
ATTACKS = ["add_key", "keyctl", "unshare_user", "unshare_mount", "mount", "init_module", "kexec_load",
           "reboot", "clock_settime", "bpf", "perf_event_open"]


@pytest.fixture(scope="module")
def attack(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("attack")
    subprocess.run(["gcc", "-static", "-O1", "-o", str(out / "attack"), str(PROGRAMS / "attack.c")], check=True)
    return out


def run_attack(engine, busybox, attack: Path, *calls: str, **options) -> dict[str, str]:
    script = "; ".join(f"/attack/attack {c}" for c in calls)
    r = engine.run(busybox, script, network="none", volumes=[f"{attack}:/attack:ro", *options.pop("volumes", [])],
                   **options)
    results = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines())
    try:
        engine.rm(r.id)
    except Exception:
        pass
    return results


# -- seccomp ----------------------------------------------------------------------------------
def test_every_attack_fails_with_eperm_in_a_default_container(engine, busybox, attack):
    results = run_attack(engine, busybox, attack, *ATTACKS)
    assert results == {name: "EPERM" for name in ATTACKS}


def test_the_filter_is_what_stops_them(engine, busybox, attack):
    # Without the filter (unconfined), root in the container gets through where its
    # capabilities allow: the keyring of the host's root, a new user namespace.
    results = run_attack(engine, busybox, attack, "keyctl", "unshare_user", "add_key",
                         security_opt=["seccomp=unconfined"])
    assert results["keyctl"] == "ok" and results["unshare_user"] == "ok" and results["add_key"] == "ok"


def test_seccomp_mode_inside(engine, busybox):
    def mode(**options) -> str:
        r = engine.run(busybox, "grep ^Seccomp: /proc/self/status", network="none", remove=True, **options)
        return r.text.split()[1]
    assert mode() == "2"
    assert mode(security_opt=["seccomp=unconfined"]) == "0"
    assert mode(privileged=True) == "0"


def test_the_profile_follows_the_capabilities(engine, busybox, attack):
    # mount and unshare(CLONE_NEWNS) are allowed with CAP_SYS_ADMIN, as in Docker's profile
    results = run_attack(engine, busybox, attack, "mount", "unshare_mount", "keyctl", cap_add=["SYS_ADMIN"])
    assert results["mount"] == "ok" and results["unshare_mount"] == "ok"
    assert results["keyctl"] == "EPERM"  # keyrings are never allowed
    results = run_attack(engine, busybox, attack, "clock_settime", cap_add=["SYS_TIME"])
    assert results["clock_settime"] == "ok" or results["clock_settime"] != "EPERM"


def test_a_profile_file_of_docker_format(engine, busybox, tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    r = engine.run(busybox, "mkdir /tmp/d 2>&1; echo rc=$?", network="none", remove=True,
                   security_opt=[f"seccomp={path}"])
    assert "Permission denied" in r.text and "rc=1" in r.text
    spec = json.loads(json.dumps(profile))
    assert spec["defaultAction"] == "SCMP_ACT_ALLOW"


def test_inspect_shows_the_profile(engine, busybox):
    r = engine.run(busybox, "true", network="none")
    try:
        seccomp = engine.inspect(r.id)["Spec"]["linux"]["seccomp"]
        assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
        assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"} <= set(seccomp["architectures"])
    finally:
        engine.rm(r.id)


def test_normal_work_runs_under_the_filter(engine, busybox):
    r = engine.run(busybox, "seq 1 1000 | sort -rn | head -3 | tr '\\n' ' '; echo; "
                   "(sleep 0.1 & wait); ls /bin | wc -l; wget --help >/dev/null 2>&1; echo $?",
                   network="none", remove=True)
    lines = r.text.splitlines()
    assert r.exit_code == 0 and lines[0] == "1000 999 998 " and int(lines[1]) > 50


@pytest.fixture(scope="module")
def python_image(engine_module):
    from tests.support.pyimage import available, push_python_image
    from tests.support.registry_fixtures import Registry, missing_tools
    if missing_tools() or not available():
        pytest.skip(f"needs {missing_tools() or 'python3.11'} (quickstart.sh test installs them)")
    work = SESSION_ROOT / "pyimage-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    reg = Registry(work / "registry")
    try:
        image_id = engine_module.pull(push_python_image(work, reg)).id
    finally:
        reg.stop()  # pulled: the registry's work is done
        shutil.rmtree(work, ignore_errors=True)
    yield image_id


@pytest.fixture(scope="module")
def engine_module():
    from bocker_magics.engine import Engine
    from tests.support.session import CGROUP_PARENT
    e = Engine(SESSION_ROOT / "root", cgroup_parent=CGROUP_PARENT)
    yield e
    e.close()


PY_SCRIPT = """
import json, os, subprocess, threading
out = []
ts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
pid = os.fork()
if pid == 0:
    os._exit(7)
_, status = os.waitpid(pid, 0)
sub = subprocess.run(["/bin/sh", "-c", "echo sub"], capture_output=True, text=True).stdout.strip()
mode = open("/proc/self/status").read().split("Seccomp:")[1].split()[0]
print(json.dumps({"threads": sorted(out), "fork": os.waitstatus_to_exitcode(status), "sub": sub, "seccomp": mode}))
"""


def test_a_python_image_pulled_from_a_registry_runs_threads_and_forks(engine_module, python_image):
    r = engine_module.run(python_image, ["/usr/bin/python3", "-S", "-c", PY_SCRIPT], network="none", remove=True)
    assert r.exit_code == 0, r.text
    assert json.loads(r.stdout) == {"threads": [i * i for i in range(8)], "fork": 7, "sub": "sub", "seccomp": "2"}


# -- devices ----------------------------------------------------------------------------------
def test_mknod_and_read_of_a_host_block_device_fail(engine, busybox, attack, tmp_path):
    # a node made on the host, bound in: the devices cgroup refuses to open it
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    os.mknod(nodes / "loop", 0o600 | stat.S_IFBLK, os.makedev(7, 0))
    results = run_attack(engine, busybox, attack, "mknod_block", volumes=[f"{nodes}:/nodes"])
    assert results["mknod_block"] == "EPERM"
    r = engine.run(busybox, "head -c 64 /nodes/loop >/dev/null 2>&1; echo rc=$?", network="none", remove=True,
                   volumes=[f"{nodes}:/nodes"])
    assert r.text.strip() == "rc=1"


def test_the_default_nodes_work(engine, busybox):
    r = engine.run(busybox, "head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; echo x > /dev/null; "
                   "dd if=/dev/zero of=/dev/full bs=1 count=1 2>&1; ls /dev/pts/ptmx", network="none", remove=True)
    lines = r.text.splitlines()
    assert lines[:2] == ["4", "4"] and "No space left" in r.text and "/dev/pts/ptmx" in r.text


def test_device_gives_exactly_one_more(engine, busybox):
    host = next((d for d in ("/dev/loop0", "/dev/kmsg", "/dev/loop-control") if os.path.exists(d)), None)
    if host is None:
        pytest.skip("no /dev/loop0, /dev/kmsg or /dev/loop-control on this host to pass through")
    st = os.stat(host)
    kind = "b" if stat.S_ISBLK(st.st_mode) else "c"
    probe = (f"mknod /tmp/n {kind} {os.major(st.st_rdev)} {os.minor(st.st_rdev)} 2>/dev/null; "
             "dd if=/tmp/n of=/dev/null bs=1 count=0 2>/dev/null; echo made=$?; "
             "mknod /tmp/other c 1 11 2>/dev/null; echo other=$?")
    without = engine.run(busybox, probe, network="none", remove=True)
    assert without.text.split() == ["made=1", "other=1"]  # neither node may be made (or opened)
    with_it = engine.run(busybox, f"ls -l {host} | cut -c1; {probe}", network="none", remove=True, devices=[host])
    assert with_it.text.split() == [kind, "made=0", "other=1"]  # that one, and only that one
    c = engine.run(busybox, "true", network="none", devices=[host])
    try:
        assert any(d["path"] == host for d in engine.inspect(c.id)["Spec"]["linux"]["devices"])
    finally:
        engine.rm(c.id)


# -- users ------------------------------------------------------------------------------------
def test_user_by_name_by_number_and_with_a_group(engine, busybox):
    def ids(**options) -> str:
        return engine.run(busybox, "id -u; id -g; id -G; grep CapEff /proc/self/status", network="none",
                          remove=True, **options).text.split("\n")
    assert ids(user="nobody")[:2] == ["65534", "65534"]
    assert ids(user="1234")[:2] == ["1234", "0"]
    assert ids(user="1000:1000")[:2] == ["1000", "1000"]
    assert ids(user="nobody:root")[:2] == ["65534", "0"]
    out = ids(user="nobody", group_add=["root", "1234"])
    assert set(out[2].split()) == {"65534", "0", "1234"}
    assert out[3].split()[1] == "0000000000000000"  # no capability is effective for another user
    assert ids()[3].split()[1] != "0000000000000000"  # root keeps Docker's set


def test_the_images_user_and_the_hosts_nss_is_never_asked(engine, busybox):
    img = engine.image(busybox)
    made = engine.images_store.create(img.layers, "test", names=[f"as-nobody:{os.getpid()}"],
                                      config={**img.config, "User": "nobody"})
    try:
        r = engine.run(made.id, "id -un; echo $HOME", network="none", remove=True)
        assert r.text == "nobody\n/home\n"  # the image's passwd says so
        # a name the host knows but the image does not: not found
        with pytest.raises(Exception, match="Unable to find user 'daemon'"):
            engine.run(made.id, "true", network="none", user="daemon")
    finally:
        engine.rmi(made.id)


def test_exec_as_another_user(engine, busybox):
    r = engine.run(busybox, "sleep 30", network="none", detach=True)
    try:
        assert engine.exec(r.id, "id -u", user="nobody").text == "65534\n"
        assert engine.exec(r.id, "id -u").text == "0\n"
    finally:
        engine.rm(r.id, force=True)


# -- read-only roots, limits ------------------------------------------------------------------
def test_read_only_root_with_writable_volume_and_tmpfs(engine, busybox, tmp_path):
    r = engine.run(busybox, "touch /x 2>&1; touch /data/x && echo vol-ok; touch /scratch/x && echo tmpfs-ok; "
                   "grep ' /scratch ' /proc/mounts", network="none", remove=True, read_only=True,
                   volumes=[f"{tmp_path}:/data"], tmpfs=["/scratch:size=1m"])
    assert "Read-only file system" in r.text and "vol-ok" in r.text and "tmpfs-ok" in r.text
    assert "size=1024k" in r.text and (tmp_path / "x").exists()


def test_ulimit_oom_score_and_sysctl(engine, busybox):
    r = engine.run(busybox, "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; cat /proc/sys/kernel/shmmax; "
                   "cat /proc/sys/net/ipv4/ip_forward", network="none", remove=True,
                   ulimits=["nofile=100:200"], oom_score_adj=500,
                   sysctls=["kernel.shmmax=123456", "net.ipv4.ip_forward=1"])
    assert r.text.split() == ["100", "200", "500", "123456", "1"]
    # the host's own values did not change
    assert Path("/proc/sys/kernel/shmmax").read_text().strip() != "123456"


@pytest.mark.parametrize("args,words", [
    (["--sysctl", "kernel.panic=1"], "not namespaced"),
    (["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"], "--network host"),
    (["--ulimit", "nofiles=1"], "--ulimit"),
    (["--security-opt", "seccomp=/nonexistent.json"], "seccomp profile"),
    (["--security-opt", "no-new-privileges=false"], "no_new_privs"),
    (["--device", "/etc/passwd"], "not a"),
    (["-u", "nosuchuser"], "Unable to find user"),
    (["--group-add", "nosuchgroup"], "Unable to find group"),
])
def test_bad_isolation_options_are_one_line(args, words, busybox, assert_nothing_left):
    r = bocker("run", *args, "busybox", "true")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and words in r.stderr, r.stderr
    assert_nothing_left()
