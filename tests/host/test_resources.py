"""Every field of the runtime spec's linux.resources that runc 1.1 applies, through the cgroup
drivers, against the real kernel (run as root; no mocks): written, then read back from the
group's own file. What this kernel or cgroup version does not offer (a controller not
mounted, a file v2 lacks) must be refused in one line, before anything is made.

Each test runs once per driver. This host is cgroup v1 (hybrid: its cgroup2 mount has no cpu,
memory or pids), so most v2 cases here check the refusal; tests/test_v2vm.py runs this file
in a pure cgroup v2 VM, where they are written and read back for real.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import pytest

from bocker_magics.engine.kernel.cgroups import CgroupDriver, V1Driver, V2Driver, detect, shares_to_weight, v2_mount
from bocker_magics.engine.spec import Resources, read_object
from bocker_magics.errors import BockerError, HostUnsupported, InvalidArgument

MiB = 1 << 20

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="cgroup tests need root")


def _probe(make) -> set[str] | None:
    try:
        return make().available_controllers()
    except HostUnsupported:
        return None


V1 = _probe(lambda: V1Driver("probe"))
V2 = _probe(lambda: V2Driver("probe", v2_mount()))
DRIVERS = [pytest.param(v, id=f"{v}-{'+'.join(sorted(c or [])) or 'none'}",
                        marks=[pytest.mark.skip(reason=f"no cgroup {v} hierarchy")] if c is None else [])
           for v, c in (("v1", V1), ("v2", V2))]
_serial = itertools.count()


@pytest.fixture(params=DRIVERS)
def driver(request, monkeypatch):
    monkeypatch.setenv("BOCKER_CGROUP_DRIVER", request.param)
    d = detect(f"bocker-res-{os.getpid()}-{next(_serial)}")
    yield d
    for cid in d.list_groups():
        d.group(cid).destroy()
    d.remove_parent()
    assert not [p for p in d.parent_dirs() if os.path.exists(p)], "left behind"


def res(**doc) -> Resources:
    return read_object(Resources, doc, "the test's resources")


def read(cg, controller: str, name: str) -> str:
    d = cg.paths()["unified" if "unified" in cg.paths() else controller]
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg
    return msg


def refused(driver: CgroupDriver, resources: Resources, *words: str, error=HostUnsupported) -> str:
    """create refuses in one line naming `words`, and leaves nothing."""
    cg = driver.group("refused")
    with pytest.raises(error) as ei:
        cg.create(resources)
    msg = one_line(ei.value)
    for w in words:
        assert w in msg, msg
    assert not cg.exists() and driver.list_groups() == []
    return msg


def has(driver: CgroupDriver, controller: str) -> bool:
    return controller in driver.available_controllers()


def missing(driver: CgroupDriver, resources: Resources, controller: str) -> None:
    why = "not mounted" if driver.name == "v1" else "not enabled"
    refused(driver, resources, f"needs the cgroup {driver.name} {controller} controller", why)


def pure_v2_or_v1(driver: CgroupDriver) -> None:
    if driver.name == "v2" and driver.mount != "/sys/fs/cgroup":
        pytest.skip("a controller of the hybrid host's own cgroup2 root: the test leaves its subtree_control alone")


# --------------------------------------------------------------------------- memory

MEMORY = {"limit": 64 * MiB, "reservation": 32 * MiB, "swap": 96 * MiB}


def test_memory_limit_reservation_and_swap(driver):
    r = res(memory=MEMORY)
    if not has(driver, "memory"):
        return missing(driver, r, "memory")
    cg = driver.group("c1")
    if driver.name == "v1":
        if not os.path.exists(os.path.join(driver.mounts["memory"], "memory.memsw.limit_in_bytes")):
            refused(driver, r, "memory.swap", "memory.memsw.limit_in_bytes")
            return cg.create(res(memory={"limit": 64 * MiB, "reservation": 32 * MiB}))
        cg.create(r)
        assert read(cg, "memory", "memory.limit_in_bytes") == str(64 * MiB)
        assert read(cg, "memory", "memory.soft_limit_in_bytes") == str(32 * MiB)
        assert read(cg, "memory", "memory.memsw.limit_in_bytes") == str(96 * MiB)
        # growing: memory+swap is raised before the limit, shrinking lowered after it
        cg.apply_resources(res(memory={"limit": 200 * MiB, "swap": 300 * MiB}))
        assert read(cg, "memory", "memory.limit_in_bytes") == str(200 * MiB)
        cg.apply_resources(res(memory={"limit": 20 * MiB, "swap": 20 * MiB}))
        assert read(cg, "memory", "memory.memsw.limit_in_bytes") == str(20 * MiB)
        assert read(cg, "memory", "memory.soft_limit_in_bytes") == str(32 * MiB)  # not given: left alone
    else:
        cg.create(r)
        assert read(cg, "memory", "memory.max") == str(64 * MiB)
        assert read(cg, "memory", "memory.low") == str(32 * MiB)
        if os.path.exists(os.path.join(cg.paths()["unified"], "memory.swap.max")):
            assert read(cg, "memory", "memory.swap.max") == str(32 * MiB)  # v2: the swap alone
        cg.apply_resources(res(memory={"limit": -1, "reservation": -1}))
        assert read(cg, "memory", "memory.max") == "max" and read(cg, "memory", "memory.low") == "max"


def test_swap_below_the_limit_is_refused(driver):
    r = res(memory={"limit": 64 * MiB, "swap": 32 * MiB})
    if driver.name == "v2":  # checked before anything else: no kernel takes it
        refused(driver, r, "memory+swap limit should be >= memory limit", error=InvalidArgument)
        return
    if not has(driver, "memory"):
        return missing(driver, r, "memory")
    else:  # the kernel's own refusal: memsw below limit_in_bytes
        if not os.path.exists(os.path.join(driver.mounts["memory"], "memory.memsw.limit_in_bytes")):
            pytest.skip("no swap accounting on this kernel: tested by test_memory_limit_reservation_and_swap")
        refused(driver, r, "refused", "memory.memsw.limit_in_bytes", error=BockerError)


V1_MEMORY = {"swappiness": 10, "disableOOMKiller": True, "useHierarchy": True, "kernelTCP": 16 * MiB,
             "kernel": 48 * MiB}


def test_memory_v1_knobs(driver):
    if driver.name == "v2":
        # v2 has no file for them: each is one line, before anything is made
        for key, value in V1_MEMORY.items():
            if key == "useHierarchy":
                continue  # true: what every v2 group is (below)
            refused(driver, res(memory={key: value}), f"linux.resources.memory.{key} cannot be set on cgroup v2")
        refused(driver, res(memory={"useHierarchy": False}), "memory.useHierarchy", "hierarchical")
        return cg_v2_hierarchy_true(driver)
    if not has(driver, "memory"):
        return missing(driver, res(memory=V1_MEMORY), "memory")
    cg = driver.group("c1")
    cg.create(res(memory=V1_MEMORY))
    assert read(cg, "memory", "memory.swappiness") == "10"
    oom = dict(line.split() for line in read(cg, "memory", "memory.oom_control").splitlines())
    assert oom["oom_kill_disable"] == "1"
    assert read(cg, "memory", "memory.use_hierarchy") == "1"
    assert read(cg, "memory", "memory.kmem.tcp.limit_in_bytes") == str(16 * MiB)
    # Linux 6.x takes memory.kmem.limit_in_bytes and ignores it (kernel memory limits are
    # deprecated since 5.4): written without an error, read back as set or as no limit
    assert int(read(cg, "memory", "memory.kmem.limit_in_bytes")) in (48 * MiB, 9223372036854771712)
    with pytest.raises(InvalidArgument) as ei:
        cg.apply_resources(res(memory={"swappiness": 101}))
    assert "invalid memory swappiness value: 101 (valid range is 0-100)" in one_line(ei.value)


def cg_v2_hierarchy_true(driver: CgroupDriver) -> None:
    cg = driver.group("c1")
    cg.create(res(memory={"useHierarchy": True}))  # what v2 always is: nothing to write
    assert cg.exists()


# --------------------------------------------------------------------------- cpu

def test_cpu_shares_quota_period(driver):
    r = res(cpu={"shares": 2048, "quota": 30000, "period": 60000})
    if not has(driver, "cpu"):
        return missing(driver, r, "cpu")
    cg = driver.group("c1")
    cg.create(r)
    if driver.name == "v1":
        assert read(cg, "cpu", "cpu.shares") == "2048"
        assert (read(cg, "cpu", "cpu.cfs_quota_us"), read(cg, "cpu", "cpu.cfs_period_us")) == ("30000", "60000")
        cg.apply_resources(res(cpu={"quota": -1}))
        assert read(cg, "cpu", "cpu.cfs_quota_us") == "-1"
    else:
        assert read(cg, "cpu", "cpu.weight") == str(shares_to_weight(2048))
        assert read(cg, "cpu", "cpu.max") == "30000 60000"
        cg.apply_resources(res(cpu={"quota": -1, "period": 60000}))
        assert read(cg, "cpu", "cpu.max") == "max 60000"


def test_cpu_idle(driver):
    r = res(cpu={"idle": 1})
    if not has(driver, "cpu"):
        return missing(driver, r, "cpu")
    cg = driver.group("c1")
    cg.create(r)
    assert read(cg, "cpu", "cpu.idle") == "1"


def test_cpu_realtime(driver):
    r = res(cpu={"realtimePeriod": 100000, "realtimeRuntime": 1000})
    if driver.name == "v2":
        refused(driver, r, "linux.resources.cpu.realtime", "cannot be set on cgroup v2", "realtime CPU budgets")
        return
    if not has(driver, "cpu"):
        return missing(driver, r, "cpu")
    if not os.path.exists(os.path.join(driver.mounts["cpu"], "cpu.rt_runtime_us")):
        return refused(driver, r, "cpu.rt_period_us")  # a kernel without realtime group scheduling
    # a group's realtime budget comes out of its parent's: the kernel refuses it while the
    # engine's parent has none, in one line
    msg = refused(driver, r, "refused", "cpu.rt_runtime_us", error=InvalidArgument)
    assert "linux.resources.cpu.realtimeRuntime=1000" in msg
    parent = os.path.join(driver.mounts["cpu"], driver.parent)
    os.makedirs(parent, exist_ok=True)
    with open(os.path.join(parent, "cpu.rt_runtime_us"), "w") as f:
        f.write("20000")
    cg = driver.group("c1")
    cg.create(r)
    assert (read(cg, "cpu", "cpu.rt_period_us"), read(cg, "cpu", "cpu.rt_runtime_us")) == ("100000", "1000")


def test_cpuset_cpus_and_mems_and_a_task_joins(driver):
    r = res(cpu={"cpus": "0", "mems": "0"})
    if not has(driver, "cpuset"):
        return missing(driver, r, "cpuset")
    pure_v2_or_v1(driver)
    cg = driver.group("c1")
    cg.create(r)
    assert (read(cg, "cpuset", "cpuset.cpus"), read(cg, "cpuset", "cpuset.mems")) == ("0", "0")
    # a task can join (a v1 cpuset group is given cpus and mems before) and runs on cpu 0 only
    out = subprocess.run(["sh", "-c", 'for f in "$@"; do echo 0 > "$f" || exit 99; done; '
                          "grep Cpus_allowed_list /proc/self/status", "sh", *cg.join_files()],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Cpus_allowed_list:", "0"]


def test_pids_limit_and_max(driver):
    if not has(driver, "pids"):
        return missing(driver, res(pids={"limit": 9}), "pids")
    cg = driver.group("c1")
    cg.create(res(pids={"limit": 9}))
    assert read(cg, "pids", "pids.max") == "9"
    cg.apply_resources(res(pids={"limit": -1}))
    assert read(cg, "pids", "pids.max") == "max"


# --------------------------------------------------------------------------- block io

def _block_device() -> tuple[int, int] | None:
    for name in sorted(os.listdir("/sys/block")):
        if name.startswith(("loop", "ram", "zram")):
            continue
        with open(f"/sys/block/{name}/dev") as f:
            major, minor = f.read().strip().split(":")
        return int(major), int(minor)
    return None


def test_block_io_throttles(driver):
    dev = _block_device()
    if dev is None:
        pytest.skip("no block device here to throttle")
    major, minor = dev
    r = res(blockIO={"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
                     "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 2097152}],
                     "throttleReadIOPSDevice": [{"major": major, "minor": minor, "rate": 100}],
                     "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 200}]})
    ctrl = "blkio" if driver.name == "v1" else "io"
    if not has(driver, ctrl):
        return missing(driver, r, ctrl)
    pure_v2_or_v1(driver)
    cg = driver.group("c1")
    cg.create(r)
    if driver.name == "v1":
        for name, rate in (("read_bps_device", 1048576), ("write_bps_device", 2097152),
                           ("read_iops_device", 100), ("write_iops_device", 200)):
            assert read(cg, "blkio", f"blkio.throttle.{name}") == f"{major}:{minor} {rate}"
    else:
        line = next(x for x in read(cg, "io", "io.max").splitlines() if x.startswith(f"{major}:{minor} "))
        assert line.split()[1:] == ["rbps=1048576", "wbps=2097152", "riops=100", "wiops=200"]


def test_block_io_weights(driver):
    dev = _block_device()
    r = res(blockIO={"weight": 500})
    ctrl = "blkio" if driver.name == "v1" else "io"
    if not has(driver, ctrl):
        return missing(driver, r, ctrl)
    pure_v2_or_v1(driver)
    cg = driver.group("c1")
    try:
        cg.create(r)
    except HostUnsupported as e:  # no proportional scheduler (CFQ, BFQ) for any device here
        names = ("blkio.weight or blkio.bfq.weight",) if driver.name == "v1" else ("io.weight",)
        assert all(n in one_line(e) for n in names) and not cg.exists()
    else:
        if driver.name == "v1":
            assert "500" in (read(cg, "blkio", "blkio.weight") if os.path.exists(
                os.path.join(cg.paths()["blkio"], "blkio.weight")) else read(cg, "blkio", "blkio.bfq.weight"))
        elif os.path.exists(os.path.join(cg.paths()["unified"], "io.bfq.weight")):
            assert "500" in read(cg, "io", "io.bfq.weight")
        else:
            assert read(cg, "io", "io.weight").split()[-1] == str(1 + (500 - 10) * 9999 // 990)
        cg.destroy()
    leaf = res(blockIO={"leafWeight": 300})
    if driver.name == "v2":
        refused(driver, leaf, "linux.resources.blockIO.leafWeight cannot be set on cgroup v2")
    elif not os.path.exists(os.path.join(driver.extra["blkio"], "blkio.leaf_weight")):
        refused(driver, leaf, "blkio.leaf_weight")
    if dev is not None and driver.name == "v1" and not os.path.exists(
            os.path.join(driver.extra["blkio"], "blkio.weight_device")) and not os.path.exists(
            os.path.join(driver.extra["blkio"], "blkio.bfq.weight_device")):
        refused(driver, res(blockIO={"weightDevice": [{"major": dev[0], "minor": dev[1], "weight": 300}]}),
                "blkio.weight_device")


# --------------------------------------------------------------------------- hugetlb, net, rdma

def _page_size() -> str | None:
    sizes = sorted(int(n.split("-")[1][:-2]) for n in os.listdir("/sys/kernel/mm/hugepages")) \
        if os.path.isdir("/sys/kernel/mm/hugepages") else []
    if not sizes:
        return None
    kb = sizes[0]
    return f"{kb // 1024 // 1024}GB" if kb >= 1 << 20 else f"{kb // 1024}MB" if kb >= 1024 else f"{kb}KB"


def test_hugepage_limits(driver):
    size = _page_size()
    if size is None:
        pytest.skip("no huge pages on this kernel")
    r = res(hugepageLimits=[{"pageSize": size, "limit": 4 * MiB}])
    if not has(driver, "hugetlb"):
        return missing(driver, r, "hugetlb")
    pure_v2_or_v1(driver)
    cg = driver.group("c1")
    cg.create(r)
    name = f"hugetlb.{size}.limit_in_bytes" if driver.name == "v1" else f"hugetlb.{size}.max"
    assert read(cg, "hugetlb", name) == str(4 * MiB)


def test_network_class_and_priorities(driver):
    r = res(network={"classID": 0x100001, "priorities": [{"name": "lo", "priority": 5}]})
    if driver.name == "v2":
        refused(driver, r, "linux.resources.network.classID cannot be set on cgroup v2", "net_cls")
        return
    if not has(driver, "net_cls"):
        missing(driver, r, "net_cls")
    if not has(driver, "net_prio"):
        missing(driver, res(network={"priorities": [{"name": "lo", "priority": 5}]}), "net_prio")
    if has(driver, "net_cls") and has(driver, "net_prio"):
        cg = driver.group("c1")
        cg.create(r)
        assert read(cg, "net_cls", "net_cls.classid") == str(0x100001)
        assert "lo 5" in read(cg, "net_prio", "net_prio.ifpriomap").splitlines()


def test_rdma(driver):
    r = res(rdma={"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000}})
    if not has(driver, "rdma"):
        return missing(driver, r, "rdma")
    pure_v2_or_v1(driver)
    devices = os.listdir("/sys/class/infiniband") if os.path.isdir("/sys/class/infiniband") else []
    if "mlx5_0" not in devices:  # the kernel refuses a device it does not have, in one line
        refused(driver, r, "refused", "rdma mlx5_0", error=BockerError)
        return
    cg = driver.group("c1")
    cg.create(r)
    assert "mlx5_0 hca_handle=3 hca_object=10000" in read(cg, "rdma", "rdma.max")


# --------------------------------------------------------------------------- unified

def test_unified(driver):
    if driver.name == "v1":
        refused(driver, res(unified={"pids.max": "10"}), "cannot use unified on cgroup v1", error=InvalidArgument)
        return
    cg = driver.group("c1")
    given = {"cgroup.max.depth": "5"}  # a core file: every v2 group has it
    if has(driver, "pids"):
        given["pids.max"] = "42"
    if has(driver, "memory"):
        given["memory.high"] = str(50 * MiB)
    cg.create(res(unified=given))
    for key, value in given.items():
        assert read(cg, "unified", key) == value
    cg.destroy()
    refused(driver, res(unified={"../cgroup.procs": "1"}), "must be a file name", error=InvalidArgument)
    refused(driver, res(unified={"nosuch.thing": "1"}), "can't be set: controller 'nosuch' not available")


# --------------------------------------------------------------------------- the whole spec

def test_a_controller_the_host_lacks_is_one_line_and_nothing_is_made(driver):
    """Beside the limits this host enforces, one it can't makes create fail whole."""
    lacking = next((c for c in ("net_cls", "hugetlb", "rdma") if not has(driver, c)), None)
    if driver.name == "v2":
        pytest.skip("v1's: v2 refusals are each field's test")
    if lacking is None:
        pytest.skip("every controller is here")
    r = res(memory={"limit": 64 * MiB}, pids={"limit": 10},
            **{"net_cls": {"network": {"classID": 1}}, "hugetlb": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]},
               "rdma": {"rdma": {"x": {"hcaHandles": 1}}}}[lacking])
    refused(driver, r, f"needs the cgroup v1 {lacking} controller")


NS_SCRIPT = textwrap.dedent("""
    import os, sys
    from bocker_magics.engine.kernel.cgroups import detect
    from bocker_magics.engine.spec import Resources, read_object
    d = detect(sys.argv[1])
    cg = d.group("c1")
    cg.create(read_object(Resources, {"network": {"classID": 1048577, "priorities": [{"name": "lo", "priority": 7}]},
                                      "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}, "test"))
    p = cg.paths()
    print(open(os.path.join(p["net_cls"], "net_cls.classid")).read().strip())
    print(open(os.path.join(p["net_prio"], "net_prio.ifpriomap")).read().replace("\\n", ";"))
    print(open(os.path.join(p["hugetlb"], "hugetlb.2MB.limit_in_bytes")).read().strip())
    cg.destroy()
    d.remove_parent()
    print("left", [x for x in d.parent_dirs() if os.path.exists(x)])
""")


@pytest.mark.skipif(V1 is None or not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"),
                    reason="cgroup v1 with 2 MB huge pages")
def test_v1_net_cls_net_prio_and_hugetlb_mounted_for_the_test(tmp_path):
    """This host mounts no net_cls, net_prio or hugetlb hierarchy: the test mounts them in a
    mount namespace of its own (they go with it) and applies the spec's fields there."""
    # a hierarchy of the controller alone: made by the mount, or the kernel's existing one
    # (another mount of the same controller, elsewhere); co-mounted with another, it can't
    mounts = " && ".join(f"mkdir -p {tmp_path}/{c} && mount -t cgroup -o {c} none {tmp_path}/{c}"
                         for c in ("net_cls", "net_prio", "hugetlb"))
    out = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                          f'{{ {mounts}; }} || exit 77; exec "$0" -c "$1" "$2"', sys.executable, NS_SCRIPT,
                          f"bocker-res-{os.getpid()}-ns"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, BOCKER_CGROUP_DRIVER="v1"))
    if out.returncode == 77:
        pytest.skip(f"net_cls, net_prio or hugetlb can't be mounted alone here: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    classid, priomap, hugetlb, left = out.stdout.splitlines()
    assert classid == "1048577"
    assert "lo 7" in priomap.split(";")
    assert hugetlb == str(4 * MiB)
    assert left == "left []"

