"""The real peers (tests/support/peers.py) run here, with runc, on the busybox image `bocker save` made,
and leave nothing behind: each test runs `echo hi` in the foreground, a detached container, an
exec into it, a stop or kill and a delete, then checks that the peer's own clean-up left no
process, mount, cgroup or state (what had to be removed by force fails the test), and that the
host holds nothing of it (hostcheck.leftovers).

A peer is skipped only when it cannot run on this machine (not installed, or it fails to start),
with the reason peers.PeerUnavailable gives.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support import peers
from tests.support.build_helpers import SIX_STEPS as DOCKERFILE
from tests.support.hostcheck import leftovers


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("peers-image")
    tar = peers.busybox_tarball(d / "busybox.tar", d)
    return {"plain": tar, "history": peers.with_history(tar, d / "busybox-history.tar")}


def started(cls, tmp: Path, **kw):
    try:
        return cls(tmp, **kw).__enter__()
    except peers.PeerUnavailable as e:
        pytest.skip(f"{cls.__name__}: {e}")


def closed_cleanly(peer: peers.Peer, tmp: Path) -> None:
    left = peer.close()
    assert left == [], f"{peer.name} left (removed by force): {left}"
    assert not tmp.exists()
    assert leftovers(str(tmp), peer.cgroup_parent) == []


def test_podman(tmp_path: Path, images) -> None:
    tmp = tmp_path / "podman"
    podman = started(peers.Podman, tmp)
    try:
        ref = podman.load(images["plain"])
        assert ref == "localhost/busybox:latest"
        assert podman.podman("info", "--format", "{{.Host.OCIRuntime.Path}}").stdout.strip() == peers.RUNC
        run = ["run", *podman.run_args()]
        assert podman.podman(*run, "--rm", "--network", "none", "busybox", "echo", "hi").stdout == "hi\n"
        # the default network (netavark's bridge, in the sandbox's network namespace)
        addr = podman.podman(*run, "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "eth0").stdout
        assert " inet " in addr
        assert podman.podman(*run, "--rm", "-t", "--network", "none", "busybox", "tty").stdout.strip().startswith("/dev/pts/")
        cid = podman.podman(*run, "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
        assert podman.podman("exec", cid, "echo", "in").stdout == "in\n"
        assert podman.podman("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "running"
        podman.podman("kill", "--signal", "KILL", cid)
        assert podman.podman("wait", cid).stdout.strip() == "137"
        podman.podman("rm", cid)
        cid = podman.podman(*run, "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
        podman.podman("stop", "--time", "1", cid)  # sleep as pid 1 ignores SIGTERM: SIGKILL after 1 s
        podman.podman("rm", cid)
        assert podman.podman("ps", "-aq").stdout.strip() == ""
    except BaseException:
        podman.close()
        raise
    closed_cleanly(podman, tmp)


def test_containerd(tmp_path: Path, images) -> None:
    tmp = tmp_path / "containerd"
    ctrd = started(peers.Containerd, tmp)
    try:
        ref = ctrd.load(images["plain"])
        assert ref == "docker.io/library/busybox:latest"
        assert ctrd.ctr("run", "--rm", "--runc-binary", peers.RUNC, ref, "fg", "echo", "hi").stdout == "hi\n"
        assert ctrd.ctr("run", "--rm", ref, "exit3", "sh", "-c", "exit 3", check=False).returncode == 3
        ctrd.ctr("run", "-d", "--runc-binary", peers.RUNC, ref, "bg", "sleep", "1000")
        assert ctrd.ctr("task", "exec", "--exec-id", "e1", "bg", "echo", "in").stdout == "in\n"
        # its cgroup is /<namespace>/<id>: under the peer's own parent
        cgroup = ctrd.ctr("task", "exec", "--exec-id", "e2", "bg", "cat", "/proc/self/cgroup").stdout
        assert f"/{ctrd.namespace}/bg" in cgroup
        assert "RUNNING" in ctrd.ctr("task", "ls").stdout
        ctrd.ctr("task", "kill", "--signal", "SIGKILL", "bg")
        _wait_stopped(ctrd, "bg")
        ctrd.ctr("task", "delete", "bg")
        ctrd.ctr("container", "delete", "bg")
        assert ctrd.ctr("containers", "ls", "-q").stdout.strip() == ""
    except BaseException:
        ctrd.close()
        raise
    closed_cleanly(ctrd, tmp)


def _wait_stopped(ctrd: peers.Containerd, cid: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "STOPPED" in ctrd.ctr("task", "ls").stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"task {cid} did not stop: {ctrd.ctr('task', 'ls').stdout}")


def test_dockerd(tmp_path: Path, images) -> None:
    tmp = tmp_path / "dockerd"
    docker = started(peers.Dockerd, tmp)
    try:
        ref = docker.load(images["plain"])
        assert ref == "busybox:latest"
        assert docker.docker("info", "--format", "{{.DefaultRuntime}}").stdout.strip() == "runc"
        assert docker.docker("run", "--rm", "--network", "none", "busybox", "echo", "hi").stdout == "hi\n"
        addr = docker.docker("run", "--rm", "--network", docker.bridge, "busybox", "ip", "-4", "-o", "addr",
                             "show", "eth0").stdout
        assert " inet " in addr
        cid = docker.docker("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
        assert docker.docker("exec", cid, "echo", "in").stdout == "in\n"
        docker.docker("kill", cid)
        assert docker.docker("wait", cid).stdout.strip() == "137"
        docker.docker("rm", cid)
        cid = docker.docker("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
        docker.docker("stop", "--time", "1", cid)
        docker.docker("rm", cid)
        assert docker.docker("ps", "-aq").stdout.strip() == ""
    except BaseException:
        docker.close()
        raise
    closed_cleanly(docker, tmp)




@pytest.mark.parametrize("isolation", ["oci", "chroot"])
def test_buildah(tmp_path: Path, images, isolation: str) -> None:
    tmp = tmp_path / "buildah"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("b\n")
    buildah = started(peers.Buildah, tmp, isolation=isolation)
    try:
        # `bud --layers` needs a base image with history (see peers.with_history)
        ref = buildah.load(images["history"])
        assert ref == "localhost/busybox:latest"
        # buildah has no detached containers: a working container, a foreground run, its removal
        ctr = buildah.buildah("from", "--pull-never", "busybox").stdout.strip()
        assert buildah.buildah("run", ctr, "echo", "hi").stdout == "hi\n"
        buildah.buildah("rm", ctr)
        bud = ["bud", "--layers", "--pull-never", "-t", "built", str(ctx)]
        first = buildah.buildah(*bud)
        assert "Using cache" not in first.stdout
        again = buildah.buildah(*bud)
        assert again.stdout.count("Using cache") == 5, again.stdout
        ctr = buildah.buildah("from", "--pull-never", "built").stdout.strip()
        assert buildah.buildah("run", ctr, "cat", "/two").stdout == "a\none\n"
        buildah.buildah("rm", ctr)
    except BaseException:
        buildah.close()
        raise
    closed_cleanly(buildah, tmp)

