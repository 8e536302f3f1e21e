"""Pods on bocker-runc through podman (issue 25): `podman pod create` with its infra container
(a pause image the test builds from tests/support/programs/pause.c), two containers `--pod` sharing
its network, IPC and UTS namespaces; `podman run --privileged` with every host device;
`--mount type=bind,...,bind-propagation=rshared` seeing a mount made after the container
started. podman runs in tests/peers.py's sandbox (its own mount and network namespace), its
containers' cgroups under a parent of its own; afterwards nothing is left.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bocker_magics.lab.runc import launcher
from tests.support import peers
from tests.support.hostcheck import leftovers


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("umoci") is None or shutil.which("skopeo") is None or shutil.which("gcc") is None:
        pytest.skip("umoci, skopeo and gcc are needed to build the pause image")
    from tests.support.registry_fixtures import Layout
    d = tmp_path_factory.mktemp("pods-images")
    layout = Layout(d / "oci")
    layout.new("pause")
    root = layout.unpack("pause", d / "bundle")
    subprocess.run(["gcc", "-static", "-O1", "-o", str(root / "pause"),
                    str(Path(__file__).resolve().parents[1] / "support" / "programs" / "pause.c")], check=True)
    layout.repack("pause", d / "bundle")
    layout.config("pause", "--config.entrypoint", "/pause")
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout.path}:pause", f"docker-archive:{d / 'pause.tar'}:localhost/pause:pods"],
                   check=True, capture_output=True)
    return {"busybox": peers.busybox_tarball(d / "busybox.tar", d), "pause": d / "pause.tar"}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> str:
    return launcher(tmp_path_factory.mktemp("pods-bin"))


@pytest.fixture
def podman(tmp_path, images, runtime):
    tmp = tmp_path / "podman"
    try:
        p = peers.Podman(tmp, runtime=runtime).__enter__()
    except peers.PeerUnavailable as e:
        pytest.skip(f"podman: {e}")
    try:
        for image in images.values():
            p.podman("load", "-i", image)
        yield p
    except BaseException:
        p.close()
        raise
    left = p.close()
    assert left == [], f"podman left (removed by force): {left}"
    assert not tmp.exists()
    assert leftovers(str(tmp), p.cgroup_parent) == []


def pm(podman: peers.Podman, *args: str, **kw) -> subprocess.CompletedProcess:
    return podman.podman(*args, runtime=podman.runtime, **kw)


def test_a_pod_with_its_infra_container_and_two_containers(podman):
    pm(podman, "pod", "create", "--name", "web", "--hostname", "webpod", "--infra-image", "localhost/pause:pods",
       "--cgroup-parent", f"/{podman.cgroup_parent}", "--share", "net,ipc,uts")
    server = pm(podman, "run", "-d", "--pod", "web", "busybox", "sh", "-c",
                "mkdir -p /www && echo hello-from-the-pod > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"
                ).stdout.strip()
    infra = pm(podman, "pod", "inspect", "--format", "{{.InfraContainerID}}", "web").stdout.strip()
    assert pm(podman, "inspect", "--format", "{{.State.Status}}", infra).stdout.strip() == "running"
    assert pm(podman, "inspect", "--format", "{{.OCIRuntime}}", server).stdout.strip() == podman.runtime
    # the second container, on the pod's localhost
    out = pm(podman, "run", "--rm", "--pod", "web", "busybox", "sh", "-c",
             "for i in $(seq 50); do wget -qO- http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1").stdout
    assert out == "hello-from-the-pod\n"
    # network, IPC and UTS are the infra container's
    script = "hostname; for k in net ipc uts mnt; do readlink /proc/self/ns/$k; done"
    other = pm(podman, "run", "--rm", "--pod", "web", "busybox", "sh", "-c", script).stdout.split()
    ours = pm(podman, "exec", server, "sh", "-c", script).stdout.split()
    infra_pid = pm(podman, "inspect", "--format", "{{.State.Pid}}", infra).stdout.strip()
    infra_ns = [os.readlink(f"/proc/{infra_pid}/ns/{k}") for k in ("net", "ipc", "uts")]
    assert other[0] == ours[0] == "webpod"
    assert other[1:4] == ours[1:4] == infra_ns
    assert other[4] != ours[4]  # each its own mount namespace
    pm(podman, "pod", "stop", "--time", "1", "web")
    pm(podman, "pod", "rm", "web")
    assert pm(podman, "ps", "-aq").stdout.strip() == ""


def test_a_privileged_container_gets_every_host_device(podman):
    out = pm(podman, "run", "--rm", "--privileged", "--network", "none", *podman.run_args(), "busybox", "sh", "-c",
             "readlink /dev/ptmx; ls /dev").stdout.split()
    assert out[0] == "pts/ptmx"
    host = {e.name for e in os.scandir("/dev")
            if stat.S_ISCHR(e.stat(follow_symlinks=False).st_mode) or stat.S_ISBLK(e.stat(follow_symlinks=False).st_mode)}
    assert host - {"console", "ptmx"} <= set(out[1:]), sorted(host - set(out[1:]))


def test_a_bind_mount_with_rshared_propagation_sees_a_later_mount(podman, tmp_path):
    host = podman.tmp / "shared-path"
    host.mkdir()
    podman.exec(["sh", "-c", f"mount --bind {host} {host} && mount --make-shared {host}"])
    cid = pm(podman, "run", "-d", "--network", "none", "--privileged", *podman.run_args(),
             "--mount", f"type=bind,source={host},destination=/host,bind-propagation=rshared",
             "busybox", "sleep", "1000").stdout.strip()
    podman.exec(["sh", "-c", f"mkdir {host}/late && mount -t tmpfs -o size=1m late {host}/late && "
                             f"echo from-the-sandbox > {host}/late/file"])
    assert pm(podman, "exec", cid, "cat", "/host/late/file").stdout == "from-the-sandbox\n"
    pm(podman, "exec", cid, "sh", "-c", "mkdir /host/back && mount -t tmpfs -o size=1m back /host/back && "
                                        "echo from-the-container > /host/back/file")
    assert podman.exec(["cat", f"{host}/back/file"]).stdout == "from-the-container\n"
    pm(podman, "rm", "--force", "--time", "0", cid)
    podman.exec(["sh", "-c", f"umount {host}/back; umount {host}/late; umount {host}"])
    assert podman.sandbox.mounts_under(host) == []
