#!/usr/bin/env python3
"""`bocker build` against buildah: one run, the methods interleaved (every method right after
every other once, as bench_run.py), the same Dockerfile (six steps: FROM, RUN, COPY, RUN,
COPY, CMD, as peers_baseline.py), the same busybox base (`bocker save`, which buildah pulls as
`docker-archive:`), each timed as a whole process:

  bocker_cold         `bocker build --no-cache -q -t bench CTX` (RUN steps on the default bridge network)
  bocker_cold_none    the same with `--network none`
  bocker_cached       `bocker build -q -t bench CTX`, every step from the cache
  bocker_cached_full  the same with the rebuild record removed first (the full builder, all cached)
  buildah_cold        `buildah bud --layers --no-cache --pull-never -t bench CTX` (its chroot isolation:
                      RUN steps share the sandbox's network namespace, no network setup)
  buildah_cached      the same without --no-cache, every step from its cache

buildah runs in tests/support/peers.py's sandbox (its own storage, runc), timed through nsenter (~2 ms,
included). bocker's commands run in this process's network namespace (made at start, so the
default bridge and its NAT stay here), with a BOCKER_ROOT and a cgroup parent of their own.
Byte-compilation is off (PYTHONDONTWRITEBYTECODE=1, no __pycache__ is written or read: the
figures include compiling the modules a command imports), as on this machine.

    sudo .venv/bin/python benchmarks/bench_build.py [--runs 15] [--warmup 2] [--json FILE]

Targets (issue 15): cold build <= 1.0x buildah's; a fully cached rebuild <= 0.3 s and <= 0.5x
buildah's cached rebuild. Exit 0 whether targets pass or not; 1 if a method failed, 2 if the
host was not left clean.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE.parent))

import bench_run as common  # noqa: E402
import peers  # noqa: E402
from build_helpers import SIX_STEPS as DOCKERFILE  # noqa: E402

METHODS = ("bocker_cold", "bocker_cold_none", "bocker_cached", "bocker_cached_full", "buildah_cold", "buildah_cached")
LABELS = {
    "bocker_cold": "bocker build --no-cache (bridge)",
    "bocker_cold_none": "bocker build --no-cache --network none",
    "bocker_cached": "bocker build, all cached",
    "bocker_cached_full": "bocker build, all cached, no record",
    "buildah_cold": "buildah bud --layers --no-cache",
    "buildah_cached": "buildah bud --layers, all cached",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--only", nargs="*", choices=METHODS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_build.py needs root", file=sys.stderr)
        return 1
    common.own_network_namespace()  # bridges, NAT and peers never on the host's network

    methods = tuple(m for m in METHODS if not args.only or m in args.only)
    work = Path(tempfile.mkdtemp(prefix="bocker-build-bench-"))
    cgroup_parent = f"bocker-build-bench-{os.getpid()}"
    samples: dict[str, list[float]] = {m: [] for m in methods}
    errors: dict[str, list[str]] = {m: [] for m in methods}
    sequence: list[dict] = []
    leftovers: list[str] = []
    setup: dict[str, float] = {}
    status = 0
    bud = None
    root = work / "bocker-root"
    env = {**os.environ, "BOCKER_ROOT": str(root), "BOCKER_CGROUP_PARENT": cgroup_parent,
           "PYTHONPATH": str(HERE.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    bocker = [str(Path(sys.executable).parent / "bocker")] if (Path(sys.executable).parent / "bocker").exists() \
        else peers.bocker_argv()
    try:
        t0 = time.perf_counter()
        tar = peers.busybox_tarball(work / "busybox.tar", work)
        ctx = work / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE)
        (ctx / "a.txt").write_text("a\n")
        (ctx / "b.txt").write_text("b\n")
        subprocess.run([*bocker, "load", str(tar)], env=env, check=True, capture_output=True)
        build = [*bocker, "build", "-q", "-t", "bench"]
        subprocess.run([*build, str(ctx)], env=env, check=True, capture_output=True)   # fills the cache
        records = root / "build" / "records"
        commands = {
            "bocker_cold": lambda: [*build, "--no-cache", str(ctx)],
            "bocker_cold_none": lambda: [*build, "--no-cache", "--network", "none", str(ctx)],
            "bocker_cached": lambda: [*build, str(ctx)],
            "bocker_cached_full": lambda: (shutil.rmtree(records, ignore_errors=True), [*build, str(ctx)])[1],
        }
        envs = dict.fromkeys(commands, env)
        if any(m.startswith("buildah") for m in methods):
            try:
                bud = peers.Buildah(work / "buildah").__enter__()
                bud.load(tar)
                bargs = ["bud", "--layers", "--pull-never", "-t", "bench", str(ctx)]
                bud.buildah(*bargs)
                commands["buildah_cold"] = lambda: bud.full_argv(*bargs[:1], "--no-cache", *bargs[1:])
                commands["buildah_cached"] = lambda: bud.full_argv(*bargs)
                envs.update(dict.fromkeys(("buildah_cold", "buildah_cached"), bud.env))
            except peers.PeerUnavailable as e:
                print(f"buildah skipped: {e}", file=sys.stderr)
        setup["setup_s"] = time.perf_counter() - t0
        active = tuple(m for m in methods if m in commands)

        def one(method: str) -> float | None:
            return common.timed_process(commands[method](), errors[method], timeout=300, env=envs[method])

        print(f"{args.warmup} warm-ups, then {args.runs} timed runs of each of {len(active)} methods, interleaved...",
              flush=True)
        common.interleave(active, common.euler_cycle(len(active)), one, args.warmup, args.runs, samples, sequence)
        # the images a cold build leaves (a new one each time, untagged) go with the root
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        status = 1
    finally:
        if bud is not None:
            leftovers += [f"buildah: {x}" for x in bud.close()]
        if root.is_dir():
            subprocess.run([*bocker, "gc"], env=env, capture_output=True)
        from bocker_magics.server import stop_servers
        stop_servers(str(root))  # the bocker server the CLI started for this root
        leftovers += peers.remove_cgroups(cgroup_parent)
        leftovers = common.remove_work(work, leftovers)

    status = status or common.report_failures(errors)
    stats = common.print_table(methods, samples, LABELS, None, width=44)
    targets = (("cold (bridge) / buildah cold", "bocker_cold", "buildah_cold", 1.0),
               ("cold (--network none) / buildah cold", "bocker_cold_none", "buildah_cold", 1.0),
               ("cached / buildah cached", "bocker_cached", "buildah_cached", 0.5),
               ("cached, no record / buildah cached", "bocker_cached_full", "buildah_cached", None))
    for name, a, b, target in targets:
        if a in stats and b in stats:
            ratio = stats[a]["median_ms"] / stats[b]["median_ms"]
            verdict = "met" if target is not None and ratio <= target else "NOT met"
            mark = "" if target is None else f" (target <= {target:.1f}: {verdict})"
            print(f"{name:44} {ratio:>10.2f}{mark}")
    if "bocker_cached" in stats:
        ms = stats["bocker_cached"]["median_ms"]
        print(f"{'cached rebuild, absolute':44} {ms:>10.1f} ms (target <= 300 ms: {'met' if ms <= 300 else 'NOT met'})")
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; setup {setup.get('setup_s', 0):.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs, "warmup": args.warmup,
            "stats": stats, "errors": {m: e for m, e in errors.items() if e},
            "samples_ms": {m: [round(x * 1000, 3) for x in samples[m]] for m in methods}, "sequence": sequence,
        }, indent=1) + "\n")
    return common.finish(status, leftovers, "no buildah process, mount, cgroup or state left")


if __name__ == "__main__":
    sys.exit(main())
