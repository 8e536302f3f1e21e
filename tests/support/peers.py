"""Real peers to measure and test bocker against: containerd, podman, dockerd, buildah.

Each peer is a context manager that starts it with all of its state in a temp dir of its own
and, on the way out, stops it and removes everything it made. No pytest here: the tests and
the benchmarks both import it.

Isolation. Every peer lives in a *sandbox*: a process holding a mount and a network
namespace of their own, in which /run is a fresh tmpfs and /etc, /var and /opt are overlays
whose writes land in the temp dir. The peers write host paths that no flag moves (podman:
/var/lib/containers/cache/blob-info-cache-v1.boltdb, /run/containers/networks/ipam.db,
/run/netns/netns-*, /var/cache/containers; containerd's shims: /run/containerd/s/*; dockerd:
/etc/docker/key.json; runc's default --root /run/runc), and other work on this machine runs the
same peers: inside the sandbox none of it reaches the host or collides with anyone's. Daemons,
bridges and iptables rules stay in the sandbox's network namespace. Commands that mount (podman,
buildah, ctr's fifos) run in it through `nsenter`; the docker CLI only talks to its socket.
Cgroups are not namespaced: each peer puts its containers under a cgroup parent of its own
(`bocker-peers-PID-N`) and removes it.

    with Podman(tmp) as podman:
        ref = podman.load(busybox_tar)          # "localhost/busybox:latest"
        podman.run("run", "--rm", "--network", "none", ref, "echo", "hi")
        assert podman.close() == []             # what had to be cleaned by force, if anything

A peer that cannot run here raises PeerUnavailable with a one-line reason (`str(e)`), which a
benchmark prints when it skips that peer and a test gives to pytest.skip. `python tests/support/peers.py`
starts and stops each once and says which run here.

The busybox image (busybox_tarball: `bocker init --busybox` + `bocker save`), as each peer names it:

    podman load -i FILE                    localhost/busybox:latest   (`busybox` finds it)
    ctr images import FILE                 docker.io/library/busybox:latest (the full name is needed)
    docker load -i FILE                    busybox:latest
    buildah pull docker-archive:FILE       localhost/busybox:latest   (`FROM busybox` finds it)

On this machine (Debian 12, kernel 6.18, cgroup v1 hybrid): all four run with runc. crun (podman's
Debian default) does not: "cgroups in hybrid mode not supported, drop all controllers from
cgroupv2" (hugetlb is available on the unified hierarchy), so Podman and Buildah use runc.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

RUNC = shutil.which("runc") or "/usr/sbin/runc"
REPO = Path(__file__).resolve().parents[2]
_counter = itertools.count(1)


class PeerUnavailable(Exception):
    """This peer cannot run on this machine; str(e) is one line saying why."""


class PeerError(Exception):
    """A peer's command failed where it should not have."""


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}", f"/sbin/{binary}") if os.access(p, os.X_OK)), None)
    if path is None:
        raise PeerUnavailable(f"{binary} is not installed (apt-get install {package})")
    return path


# -- cgroups ---------------------------------------------------------------------------------
def cgroup_mounts() -> list[str]:
    """Mount points of every cgroup v1 hierarchy and of cgroup2."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] in ("cgroup", "cgroup2"):
                points.append(left.split()[4].replace("\\040", " "))
    return points


def cgroup_dirs(parent: str) -> list[str]:
    """Every directory of the cgroup `parent` (a name under each hierarchy's root), all hierarchies."""
    found = []
    for mount in cgroup_mounts():
        top = os.path.join(mount, parent.strip("/"))
        if os.path.isdir(top):
            found += [d for d, _, _ in os.walk(top)]
    return found


def remove_cgroups(parent: str, timeout: float = 5.0) -> list[str]:
    """rmdir the cgroup `parent` and its children in every hierarchy, retried while a last
    process exits (lab/runc.py's, which the notebooks use). Returns what stays."""
    from bocker_magics.lab.runc import remove_cgroup_parent
    return remove_cgroup_parent(parent, timeout)


def cgroup_processes(parent: str) -> set[int]:
    """Pids in the cgroup `parent` or below, in any hierarchy: containers live in mount
    namespaces of their own, so only their cgroups tell that they are a peer's."""
    pids: set[int] = set()
    for d in cgroup_dirs(parent):
        with contextlib.suppress(OSError):
            pids.update(int(x) for x in Path(d, "cgroup.procs").read_text().split())
    return pids


def kill_cgroup_processes(parent: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (pids := cgroup_processes(parent)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def cgroup_children(parent: str) -> list[str]:
    """Cgroups under `parent` (not the parent itself): containers a peer left."""
    return [f"cgroup {d}" for mount in cgroup_mounts()
            for d in cgroup_dirs(parent) if d.startswith(mount + "/") and d != os.path.join(mount, parent.strip("/"))]


# -- the sandbox -----------------------------------------------------------------------------
_SANDBOX_SCRIPT = r"""
set -e
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mkdir -m 1777 /run/lock
ln -s /dev/shm /run/shm
for d in etc var opt; do
  mkdir -p "$1/$d.upper" "$1/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$1/$d.upper,workdir=$1/$d.work" "/$d"
done
ip link set lo up
echo ready
exec sleep infinity
"""


class Sandbox:
    """A mount + network namespace held by a sleeping process (see the module's docstring).

    prefix(): the argv prefix that runs a command in it (nsenter, ~2 ms); mounts_under(path):
    what is mounted there inside it; processes(): every process in it but the holder;
    writes(): the files the peer wrote to /etc, /var or /opt (they live in the overlays' upper dirs).
    """

    def __init__(self, tmp: Path) -> None:
        self.dir = Path(tmp)
        self.dir.mkdir(parents=True, exist_ok=True)
        nsenter, unshare = _need("nsenter", "util-linux"), _need("unshare", "util-linux")
        self._nsenter = nsenter
        self.holder = subprocess.Popen(
            [unshare, "--mount", "--net", "--propagation", "private", "--", "sh", "-c", _SANDBOX_SCRIPT,
             "sandbox", str(self.dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            err = self.holder.stderr.read() if self.holder.poll() is not None else ""
            self.close()
            raise PeerUnavailable(f"cannot make a mount+network namespace sandbox: {err.strip() or line.strip()}")
        self.pid = self.holder.pid
        self.mntns = os.readlink(f"/proc/{self.pid}/ns/mnt")
        self.netns = os.readlink(f"/proc/{self.pid}/ns/net")

    def prefix(self, cwd: str | os.PathLike | None = None) -> list[str]:
        """nsenter into both namespaces; the command starts in "/" unless `cwd` is given. (nsenter's
        --wd opens the dir before entering, and getcwd() then fails in the new mount namespace.)"""
        argv = [self._nsenter, f"--target={self.pid}", "--mount", "--net", "--"]
        return [*argv, "env", "-C", str(cwd)] if cwd is not None else argv

    def processes(self) -> list[str]:
        """Processes in this sandbox's mount namespace, other than its holder: 'PID (comm) cmdline'."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if int(pid) == self.pid:
                continue
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") != self.mntns:
                    continue
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            found.append(f"{pid} ({comm}) {cmd[:200]}")
        return found

    def mounts_under(self, path: str | os.PathLike) -> list[str]:
        """Mount points inside the sandbox at or under `path` (the sandbox's own overlays excluded)."""
        path = str(path).rstrip("/")
        own = {"/run", "/etc", "/var", "/opt"}
        try:
            lines = Path(f"/proc/{self.pid}/mountinfo").read_text().splitlines()
        except OSError:
            return []
        points = [l.split()[4].replace("\\040", " ") for l in lines]
        return [p for p in points if (p == path or p.startswith(path + "/")) and p not in own]

    def writes(self) -> list[str]:
        """Files the peers wrote to /etc, /var, /opt or /run (what would have been left on the
        host): the overlays' upper dirs, and the sandbox's /run seen through its holder's root."""
        tops = [(f"/{d}", self.dir / f"{d}.upper") for d in ("etc", "var", "opt")]
        tops.append(("/run", Path(f"/proc/{self.pid}/root/run")))
        out = []
        for name, top in tops:
            for dirpath, dirnames, filenames in os.walk(top):
                rel = dirpath[len(str(top)):]
                out += [f"{name}{rel}/{f}" for f in filenames]
                if not dirnames and not filenames and rel:
                    out.append(f"{name}{rel}/")
        return sorted(out)

    def kill_all(self) -> list[str]:
        """SIGKILL every process in the sandbox (not the holder); returns what was there."""
        left = self.processes()
        for _ in range(50):
            procs = self.processes()
            if not procs:
                break
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(p.split()[0]), signal.SIGKILL)
            time.sleep(0.1)
        return left

    def close(self) -> None:
        """Kill everything in it, then the holder: the namespaces and all their mounts go."""
        if getattr(self, "pid", None) is not None:
            self.kill_all()
        if self.holder.poll() is None:
            os.killpg(self.holder.pid, signal.SIGKILL)
        self.holder.wait()
        for stream in (self.holder.stdout, self.holder.stderr):
            if stream:
                stream.close()


# -- peers -------------------------------------------------------------------------------------
@dataclass
class Peer:
    """What every peer has: a temp dir, a sandbox, a cgroup parent, commands and a clean-up."""

    tmp: Path
    name: str = field(init=False, default="peer")

    def __post_init__(self) -> None:
        self.tmp = Path(self.tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.cgroup_parent = f"bocker-peers-{os.getpid()}-{next(_counter)}"
        self.env = {**os.environ, "TMPDIR": str(self.tmp / "tmpdir")}
        (self.tmp / "tmpdir").mkdir(exist_ok=True)
        self.sandbox: Sandbox | None = None
        self.closed = False
        self._daemons: list[subprocess.Popen] = []

    # context manager
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self.sandbox = Sandbox(self.tmp / "sandbox")

    def exec(self, argv: Sequence[str], *, in_sandbox: bool = True, check: bool = True, timeout: float = 120,
             input: str | bytes | None = None, text: bool = True, cwd: str | os.PathLike | None = None,
             capture: bool = True, **kw) -> subprocess.CompletedProcess:
        argv = [str(a) for a in argv]
        full = [*self.sandbox.prefix(cwd), *argv] if in_sandbox else argv
        r = subprocess.run(full, capture_output=capture, text=text, timeout=timeout, env=self.env, input=input,
                           cwd=None if in_sandbox else cwd, stdin=None if input is not None else subprocess.DEVNULL, **kw)
        if check and r.returncode != 0:
            raise PeerError(f"{' '.join(argv)} -> exit {r.returncode}\n{r.stdout or ''}{r.stderr or ''}".strip())
        return r

    # clean-up
    def shutdown(self) -> None:
        """Stop the peer the way its user would (remove its containers, stop its daemon)."""

    def leftovers(self) -> list[str]:
        """What of this peer's is still there: processes, mounts under tmp, container cgroups."""
        found = []
        if self.sandbox is not None:
            found += [f"process {p}" for p in self.sandbox.processes()]
            found += [f"mount {m}" for m in self.sandbox.mounts_under(self.tmp)]
        found += [f"process {pid} in cgroup {self.cgroup_parent}" for pid in sorted(cgroup_processes(self.cgroup_parent))
                  if not any(x.startswith(f"process {pid} ") for x in found)]
        found += cgroup_children(self.cgroup_parent)
        return found

    def close(self) -> list[str]:
        """Stop it (gracefully first), then remove by force whatever is left; returns what was
        left after the graceful stop (empty when the peer cleans up after itself)."""
        if self.closed:
            return []
        self.closed = True
        with contextlib.suppress(Exception):
            self.shutdown()
        settle = time.monotonic() + 5
        left = self.leftovers()
        while left and time.monotonic() < settle:  # shims and conmon exit right after their container
            time.sleep(0.1)
            left = self.leftovers()
        for d in self._daemons:
            if d.poll() is None:
                d.kill()
            d.wait()
        if self.sandbox is not None:
            self.sandbox.close()  # every process in it, then its mounts
        kill_cgroup_processes(self.cgroup_parent)  # containers a dead conmon or shim left running
        left += remove_cgroups(self.cgroup_parent)
        _rmtree(self.tmp)
        return left

    def _daemon(self, argv: Sequence[str], log: Path) -> subprocess.Popen:
        out = open(log, "ab")
        p = subprocess.Popen([*self.sandbox.prefix(), *map(str, argv)], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        out.close()
        self._daemons.append(p)
        return p

    def _wait_for(self, what: str, ready, daemon: subprocess.Popen, log: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise PeerUnavailable(f"{self.name} exited at start ({daemon.returncode}): {_last_line(log)}")
            if ready():
                return
            time.sleep(0.05)
        raise PeerUnavailable(f"{self.name}: {what} not ready after {timeout:.0f} s: {_last_line(log)}")


def _last_line(log: Path) -> str:
    try:
        lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return "(no log)"
    errors = [l for l in lines if "level=error" in l or "level=fatal" in l]
    return (errors or lines or ["(empty log)"])[-1][:300]


def _rmtree(path: Path) -> None:
    # overlay work dirs hold a root-only "work" dir with mode 000: rmtree copes as root
    shutil.rmtree(path, ignore_errors=True)


def _socket_ready(path: Path) -> bool:
    import socket
    if not path.exists():
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


# -- containerd --------------------------------------------------------------------------------
@dataclass
class Containerd(Peer):
    """containerd 1.6 with its own config, root, state and sockets; no CRI plugin.

    .ctr(*args) runs `ctr --address A --namespace N ARGS` in the sandbox (ctr makes its fifos in
    /run/containerd/fifo, which the shim must see). The namespace name is the cgroup parent, so
    containers land in /<namespace>/<id> cgroups of our own (containerd's default cgroupsPath).
    Images: `ctr images import` names the busybox tar `docker.io/library/busybox:latest`.
    """

    namespace: str = field(init=False, default="")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "containerd"
        self.namespace = self.cgroup_parent
        self.address = self.tmp / "containerd.sock"
        self.binary = _need("containerd", "containerd")
        self.ctr_binary = _need("ctr", "containerd")
        _need("containerd-shim-runc-v2", "containerd")

    def config(self) -> str:
        from bocker_magics.lab.containerd import config_toml
        return config_toml(self.tmp, self.address, extra=f"""[plugins."io.containerd.runtime.v1.linux"]
  runtime = "{RUNC}"
[plugins."io.containerd.grpc.v1.cri"]
[plugins."io.containerd.service.v1.diff-service"]
  default = ["walking"]
""")

    def start(self) -> None:
        super().start()
        conf = self.tmp / "config.toml"
        conf.write_text(self.config())
        log = self.tmp / "containerd.log"
        d = self._daemon([self.binary, "--config", conf, "--log-level", "warn"], log)
        self._wait_for("its socket", lambda: _socket_ready(self.address), d, log)
        self.daemon = d

    def ctr_argv(self, *args: str) -> list[str]:
        return [*self.sandbox.prefix(), self.ctr_binary, "--address", str(self.address), "--namespace", self.namespace,
                *map(str, args)]

    def ctr(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.exec([self.ctr_binary, "--address", self.address, "--namespace", self.namespace, *args], **kw)

    def load(self, tarball: str | os.PathLike) -> str:
        """`ctr images import`; returns the image's name."""
        out = self.ctr("images", "import", "--snapshotter", "overlayfs", tarball).stdout
        # "unpacking docker.io/library/busybox:latest (sha256:...)...done"
        for word in out.split():
            if "/" in word and ":" in word and not word.startswith("(sha256"):
                return word
        names = self.ctr("images", "ls", "-q").stdout.split()
        if not names:
            raise PeerError(f"ctr images import {tarball}: no image\n{out}")
        return names[0]

    def shutdown(self) -> None:
        if getattr(self, "daemon", None) is None or self.daemon.poll() is not None:
            return
        # tasks and containers a test left: kill, delete (the shims go with their tasks)
        r = self.ctr("containers", "ls", "-q", check=False, timeout=20)
        for cid in r.stdout.split():
            self.ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False, timeout=20)
            self.ctr("tasks", "delete", "-f", cid, check=False, timeout=20)
            self.ctr("containers", "delete", cid, check=False, timeout=20)
        self.daemon.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.daemon.wait(10)


# -- podman ------------------------------------------------------------------------------------
def _network_backend() -> str:
    return "netavark" if os.access("/usr/lib/podman/netavark", os.X_OK) or shutil.which("netavark") else "cni"


def containers_conf(tmp: Path, runtime: str, network_backend: str) -> str:
    """A containers.conf (podman's and buildah's) that keeps every path in `tmp`."""
    import resource
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)
    # podman lowers its own RLIMIT_NPROC to 32768 before it starts conmon and the runtime
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
    return f"""[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]
[network]
network_backend = "{network_backend}"
network_config_dir = "{tmp}/networks"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{tmp}/events.log"
lock_type = "file"
pull_policy = "never"
runtime = "{runtime}"
tmp_dir = "{tmp}/libpod"
static_dir = "{tmp}/root/libpod"
volume_path = "{tmp}/root/volumes"
image_copy_tmp_dir = "{tmp}/tmpdir"
"""


@dataclass
class Podman(Peer):
    """podman 4 with its own --root/--runroot/--tmpdir, cgroupfs, file events, and its own
    containers.conf, storage.conf and registries.conf (no search registries, pull never: a short
    name never reaches the internet). Runtime runc (Debian's default would be crun).

    Cgroups: containers under /<cgroup parent>/libpod-<id>, conmon under /<cgroup parent>/conmon.
    rlimits: podman asks for RLIMIT_NOFILE 1048576 (and RLIMIT_NPROC 1048576 once any --ulimit is
    given), above this machine's hard limits, which root cannot raise here (CAP_SYS_RESOURCE is
    not in the bounding set): runc fails "error setting rlimit type 7: operation not permitted".
    default_ulimits in containers.conf pins both to what this process may have.
    Images: `podman load` names the busybox tar `localhost/busybox:latest`; `busybox` finds it.
    """

    runtime: str = RUNC

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "podman"
        self.binary = _need("podman", "podman")
        # podman refuses a runroot over 50 characters (conmon's socket paths): the sandbox's
        # private /run has room, and what is there goes with the sandbox
        self.runroot = "/run/podman"
        _need("conmon", "conmon")
        t = self.tmp
        etc = t / "etc"
        etc.mkdir(exist_ok=True)
        self.network_backend = _network_backend()
        (etc / "containers.conf").write_text(self.containers_conf())
        (etc / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{t}/root"\nrunroot = "{self.runroot}"\n')
        (etc / "registries.conf").write_text('unqualified-search-registries = []\nshort-name-mode = "enforcing"\n')
        self.env.update(CONTAINERS_CONF=str(etc / "containers.conf"), CONTAINERS_STORAGE_CONF=str(etc / "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=str(etc / "registries.conf"))

    def containers_conf(self) -> str:
        return containers_conf(self.tmp, runtime=self.runtime, network_backend=self.network_backend)

    def argv(self, *args: str, runtime: str | None = None) -> list[str]:
        """podman's command line without the sandbox prefix (for self.exec)."""
        t = self.tmp
        return [self.binary, "--root", f"{t}/root", "--runroot", self.runroot, "--tmpdir", f"{t}/libpod",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                *(["--runtime", runtime] if runtime else []), *map(str, args)]

    def full_argv(self, *args: str, runtime: str | None = None) -> list[str]:
        """The whole command (sandbox prefix included), for a benchmark to time: run it with
        env=self.env (CONTAINERS_CONF and friends; without them podman uses the host's confs)."""
        return [*self.sandbox.prefix(), *self.argv(*args, runtime=runtime)]

    def podman(self, *args: str, runtime: str | None = None, **kw) -> subprocess.CompletedProcess:
        return self.exec(self.argv(*args, runtime=runtime), **kw)

    def run_args(self) -> list[str]:
        """Options every `podman run` here should have: the cgroup parent of ours."""
        return ["--cgroup-parent", f"/{self.cgroup_parent}"]

    def load(self, tarball: str | os.PathLike) -> str:
        out = self.podman("load", "-i", tarball).stdout
        for line in out.splitlines():
            if line.startswith("Loaded image"):
                return line.split(":", 1)[1].strip()
        raise PeerError(f"podman load {tarball}: {out}")

    def leftovers(self) -> list[str]:
        # conmon's cgroup (<parent>/conmon) is shared by every conmon and never removed by podman
        conmon = f"/{self.cgroup_parent}/conmon"
        return [x for x in super().leftovers() if not x.endswith(conmon)]

    def shutdown(self) -> None:
        if self.sandbox is None:
            return
        self.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=60)
        self.podman("pod", "rm", "--all", "--force", check=False, timeout=60)
        self.podman("network", "prune", "--force", check=False, timeout=30)
        # unmounts every layer and the storage itself (podman keeps an overlay "shm" mounts too)
        self.podman("system", "reset", "--force", check=False, timeout=60)


# -- dockerd -----------------------------------------------------------------------------------
@dataclass
class Dockerd(Peer):
    """dockerd 20.10 with its own --data-root, --exec-root, pidfile and socket, no default bridge
    and no iptables (so no NAT, no host firewall change), its containers under a cgroup parent of
    ours; it spawns its own containerd (state in exec-root, data in data-root).

    .docker(*args) runs the docker CLI against it (the CLI only talks to the socket, so it runs
    outside the sandbox). .bridge is a user-defined bridge network made at start (no NAT), for
    the "bridge" case: `docker run --network NAME`. Images: `docker load` names the busybox tar
    `busybox:latest`.

    userland_proxy: published ports (`-p`) answer on the sandbox's addresses through
    docker-proxy, the only way they can with --iptables=false (off by default: no process per port).
    """

    userland_proxy: bool = False
    bridge: str = field(init=False, default="peers-br")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "dockerd"
        self.binary = _need("dockerd", "docker.io")
        self.cli = _need("docker", "docker.io")
        _need("containerd", "containerd")
        self.socket = self.tmp / "docker.sock"
        self.env.update(DOCKER_HOST=f"unix://{self.socket}", DOCKER_CONFIG=str(self.tmp / "cli"))

    def start(self) -> None:
        super().start()
        t = self.tmp
        conf = t / "daemon.json"
        conf.write_text(json.dumps({"runtimes": {}}) + "\n")
        log = t / "dockerd.log"
        d = self._daemon([self.binary, "--config-file", conf, "--data-root", t / "data", "--exec-root", t / "exec",
                          "--pidfile", t / "docker.pid", "-H", f"unix://{self.socket}",
                          "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
                          f"--userland-proxy={str(self.userland_proxy).lower()}", "--storage-driver", "overlay2",
                          "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", f"/{self.cgroup_parent}",
                          "--log-level", "warn"], log)
        self.daemon = d
        self._wait_for("its socket", lambda: _socket_ready(self.socket) and self._answers(), d, log, timeout=60)
        self.docker("network", "create", "--driver", "bridge", "-o", "com.docker.network.bridge.enable_ip_masquerade=false",
                    self.bridge)

    def _answers(self) -> bool:
        # a daemon still starting may hold `docker version` past its timeout: not ready yet
        try:
            return self.docker("version", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def docker_argv(self, *args: str) -> list[str]:
        return [self.cli, "-H", f"unix://{self.socket}", *map(str, args)]

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.exec(self.docker_argv(*args), in_sandbox=False, **kw)

    def load(self, tarball: str | os.PathLike) -> str:
        out = self.docker("load", "-i", tarball).stdout
        for line in out.splitlines():
            if line.startswith("Loaded image:"):
                return line.split(":", 1)[1].strip()
        raise PeerError(f"docker load {tarball}: {out}")

    def shutdown(self) -> None:
        if getattr(self, "daemon", None) is None or self.daemon.poll() is not None:
            return
        ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False, timeout=60)
        self.docker("network", "rm", self.bridge, check=False, timeout=30)
        self.daemon.terminate()  # dockerd stops its containerd, which stops the shims
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.daemon.wait(20)


# -- buildah -----------------------------------------------------------------------------------
@dataclass
class Buildah(Peer):
    """buildah 1.28 with its own --root/--runroot, overlay storage, the same confs as Podman
    (no registries, pull never), RUN steps with --isolation chroot (the default oci isolation
    runs runc with podman's rlimits, which this machine refuses; see Podman). Images:
    `buildah pull docker-archive:FILE` names the busybox tar `localhost/busybox:latest`, so a
    Dockerfile's `FROM busybox` finds it.
    """

    isolation: str = "chroot"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = "buildah"
        self.binary = _need("buildah", "buildah")
        t = self.tmp
        etc = t / "etc"
        etc.mkdir(exist_ok=True)
        self.runroot = "/run/buildah"  # in the sandbox (see Podman)
        (etc / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{t}/root"\nrunroot = "{self.runroot}"\n')
        (etc / "registries.conf").write_text('unqualified-search-registries = []\nshort-name-mode = "enforcing"\n')
        (etc / "containers.conf").write_text(containers_conf(t, runtime=RUNC, network_backend=_network_backend()))
        self.env.update(CONTAINERS_CONF=str(etc / "containers.conf"), CONTAINERS_STORAGE_CONF=str(etc / "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=str(etc / "registries.conf"), BUILDAH_ISOLATION=self.isolation)

    def argv(self, *args: str) -> list[str]:
        t = self.tmp
        return [self.binary, "--root", f"{t}/root", "--runroot", self.runroot, "--storage-driver", "overlay",
                *map(str, args)]

    def full_argv(self, *args: str, cwd: str | os.PathLike | None = None) -> list[str]:
        """The whole command, for a benchmark to time: run it with env=self.env (see Podman)."""
        return [*self.sandbox.prefix(cwd), *self.argv(*args)]

    def buildah(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.exec(self.argv(*args), **kw)

    def load(self, tarball: str | os.PathLike) -> str:
        self.buildah("pull", "--quiet", f"docker-archive:{tarball}")
        names = json.loads(self.buildah("images", "--json").stdout or "[]")
        for image in names:
            for n in image.get("names") or []:
                return n
        raise PeerError(f"buildah pull docker-archive:{tarball}: no image")

    def shutdown(self) -> None:
        if self.sandbox is None:
            return
        self.buildah("rm", "--all", check=False, timeout=60)
        self.buildah("rmi", "--all", "--force", check=False, timeout=60)


# -- the image all peers share -------------------------------------------------------------------
def bocker_argv() -> list[str]:
    """The bocker CLI of this checkout (its package first on the path)."""
    return [sys.executable, "-c", "import sys; from bocker_magics.cli import main; sys.exit(main())"]


def busybox_tarball(path: str | os.PathLike, workdir: str | os.PathLike) -> Path:
    """`bocker init --busybox` then `bocker save busybox PATH`, with a BOCKER_ROOT of its own
    under `workdir` (removed after). The tarball is docker-save format, RepoTags busybox:latest."""
    path, root = Path(path), Path(workdir) / "bocker-root"
    env = {**os.environ, "BOCKER_ROOT": str(root), "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    try:
        for args in (["init", "--busybox"], ["save", "busybox", str(path)]):
            r = subprocess.run([*bocker_argv(), *args], capture_output=True, text=True, env=env, timeout=120)
            if r.returncode != 0:
                raise PeerError(f"bocker {' '.join(args)} -> {r.returncode}: {r.stdout}{r.stderr}")
    finally:
        _rmtree(root)
    return path


def with_history(tarball: str | os.PathLike, out: str | os.PathLike) -> Path:
    """A copy of a docker-save tarball whose image config has a history entry per layer.

    buildah 1.28 `bud --layers` refuses a base image without history ("history lists 2
    non-empty layers, but we have 3 layers on disk"); `bocker save` writes none (the OCI image
    spec makes history optional; docker save always has it). Only the config (and so its
    digest, the config's file name) changes; the layers are the same bytes."""
    import hashlib
    import tarfile
    src, out = Path(tarball), Path(out)
    with tarfile.open(src) as t:
        members = {m.name: m for m in t.getmembers()}
        manifest = json.loads(t.extractfile("manifest.json").read())
        files = {name: t.extractfile(m).read() for name, m in members.items() if m.isfile()}
    for entry in manifest:
        config = json.loads(files.pop(entry["Config"]))
        if not config.get("history"):
            config["history"] = [{"created": config.get("created", "1970-01-01T00:00:00Z"),
                                  "created_by": "bocker save (layer %d)" % i} for i, _ in enumerate(entry["Layers"])]
        data = json.dumps(config, separators=(",", ":")).encode()
        entry["Config"] = hashlib.sha256(data).hexdigest() + ".json"
        files[entry["Config"]] = data
    files["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(out, "w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return out


def logging_runtime(path: str | os.PathLike, logdir: str | os.PathLike, real: str = RUNC) -> Path:
    """Write an executable OCI runtime at `path` that logs every call into `logdir` and then runs
    `real` (see peers_logging_runtime.sh): `podman --runtime PATH`, `ctr run --runc-binary PATH`."""
    text = (Path(__file__).with_name("peers_logging_runtime.sh")).read_text()
    text = text.replace("${PEERS_RUNTIME_LOGDIR:-/tmp/peers-runtime-log}", shlex.quote(str(logdir)))
    text = text.replace("${PEERS_REAL_RUNTIME:-/usr/sbin/runc}", shlex.quote(real))
    path = Path(path)
    path.write_text(text)
    path.chmod(0o755)
    return path


PEERS = {"containerd": Containerd, "podman": Podman, "dockerd": Dockerd, "buildah": Buildah}


def availability(tmp: str | os.PathLike) -> dict[str, str | None]:
    """Start and stop each peer once: name -> None (it runs here) or the reason it does not."""
    out: dict[str, str | None] = {}
    for name, cls in PEERS.items():
        try:
            with cls(Path(tmp) / name) as peer:
                if isinstance(peer, Podman):
                    peer.podman("info")  # daemonless: ask it to read its storage and confs
                elif isinstance(peer, Buildah):
                    peer.buildah("info")
            out[name] = None
        except PeerUnavailable as e:
            out[name] = str(e)
        except PeerError as e:
            out[name] = str(e).splitlines()[0]
    return out


if __name__ == "__main__":
    import tempfile
    if os.geteuid() != 0:
        sys.exit("peers.py needs root")
    with tempfile.TemporaryDirectory(prefix="bocker-peers-") as d:
        for name, why in availability(d).items():
            print(f"{name:11} {'runs here' if why is None else 'unavailable: ' + why}")
