"""A containerd of its own, for a notebook: its config, root, state and sockets in a temp dir,
inside a mount and network namespace held by a sleeping process (its /run a fresh tmpfs: the
shim sockets, ctr's fifos and the runtime's --root land there, not on the host), no CRI
plugin. The containers' cgroups are under /<namespace>/<id>: the namespace is named after
the caller's cgroup parent.

    with LabContainerd(tmp, namespace="bocker-lab-ctr") as ctrd:
        ref = ctrd.load("busybox.tar")                       # docker.io/library/busybox:latest
        ctrd.ctr("run", "--rm", "--runc-binary", BIN, ref, "c1", "echo", "hi").stdout

(tests/support/peers.py has the full harness the test suite uses; this is its containerd part.)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..errors import HostUnsupported

_HOLDER = "mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run && ip link set lo up && echo ready && exec sleep infinity"


def _binary(name: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.access(p, os.X_OK)),
                                      None)
    if path is None:
        raise HostUnsupported(f"{name} is not installed: apt-get install containerd")
    return path


def config_toml(tmp: Path, address: str | os.PathLike, extra: str = "") -> str:
    """containerd's config.toml with everything under `tmp`: the CRI plugin (it wants CNI and
    networking) and the snapshotters that probe filesystems a VM lacks disabled, every path
    that defaults to a host directory set. `extra`: more TOML at the end."""
    t = tmp
    return f"""version = 2
root = "{t}/root"
state = "{t}/state"
temp = "{t}/tmpdir"
plugin_dir = ""
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{address}"
[ttrpc]
  address = "{address}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{t}/opt"
""" + extra


class LabContainerd:
    def __init__(self, tmp: str | os.PathLike, namespace: str) -> None:
        self.tmp = Path(tmp)
        self.namespace = namespace
        self.address = self.tmp / "containerd.sock"
        self.binary, self.ctr_binary = _binary("containerd"), _binary("ctr")
        _binary("containerd-shim-runc-v2")
        self.holder = self.daemon = None

    def __enter__(self) -> LabContainerd:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def config(self) -> str:
        return config_toml(self.tmp, self.address)

    def start(self) -> None:
        (self.tmp / "tmpdir").mkdir(parents=True, exist_ok=True)
        self.holder = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", _HOLDER],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, start_new_session=True)
        if self.holder.stdout.readline().strip() != "ready":
            raise HostUnsupported(f"cannot make a mount+network namespace: {self.holder.stderr.read().strip()}")
        (self.tmp / "config.toml").write_text(self.config())
        log = open(self.tmp / "containerd.log", "ab")
        self.daemon = subprocess.Popen([*self.prefix(), self.binary, "--config", str(self.tmp / "config.toml"),
                                        "--log-level", "warn"], stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True, env=self.env())
        log.close()
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                tail = (self.tmp / "containerd.log").read_text(errors="replace").strip().splitlines()[-1:]
                raise HostUnsupported(f"containerd did not start: {tail[0] if tail else 'no log'}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(self.address))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def env(self) -> dict[str, str]:
        return {**os.environ, "TMPDIR": str(self.tmp / "tmpdir")}

    def prefix(self) -> list[str]:
        return ["nsenter", f"--target={self.holder.pid}", "--mount", "--net", "--"]

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [*self.prefix(), self.ctr_binary, "--address", str(self.address), "--namespace", self.namespace,
                *map(str, args)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env(),
                           stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError(f"ctr {' '.join(map(str, args))} -> {r.returncode}: {r.stderr.strip()}")
        return r

    def load(self, tarball: str | os.PathLike) -> str:
        self.ctr("images", "import", "--snapshotter", "overlayfs", tarball)
        return self.ctr("images", "ls", "-q").stdout.split()[0]

    def close(self) -> None:
        """Remove its containers, stop it; then every process of its namespace goes with the holder."""
        if self.daemon is not None and self.daemon.poll() is None:
            for cid in self.ctr("containers", "ls", "-q", check=False, timeout=30).stdout.split():
                self.ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False, timeout=30)
                self.ctr("tasks", "delete", "-f", cid, check=False, timeout=30)
                self.ctr("containers", "delete", cid, check=False, timeout=30)
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if self.holder is not None:
            mnt = _ns(self.holder.pid)
            for pid in filter(str.isdigit, os.listdir("/proc")):  # shims left behind
                if int(pid) != self.holder.pid and mnt is not None and _ns(int(pid)) == mnt:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if self.holder.poll() is None:
                os.killpg(self.holder.pid, signal.SIGKILL)
            self.holder.wait()
            for stream in (self.holder.stdout, self.holder.stderr):
                stream.close()
            self.holder = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def _ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None
