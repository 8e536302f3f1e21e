#!/usr/bin/env python3
"""Baseline of the real peers on this machine: the figures bocker's CLI, runtime and builder
are measured against (issues 12, 13, 15). One run, the methods interleaved (every method right
after every other once, as bench_run.py), N timed runs each after warm-ups; medians.

  runc            `runc run` of busybox /bin/true, a bundle from `runc spec` over the busybox layer
  podman_none     `podman run --rm --network none busybox true`
  podman_net      `podman run --rm busybox true` (its default network: netavark's bridge)
  podman_exec     `podman exec ID true` into a running busybox `sleep`
  docker_none     `docker run --rm --network none busybox true`
  docker_bridge   `docker run --rm --network peers-br busybox true` (a user bridge; no NAT: iptables off)
  docker_exec     `docker exec ID true`
  ctr_run         `ctr run --rm docker.io/library/busybox:latest ID true`
  buildah_cold    `buildah bud --layers --no-cache` of a 6-step Dockerfile (FROM, RUN, COPY, RUN, COPY, CMD)
  buildah_cached  the same without --no-cache after a first build: every step from the cache
  bocker_none     `bocker run --rm --network none busybox true` (this checkout), for reference
  nsenter         `nsenter` into a peer's sandbox running /bin/true: podman, ctr and buildah are
                  timed through it (the docker CLI only talks to its socket and runs directly)

All peers use runc, the same busybox image (`bocker save`, loaded into each), their own state
in a temp dir and their own mount+network namespace (tests/support/peers.py); nothing is left on the
host (checked at the end). A peer that cannot start here is skipped with the reason.

    sudo .venv/bin/python benchmarks/peers_baseline.py [--runs 15] [--warmup 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE.parent))

import bench_run as common  # noqa: E402  interleaving, summaries, cgroup helpers
import peers  # noqa: E402
from build_helpers import SIX_STEPS as DOCKERFILE  # noqa: E402

METHODS = ("runc", "podman_none", "podman_net", "podman_exec", "docker_none", "docker_bridge", "docker_exec",
           "ctr_run", "buildah_cold", "buildah_cached", "bocker_none", "nsenter")
LABELS = {
    "runc": "runc run busybox /bin/true",
    "podman_none": "podman run --rm --network none",
    "podman_net": "podman run --rm (default network)",
    "podman_exec": "podman exec ID true",
    "docker_none": "docker run --rm --network none",
    "docker_bridge": "docker run --rm --network <user bridge>",
    "docker_exec": "docker exec ID true",
    "ctr_run": "ctr run --rm",
    "buildah_cold": "buildah bud, 6 steps, --no-cache",
    "buildah_cached": "buildah bud, 6 steps, all cached",
    "bocker_none": "bocker run --rm --network none (reference)",
    "nsenter": "nsenter into a sandbox, /bin/true",
}


class RuncBundle:
    def __init__(self, work: Path, tarball: Path, cgroup_parent: str) -> None:
        self.bundle, self.state = work / "bundle", work / "state"
        (self.bundle / "rootfs").mkdir(parents=True)
        self.state.mkdir()
        with tarfile.open(tarball) as t:
            manifest = json.loads(t.extractfile("manifest.json").read())
            layer = t.extractfile(manifest[0]["Layers"][0])
            with tarfile.open(fileobj=layer) as lt:
                lt.extractall(self.bundle / "rootfs", numeric_owner=True)
        subprocess.run([peers.RUNC, "spec"], cwd=self.bundle, check=True)
        self.spec = json.loads((self.bundle / "config.json").read_text())
        self.spec["process"].update(args=["/bin/true"], terminal=False)
        self.cgroup_parent, self.n = cgroup_parent, 0

    def argv(self) -> list[str]:
        self.n += 1
        self.spec["linux"]["cgroupsPath"] = f"/{self.cgroup_parent}/runc-{self.n}"
        (self.bundle / "config.json").write_text(json.dumps(self.spec))
        return [peers.RUNC, "--root", str(self.state), "run", "-b", str(self.bundle), f"bench-{self.n}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--only", nargs="*", choices=METHODS, help="just these methods")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("peers_baseline.py needs root", file=sys.stderr)
        return 1
    common.own_network_namespace()  # bridges, NAT and peers never on the host's network

    methods = tuple(m for m in METHODS if not args.only or m in args.only)
    work = Path(tempfile.mkdtemp(prefix="bocker-peers-bench-"))
    cgroup_parent = f"bocker-peers-bench-{os.getpid()}"
    samples: dict[str, list[float]] = {m: [] for m in methods}
    errors: dict[str, list[str]] = {m: [] for m in methods}
    skipped: dict[str, str] = {}
    setup: dict[str, float] = {}
    sequence: list[dict] = []
    started: list[peers.Peer] = []
    leftovers: list[str] = []
    status = 0
    try:
        t0 = time.perf_counter()
        tar = peers.busybox_tarball(work / "busybox.tar", work)
        tar_h = peers.with_history(tar, work / "busybox-history.tar")
        setup["busybox_tar_s"] = time.perf_counter() - t0
        ctx = work / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        (ctx / "a.txt").write_text("a\n")
        (ctx / "b.txt").write_text("b\n")
        commands: dict[str, Callable[[], list[str]]] = {}
        envs: dict[str, dict[str, str]] = {}  # a peer's commands need its environment (its confs)
        uniq = iter(range(1, 1 << 30))

        def start(name: str, cls, wanted: tuple[str, ...]):
            if not any(m in methods for m in wanted):
                return None
            t = time.perf_counter()
            try:
                peer = cls(work / name).__enter__()
            except peers.PeerUnavailable as e:
                for m in wanted:
                    skipped[m] = f"{name}: {e}"
                return None
            started.append(peer)
            setup[f"{name}_start_s"] = time.perf_counter() - t
            return peer

        if "runc" in methods:
            runc = RuncBundle(work / "runc", tar, cgroup_parent)
            commands["runc"] = runc.argv
        pod = start("podman", peers.Podman, ("podman_none", "podman_net", "podman_exec", "nsenter"))
        if pod:
            pod.load(tar)
            run = ["run", "--rm", *pod.run_args()]
            commands["podman_none"] = lambda: pod.full_argv(*run, "--network", "none", "busybox", "true")
            commands["podman_net"] = lambda: pod.full_argv(*run, "busybox", "true")
            pcid = pod.podman("run", "-d", *pod.run_args(), "--network", "none", "busybox", "sleep", "100000").stdout.strip()
            commands["podman_exec"] = lambda: pod.full_argv("exec", pcid, "true")
            commands["nsenter"] = lambda: [*pod.sandbox.prefix(), "/bin/true"]
            envs.update(dict.fromkeys(("podman_none", "podman_net", "podman_exec", "nsenter"), pod.env))
        dock = start("dockerd", peers.Dockerd, ("docker_none", "docker_bridge", "docker_exec"))
        if dock:
            dock.load(tar)
            commands["docker_none"] = lambda: dock.docker_argv("run", "--rm", "--network", "none", "busybox", "true")
            commands["docker_bridge"] = lambda: dock.docker_argv("run", "--rm", "--network", dock.bridge, "busybox", "true")
            dcid = dock.docker("run", "-d", "--network", "none", "busybox", "sleep", "100000").stdout.strip()
            commands["docker_exec"] = lambda: dock.docker_argv("exec", dcid, "true")
            envs.update(dict.fromkeys(("docker_none", "docker_bridge", "docker_exec"), dock.env))
        ctrd = start("containerd", peers.Containerd, ("ctr_run",))
        if ctrd:
            ref = ctrd.load(tar)
            commands["ctr_run"] = lambda: ctrd.ctr_argv("run", "--rm", ref, f"bench-{next(uniq)}", "true")
            envs["ctr_run"] = ctrd.env
        bud = start("buildah", peers.Buildah, ("buildah_cold", "buildah_cached"))
        if bud:
            bud.load(tar_h)
            build = ["bud", "--layers", "--pull-never", "-t", "built", str(ctx)]
            bud.buildah(*build)  # fills the cache for buildah_cached
            commands["buildah_cold"] = lambda: bud.full_argv(*build[:1], "--no-cache", *build[1:])
            commands["buildah_cached"] = lambda: bud.full_argv(*build)
            envs.update(dict.fromkeys(("buildah_cold", "buildah_cached"), bud.env))
        if "bocker_none" in methods:
            env_root = work / "bocker-root"
            bocker_env = {**os.environ, "BOCKER_ROOT": str(env_root), "BOCKER_CGROUP_PARENT": cgroup_parent,
                          "PYTHONPATH": str(HERE.parent)}
            subprocess.run([*peers.bocker_argv(), "init", "--busybox"], env=bocker_env, check=True, capture_output=True)
            commands["bocker_none"] = lambda: [*peers.bocker_argv(), "run", "--rm", "--network", "none", "busybox", "true"]
            envs["bocker_none"] = bocker_env
        for m in methods:
            if m not in commands and m not in skipped:
                skipped[m] = "not set up"
        active = tuple(m for m in methods if m in commands)

        def one(method: str) -> float | None:
            return common.timed_process(commands[method](), errors[method], env=envs.get(method))

        print(f"{args.warmup} warm-ups, then {args.runs} timed runs of each of {len(active)} methods, interleaved...",
              flush=True)
        t = time.perf_counter()
        common.interleave(active, common.euler_cycle(len(active)), one, args.warmup, args.runs, samples, sequence)
        setup["loop_s"] = time.perf_counter() - t
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        status = 1
    finally:
        for peer in reversed(started):
            leftovers += [f"{peer.name}: {x}" for x in peer.close()]
        if "runc" in methods and (work / "runc" / "state").is_dir():
            for cid in os.listdir(work / "runc" / "state"):
                leftovers.append(f"runc state {cid}")
                subprocess.run([peers.RUNC, "--root", str(work / "runc" / "state"), "delete", "-f", cid],
                               capture_output=True)
        if (work / "bocker-root").is_dir():
            subprocess.run([*peers.bocker_argv(), "gc"], env=bocker_env, capture_output=True)
        leftovers += peers.remove_cgroups(cgroup_parent)
        leftovers = common.remove_work(work, leftovers)

    status = status or common.report_failures(errors)
    stats = common.print_table(methods, samples, LABELS, skipped, width=44)
    for name, a, b in (("podman --network none / runc", "podman_none", "runc"),
                       ("docker --network none / runc", "docker_none", "runc"),
                       ("ctr run / runc", "ctr_run", "runc"),
                       ("bocker / podman (--network none)", "bocker_none", "podman_none"),
                       ("buildah cached / cold", "buildah_cached", "buildah_cold")):
        if a in stats and b in stats:
            print(f"{name:44} {stats[a]['median_ms'] / stats[b]['median_ms']:>10.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; setup: "
          + ", ".join(f"{k} {v:.1f}" for k, v in setup.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs, "warmup": args.warmup,
            "stats": stats, "skipped": skipped, "errors": {m: e for m, e in errors.items() if e}, "setup_s": setup,
            "samples_ms": {m: [round(x * 1000, 3) for x in samples[m]] for m in methods}, "sequence": sequence,
        }, indent=1) + "\n")
    return common.finish(status, leftovers, "no peer process, mount, cgroup or state left")


if __name__ == "__main__":
    sys.exit(main())
