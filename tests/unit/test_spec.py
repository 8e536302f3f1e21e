"""The OCI runtime spec model (engine/spec/): round trips, real engines' config.json files,
our validation against the runtime spec's own JSON schema, set_paths, and the state type.

No containers run here. The schema is the one the Debian package golang-github-opencontainers-
specs-dev ships (quickstart.sh installs it for the tests); jsonschema is a test dependency only.
tests/support/oci_configs/ holds config.json files that podman 4.3.1 and containerd 1.6.20 wrote on
Debian 12 (captured with its capture-runtime.sh as the runtime).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bocker_magics.engine import spec as oci
from bocker_magics.engine.spec import (
    CPU,
    Box,
    Capabilities,
    Device,
    DeviceRule,
    Hook,
    Hooks,
    HugepageLimit,
    IDMapping,
    IntelRdt,
    InterfacePriority,
    Linux,
    Memory,
    Mount,
    Namespace,
    Network,
    Personality,
    Pids,
    Process,
    Rdma,
    Resources,
    Rlimit,
    Root,
    Seccomp,
    SeccompArg,
    Spec,
    State,
    Syscall,
    ThrottleDevice,
    TimeOffset,
    User,
    WeightDevice,
    default_spec,
)
from bocker_magics.errors import InvalidArgument

CONFIGS = Path(__file__).resolve().parents[1] / "support" / "oci_configs"
def full_spec() -> Spec:
    """Every modelled field set (within the Debian schema: no time namespace)."""
    return Spec(
        process=Process(
            terminal=True, console_size=Box(height=24, width=80),
            user=User(uid=1000, gid=1000, umask=0o022, additional_gids=[10, 20]),
            args=["/bin/sh", "-c", "echo hi"], env=["PATH=/bin", "FOO=bar"], cwd="/work",
            capabilities=Capabilities(bounding=["CAP_KILL", "CAP_CHOWN"], effective=["CAP_KILL"],
                                      inheritable=["CAP_KILL"], permitted=["CAP_KILL"], ambient=["CAP_KILL"]),
            rlimits=[Rlimit(type="RLIMIT_NOFILE", hard=1024, soft=512), Rlimit(type="RLIMIT_CORE", hard=0, soft=0)],
            no_new_privileges=True, apparmor_profile="docker-default", oom_score_adj=-500,
            selinux_label="system_u:system_r:container_t:s0",
        ),
        root=Root(path="rootfs", readonly=True),
        hostname="box", domainname="example.test",
        mounts=[
            Mount(destination="/proc", type="proc", source="proc"),
            Mount(destination="/data", type="bind", source="/srv/data", options=["rbind", "ro"],
                  uid_mappings=[IDMapping(container_id=0, host_id=100000, size=65536)],
                  gid_mappings=[IDMapping(container_id=0, host_id=100000, size=65536)]),
        ],
        hooks=Hooks(
            prestart=[Hook(path="/usr/bin/true")],
            create_runtime=[Hook(path="/usr/bin/env", args=["env", "A=1"], env=["X=1"], timeout=5)],
            create_container=[Hook(path="/bin/true")], start_container=[Hook(path="/bin/true")],
            poststart=[Hook(path="/bin/true")], poststop=[Hook(path="/bin/true", timeout=1)],
        ),
        annotations={"org.example.key": "value"},
        linux=Linux(
            uid_mappings=[IDMapping(container_id=0, host_id=1000, size=1)],
            gid_mappings=[IDMapping(container_id=0, host_id=1000, size=1)],
            sysctl={"net.ipv4.ip_forward": "1"},
            resources=Resources(
                devices=[DeviceRule(allow=False, access="rwm"),
                         DeviceRule(allow=True, type="c", major=1, minor=3, access="rw"),
                         DeviceRule(allow=True, type="c", major=136, access="rwm")],
                memory=Memory(limit=64 << 20, reservation=32 << 20, swap=128 << 20, kernel=-1, kernel_tcp=-1,
                              swappiness=0, disable_oom_killer=False, use_hierarchy=True,
                              check_before_update=True),
                cpu=CPU(shares=512, quota=50000, burst=1000, period=100000, realtime_runtime=0,
                        realtime_period=1000000, cpus="0-1", mems="0", idle=0),
                pids=Pids(limit=100),
                block_io=oci.BlockIO(
                    weight=500, leaf_weight=300,
                    weight_device=[WeightDevice(major=8, minor=0, weight=600, leaf_weight=100)],
                    throttle_read_bps_device=[ThrottleDevice(major=8, minor=0, rate=1 << 20)],
                    throttle_write_bps_device=[ThrottleDevice(major=8, minor=0, rate=1 << 20)],
                    throttle_read_iops_device=[ThrottleDevice(major=8, minor=0, rate=100)],
                    throttle_write_iops_device=[ThrottleDevice(major=8, minor=0, rate=100)],
                ),
                hugepage_limits=[HugepageLimit(page_size="2MB", limit=1 << 30)],
                network=Network(class_id=0x100001, priorities=[InterfacePriority(name="eth0", priority=5)]),
                rdma={"mlx5_1": Rdma(hca_handles=3, hca_objects=10000)},
                unified={"memory.high": "50000000"},
            ),
            cgroups_path="/bocker/ps_0123456789",
            namespaces=[Namespace(type=t) for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
            + [Namespace(type="user", path="/proc/1/ns/user")],
            devices=[Device(path="/dev/fuse", type="c", major=10, minor=229, file_mode=0o666, uid=0, gid=0),
                     Device(path="/dev/fifo", type="p")],
            seccomp=Seccomp(
                default_action="SCMP_ACT_ERRNO", default_errno_ret=38,
                architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], flags=["SECCOMP_FILTER_FLAG_LOG"],
                listener_path="/run/seccomp.sock", listener_metadata="meta",
                syscalls=[
                    Syscall(names=["read", "write"], action="SCMP_ACT_ALLOW"),
                    Syscall(names=["personality"], action="SCMP_ACT_ALLOW",
                            args=[SeccompArg(index=0, value=0xffffffff, op="SCMP_CMP_EQ")]),
                    Syscall(names=["socket"], action="SCMP_ACT_ERRNO", errno_ret=22,
                            args=[SeccompArg(index=0, value=16, value_two=3, op="SCMP_CMP_MASKED_EQ")]),
                ],
            ),
            rootfs_propagation="slave",
            masked_paths=["/proc/kcore"], readonly_paths=["/proc/sys"],
            mount_label="system_u:object_r:container_file_t:s0",
            intel_rdt=IntelRdt(clos_id="guaranteed", l3_cache_schema="L3:0=ffff", mem_bw_schema="MB:0=20",
                               enable_cmt=True, enable_mbm=True),
            personality=Personality(domain="LINUX32", flags=[]),
            time_offsets={"monotonic": TimeOffset(secs=1, nanosecs=2), "boottime": TimeOffset(secs=-3)},
        ),
    )


# -- round trips, and the schema ---------------------------------------------------------------

def test_an_empty_spec_means_nothing_set():
    spec = Spec()
    assert spec.to_json() == {"ociVersion": oci.OCI_VERSION}
    assert spec.set_paths() == []
    # engine code reaches any field without None checks on the way
    assert spec.linux.resources.memory.limit is None
    assert spec.process.user.uid == 0 and spec.linux.resources.cpu.shares is None
    assert spec.process.capabilities is None  # absent: a different thing from "none kept"


def test_a_full_config_round_trips_and_validates(schema):
    spec = full_spec()
    written = spec.to_json()
    assert schema("config-schema.json", written) == []
    text = json.dumps(written)
    again = Spec.from_json(text)
    assert again == spec
    assert again.to_json() == written
    assert Spec.from_json(written) == spec  # a parsed dict reads the same as its text
    # camelCase in the JSON for the irregular names
    linux = written["linux"]
    assert linux["resources"]["memory"]["kernelTCP"] == -1
    assert linux["resources"]["memory"]["disableOOMKiller"] is False  # set, so written
    assert linux["resources"]["blockIO"]["throttleReadIOPSDevice"][0]["rate"] == 100
    assert linux["resources"]["network"]["classID"] == 0x100001
    assert linux["intelRdt"]["enableCMT"] is True and linux["intelRdt"]["closID"] == "guaranteed"
    assert linux["uidMappings"][0] == {"containerID": 0, "hostID": 1000, "size": 1}
    assert written["hooks"]["createRuntime"][0]["timeout"] == 5
    assert written["process"]["consoleSize"] == {"height": 24, "width": 80}


@pytest.mark.parametrize("build", [
    Spec, default_spec, full_spec,
    lambda: Spec(process=Process(args=["true"], cwd="/")),
    lambda: Spec(linux=Linux(resources=Resources(memory=Memory(limit=1 << 20)))),
    lambda: Spec(process=Process(cwd="/", capabilities=Capabilities())),
    lambda: Spec(linux=Linux(namespaces=[Namespace(type="network", path="/run/netns/x")])),
], ids=["empty", "default", "full", "process", "memory", "no-capabilities", "join-netns"])
def test_every_to_json_validates_against_the_schema(schema, build):
    assert schema("config-schema.json", build().to_json()) == []


def test_runc_spec_output_is_read(tmp_path, schema):
    subprocess.run(["runc", "spec"], cwd=tmp_path, check=True)
    written = json.loads((tmp_path / "config.json").read_text())
    spec = Spec.load(tmp_path / "config.json")
    assert spec.process.args == ["sh"] and spec.root.path == "rootfs" and spec.root.readonly
    assert [ns.type for ns in spec.linux.namespaces] == ["pid", "network", "ipc", "uts", "mount"]
    assert spec.linux.resources.devices == [DeviceRule(allow=False, access="rwm")]
    # default_spec() is `runc spec`, key order included
    assert spec == default_spec()
    ours = default_spec().to_json()
    assert ours == written and json.dumps(ours) == json.dumps(written)
    assert schema("config-schema.json", ours) == []


@pytest.mark.parametrize("name", ["podman-default.json", "podman-options.json", "containerd-run.json"])
def test_podman_and_containerd_configs_round_trip(name, schema):
    written = json.loads((CONFIGS / name).read_text())
    spec = Spec.from_json((CONFIGS / name).read_bytes())
    assert spec.to_json() == written
    assert json.dumps(spec.to_json()) == json.dumps(written)  # same key order too
    problems = schema("config-schema.json", spec.to_json())
    if name == "podman-options.json":
        # podman writes a device's st_mode (S_IFCHR|0666); the 1.0.2 schema caps fileMode at
        # 512, we take what podman writes
        assert spec.linux.devices[0].file_mode == 0o20666
        assert problems == ["linux.devices.0.fileMode: 8630 is greater than the maximum of 512"]
    else:
        assert problems == []


def test_podman_fields_land_in_the_model():
    spec = Spec.from_json((CONFIGS / "podman-options.json").read_text())
    assert spec.process.user.uid == 1000 and spec.process.user.additional_gids == [1000, 10]
    assert spec.process.user.umask == 0o022 and spec.process.oom_score_adj == 100
    assert spec.process.capabilities.effective == ["CAP_SYS_ADMIN"]
    assert spec.linux.resources.memory.limit == 64 << 20 and spec.linux.resources.memory.swappiness == 10
    assert spec.linux.resources.cpu.quota == 150000 and spec.linux.resources.cpu.cpus == "0"
    assert spec.linux.resources.pids.limit == 100
    assert spec.linux.seccomp.default_action == "SCMP_ACT_ERRNO" and spec.linux.seccomp.default_errno_ret == 38
    assert spec.linux.namespace("network") == Namespace(type="network")
    assert spec.linux.namespace("user") is None


def test_unknown_keys_survive_a_round_trip_and_are_reported():
    written = default_spec().to_json()
    written["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": 5}  # runtime-spec 1.2
    written["process"]["user"]["username"] = "someone"                    # windows
    written["linux"]["netDevices"] = {"eth1": {"name": "eth1"}}           # runtime-spec 1.2
    written["linux"]["namespaces"][0]["future"] = True
    written["linux"]["resources"]["memory"] = {"limit": 1 << 20, "newKnob": 7}
    written["windows"] = {"layerFolders": ["C:\\layers"]}
    written["vm"] = {"kernel": {"path": "/boot/vmlinuz"}}
    given = copy.deepcopy(written)
    spec = Spec.from_json(given)
    assert spec.to_json() == written
    given["windows"]["layerFolders"].append("D:\\more")  # the spec keeps its own copy
    spec.to_json()["windows"]["layerFolders"].clear()   # and hands out copies
    assert spec.to_json() == written
    assert spec.unknown == {"windows": written["windows"], "vm": written["vm"]}
    assert spec.linux.unknown == {"netDevices": {"eth1": {"name": "eth1"}}}
    paths = spec.set_paths()
    for path in ("process.scheduler", "process.user.username", "linux.netDevices",
                 "linux.namespaces[].future", "linux.resources.memory.newKnob", "windows", "vm"):
        assert path in paths
    assert "linux.resources.memory.limit" in paths


def test_the_time_namespace_of_runtime_spec_1_1_is_read():
    # the Debian 1.0.2 schema predates it; runtime-spec 1.1 has it, and timeOffsets
    spec = Spec.from_json({"ociVersion": "1.1.0", "linux": {
        "namespaces": [{"type": "time"}], "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}}}})
    assert spec.linux.namespace("time") == Namespace(type="time")
    assert spec.linux.time_offsets == {"monotonic": TimeOffset(secs=10, nanosecs=5)}
    assert spec.to_json()["ociVersion"] == "1.1.0"


def test_presence_that_means_something_is_kept():
    # capabilities {} (every capability dropped) is not the same as no capabilities object
    written = {"ociVersion": "1.0.2", "process": {"cwd": "/", "capabilities": {}},
               "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}, "intelRdt": {}}}
    spec = Spec.from_json(written)
    assert spec.process.capabilities == Capabilities()
    out = spec.to_json()
    assert out["process"]["capabilities"] == {} and out["linux"]["intelRdt"] == {}
    assert out["process"]["user"] == {"uid": 0, "gid": 0}  # as runc's Go types write it
    assert {"process.capabilities", "linux.intelRdt", "linux.seccomp.defaultAction"} <= set(spec.set_paths())


def test_engine_code_sets_fields_and_gets_only_those_written():
    spec = Spec(process=Process(args=["sh"], cwd="/"))
    spec.linux.resources.memory.limit = 64 << 20
    spec.linux.resources.pids.limit = 10
    spec.linux.namespaces.append(Namespace(type="pid"))
    assert spec.to_json() == {
        "ociVersion": oci.OCI_VERSION,
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
        "linux": {"resources": {"memory": {"limit": 64 << 20}, "pids": {"limit": 10}},
                  "namespaces": [{"type": "pid"}]},
    }


def test_save_and_load_a_config_json(tmp_path):
    path = tmp_path / "config.json"
    full_spec().save(path)
    assert Spec.load(path) == full_spec()
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left
    with pytest.raises(InvalidArgument, match=rf"^{re.escape(str(tmp_path / 'nope.json'))}: no such file$"):
        Spec.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"ociVersion": "1.0.2", "process": {"cwd": "/", "args": "sh"}}')
    with pytest.raises(InvalidArgument, match=rf"^{re.escape(str(bad))}: process.args: 'sh' is not a list$"):
        Spec.load(bad)


# -- invalid configs: refused with one line that names the field ------------------------------

def _runc_like() -> dict:
    return default_spec().to_json()


def _with(change):
    def build():
        obj = _runc_like()
        change(obj)
        return obj
    return build


INVALID = [
    (_with(lambda o: o["linux"]["namespaces"].__setitem__(2, {"type": "foo"})),
     ("linux.namespaces[2].type: 'foo' is not a namespace type "
      "(use pid, network, mount, ipc, uts, user, cgroup, time)")),
    (_with(lambda o: o["linux"]["namespaces"].append({"type": "pid"})),
     "linux.namespaces[5].type: pid is given twice"),
    (_with(lambda o: o["linux"]["namespaces"].__setitem__(0, {"type": "pid", "path": "proc/1/ns/pid"})),
     "linux.namespaces[0].path: 'proc/1/ns/pid' is not an absolute path"),
    (_with(lambda o: o.pop("ociVersion")), "ociVersion: required but missing"),
    (_with(lambda o: o.__setitem__("ociVersion", "2.0.0")),
     "ociVersion: '2.0.0' is not a runtime-spec version, 1.x.y"),
    (_with(lambda o: o["process"].pop("cwd")), "process.cwd: required but missing"),
    (_with(lambda o: o["process"].__setitem__("cwd", "work")), "process.cwd: 'work' is not an absolute path"),
    (_with(lambda o: o["process"]["user"].__setitem__("uid", -1)),
     "process.user.uid: -1 is out of range for a uint32 (0..4294967295)"),
    (_with(lambda o: o["process"]["user"].__setitem__("gid", 2**32)),
     "process.user.gid: 4294967296 is out of range for a uint32"),
    (_with(lambda o: o["process"]["user"].__setitem__("uid", "root")), "process.user.uid: 'root' is not an integer"),
    (_with(lambda o: o["process"]["user"].__setitem__("uid", 1.0)), "process.user.uid: 1.0 is not an integer"),
    (_with(lambda o: o["process"].__setitem__("terminal", 1)), "process.terminal: 1 is not true or false"),
    (_with(lambda o: o["process"]["args"].append(3)), "process.args[1]: 3 is not a string"),
    (_with(lambda o: o["process"]["rlimits"].__setitem__(0, {"type": "RLIMIT_FOO", "hard": 1, "soft": 1})),
     "process.rlimits[0].type: 'RLIMIT_FOO' is not an rlimit type (use RLIMIT_AS, "),
    (_with(lambda o: o["process"]["rlimits"].__setitem__(0, {"type": "RLIMIT_NOFILE", "hard": 1})),
     "process.rlimits[0].soft: required but missing"),
    (_with(lambda o: o["process"]["rlimits"].__setitem__(0, {"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2})),
     "process.rlimits[0].soft: 2 is above the hard limit 1"),
    (_with(lambda o: o["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1})),
     "process.rlimits[1].type: RLIMIT_NOFILE is given twice"),
    (_with(lambda o: o["process"]["capabilities"]["bounding"].append("KILL")),
     "process.capabilities.bounding[3]: 'KILL' is not a capability name"),
    (_with(lambda o: o["process"].__setitem__("oomScoreAdj", 1001)),
     "process.oomScoreAdj: 1001 is out of range for an oom_score_adj (-1000..1000)"),
    (_with(lambda o: o.__setitem__("hooks", {"prestart": [{"args": ["x"]}]})),
     "hooks.prestart[0].path: required but missing"),
    (_with(lambda o: o.__setitem__("hooks", {"poststop": [{"path": "cleanup"}]})),
     "hooks.poststop[0].path: 'cleanup' is not an absolute path"),
    (_with(lambda o: o.__setitem__("hooks", {"poststart": [{"path": "/bin/x", "timeout": 0}]})),
     "hooks.poststart[0].timeout: 0 is out of range for a timeout in seconds"),
    (_with(lambda o: o.__setitem__("hooks", {"poststart": {"path": "/bin/x"}})),
     "hooks.poststart: {\"path\": \"/bin/x\"} is not a list"),
    (_with(lambda o: o["mounts"].append({"type": "tmpfs", "source": "tmpfs"})),
     "mounts[7].destination: required but missing"),
    (_with(lambda o: o["linux"].__setitem__("devices", [{"path": "/dev/x", "type": "z", "major": 1, "minor": 1}])),
     "linux.devices[0].type: 'z' is not a device type (use c, b, u, p)"),
    (_with(lambda o: o["linux"].__setitem__("devices", [{"path": "/dev/x", "type": "c", "minor": 1}])),
     "linux.devices[0].major: required for a 'c' device but missing"),
    (_with(lambda o: o["linux"]["resources"]["devices"].append({"allow": True, "access": "rwx"})),
     "linux.resources.devices[1].access: 'rwx' is not a device access"),
    (_with(lambda o: o["linux"]["resources"].__setitem__("pids", {})),
     "linux.resources.pids.limit: required but missing"),
    (_with(lambda o: o["linux"]["resources"].__setitem__("memory", {"limit": "64m"})),
     "linux.resources.memory.limit: '64m' is not an integer"),
    (_with(lambda o: o["linux"]["resources"].__setitem__("hugepageLimits", [{"pageSize": "2M", "limit": 1}])),
     "linux.resources.hugepageLimits[0].pageSize: '2M' is not a huge page size"),
    (_with(lambda o: o["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 0}])),
     "linux.uidMappings[0].size: required but missing"),
    (_with(lambda o: o["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 0, "size": 0}])),
     "linux.uidMappings[0].size: 0 maps no ids"),
    (_with(lambda o: o["linux"].__setitem__("gidMappings", [{"containerID": 0, "hostID": 2**32 - 10, "size": 11}])),
     "linux.gidMappings[0].size: 11 ids from hostID 4294967286 pass the last id, 4294967295"),
    (_with(lambda o: o["linux"].__setitem__("seccomp", {"syscalls": []})),
     "linux.seccomp.defaultAction: required but missing"),
    (_with(lambda o: o["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_DENY"})),
     "linux.seccomp.defaultAction: 'SCMP_ACT_DENY' is not a seccomp action (use SCMP_ACT_KILL, "),
    (_with(lambda o: o["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_ALLOW",
                                                        "architectures": ["SCMP_ARCH_Z80"]})),
     "linux.seccomp.architectures[0]: 'SCMP_ARCH_Z80' is not a seccomp architecture"),
    (_with(lambda o: o["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_ALLOW",
                                                        "syscalls": [{"names": [], "action": "SCMP_ACT_LOG"}]})),
     "linux.seccomp.syscalls[0].names: empty"),
    (_with(lambda o: o["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]})),
     "linux.seccomp.syscalls[0].args[0].op: 'SCMP_CMP_LIKE' is not a seccomp operator"),
    (_with(lambda o: o["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})),
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range for a syscall argument index (0..5)"),
    (_with(lambda o: o["linux"].__setitem__("rootfsPropagation", "rbogus")),
     "linux.rootfsPropagation: 'rbogus' is not a rootfs propagation (use private, rprivate, shared, rshared, "
     "slave, rslave, unbindable, runbindable)"),
    (_with(lambda o: o["linux"].__setitem__("sysctl", {"net.ipv4.ip_forward": 1})),
     'linux.sysctl["net.ipv4.ip_forward"]: 1 is not a string'),
    (_with(lambda o: o["linux"].__setitem__("personality", {"domain": "BSD"})),
     "linux.personality.domain: 'BSD' is not a personality domain (use LINUX, LINUX32)"),
    (_with(lambda o: o["linux"].__setitem__("timeOffsets", {"realtime": {"secs": 1}})),
     'linux.timeOffsets["realtime"]: \'realtime\' is not a clock with an offset (use monotonic, boottime)'),
    (_with(lambda o: o.__setitem__("annotations", ["a=b"])), 'annotations: ["a=b"] is not an object'),
    (_with(lambda o: o["process"].__setitem__("env", None)), "process.env: null is not a list"),
    (lambda: [1, 2], "[1, 2] is not an object"),
]


@pytest.mark.parametrize("build,message", INVALID, ids=[m.split(": ")[0] for _, m in INVALID])
def test_an_invalid_config_is_refused_naming_the_field(build, message):
    with pytest.raises(InvalidArgument) as e:
        Spec.from_json(json.dumps(build()))
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith("config.json: " + message), text


def test_text_that_is_not_json_is_refused_in_one_line():
    with pytest.raises(InvalidArgument, match=r"^config.json: not valid JSON \(Expecting .*line 1 column \d+"):
        Spec.from_json('{"ociVersion": ')
    with pytest.raises(InvalidArgument, match=r"^bundle/config.json: not UTF-8"):
        Spec.from_json(b"\xff\xfe", source="bundle/config.json")


def test_to_json_refuses_what_engine_code_got_wrong():
    with pytest.raises(InvalidArgument, match=r"^config.json: process.cwd: required but missing$"):
        Spec(process=Process(args=["sh"])).to_json()
    spec = default_spec()
    spec.process.user.uid = -1
    with pytest.raises(InvalidArgument, match=r"^config.json: process.user.uid: -1 is out of range"):
        spec.to_json()
    spec = default_spec()
    spec.linux.seccomp = Seccomp(syscalls=[Syscall(names=["kill"], action="SCMP_ACT_ERRNO")])
    with pytest.raises(InvalidArgument, match=r"^config.json: linux.seccomp.defaultAction: required"):
        spec.to_json()
    spec = default_spec()
    spec.linux.resources.memory.limit = "64m"
    with pytest.raises(InvalidArgument, match=r"^config.json: linux.resources.memory.limit: '64m' is not an integer"):
        spec.to_json()


# -- set_paths ---------------------------------------------------------------------------------

def test_set_paths_names_every_set_field():
    spec = Spec(process=Process(args=["sh"], cwd="/", user=User(uid=1000)))
    spec.linux.resources.memory.limit = 1 << 20
    spec.linux.resources.memory.swappiness = 0  # 0 is a value, not "unset"
    spec.linux.namespaces = [Namespace(type="pid"), Namespace(type="network", path="/run/netns/a")]
    spec.linux.seccomp = Seccomp(default_action="SCMP_ACT_ALLOW")
    spec.linux.sysctl = {"net.ipv4.ip_forward": "1"}
    assert spec.set_paths() == [
        "process.user.uid", "process.args", "process.cwd",
        "linux.sysctl", "linux.resources.memory.limit", "linux.resources.memory.swappiness",
        "linux.namespaces[].type", "linux.namespaces[].path", "linux.seccomp.defaultAction",
    ]


def test_set_paths_of_a_full_spec_covers_the_model():
    paths = full_spec().set_paths()
    assert len(paths) == len(set(paths))
    for path in ("process.terminal", "process.consoleSize.height", "process.user.additionalGids",
                 "process.capabilities.ambient", "process.rlimits[].soft", "process.apparmorProfile",
                 "root.readonly", "domainname", "mounts[].uidMappings[].hostID", "hooks.createRuntime[].timeout",
                 "annotations", "linux.uidMappings[].size", "linux.resources.devices[].major",
                 "linux.resources.memory.kernelTCP", "linux.resources.memory.disableOOMKiller",
                 "linux.resources.cpu.realtimeRuntime", "linux.resources.cpu.idle",
                 "linux.resources.pids.limit", "linux.resources.blockIO.throttleWriteIOPSDevice[].rate",
                 "linux.resources.hugepageLimits[].pageSize", "linux.resources.network.priorities[].name",
                 "linux.resources.rdma", "linux.resources.unified", "linux.cgroupsPath",
                 "linux.devices[].fileMode", "linux.seccomp.syscalls[].args[].valueTwo",
                 "linux.seccomp.listenerMetadata", "linux.rootfsPropagation", "linux.mountLabel",
                 "linux.intelRdt.memBwSchema", "linux.personality.domain", "linux.timeOffsets"):
        assert path in paths, path


def test_the_engine_refuses_what_it_does_not_honour_in_one_line():
    spec = Spec.from_json((CONFIGS / "podman-options.json").read_text())
    honoured = ["process", "root", "hostname", "mounts", "annotations", "linux.namespaces",
                "linux.resources.memory.limit", "linux.resources.cpu", "linux.resources.pids",
                "linux.resources.devices", "linux.cgroupsPath", "linux.maskedPaths", "linux.readonlyPaths"]
    assert spec.unhonoured(honoured) == [
        "linux.sysctl", "linux.resources.memory.reservation", "linux.resources.memory.swap",
        "linux.resources.memory.swappiness", "linux.devices[].path", "linux.devices[].type",
        "linux.devices[].major", "linux.devices[].minor", "linux.devices[].fileMode",
        "linux.devices[].uid", "linux.devices[].gid", "linux.seccomp.defaultAction",
        "linux.seccomp.defaultErrnoRet", "linux.seccomp.architectures", "linux.seccomp.syscalls[].names",
        "linux.seccomp.syscalls[].action", "linux.seccomp.syscalls[].errnoRet",
        "linux.seccomp.syscalls[].args[].index", "linux.seccomp.syscalls[].args[].value",
        "linux.seccomp.syscalls[].args[].op",
    ]
    with pytest.raises(InvalidArgument) as e:
        spec.check_honoured(honoured)
    assert str(e.value) == (
        "config.json: linux.sysctl: not supported by bocker yet (and 19 more: "
        "linux.resources.memory.reservation, linux.resources.memory.swap, "
        "linux.resources.memory.swappiness, ...); remove it from the configuration")
    spec.check_honoured(honoured + ["linux"])  # everything honoured: no error


# -- the container state -----------------------------------------------------------------------

@pytest.mark.parametrize("status,pid", [("creating", 0), ("created", 42), ("running", 42), ("stopped", 0)])
def test_state_validates_against_the_state_schema(schema, status, pid):
    state = State(id="ps_0123456789", status=status, pid=pid, bundle="/var/lib/bocker/containers/ps_0123456789",
                  annotations={"org.example": "x"}, created_at=1700000000.5, monitor_pid=41, monitor_start=123,
                  boot_id="b0", exit_code=0 if status == "stopped" else None)
    written = state.to_json()
    assert schema("state-schema.json", written) == []
    assert schema("state-schema.json", state.oci_json()) == []
    assert State.from_json(json.dumps(written)) == state
    assert list(state.oci_json()) == [k for k in State.OCI_KEYS if k in written]


def test_a_paused_container_is_running_with_paused_beside(schema):
    state = State(id="c1", status="running", pid=42, bundle="/b", paused=True)
    assert schema("state-schema.json", state.to_json()) == []
    assert state.to_json()["status"] == "running" and state.to_json()["paused"] is True
    assert state.runc_status == "paused"
    assert State(id="c1", status="stopped", bundle="/b").runc_status == "stopped"


def test_state_keeps_our_fields_and_unknown_ones(tmp_path):
    state = State(id="c1", status="stopped", bundle="/b", exit_code=137, oom_killed=True,
                  started_at=1.5, finished_at=2.5, error="", unknown={"mounts": {"memory": "/sys/fs/cgroup/x"}})
    written = state.to_json()
    assert written == {"ociVersion": oci.OCI_VERSION, "id": "c1", "status": "stopped", "bundle": "/b",
                       "exitCode": 137, "oomKilled": True, "startedAt": 1.5, "finishedAt": 2.5,
                       "mounts": {"memory": "/sys/fs/cgroup/x"}}
    path = tmp_path / "state.json"
    state.save(path)
    assert State.load(path) == state


@pytest.mark.parametrize("obj,message", [
    ({"ociVersion": "1.0.2", "id": "c", "status": "paused", "pid": 1, "bundle": "/b"},
     "state.json: status: 'paused' is not a container status (use creating, created, running, stopped)"),
    ({"ociVersion": "1.0.2", "id": "c", "status": "running", "bundle": "/b"},
     "state.json: pid: required when the status is running but missing"),
    ({"ociVersion": "1.0.2", "id": "c", "status": "stopped", "bundle": "/b", "paused": True},
     "state.json: paused: a paused container is running (frozen), not stopped"),
    ({"ociVersion": "1.0.2", "status": "stopped", "bundle": "/b"}, "state.json: id: required but missing"),
    ({"ociVersion": "1.0.2", "id": "c", "status": "stopped", "bundle": "/b", "pid": -1},
     "state.json: pid: -1 is out of range for a pid"),
])
def test_an_invalid_state_is_refused(obj, message):
    with pytest.raises(InvalidArgument) as e:
        State.from_json(obj)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("pattern", ["_OCI_VERSION", "_CAPABILITY", "_PAGE_SIZE", "_MEM_BW_SCHEMA", "_ACCESS"])
def test_a_pattern_answers_as_its_regex(pattern):
    """The plain test in front of each regex says yes only where the regex does (and re's
    `$` before a final newline is the regex's to answer)."""
    p = getattr(oci, pattern)
    values = ["", "\n", "1.0.2-dev", "1.0.2", "1.1.0+build.5", "1.0.2-rc.1+meta-x", "1.0", "2.0.0", "1.0.x", "1..2",
              "1.0.2-", "1.0.2+", "1.0.2-dev+a+b", "1.0.2\n", "1.0.2-d\u00e9v", "1.\u0661.2", "CAP_KILL",
              "CAP_SYS_ADMIN", "CAP_", "cap_kill", "CAP_KILL\n", "CAP_K-ILL", "CAP_\u00c9", "2MB", "1GB", "64KB", "0MB",
              "10TB", "MB", "2MB\n", "\u0662MB", "MB:0=100", "MB:", "MB:0=1\n2", "MB:\n", "r", "rw", "rwm", "mrw", "rwmr",
              "rx", "rwm\n", "w\nr"]
    for v in values:
        assert p.match(v) == bool(re.match(p.regex, v)), v
        assert not p.fast(v) or re.match(p.regex, v), v


# -- cost ------------------------------------------------------------------------------------

def test_the_shim_can_import_it_stdlib_only():
    """python -I -S (no site-packages), as the shim runs: nothing outside the stdlib loads."""
    package_parent = str(Path(oci.__file__).resolve().parents[3])  # spec/__init__.py
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import bocker_magics.engine.spec; "
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, package_parent],
                         capture_output=True, text=True, check=True, env={}).stdout.split()
    outside = [m for m in out if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith("bocker_magics")
               and m not in ("__main__",)]
    assert outside == []
    assert "typing" not in out  # not even that: the shim does not pay for it
    # nor json, re or enum (bocker-runc create reads a config.json with it: ~5 ms)
    assert [m for m in ("json", "re", "enum", "dataclasses", "inspect") if m in out] == []
    assert os.path.exists(oci.__file__)
