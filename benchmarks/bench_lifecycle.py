#!/usr/bin/env python3
"""Container lifecycle benchmark: exec against run, commit on a 1 GB image, ps of 100 containers.

Three parts in one process run, each timed N times (after warm-ups) with its methods
interleaved so that drift on the host (other load, page cache) hits every method alike:

1. exec vs run, on busybox with the engine's default limits (512 MB, cpu shares 512):
     exec_inproc   Engine.exec(id, ["/bin/true"]) into a running `sleep 1000` container
     run_inproc    Engine.run(busybox, "/bin/true"): a whole container start, exit and status
     exec_cli      `bocker exec ID /bin/true`, wall time of the subprocess
     run_cli       `bocker run busybox /bin/true`, wall time of the subprocess
   Ratios exec/run (in-process and CLI) are reported without a target: exec joins namespaces
   that exist already, so it should cost less than making them.

2. commit of one small file: a detached container of each image runs
   `echo x > /newfile; sleep 1000` and is committed again and again (its upper dir holds only
   /newfile); each committed image is removed right after, outside the timing.
     commit_bb     Engine.commit of the busybox container
     commit_1g     Engine.commit of the container of a 1 GB image (busybox + 1000 x 1 MiB)
   Target: commit_1g / commit_bb <= 1.2 (commit copies the change, never the image).

3. ps: `--containers` containers (default 100: all exited `/bin/true` runs but 5 running
   `sleep 1000`) in the bench root, and an empty second root as the baseline:
     ps_inproc_0 / ps_inproc_N   Engine.ps() on the empty root / on the N containers
     ps_cli_0 / ps_cli_N         `bocker ps`, wall time, BOCKER_ROOT the empty / full root
   Reported: the medians and the cost per container, (N - 0) / N; no target.

The 1 GB source tree is bench_run.py's cache (/var/cache/bocker-bench, made once with the same
recipe if missing). Everything else (bench root, containers, images, the bocker-bench cgroups
in every hierarchy) is removed at the end, and the host is checked, as in bench_run.py.

Run as root:
    .venv/bin/python benchmarks/bench_lifecycle.py [--runs 30] [--json out.json]
Exit status: 0 (targets missed or not), 1 if a method failed, 2 if the host was left unclean.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_run as common  # noqa: E402  the helpers, the cache, the clean-up and its checks

CGROUP_PARENT = common.CGROUP_PARENT
RUNNING_IN_PS = 5  # of the --containers, how many still run (the rest exited)
# Orders: a cycle in which every method comes right after every method exactly once (the one
# before matters, see bench_run.py). Four methods: bench_run's Euler circuit; two: A B B A.
CYCLE4 = common.euler_cycle(4)
CYCLE2 = (0, 1, 1, 0)
EXEC_METHODS = ("exec_inproc", "run_inproc", "exec_cli", "run_cli")
COMMIT_METHODS = ("commit_bb", "commit_1g")
PS_METHODS = ("ps_inproc_0", "ps_inproc_N", "ps_cli_0", "ps_cli_N")
LABELS = {
    "exec_inproc": "engine.exec /bin/true (in-process)",
    "run_inproc": "engine.run busybox /bin/true (in-process)",
    "exec_cli": "bocker exec ID /bin/true (whole process)",
    "run_cli": "bocker run busybox /bin/true (whole process)",
    "commit_bb": "engine.commit, busybox container",
    "commit_1g": "engine.commit, 1 GB image container",
    "ps_inproc_0": "engine.ps(), 0 containers",
    "ps_inproc_N": "engine.ps(), {n} containers",
    "ps_cli_0": "bocker ps, 0 containers (whole process)",
    "ps_cli_N": "bocker ps, {n} containers (whole process)",
}


def subprocess_failed(p: subprocess.CompletedProcess) -> str:
    return f"exit {p.returncode}: {(p.stdout + p.stderr).decode(errors='replace')[-300:]}"


def freezer_states(engine, cid: str) -> list[str]:
    """What the container's freezer says (v1 freezer.state, v2 cgroup.freeze): it must be
    THAWED / 0 after a commit, or the container would hang."""
    states = []
    paths = engine.container(cid).state.cgroup or {}  # the typed state (spec.State)
    for p in (paths.values() if isinstance(paths, dict) else [paths]):
        for name in ("freezer.state", "cgroup.freeze"):
            f = Path(p) / name
            if f.exists():
                states.append(f.read_text().strip())
    return states


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="timed iterations per method (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    ap.add_argument("--json", metavar="FILE", help="write the figures (and every sample) as JSON")
    ap.add_argument("--containers", type=int, default=100, help="containers for ps (default 100)")
    ap.add_argument("--files", type=int, default=1000, help="files in the big image (default 1000)")
    ap.add_argument("--file-mb", type=int, default=1, help="MiB per file (default 1)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_lifecycle.py needs root (namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    if args.runs < 1 or args.warmup < 0 or args.containers < RUNNING_IN_PS + 1:
        ap.error(f"--runs must be >= 1, --warmup >= 0, --containers > {RUNNING_IN_PS}")

    # SIGTERM should clean up like Ctrl-C does.
    common.own_network_namespace()  # bridges, NAT and peers never on the host's network

    work = Path(tempfile.mkdtemp(prefix="bocker-bench-"))
    root, empty_root = work / "root", work / "empty-root"
    os.environ["BOCKER_ROOT"] = str(root)
    os.environ["BOCKER_CGROUP_PARENT"] = CGROUP_PARENT
    marker = f"BOCKER_ROOT={root}".encode()
    n_ps = args.containers

    from bocker_magics.engine.engine import Engine

    bocker = Path(sys.executable).parent / "bocker"
    if not bocker.exists():
        bocker = Path(shutil.which("bocker") or "bocker")
    empty_env = {**os.environ, "BOCKER_ROOT": str(empty_root)}

    all_methods = EXEC_METHODS + COMMIT_METHODS + PS_METHODS
    samples: dict[str, list[float]] = {m: [] for m in all_methods}
    errors: dict[str, list[str]] = {m: [] for m in all_methods}
    setup: dict[str, float] = {}
    checks: dict[str, object] = {}
    sequence: dict[str, list[dict]] = {"exec": [], "commit": [], "ps": []}
    load = {"start": os.getloadavg()}
    engine = None
    empty = None
    gc_found: list[str] = []
    status = 0
    try:
        engine = Engine(cgroup_parent=CGROUP_PARENT)
        img = engine.busybox()

        # -- 1. exec vs run ------------------------------------------------------------------
        target = engine.run(img.id, "sleep 1000", detach=True).id
        exec_cli = [str(bocker), "exec", target, "/bin/true"]
        run_cli = [str(bocker), "run", "busybox", "/bin/true"]

        def one_exec(method: str) -> float | None:
            if method == "exec_inproc":
                t = time.perf_counter()
                x = engine.exec(target, ["/bin/true"])
                dt = time.perf_counter() - t
                if x.exit_code != 0:
                    errors[method].append(f"exit {x.exit_code}: {x.text[-200:]}")
                    return None
                return dt
            if method == "run_inproc":
                t = time.perf_counter()
                r = engine.run(img.id, "/bin/true")
                dt = time.perf_counter() - t
                engine.rm(r.id)
                if r.exit_code != 0:
                    errors[method].append(f"exit {r.exit_code}: {r.text[-200:]}")
                    return None
                return dt
            argv = exec_cli if method == "exec_cli" else run_cli
            t = time.perf_counter()
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            dt = time.perf_counter() - t
            if method == "run_cli":
                for c in engine.ps():
                    if c.id != target:
                        engine.rm(c.id, force=True)
            if p.returncode != 0:
                errors[method].append(subprocess_failed(p))
                return None
            return dt

        print(f"1/3 exec vs run: {args.warmup} warm-ups, then {args.runs} timed runs of each, interleaved...",
              flush=True)
        t0 = time.perf_counter()
        common.interleave(EXEC_METHODS, CYCLE4, one_exec, args.warmup, args.runs, samples, sequence["exec"])
        setup["exec_loop_s"] = time.perf_counter() - t0
        engine.rm(target, force=True)

        # -- 2. commit on busybox vs on a 1 GB image --------------------------------------------
        layer = engine.images_store.layer_paths(img)[0]
        tree, made = common.big_tree(layer, args.files, args.file_mb)
        setup["big_tree_made_s"] = made
        t0 = time.perf_counter()
        big = engine.init(tree)
        setup["big_init_s"] = time.perf_counter() - t0
        print(f"1 GB image {big.id}: engine.init took {setup['big_init_s']:.1f} s (a one-time copy)", flush=True)
        committing = {
            "commit_bb": engine.run(img.id, "echo x > /newfile; sleep 1000", detach=True).id,
            "commit_1g": engine.run(big.id, "echo x > /newfile; sleep 1000", detach=True).id,
        }
        # the shell must have written /newfile before the first commit
        deadline = time.monotonic() + 10
        uppers = {m: engine.store.container_dir(cid) / "upper" for m, cid in committing.items()}
        while not all((u / "newfile").exists() for u in uppers.values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        checks["upper_entries"] = {m: sorted(p.name for p in u.iterdir()) for m, u in uppers.items()}
        serial = [0]

        def one_commit(method: str) -> float | None:
            cid = committing[method]
            serial[0] += 1
            t = time.perf_counter()
            new = engine.commit(cid, f"bench-commit:{serial[0]}")
            dt = time.perf_counter() - t
            top = engine.images_store.layer_paths(new)[-1]
            ok = (top / "newfile").read_bytes() == b"x\n"
            engine.rmi(new.id)
            if not ok:
                errors[method].append(f"the committed layer {top} lacks /newfile with 'x'")
                return None
            return dt

        print(f"2/3 commit: {args.warmup} warm-ups, then {args.runs} timed commits of each, interleaved...",
              flush=True)
        t0 = time.perf_counter()
        common.interleave(COMMIT_METHODS, CYCLE2, one_commit, args.warmup, args.runs, samples, sequence["commit"])
        setup["commit_loop_s"] = time.perf_counter() - t0
        checks["freezer_after_commit"] = {m: freezer_states(engine, cid) for m, cid in committing.items()}
        for m, states in checks["freezer_after_commit"].items():
            if any(s not in ("THAWED", "0") for s in states):
                errors[m].append(f"container left frozen after commit: {states}")
        for cid in committing.values():
            engine.rm(cid, force=True)
        engine.rmi(big.id)

        # -- 3. ps of N containers against an empty root -------------------------------------
        t0 = time.perf_counter()
        for i in range(n_ps):
            if i < RUNNING_IN_PS:
                engine.run(img.id, "sleep 1000", detach=True)
            else:
                r = engine.run(img.id, "/bin/true")
                if r.exit_code != 0:
                    raise RuntimeError(f"making the ps containers: exit {r.exit_code}: {r.text[-200:]}")
        setup["ps_make_containers_s"] = time.perf_counter() - t0
        empty = Engine(root=empty_root, cgroup_parent=CGROUP_PARENT)
        listed = engine.ps()
        checks["ps_containers"] = {"total": len(listed), "running": sum(c.running for c in listed)}
        if len(listed) != n_ps:
            errors["ps_inproc_N"].append(f"ps lists {len(listed)} containers, {n_ps} were made")

        def one_ps(method: str) -> float | None:
            if method.startswith("ps_inproc"):
                eng, want = (empty, 0) if method.endswith("_0") else (engine, n_ps)
                t = time.perf_counter()
                got = eng.ps()
                dt = time.perf_counter() - t
                if len(got) != want:
                    errors[method].append(f"ps listed {len(got)}, expected {want}")
                    return None
                return dt
            env, want = (empty_env, 0) if method.endswith("_0") else (None, n_ps)
            t = time.perf_counter()
            p = subprocess.run([str(bocker), "ps"], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=60, env=env)
            dt = time.perf_counter() - t
            if p.returncode != 0:
                errors[method].append(subprocess_failed(p))
                return None
            lines = p.stdout.decode(errors="replace").splitlines()
            if len(lines) != want + 1:  # the header, then one line per container
                errors[method].append(f"bocker ps printed {len(lines) - 1} containers, expected {want}")
                return None
            return dt

        print(f"3/3 ps with {n_ps} containers ({RUNNING_IN_PS} running) and with none: "
              f"{args.warmup} warm-ups, then {args.runs} timed runs of each, interleaved...", flush=True)
        t0 = time.perf_counter()
        common.interleave(PS_METHODS, CYCLE4, one_ps, args.warmup, args.runs, samples, sequence["ps"])
        setup["ps_loop_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for c in engine.ps():
            engine.rm(c.id, force=True)
        setup["ps_remove_containers_s"] = time.perf_counter() - t0
        # Nothing crashed: gc must find nothing to do (it also rmdirs the empty cgroup parent).
        gc_found = engine.gc()
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        status = 1
    finally:
        if empty is not None:
            empty.close()
        leftovers = common.cleanup(engine, None, work, marker)
    load["end"] = os.getloadavg()

    # -- report ------------------------------------------------------------------------------
    if gc_found:
        print("engine.gc() found something after a clean run (an engine bug):", file=sys.stderr)
        for line in gc_found:
            print(f"  {line}", file=sys.stderr)
        status = status or 1
    if status == 0:
        status = report(args, samples, errors, setup, checks, sequence, load)
    return common.finish(status, leftovers, "no bocker-bench cgroup, mount, process or bench root left")


def report(args: argparse.Namespace, samples: dict[str, list[float]], errors: dict[str, list[str]],
           setup: dict[str, float], checks: dict[str, object], sequence: dict[str, list[dict]],
           load: dict[str, tuple[float, float, float]]) -> int:
    status = common.report_failures(errors)
    stats = {m: common.summary(s) for m, s in samples.items() if s}
    n_ps = args.containers
    print()
    print(f"{'method':46} {'n':>3} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    for group in (EXEC_METHODS, COMMIT_METHODS, PS_METHODS):
        for m in group:
            label = LABELS[m].format(n=n_ps)
            if m in stats:
                s = stats[m]
                print(f"{label:46} {s['n']:>3} {s['median_ms']:>10.2f} {s['p90_ms']:>8.2f} {s['min_ms']:>8.2f}")
            else:
                print(f"{label:46}   0  (no successful run)")
        print()

    targets = [("exec/run inproc", "exec_inproc", "run_inproc", None),
               ("exec/run cli", "exec_cli", "run_cli", None),
               ("commit 1GB/busybox", "commit_1g", "commit_bb", 1.2),
               (f"ps {n_ps}/0 inproc", "ps_inproc_N", "ps_inproc_0", None),
               (f"ps {n_ps}/0 cli", "ps_cli_N", "ps_cli_0", None)]
    ratios: dict[str, dict] = {}
    print(f"{'ratio (of medians)':20} {'median':>7} {'p90':>7}  target")
    for name, a, b, target in targets:
        ratios[name] = {"target": target}
        if a not in stats or b not in stats:
            print(f"{name:20} {'-':>7} {'-':>7}  {'MISS (no data)' if target else ''}")
            ratios[name]["pass"] = False if target else None
            continue
        r = {"median": stats[a]["median_ms"] / stats[b]["median_ms"], "p90": stats[a]["p90_ms"] / stats[b]["p90_ms"]}
        ratios[name].update(r)
        verdict = "(none)"
        if target is not None:
            ok = r["median"] <= target
            ratios[name]["pass"] = ok
            verdict = f"<= {target:.1f}  {'PASS' if ok else 'MISS'}"
        print(f"{name:20} {r['median']:>7.2f} {r['p90']:>7.2f}  {verdict}")

    per_container = {}
    print()
    for kind, a, b in (("engine.ps()", "ps_inproc_N", "ps_inproc_0"), ("bocker ps", "ps_cli_N", "ps_cli_0")):
        if a in stats and b in stats:
            us = (stats[a]["median_ms"] - stats[b]["median_ms"]) * 1000 / n_ps
            per_container[kind] = us
            print(f"{kind}: {us:.0f} us per container (median with {n_ps} minus median with 0, over {n_ps})")
    print(f"load average: {load['start'][0]:.2f} at start, {load['end'][0]:.2f} at end ({os.cpu_count()} CPUs)")

    if args.json:
        doc = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "machine": platform.machine(),
                     "python": platform.python_version(), "loadavg": load},
            "runs": args.runs, "warmup": args.warmup, "ps_containers": n_ps, "ps_running": RUNNING_IN_PS,
            "big_image": {"files": args.files, "file_mib": args.file_mb},
            "setup_s": setup, "checks": checks, "stats": stats, "ratios": ratios,
            "ps_per_container_us": per_container,
            "errors": {m: e for m, e in errors.items() if e},
            "samples_ms": {m: [round(x * 1000, 3) for x in s] for m, s in samples.items()},
            "sequence": sequence,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"\nfigures written to {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
