#!/usr/bin/env python3
"""Many idle containers on one VM (issue 22): what each engine's own processes cost per
container, and how starting, listing, stopping and removing scale. One run, the same machine:

  bocker   `bocker run -d --network none busybox sleep 3600` through the bocker server
  podman   `podman run -d --network none busybox sleep 3600` (conmon per container; runc)
  docker   the same through dockerd 20.10 (containerd-shim-runc-v2 per container), in a network
           namespace of its own, `--bridge none --iptables=false`

For each engine, N containers are started one after another (each start timed); then the PSS
(/proc/PID/smaps_rollup) of every process of the engine that is not a container's own (bocker:
its server, shim and monitors; podman: conmon; docker: dockerd, containerd and the shims) is
summed, the sum before the N started is subtracted, and the rest divided by N. Then `ps` with
N containers (median of 5), `stats --no-stream` of all, `stop -t 1` of all of them in one
command, `rm` of all of them; then N started again by --clients commands at a time (8), timed
as a whole, stopped and removed.

Targets (issue 22): memory per container <= 1.0 x podman's; start <= 0.5 x podman's.

    sudo .venv/bin/python benchmarks/bench_density.py [--count 50] [--engines bocker podman docker] [--json FILE]
                                                     [--bocker PATH]

--bocker: another bocker to measure (an A/B of two checkouts: a script that runs its bin/bocker).

Exit status: 0, 1 if an engine failed, 2 if the host was not left clean.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO))

import bench_run as common  # noqa: E402
import peers  # noqa: E402
from bench_cli import default_bocker, processes_with_root  # noqa: E402


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cgroup_path(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in lines:  # the pids hierarchy (v1), else the unified one
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return path
    return lines[-1].split(":", 2)[2] if lines else ""


def in_container(pid: int, parent: str) -> bool:
    """A container's own process: in a cgroup under the engine's parent (conmon's shared
    `conmon` cgroup of podman is the engine's)."""
    path = cgroup_path(pid)
    return path.startswith(f"/{parent}/") and not path.startswith(f"/{parent}/conmon")


def processes_in_mntns(mntns: str) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/mnt") == mntns:
                out.append(int(pid))
        except OSError:
            continue
    return out


class Engine:
    name = ""

    def __init__(self, work: Path, tar: Path, parent: str) -> None:
        self.work, self.tar, self.parent = work, tar, parent

    def engine_pids(self) -> list[int]:
        raise NotImplementedError

    def memory_kib(self) -> int:
        return sum(pss_kib(p) for p in self.engine_pids() if not in_container(p, self.parent))

    def run_detached(self) -> str:
        raise NotImplementedError

    def stats(self) -> list[str]:
        raise NotImplementedError

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def cmd(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        r = subprocess.run(self.argv(*args), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise peers.PeerError(f"{self.name} {' '.join(args)} -> {r.returncode}: {(r.stdout + r.stderr)[-400:]}")
        return r

    def close(self) -> list[str]:
        return []


class Bocker(Engine):
    name = "bocker"
    command: list[str] | None = None  # --bocker

    def __init__(self, work: Path, tar: Path, parent: str) -> None:
        super().__init__(work, tar, parent)
        self.root = work / "bocker-root"
        self.bocker = self.command or default_bocker()
        self._env = {**os.environ, "BOCKER_ROOT": str(self.root), "BOCKER_CGROUP_PARENT": parent,
                     "PYTHONPATH": str(REPO)}
        self.cmd("load", str(tar))

    def env(self) -> dict[str, str]:
        return self._env

    def argv(self, *args: str) -> list[str]:
        return [*self.bocker, *args]

    def engine_pids(self) -> list[int]:
        return [int(line.split(":")[0]) for line in processes_with_root(str(self.root))]

    def run_detached(self) -> list[str]:
        return self.argv("run", "-d", "--network", "none", "busybox", "sleep 3600")

    def ids(self) -> list[str]:
        return self.cmd("ps", "-q").stdout.split()

    def stop_all(self) -> list[str]:
        return self.argv("stop", "-t", "1", *self.ids())

    def rm_all(self) -> list[str]:
        return self.argv("rm", *self.ids())

    def ps(self) -> list[str]:
        return self.argv("ps")

    def stats(self) -> list[str]:
        return self.argv("stats")  # one table (the CLI's stats never streams)

    def close(self) -> list[str]:
        from bocker_magics.server import stop_servers

        left = []
        ids = self.ids() if self.root.is_dir() else []
        if ids:
            subprocess.run(self.argv("rm", "-f", *ids), env=self._env, capture_output=True, timeout=600)
        gc = subprocess.run(self.argv("gc"), env=self._env, capture_output=True, text=True, timeout=120).stdout
        if gc.strip():
            left.append(f"bocker gc had to remove: {gc.strip()}")
        stop_servers(str(self.root))
        return left


class PeerEngine(Engine):
    """podman or dockerd from tests/peers.py, in its own sandbox."""

    def __init__(self, work: Path, tar: Path, parent: str, cls) -> None:
        super().__init__(work, tar, parent)
        self.peer = cls(work / self.name).__enter__()
        self.parent = self.peer.cgroup_parent
        self.peer.load(tar)

    def env(self) -> dict[str, str]:
        return self.peer.env

    def engine_pids(self) -> list[int]:
        return [p for p in processes_in_mntns(self.peer.sandbox.mntns) if p != self.peer.sandbox.pid]

    def ids(self) -> list[str]:
        return self.cmd("ps", "-aq").stdout.split()

    def stop_all(self) -> list[str]:
        return self.argv("stop", "-t", "1", *self.ids())

    def rm_all(self) -> list[str]:
        return self.argv("rm", *self.ids())

    def ps(self) -> list[str]:
        return self.argv("ps", "-a")

    def stats(self) -> list[str]:
        return self.argv("stats", "--no-stream")

    def close(self) -> list[str]:
        return [f"{self.name}: {x}" for x in self.peer.close()]


class Podman(PeerEngine):
    name = "podman"

    def __init__(self, work: Path, tar: Path, parent: str) -> None:
        super().__init__(work, tar, parent, peers.Podman)

    def argv(self, *args: str) -> list[str]:
        return self.peer.full_argv(*args)

    def run_detached(self) -> list[str]:
        return self.argv("run", *self.peer.run_args(), "-d", "--network", "none", "busybox", "sleep", "3600")


class Docker(PeerEngine):
    name = "docker"

    def __init__(self, work: Path, tar: Path, parent: str) -> None:
        super().__init__(work, tar, parent, peers.Dockerd)

    def argv(self, *args: str) -> list[str]:
        return self.peer.docker_argv(*args)

    def engine_pids(self) -> list[int]:
        # dockerd and its containerd run in the sandbox; the shims too
        return super().engine_pids()

    def run_detached(self) -> list[str]:
        return self.argv("run", "-d", "--network", "none", "busybox", "sleep", "3600")


ENGINES = {"bocker": Bocker, "podman": Podman, "docker": Docker}


def measure(engine: Engine, count: int, clients: int) -> dict:
    before = engine.memory_kib()
    starts = []
    for _ in range(count):
        t = time.perf_counter()
        r = subprocess.run(engine.run_detached(), env=engine.env(), capture_output=True, text=True, timeout=120)
        starts.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise peers.PeerError(f"{engine.name} run -d -> {r.returncode}: {(r.stdout + r.stderr)[-400:]}")
    time.sleep(2)  # what each holder touches once it idles
    after = engine.memory_kib()
    ps = []
    for _ in range(5):
        t = time.perf_counter()
        out = subprocess.run(engine.ps(), env=engine.env(), capture_output=True, text=True, timeout=120).stdout
        ps.append(time.perf_counter() - t)
    listed = len(out.splitlines()) - 1
    t = time.perf_counter()
    stats = subprocess.run(engine.stats(), env=engine.env(), capture_output=True, text=True, timeout=600)
    stats_s = time.perf_counter() - t
    if stats.returncode != 0 or len(stats.stdout.splitlines()) - 1 != count:
        raise peers.PeerError(f"{engine.name} stats --no-stream -> {stats.returncode}, "
                              f"{len(stats.stdout.splitlines()) - 1} rows: {stats.stderr[-300:]}")
    stop, rm = stop_and_remove(engine)
    parallel = start_in_parallel(engine, count, clients)
    stop_and_remove(engine)
    return {"count": count, "start_ms": statistics.median(starts) * 1000, "start_all_s": sum(starts),
            "start_all_parallel_s": parallel, "clients": clients,
            "memory_before_kib": before, "memory_after_kib": after,
            "memory_per_container_kib": (after - before) / count, "ps_ms": statistics.median(ps) * 1000,
            "ps_listed": listed, "stats_s": stats_s, "stop_all_s": stop, "rm_all_s": rm}


def stop_and_remove(engine: Engine) -> tuple[float, float]:
    """`stop -t 1` of all in one command, then `rm` of all: the seconds each took."""
    t = time.perf_counter()
    subprocess.run(engine.stop_all(), env=engine.env(), capture_output=True, timeout=900, check=True)
    stop = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(engine.rm_all(), env=engine.env(), capture_output=True, timeout=900, check=True)
    return stop, time.perf_counter() - t


def start_in_parallel(engine: Engine, count: int, clients: int) -> float:
    """`count` containers started by `clients` commands at a time: the seconds to start all."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        return subprocess.run(engine.run_detached(), env=engine.env(), capture_output=True, text=True, timeout=300)

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(count)))
    took = time.perf_counter() - t
    failed = [r for r in results if r.returncode != 0]
    if failed:
        raise peers.PeerError(f"{engine.name} run -d ({clients} at a time): {len(failed)} failed: "
                              f"{(failed[0].stdout + failed[0].stderr)[-300:]}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--clients", type=int, default=8, help="commands at a time for the parallel start (default 8)")
    ap.add_argument("--engines", nargs="*", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--bocker", metavar="PATH", help="the bocker command to measure (default: this checkout's)")
    args = ap.parse_args()
    if args.bocker:
        Bocker.command = [args.bocker]
    if os.geteuid() != 0:
        print("bench_density.py needs root", file=sys.stderr)
        return 1
    common.own_network_namespace()
    work = Path(tempfile.mkdtemp(prefix="bocker-density-"))
    parent = f"bocker-density-{os.getpid()}"
    results: dict[str, dict] = {}
    leftovers: list[str] = []
    status = 0
    try:
        tar = peers.busybox_tarball(work / "busybox.tar", work)
        for name in args.engines:
            engine = None
            try:
                engine = ENGINES[name](work, tar, parent)
                print(f"{name}: {args.count} containers ...", flush=True)
                results[name] = measure(engine, args.count, args.clients)
            except (peers.PeerError, peers.PeerUnavailable, subprocess.SubprocessError) as e:
                print(f"{name}: {e}", file=sys.stderr)
                status = 1
            finally:
                if engine is not None:
                    leftovers += engine.close()
    finally:
        leftovers += peers.remove_cgroups(parent)
        leftovers = common.remove_work(work, leftovers)
    print(f"\n{'engine':8} {'start, each':>12} {'memory/container':>17} {'ps':>9} {'stats':>8} {'stop all':>9} "
          f"{'rm all':>8} {'start all':>10} {f'{args.clients} at a time':>13}")
    for name, r in results.items():
        print(f"{name:8} {r['start_ms']:>9.1f} ms {r['memory_per_container_kib']:>13.0f} KiB "
              f"{r['ps_ms']:>6.1f} ms {r['stats_s']:>6.2f} s {r['stop_all_s']:>7.2f} s {r['rm_all_s']:>6.2f} s "
              f"{r['start_all_s']:>8.2f} s {r['start_all_parallel_s']:>11.2f} s")
    ratios = {}
    if "bocker" in results and "podman" in results:
        b, p = results["bocker"], results["podman"]
        ratios = {"memory / podman": b["memory_per_container_kib"] / max(p["memory_per_container_kib"], 1),
                  "start / podman": b["start_ms"] / p["start_ms"]}
        print(f"\nmemory per container / podman's: {ratios['memory / podman']:.2f}  (target <= 1.0)")
        print(f"start / podman's:                {ratios['start / podman']:.2f}  (target <= 0.5)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "results": results,
                                               "ratios": ratios}, indent=1) + "\n")
    return common.finish(status, leftovers, "no engine process, mount, cgroup or state left")


if __name__ == "__main__":
    sys.exit(main())
