"""A pod as Kubernetes makes one, on bocker-runc: containerd 1.6's CRI plugin driven over the
CRI v1 gRPC API the way a kubelet drives it (tests/cri_node.py: PullImage, RunPodSandbox with
the runtime handler of bocker-runc, CreateContainer, StartContainer, ExecSync,
ContainerStatus, the container's log file, StopContainer, StopPodSandbox, RemovePodSandbox),
with CNI's bridge in the test's network namespace and images from the test's loopback
registry. Two containers of one pod reach each other on localhost and share its IPC and UTS
namespaces; a privileged container sees the host's devices; a host path mounted rshared
(Bidirectional) sees a mount made after the container started. containerd's log holds none of
the complaints bocker-runc used to cause (issue 25): "failed to kill init's children" (kill
--all of a stopped container), "Failed to pipe" (a stopped container's stdio).
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from bocker_magics.lab.runc import launcher
from tests.support import peers
from tests.support.hostcheck import leftovers

pytest.importorskip("grpc", reason="grpcio is not installed: pip install -e '.[test]'")
pytest.importorskip("grpc_tools", reason="grpcio-tools is not installed: pip install -e '.[test]'")

from tests.support.cri_node import CriNode, push_images  # noqa: E402
from tests.support.registry_fixtures import Registry, missing_tools  # noqa: E402

BUSYBOX = "docker.io/library/busybox:cri"
RUNC = shutil.which("runc") or "/usr/sbin/runc"
COMPLAINTS = ("Failed to pipe", "failed to kill init's children", "file already closed")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    if missing_tools():
        pytest.skip(f"missing: {', '.join(missing_tools())}")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the pause image")
    work = tmp_path_factory.mktemp("cri")
    registry = Registry(work / "registry")
    try:
        push_images(registry, work / "images")
        runtime = launcher(work / "bin")
        tmp = work / "node"
        try:
            n = CriNode(tmp, {"bocker-runc": runtime, "runc": RUNC}, registry.host)
            n.__enter__()
        except peers.PeerUnavailable as e:
            pytest.skip(f"containerd with CRI: {e}")
        try:
            n.pull(BUSYBOX)
            yield n
        except BaseException:
            n.close()
            raise
        assert n.log_lines(*COMPLAINTS) == []
        left = n.close()
        assert left == [], f"the node left (removed by force): {left}"
        assert not tmp.exists()
        assert leftovers(str(tmp), n.cgroup_parent) == []
    finally:
        registry.stop()


def wait_state(node: CriNode, cid: str, state, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while (s := node.status(cid)).state != state:
        assert time.monotonic() < deadline, s
        time.sleep(0.05)
    return s


def run_out(node: CriNode, cid: str, *cmd: str) -> str:
    r = node.exec_sync(cid, list(cmd))
    assert r.exit_code == 0, (cmd, r.exit_code, r.stdout, r.stderr)
    return r.stdout.decode()


def test_a_pod_of_two_containers_sharing_its_namespaces(node):
    api = node.api
    pod, config = node.run_pod("web", handler="bocker-runc")
    web = node.create(pod, config, "web", BUSYBOX, ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html"
                                                                " && echo started && exec httpd -f -p 127.0.0.1:8080 -h /www"])
    node.start_container(web)
    side = node.create(pod, config, "side", BUSYBOX, ["sleep", "1000"])
    node.start_container(side)
    assert node.status(web).state == api.CONTAINER_RUNNING
    # localhost of the pod: the side container reaches the web one over its loopback
    deadline = time.monotonic() + 10
    while (r := node.exec_sync(side, ["wget", "-qO-", "http://127.0.0.1:8080/"])).exit_code != 0:
        assert time.monotonic() < deadline, r.stderr
        time.sleep(0.1)
    assert r.stdout == b"hello-from-web\n"
    # network, IPC and UTS are the sandbox's; each container has its own mount and pid namespace
    ns = {cid: run_out(node, cid, "sh", "-c", "hostname; for k in net ipc uts mnt pid; do readlink /proc/self/ns/$k; "
                                              "done").split() for cid in (web, side)}
    assert ns[web][0] == ns[side][0] == "web"
    assert ns[web][1:4] == ns[side][1:4]
    assert ns[web][4] != ns[side][4] and ns[web][5] != ns[side][5]
    # an exec's exit status and stderr come back
    r = node.exec_sync(side, ["sh", "-c", "echo oops >&2; exit 3"])
    assert (r.exit_code, r.stderr) == (3, b"oops\n")
    # the container's log file, in the CRI's format: TIME STREAM TAG TEXT
    status = node.status(web)
    log = Path(status.log_path)
    assert log.is_file()
    assert [line.split(" ", 3)[1:] for line in log.read_text().splitlines()] == [["stdout", "F", "started"]]
    # stop: httpd as pid 1 ignores SIGTERM: after the grace period, SIGKILL
    node.stop_container(web, timeout=1)
    s = wait_state(node, web, api.CONTAINER_EXITED)
    assert s.exit_code == 137, s
    node.stop_container(side, timeout=1)
    wait_state(node, side, api.CONTAINER_EXITED)
    node.stop_pod(pod)
    node.stop_pod(pod)  # again, as a kubelet may: idempotent
    node.remove_pod(pod)
    assert node.log_lines(*COMPLAINTS) == []


def test_a_privileged_container_sees_the_hosts_devices(node):
    pod, config = node.run_pod("priv", handler="bocker-runc", privileged=True)
    c = node.create(pod, config, "priv", BUSYBOX, ["sleep", "1000"], privileged=True)
    node.start_container(c)
    inside = set(run_out(node, c, "ls", "/dev").split())
    host = {e.name for e in os.scandir("/dev")
            if stat.S_ISCHR(e.stat(follow_symlinks=False).st_mode) or stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode)}
    host -= {"console"}  # containerd's WithHostDevices leaves it out
    assert host <= inside, sorted(host - inside)
    assert run_out(node, c, "readlink", "/dev/ptmx") == "pts/ptmx\n"
    assert run_out(node, c, "sh", "-c", "head -c 2 /dev/zero | od -An -tx1").split() == ["00", "00"]
    node.stop_pod(pod)
    node.remove_pod(pod)


def test_a_host_path_mounted_rshared_sees_a_later_mount(node, tmp_path):
    api = node.api
    host = node.tmp / "shared-host-path"
    host.mkdir()
    # in the node's mount namespace (where containerd and its containers' mounts are): a
    # shared mount, as a node's /var/lib/kubelet is
    node.exec(["sh", "-c", f"mount --bind {host} {host} && mount --make-shared {host}"])
    pod, config = node.run_pod("shared", handler="bocker-runc", privileged=True)
    mount = api.Mount(container_path="/host", host_path=str(host), propagation=api.PROPAGATION_BIDIRECTIONAL)
    c = node.create(pod, config, "shared", BUSYBOX, ["sleep", "1000"], privileged=True, mounts=[mount])
    node.start_container(c)
    node.exec(["sh", "-c", f"mkdir {host}/late && mount -t tmpfs -o size=1m late {host}/late && "
                           f"echo from-the-node > {host}/late/file"])
    assert run_out(node, c, "cat", "/host/late/file") == "from-the-node\n"
    # and back: Bidirectional, a mount the container makes is seen on the node
    run_out(node, c, "sh", "-c", "mkdir /host/back && mount -t tmpfs -o size=1m back /host/back && "
                                 "echo from-the-pod > /host/back/file")
    seen = node.exec(["cat", f"{host}/back/file"], check=False)
    assert seen.stdout == "from-the-pod\n", run_out(node, c, "grep", "/host", "/proc/self/mountinfo") + str(
        node.exec(["grep", str(host), "/proc/self/mountinfo"]).stdout)
    node.stop_pod(pod)
    node.remove_pod(pod)
    node.exec(["sh", "-c", f"umount {host}/back; umount {host}/late; umount {host}"])
    assert node.sandbox.mounts_under(host) == []


def test_the_same_pod_on_runc_for_comparison(node):
    """The scenario's first steps with runc as the handler: the harness is not what passes."""
    pod, config = node.run_pod("ref", handler="runc")
    c = node.create(pod, config, "ref", BUSYBOX, ["sleep", "1000"])
    node.start_container(c)
    assert run_out(node, c, "hostname") == "ref\n"
    node.stop_pod(pod)
    node.remove_pod(pod)


def test_a_pod_sharing_one_pid_namespace_stops_quietly(node):
    """shareProcessNamespace: the containers join the sandbox's pid namespace by path, so
    containerd's shim runs `kill --all` after each exit (the kernel kills nobody with them).
    A container whose init leaves a child holding its stdout: the child goes with it, the
    log ends, and containerd neither fails its killall ("failed to kill init's children",
    from `kill --all` of a stopped container) nor cuts the log pipes ("Failed to pipe ...
    file already closed"): both seen with bocker-runc before issue 25, never with runc."""
    api = node.api
    before = len(node.log_lines(*COMPLAINTS))
    pod, config = node.run_pod("pidns", handler="bocker-runc", shared_pid=True)
    a = node.create(pod, config, "a", BUSYBOX, ["sh", "-c", "sleep 1000 & echo started; sleep 1000"])
    node.start_container(a)
    b = node.create(pod, config, "b", BUSYBOX, ["sleep", "1000"])
    node.start_container(b)
    # one pid namespace: b sees a's processes and the pause process as pid 1
    ps = run_out(node, b, "ps", "-o", "pid,args")
    assert "/pause" in ps and "sleep 1000" in ps and "echo started" not in ps
    assert run_out(node, b, "cat", "/proc/1/cmdline") == "/pause\x00"
    node.stop_container(a, timeout=1)  # SIGTERM: sh dies, its background sleep must go too
    s = wait_state(node, a, api.CONTAINER_EXITED)
    assert s.exit_code == 143, s
    deadline = time.monotonic() + 10
    while "sleep 1000 &" in (ps := run_out(node, b, "ps", "-o", "pid,args")) or ps.count("sleep 1000") > 1:
        assert time.monotonic() < deadline, ps
        time.sleep(0.1)
    node.stop_pod(pod)
    node.remove_pod(pod)
    time.sleep(0.5)  # the shim's and the CRI's log lines of the last exits
    assert node.log_lines(*COMPLAINTS)[before:] == []
