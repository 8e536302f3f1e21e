"""The engine's Python API: what a container sees of the kernel, and what the host keeps."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from bocker_magics.engine.kernel.namespaces import ns_inodes, parse_links
from bocker_magics.engine.limits import Limits
from bocker_magics.errors import BockerError, NotFound
from tests.support.hostcheck import leftovers
from tests.support.session import CGROUP_PARENT

LIST_NS = "for n in /proc/self/ns/*; do echo ${n##*/} $(readlink $n); done"


def test_namespaces_differ_from_the_hosts(engine, busybox):
    r = engine.run(busybox, LIST_NS)
    inside, host = parse_links(r.text), ns_inodes()
    for kind in ("ipc", "mnt", "net", "pid", "pid_for_children", "uts"):
        assert inside[kind] != host[kind], kind
    assert inside["user"] == host["user"]  # no user namespace (yet): root is root


def test_hostname_is_the_container_id(engine, busybox):
    r = engine.run(busybox, "hostname")
    assert r.text == f"{r.id}\n"


def test_pid_1_is_the_command(engine, busybox):
    r = engine.run(busybox, "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'")
    pid, cmdline, count = r.text.splitlines()
    assert pid == "1" and cmdline.startswith("/bin/sh -c echo $$")
    assert int(count) <= 4  # sh, cat/tr, ls, grep: nothing of the host's


def test_root_is_an_overlay_reached_by_pivot_root(engine, busybox):
    r = engine.run(busybox, "cat /proc/self/mountinfo")
    mounts = [l.split() for l in r.text.splitlines()]
    root = [m for m in mounts if m[4] == "/"]
    assert len(root) == 1 and root[0][root[0].index("-") + 1] == "overlay"
    # pivot_root detached the old root: no host path is mounted in the container
    assert not any(m[4].startswith(("/work", "/tmp/bocker-test", "/var/lib/bocker")) for m in mounts)
    assert "upperdir=" in " ".join(root[0])


def test_the_old_root_is_unreachable(engine, busybox):
    # chroot would leave the host root one `cd ..` away; pivot_root + detach leaves nothing
    r = engine.run(busybox, "cd /; cd ../../..; ls /; ls /work 2>&1; ls /root/.pyenv 2>&1")
    assert "No such file or directory" in r.text
    assert "bocker_magics" not in r.text


def test_minimal_dev_and_readonly_sys(engine, busybox):
    r = engine.run(busybox, "ls /dev; ls -l /dev/null; touch /sys/x 2>&1; grep -w /sys /proc/mounts; "
                            "echo hi > /dev/null && echo null-ok; head -c 4 /dev/urandom | wc -c")
    names = set(r.text.split())
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd"):
        assert dev in names, dev
    assert "sda" not in names and "kmsg" not in names and "mem" not in names
    assert re.search(r"^crw-rw-rw- .* 1,\s+3 .* /dev/null$", r.text, re.M)
    assert "Read-only file system" in r.text
    assert re.search(r"^sysfs /sys sysfs ro,", r.text, re.M)
    assert "null-ok" in r.text and r.text.rstrip().endswith("4")


def test_network_none_has_only_lo_and_it_is_up(engine, busybox):
    r = engine.run(busybox, "cat /proc/net/dev; ip -o link; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo lo-ok",
                   network="none")
    ifaces = [l.split(":")[0].strip() for l in r.text.splitlines() if ":" in l and "|" not in l and not l[0].isdigit()]
    assert ifaces == ["lo"], r.text
    assert re.search(r"^1: lo: <LOOPBACK,UP,LOWER_UP>", r.text, re.M)
    assert "lo-ok" in r.text


def test_start_does_not_copy_the_image(engine, busybox):
    r = engine.run(busybox, "true")
    cdir = engine.store.container_dir(r.id)
    upper = [p for p in (cdir / "upper").rglob("*")]
    assert upper == []  # nothing of the image's was copied; the layers are lowerdirs


def test_writes_go_to_the_containers_upper_dir_only(engine, busybox):
    r = engine.run(busybox, "echo changed > /etc/motd; rm /bin/vi")
    cdir = engine.store.container_dir(r.id)
    assert (cdir / "upper" / "etc" / "motd").read_text() == "changed\n"
    assert os.stat(cdir / "upper" / "bin" / "vi").st_rdev == 0  # overlay whiteout
    layer = engine.images_store.layer_paths(engine.image(busybox))[0]
    assert (layer / "bin" / "vi").is_symlink() and not (layer / "etc" / "motd").exists()


def test_run_result_and_log(engine, busybox):
    seen = []
    r = engine.run(busybox, "echo one; echo two >&2; exit 5", on_output=seen.append)
    assert (r.exit_code, r.text) == (5, "one\ntwo\n")
    assert b"".join(seen) == r.output
    assert engine.logs(r.id) == r.output
    c = engine.container(r.id)
    assert c.status_text == "exited (5)" and c.command == "echo one; echo two >&2; exit 5"


def test_a_followed_log_is_read_out_after_the_container_is_removed(engine, busybox):
    # docker-py's run(remove=True) removes the container before it reads the followed log out
    r = engine.run(busybox, "echo one; sleep 0.3; echo two; echo three", detach=True)
    records = engine.log_records(r.id, follow=True)
    assert next(records).data == b"one"
    assert engine.wait(r.id, timeout=20) == 0
    engine.rm(r.id)
    assert [rec.data for rec in records] == [b"two", b"three"]


def test_state_files_are_json_and_complete(engine, busybox, schema):
    # The bundle: config.json is the OCI spec, state.json the OCI state with the engine's
    # fields beside it, container.json the engine's record.
    r = engine.run(busybox, "true")
    cdir = engine.store.container_dir(r.id)
    state = json.loads((cdir / "state.json").read_text())
    assert state["status"] == "stopped" and state["phase"] == "exited" and state["exitCode"] == 0
    assert state["bootId"] and state["id"] == r.id and state["bundle"] == str(cdir)
    assert schema("state-schema.json", {k: state[k] for k in ("ociVersion", "id", "status", "pid", "bundle")
                                        if k in state}) == []
    config = json.loads((cdir / "config.json").read_text())
    assert config["process"]["args"] == ["/bin/sh", "-c", "true"]
    assert schema("config-schema.json", config) == []
    record = json.loads((cdir / "container.json").read_text())
    assert record["layers"] and record["command"] == "true"
    assert not [p for p in cdir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("options", [
    {}, {"limits": Limits(memory=64 << 20, cpus=0.5, pids=50, cpu_shares=256)},
    {"volumes": ["/tmp:/mnt/tmp:ro", "/etc:/mnt/etc"]}, {"cap_add": ["NET_ADMIN"], "cap_drop": ["CHOWN"]},
    {"privileged": True}, {"network": "none"}, {"network": "host"}, {"network": "bridge"},
    {"hostname": "web-1", "env": ["A=1"], "workdir": "/tmp"},
], ids=["default", "limits", "volumes", "capabilities", "privileged", "none", "host", "bridge", "env"])
def test_every_config_json_validates_against_the_runtime_spec(engine, busybox, schema, options):
    r = engine.run(busybox, "true", **options)
    try:
        config = json.loads((engine.store.container_dir(r.id) / "config.json").read_text())
        assert schema("config-schema.json", config) == []
        assert engine.inspect(r.id)["Spec"] == config  # inspect shows the spec
    finally:
        engine.rm(r.id)


def test_a_reused_pid_does_not_look_running(engine, busybox):
    # The state names a live process (this one) with another start time: a reused pid.
    r = engine.run(busybox, "true")
    cdir = engine.store.container_dir(r.id)
    state = json.loads((cdir / "state.json").read_text())
    state.update(status="running", phase="running", pid=os.getpid(), pidStart=1, monitorPid=os.getpid(),
                 monitorStart=1)
    (cdir / "state.json").write_text(json.dumps(state))
    assert engine.container(r.id).status == "dead"
    state.update(bootId="another-boot")
    (cdir / "state.json").write_text(json.dumps(state))
    assert engine.container(r.id).status == "dead"


def test_run_from_a_threaded_process(engine, busybox):
    # A Jupyter kernel is threaded: starting containers from threads must work, since no
    # Python is ever forked from this process (the shim is exec'ed).
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(engine.run(busybox, f"echo {i}").text))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [f"{i}\n" for i in range(4)]


def test_keyboard_interrupt_stops_the_container(engine, busybox):
    name = f"interrupted-{os.getpid()}"

    def interrupt_once_running() -> None:
        # Ctrl-C while the container runs (a fixed delay fired before it existed on a busy machine)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if engine.container(name).running:
                    break
            except NotFound:
                pass
            time.sleep(0.05)
        sent.append(time.monotonic())
        os.kill(os.getpid(), 2)

    sent: list[float] = []
    timer = threading.Thread(target=interrupt_once_running, daemon=True)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        engine.run(busybox, "sleep 30", name=name)
    assert time.monotonic() - sent[0] < 10  # stopped at once, not after the sleep
    timer.join()
    c = engine.container(f"interrupted-{os.getpid()}")
    assert c.status_text == "exited (137)"
    assert leftovers(str(engine.store.root), CGROUP_PARENT, only_children=True) == []


def test_detached_run_and_rm_force(engine, busybox):
    r = engine.run(busybox, "sleep 30", detach=True)
    c = engine.container(r.id)
    assert c.running and c.pid
    assert Path(f"/proc/{c.pid}").exists()
    engine.rm(r.id, force=True)
    with pytest.raises(NotFound):
        engine.container(r.id)
    assert not Path(f"/proc/{c.pid}").exists() or Path(f"/proc/{c.pid}/stat").read_text().split()[2] == "Z"


def test_remove_flag(engine, busybox):
    r = engine.run(busybox, "true", remove=True)
    with pytest.raises(NotFound):
        engine.container(r.id)


def test_symlinked_proc_in_the_image_is_refused(engine, tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    os.symlink("/bin/busybox", tree / "bin" / "sh")
    import shutil
    shutil.copy("/bin/busybox", tree / "bin" / "busybox")
    os.symlink("/tmp", tree / "proc")
    img = engine.init(tree)
    with pytest.raises(BockerError, match="The image's /proc is a symbolic link"):
        engine.run(img.id, "true")
    assert not [c for c in engine.ps() if c.image == img.id]
    assert leftovers(str(engine.store.root), CGROUP_PARENT, only_children=True) == []


def test_missing_shell_in_the_image_is_127(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    img = engine.init(tmp_path / "empty")
    with pytest.raises(BockerError) as err:
        engine.run(img.id, "true")
    assert err.value.exit_code == 127 and "/bin/sh" in str(err.value)
    assert not [c for c in engine.ps() if c.image == img.id]


def test_v2_driver_runs_containers(engine, busybox, monkeypatch):
    """The v2 driver, running containers. On this hybrid host it runs against
    /sys/fs/cgroup/unified, which has no cpu/memory/pids controllers: join, accounting and
    teardown for real, and limits give the clear error. tests/host/test_v2vm.py runs this test
    again inside a pure cgroup v2 kernel, where every limit is set and enforced."""
    monkeypatch.setenv("BOCKER_CGROUP_DRIVER", "v2")
    engine.default_network = "none"  # cgroups are the point here (the VM has no iptables modules to spare)
    from bocker_magics.engine.kernel.cgroups import detect
    driver = detect(parent=CGROUP_PARENT)
    r = engine.run(busybox, "cat /proc/self/cgroup; ls /sys/fs/cgroup", limits=Limits())
    assert r.exit_code == 0, r.text
    assert f"0::/{CGROUP_PARENT}/{r.id}" in r.text.splitlines()
    assert "cgroup.procs" in r.text and "cpu.stat" in r.text
    if not {"memory", "cpu", "pids"} <= driver.available_controllers():
        with pytest.raises(BockerError, match="memory limit needs the cgroup v2 memory controller"):
            engine.run(busybox, "true", limits=Limits(memory=64 << 20))
    else:
        limits = Limits(memory=64 << 20, cpu_shares=512, cpus=0.5, pids=20)
        r = engine.run(busybox, "cd /sys/fs/cgroup; cat memory.max cpu.max pids.max cpu.weight", limits=limits)
        assert r.text.split() == [str(64 << 20), "50000", "100000", "20", "20"], r.text
        r = engine.run(busybox, "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived",
                       limits=Limits(memory=16 << 20))
        assert r.exit_code == 137 and r.oom_killed and "survived" not in r.text
        assert engine.container(r.id).status_text == "oom-killed"
        r = engine.run(busybox, "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done' 2>/dev/null; "
                                "read n < /sys/fs/cgroup/pids.current; echo $n", limits=Limits(pids=5))
        assert int(r.text.split()[-1]) <= 5
    assert driver.list_groups() == []


def test_no_command_runs_the_images_entrypoint_and_cmd(engine, busybox):
    img = engine.image(busybox)
    made = engine.images_store.create(img.layers, source="test", config={
        "Env": img.config["Env"], "Entrypoint": ["/bin/echo", "from-entrypoint"], "Cmd": ["and-cmd"]})
    try:
        assert engine.run(made.id).text == "from-entrypoint and-cmd\n"
        assert engine.run(made.id, "echo explicit").text == "explicit\n"  # the seed's sh -c
    finally:
        for c in engine.ps():
            if c.image == made.id:
                engine.rm(c.id)
        engine.rmi(made.id)
