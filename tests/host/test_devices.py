"""The devices policy (engine.kernel.devices) against the real kernel, as root; no mocks.

Each policy test runs once per cgroup version: v1 writes devices.deny/allow in the devices
hierarchy, v2 attaches a BPF device program to a directory of the cgroup2 mount (the
controller-less /sys/fs/cgroup/unified of a hybrid host is enough). A child process joins
the test's group first, then tries the attacks: mknod and open of device nodes in a temp
dir on a filesystem without nodev. Every group lives under bocker-devtest-<pid>-<n> and is
gone after the test. The rules as data and the --device parser: tests/unit/test_devices.py.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from bocker_magics.engine.kernel import devices, devices_bpf
from bocker_magics.engine.kernel.cgroups import V1Driver, V2Driver, controller_mounts, v2_mount
from bocker_magics.engine.kernel.devices import (
    DEFAULT_NODES,
    DeviceRule,
    apply,
    attached_programs,
    compile_program,
    default_rules,
    load_program,
    parse_device,
)
from bocker_magics.engine.limits import Limits
from bocker_magics.errors import BockerError, HostUnsupported

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="devices cgroup tests need root")


def _has_v1_devices() -> bool:
    return "devices" in controller_mounts()


def _has_v2() -> bool:
    try:
        V2Driver("probe", v2_mount())
        return True
    except HostUnsupported:
        return False


VERSIONS = [
    pytest.param("v1", marks=pytest.mark.skipif(not _has_v1_devices(), reason="no cgroup v1 devices hierarchy")),
    pytest.param("v2", marks=pytest.mark.skipif(not _has_v2(), reason="no cgroup2 mount")),
]

_serial = itertools.count()


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg, msg
    return msg


# --------------------------------------------------------------------------- the child

# Joins the group by writing "0" to each cgroup.procs (as a container's pid 1 does), then
# runs each action and answers "ok" or the errno's name.
CHILD = r"""
import errno, json, os, stat, sys
procs, actions = json.loads(sys.argv[1])
for f in procs:
    fd = os.open(f, os.O_WRONLY)
    os.write(fd, b"0")
    os.close(fd)
out = []
for a in actions:
    try:
        if a[0] == "open":
            os.close(os.open(a[1], os.O_RDWR if a[2] == "rw" else os.O_RDONLY))
        elif a[0] == "read":
            fd = os.open(a[1], os.O_RDONLY)
            try:
                if len(os.read(fd, a[2])) != a[2]:
                    raise OSError(errno.EIO, "short read")
            finally:
                os.close(fd)
        elif a[0] == "mknod":
            kind = stat.S_IFBLK if a[2] == "b" else stat.S_IFCHR
            os.mknod(a[1], kind | 0o600, os.makedev(a[3], a[4]))
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(json.dumps(out))
"""


def run_in(cg, actions: list[list]) -> list[str]:
    """Run ``actions`` in a fresh child inside group ``cg``; one answer per action."""
    p = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD, json.dumps([cg.procs_files(), actions])],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# What the probe tries to make: every default node, and devices a container must not get.
ROOT_DISK = (os.major(os.stat("/").st_dev), os.minor(os.stat("/").st_dev))
DEFAULT_PROBES = [(t, major, 0 if minor is None else minor) for _, t, major, minor in DEFAULT_NODES] + [("c", 136, 7)]
FORBIDDEN_PROBES = [
    ("b", 7, 0),  # /dev/loop0: the attack
    ("b", 7, 1),
    ("b", *ROOT_DISK),  # the host's root filesystem
    ("c", 1, 1),  # /dev/mem
    ("c", 1, 11),  # /dev/kmsg
    ("c", 4, 0),  # /dev/tty0
    ("c", 10, 200),  # /dev/net/tun
    ("c", 10, 229),  # /dev/fuse
]


def mknod_matrix(cg, tmp: str) -> set[tuple[str, int, int]]:
    """The device numbers a child of ``cg`` may make a node of (mknod = the "m" access)."""
    probes = DEFAULT_PROBES + FORBIDDEN_PROBES
    actions = [["mknod", os.path.join(tmp, f"probe{i}"), *p] for i, p in enumerate(probes)]
    answers = run_in(cg, actions)
    assert set(answers) <= {"ok", "EPERM"}, dict(zip(probes, answers))
    for i in range(len(probes)):
        try:
            os.unlink(os.path.join(tmp, f"probe{i}"))
        except FileNotFoundError:
            pass
    return {p for p, a in zip(probes, answers) if a == "ok"}


# --------------------------------------------------------------------------- fixtures


class World:
    """A test's groups (under a parent of its own) and its temp dir."""

    def __init__(self, version: str) -> None:
        self.version = version
        parent = f"bocker-devtest-{os.getpid()}-{next(_serial)}"
        self.driver = V1Driver(parent) if version == "v1" else V2Driver(parent, v2_mount())
        self.groups = []
        self.tmp = tempfile.mkdtemp(prefix="bocker-devtest-", dir="/tmp")
        # mknod tests need a filesystem that honours device nodes
        assert not os.statvfs(self.tmp).f_flag & os.ST_NODEV, f"{self.tmp} is on a nodev filesystem"

    def group(self, name: str = "c1"):
        cg = self.driver.group(name)
        cg.create(Limits().to_resources())
        self.groups.append(cg)
        return cg

    def close(self) -> None:
        for cg in self.groups:
            cg.destroy()
        self.driver.remove_parent()
        shutil.rmtree(self.tmp, ignore_errors=True)
        left = [d for d in self.driver.parent_dirs() if os.path.exists(d)]
        assert not left, f"left behind: {left}"
        assert not os.path.exists(self.tmp)


@pytest.fixture(params=VERSIONS)
def world(request):
    w = World(request.param)
    yield w
    w.close()


def extra_device() -> str:
    """The host device that --device adds in the tests: /dev/loop0 where there is one."""
    return "/dev/loop0" if os.path.exists("/dev/loop0") and stat.S_ISBLK(os.stat("/dev/loop0").st_mode) else "/dev/kmsg"


# --------------------------------------------------------------------------- rules as data
# (the rules alone and the --device option's parser: tests/unit/test_devices.py)


def test_program_stops_at_a_rule_that_decides_everything():
    # Rules before "allow a *:* rwm" are moot; the program is the header and one verdict
    # (anything after would be unreachable, which the verifier refuses).
    prog = compile_program([DeviceRule(False, "c", 1, 3), DeviceRule(True)])
    assert len(prog) == (6 + 2) * 8
    fd = load_program(prog)
    os.close(fd)
    assert len(compile_program([])) == (6 + 2) * 8  # no rules: deny everything


# --------------------------------------------------------------------------- both versions


def test_default_policy_allows_only_the_default_nodes(world):
    cg = world.group()
    t0 = time.perf_counter()
    apply(default_rules(), cg)
    print(f"{world.version}: default policy applied in {(time.perf_counter() - t0) * 1e3:.2f} ms")
    tmp = world.tmp
    # The attack: a node of the host's loop device (and of its root disk) made by
    # the parent, outside the policy; the child may neither make one nor open this one.
    loop = os.path.join(tmp, "hostloop")
    disk = os.path.join(tmp, "hostdisk")
    os.mknod(loop, stat.S_IFBLK | 0o600, os.makedev(7, 0))
    os.mknod(disk, stat.S_IFBLK | 0o600, os.makedev(*ROOT_DISK))
    answers = run_in(cg, [
        ["open", "/dev/null", "rw"],
        ["read", "/dev/zero", 64],
        ["read", "/dev/urandom", 64],
        ["open", "/dev/full", "rw"],
        ["mknod", os.path.join(tmp, "x"), "b", 7, 0],
        ["read", loop, 64],
        ["read", disk, 64],
        ["mknod", os.path.join(tmp, "null"), "c", 1, 3],
        ["read", os.path.join(tmp, "null"), 0],
        ["open", "/dev/kmsg", "r"],
    ])
    assert answers == ["ok", "ok", "ok", "ok", "EPERM", "EPERM", "EPERM", "ok", "ok", "EPERM"]
    assert not os.path.exists(os.path.join(tmp, "x"))
    assert mknod_matrix(cg, tmp) == set(DEFAULT_PROBES)
    # outside the group nothing changed
    with open(loop, "rb"):
        pass


def test_device_option_adds_exactly_that_device(world):
    cg = world.group()
    host = extra_device()
    node, rule = parse_device(f"{host}:/dev/extra:rwm")
    apply(default_rules() + [rule], cg)
    assert mknod_matrix(cg, world.tmp) == set(DEFAULT_PROBES) | {(node.type, node.major, node.minor)}
    made = os.path.join(world.tmp, "extra")
    assert run_in(cg, [
        ["open", host, "r"],
        ["mknod", made, node.type, node.major, node.minor],
        ["open", made, "r"],
    ]) == ["ok", "ok", "ok"]


def test_read_only_device_cannot_be_written_or_made(world):
    cg = world.group()
    node, rule = parse_device("/dev/zero:/dev/z:r")
    apply([DeviceRule(False)] + [rule], cg)
    assert run_in(cg, [
        ["open", "/dev/zero", "r"],
        ["open", "/dev/zero", "rw"],
        ["mknod", os.path.join(world.tmp, "z"), "c", 1, 5],
        ["open", "/dev/null", "r"],
    ]) == ["ok", "EPERM", "EPERM", "EPERM"]


def test_a_later_rule_overrides_an_earlier_one(world):
    cg = world.group()
    # allow everything, then deny writes to /dev/null: the deny wins where they overlap
    apply([DeviceRule(True), DeviceRule(False, "c", 1, 3, "w")], cg)
    assert run_in(cg, [
        ["open", "/dev/null", "r"],
        ["open", "/dev/null", "rw"],
        ["open", "/dev/zero", "rw"],
    ]) == ["ok", "EPERM", "ok"]


def test_update_replaces_the_policy(world):
    cg = world.group()
    host = extra_device()
    _, rule = parse_device(host)
    apply(default_rules(), cg)
    first = attached_programs(cg.paths()["unified"]) if world.version == "v2" else None
    assert run_in(cg, [["open", host, "r"], ["open", "/dev/null", "r"]]) == ["EPERM", "ok"]
    t0 = time.perf_counter()
    apply(default_rules() + [rule], cg)
    print(f"{world.version}: policy replaced in {(time.perf_counter() - t0) * 1e3:.2f} ms")
    assert run_in(cg, [["open", host, "r"], ["open", "/dev/null", "r"]]) == ["ok", "ok"]
    apply(default_rules(), cg)
    assert run_in(cg, [["open", host, "r"], ["open", "/dev/null", "r"]]) == ["EPERM", "ok"]
    if world.version == "v2":
        now = attached_programs(cg.paths()["unified"])
        assert len(first) == 1 and len(now) == 1 and now != first  # swapped, not stacked
        wait_freed(first[0])
    else:
        listed = open(os.path.join(cg.paths()["devices"], "devices.list")).read().split("\n")
        assert sorted(x for x in listed if x) == sorted(
            ["c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
             "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"]
        )


def wait_freed(prog_id: int, timeout: float = 10.0) -> None:
    """The kernel frees a detached program after an RCU grace period: wait for its id to go."""
    deadline = time.monotonic() + timeout
    while True:
        fd = devices._prog_fd(prog_id)
        if fd is None:
            return
        os.close(fd)
        assert time.monotonic() < deadline, f"BPF program {prog_id} still loaded after {timeout:g}s"
        time.sleep(0.05)


@pytest.mark.parametrize("version", [VERSIONS[1]])
def test_v2_program_goes_with_the_group(version):
    w = World(version)
    try:
        cg = w.group()
        apply(default_rules(), cg)
        (prog_id,) = attached_programs(cg.paths()["unified"])
    finally:
        w.close()
    wait_freed(prog_id)


def test_v1_without_the_devices_hierarchy_is_one_line():
    cg = V1Driver("bocker-devtest-none", {"pids": "/nonexistent/pids"}).group("c1")
    with pytest.raises(HostUnsupported) as ei:
        apply(default_rules(), cg)
    assert "cgroup v1 devices controller" in one_line(ei.value)


def test_policy_for_a_missing_group_is_one_line(world):
    cg = world.driver.group("never-made")
    with pytest.raises(BockerError) as ei:
        apply(default_rules(), cg)
    assert "never-made" in one_line(ei.value) or "no cgroup" in one_line(ei.value)


# --------------------------------------------------------------------------- the verifier


def test_a_program_the_verifier_refuses_is_one_line():
    # exit without setting r0, and a read past the end of struct bpf_cgroup_dev_ctx
    exit_only = devices._insn(0x95)
    with pytest.raises(BockerError) as ei:
        load_program(exit_only)
    msg = one_line(ei.value)
    assert "verifier refused" in msg and "R0 !read_ok" in msg
    past_end = devices._insn(0x61, 2, 1, off=12) + devices._insn(0xB7, 0, imm=1) + devices._insn(0x95)
    with pytest.raises(BockerError) as ei:
        load_program(past_end)
    msg = one_line(ei.value)
    assert "verifier refused" in msg and "off=12" in msg
    with pytest.raises(BockerError) as ei:
        load_program(b"\x95\x00")
    assert "8-byte instructions" in one_line(ei.value)


@pytest.mark.parametrize("version", [VERSIONS[1]])
def test_load_failure_leaves_no_attachment(version, monkeypatch):
    w = World(version)
    try:
        cg = w.group()
        # a broken compiler: the error is one line and the group gets no program
        monkeypatch.setattr(devices_bpf, "compile_program", lambda rules: devices._insn(0x95))  # where attach_v2 finds it
        with pytest.raises(BockerError) as ei:
            apply(default_rules(), cg)
        assert "verifier" in one_line(ei.value)
        assert attached_programs(cg.paths()["unified"]) == []
    finally:
        w.close()
