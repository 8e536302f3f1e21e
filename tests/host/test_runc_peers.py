"""podman and containerd drive bocker-runc as they drive runc (tests/support/peers.py's sandboxes:
their own mount and network namespace, state in a temp dir, cgroups under a parent of their
own). podman calls it through conmon; containerd through its own runc shim
(containerd-shim-runc-v2), `ctr run --runc-binary`: the runtime entry a Kubernetes node's
containerd gets (README). Afterwards nothing is left: containers, cgroups, mounts, the
peers' state, our state directories, processes.

rlimits: podman asks for RLIMIT_NOFILE 1048576 (and NPROC 32768), above this machine's hard
limits, which even root cannot raise here (no CAP_SYS_RESOURCE in the bounding set): the
harness's containers.conf pins them with default_ulimits (nofile and nproc = this process's
hard limits), as it does for runc. ctr asks for NOFILE 1024: no change needed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bocker_magics.lab.runc import launcher
from tests.support import peers
from tests.support.hostcheck import leftovers


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("runc-peers-image")
    return peers.busybox_tarball(d / "busybox.tar", d)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> str:
    return launcher(tmp_path_factory.mktemp("runc-peers-bin"))


def started(cls, tmp: Path, **kw):
    try:
        return cls(tmp, **kw).__enter__()
    except peers.PeerUnavailable as e:
        pytest.skip(f"{cls.__name__}: {e}")


def state_dirs(peer: peers.Peer, root: str) -> list[str]:
    """What bocker-runc keeps in the sandbox's /run (its --root there)."""
    path = Path(f"/proc/{peer.sandbox.pid}/root") / root.lstrip("/")
    return sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) if path.is_dir() else []


def closed_cleanly(peer: peers.Peer, tmp: Path) -> None:
    left = peer.close()
    assert left == [], f"{peer.name} left (removed by force): {left}"
    assert not tmp.exists()
    assert leftovers(str(tmp), peer.cgroup_parent) == []


def test_podman_runs_containers_on_bocker_runc(tmp_path, image, runtime):
    tmp = tmp_path / "podman"
    podman = started(peers.Podman, tmp, runtime=runtime)
    try:
        def pm(*args, **kw):
            return podman.podman(*args, runtime=runtime, **kw)
        assert pm("load", "-i", image).returncode == 0
        info = json.loads(pm("info", "--format", "json").stdout)["host"]["ociRuntime"]
        assert info["path"] == runtime and info["version"].startswith("bocker-runc version")
        run = ["run", *podman.run_args()]
        assert pm(*run, "--rm", "busybox", "echo", "hi").stdout == "hi\n"          # netavark's bridge: a netns by path
        assert pm(*run, "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
        r = pm(*run, "--rm", "--network", "none", "busybox", "nonexistent", check=False)
        # podman reads our words (runc's, as logrus quotes them): "executable file not found" is its 127
        assert r.returncode == 127 and 'exec: \\"nonexistent\\": executable file not found in $PATH' in r.stderr, r.stderr
        assert "OCI runtime attempted to invoke a command that was not found" in r.stderr
        # podman --uidmap: a user namespace and its maps in the spec, the image chowned by podman
        r = pm(*run, "--rm", "--network", "none", "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536",
               "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /etc/x && echo wrote")
        assert r.stdout.split() == ["0", "0", "200000", "65536", "0", "wrote"], r.stdout + r.stderr
        tty = pm(*run, "--rm", "-t", "--network", "none", "busybox", "tty").stdout   # the console socket
        assert tty.strip() == "/dev/pts/0"
        cid = pm(*run, "-d", "--network", "none", "busybox", "sh", "-c", "echo started; exec sleep 1000").stdout.strip()
        assert pm("exec", cid, "sh", "-c", "echo in $(hostname)").stdout == f"in {cid[:12]}\n"
        assert pm("exec", "-t", cid, "tty").stdout.strip().startswith("/dev/pts/")
        deadline = time.monotonic() + 10
        while pm("logs", cid).stdout != "started\n":
            assert time.monotonic() < deadline, pm("logs", cid).stdout
            time.sleep(0.1)
        assert pm("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "running"
        assert [line.strip() for line in pm("top", cid, "args").stdout.splitlines()[1:]] == ["sleep 1000"]
        pm("pause", cid)
        assert pm("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "paused"
        pm("unpause", cid)
        pm("stop", "--time", "1", cid)  # sleep as pid 1 ignores SIGTERM: kill 15, kill 9, delete --force
        assert pm("inspect", "--format", "{{.State.ExitCode}}", cid).stdout.strip() == "137"
        pm("rm", cid)
        assert pm("ps", "-aq").stdout.strip() == ""
        # podman passes no --root: the fixed default, the same for every call, empty again
        assert state_dirs(podman, "/run/bocker-runc") == []
    except BaseException:
        podman.close()
        raise
    closed_cleanly(podman, tmp)


def test_containerd_drives_bocker_runc_through_its_runc_shim(tmp_path, image, runtime):
    tmp = tmp_path / "containerd"
    ctrd = started(peers.Containerd, tmp)
    try:
        ref = ctrd.load(image)
        shim = ["--runc-binary", runtime]
        assert ctrd.ctr("run", "--rm", *shim, ref, "fg", "echo", "hi").stdout == "hi\n"
        assert ctrd.ctr("run", "--rm", *shim, ref, "ex3", "sh", "-c", "exit 3", check=False).returncode == 3
        r = ctrd.ctr("run", "--rm", *shim, ref, "nf", "nonexistent", check=False)
        # the shim reads the last error line of our --log (JSON lines)
        assert r.returncode != 0 and ('OCI runtime create failed: runc create failed: unable to start container process: '
                                      'exec: "nonexistent": executable file not found in $PATH: unknown') in r.stderr
        ctrd.ctr("containers", "delete", "nf", check=False)
        ctrd.ctr("run", "-d", *shim, ref, "bg", "sh", "-c", "echo started; exec sleep 1000")
        assert ctrd.ctr("task", "exec", "--exec-id", "e1", "bg", "echo", "in").stdout == "in\n"
        cgroup = ctrd.ctr("task", "exec", "--exec-id", "e2", "bg", "cat", "/proc/self/cgroup").stdout
        assert f"/{ctrd.namespace}/bg" in cgroup
        pids = ctrd.ctr("task", "ps", "bg").stdout.split()[2::2]  # `ps --format json` under it
        assert len(pids) == 1 and pids[0].isdigit()
        ctrd.ctr("task", "pause", "bg")
        assert "PAUSED" in ctrd.ctr("task", "ls").stdout
        ctrd.ctr("task", "resume", "bg")
        ctrd.ctr("task", "kill", "bg")  # SIGTERM: ignored by sleep as pid 1
        time.sleep(0.3)
        assert "RUNNING" in ctrd.ctr("task", "ls").stdout
        ctrd.ctr("task", "kill", "--signal", "SIGKILL", "bg")
        _wait_stopped(ctrd, "bg")
        ctrd.ctr("task", "delete", "bg")  # delete, then delete --force of a container already gone: exit 0
        ctrd.ctr("container", "delete", "bg")
        # a running task deleted with -f: kill --all 9, delete, delete --force
        ctrd.ctr("run", "-d", *shim, ref, "bg2", "sleep", "1000")
        ctrd.ctr("task", "delete", "-f", "bg2")
        ctrd.ctr("container", "delete", "bg2")
        assert ctrd.ctr("containers", "ls", "-q").stdout.strip() == ""
        assert state_dirs(ctrd, f"/run/containerd/runc/{ctrd.namespace}") == []
    except BaseException:
        ctrd.close()
        raise
    closed_cleanly(ctrd, tmp)


def _wait_stopped(ctrd: peers.Containerd, cid: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while "STOPPED" not in ctrd.ctr("task", "ls").stdout:
        assert time.monotonic() < deadline, ctrd.ctr("task", "ls").stdout
        time.sleep(0.05)
