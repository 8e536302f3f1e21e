#!/usr/bin/env python3
"""bocker-runc against runc: one interleaved run (every method right after every other once,
bench_run.py's cycle), N timed runs each after warm-ups; medians and ratios.

  runc_run        `runc run` of busybox /bin/true (a `runc spec` bundle over the busybox layer)
  brunc_run       `bocker-runc run` of the same bundle, the launcher `python -I -S` (bytecode
                  cached: -I writes it on the first run, as `pip install` compiles it)
  brunc_script    the same through the installed script (bin/bocker-runc: `#!python`, site on),
                  with PYTHONDONTWRITEBYTECODE=1 on a package copy without bytecode: what an
                  editable install on this machine gives (every module compiled at each start)
  ctr_runc        `ctr run --rm busybox ID true`: containerd's shim calls runc create, start,
                  delete, delete --force
  ctr_brunc       the same with `--runc-binary bocker-runc` (the launcher)

Targets (issue 12): brunc_run / runc_run <= 1.5 and ctr_brunc / ctr_runc <= 1.5.

Then, not interleaved, where the time goes: each verb of the lifecycle timed alone (create,
start, delete, delete --force of a gone container) for both runtimes, an interpreter that
does nothing (`python -I -S -c pass`), and the imports of create's path in a fresh one.

Everything runs in a network namespace of its own; containerd in tests/support/peers.py's sandbox.
At the end: no state, cgroup, mount or process of the benchmark is left (exit 2 if one is).

    sudo .venv/bin/python benchmarks/bench_runc.py [--runs 15] [--warmup 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO))

import bench_run as common  # noqa: E402  interleaving, summaries
import peers  # noqa: E402

from bocker_magics.runc import write_launcher  # noqa: E402

METHODS = ("runc_run", "brunc_run", "brunc_script", "ctr_runc", "ctr_brunc")
LABELS = {
    "runc_run": "runc run /bin/true",
    "brunc_run": "bocker-runc run /bin/true (launcher, bytecode)",
    "brunc_script": "bocker-runc run (console script, no bytecode)",
    "ctr_runc": "ctr run --rm (runc)",
    "ctr_brunc": "ctr run --rm --runc-binary bocker-runc",
}
TARGETS = (("bocker-runc run / runc run", "brunc_run", "runc_run", 1.5),
           ("ctr run: bocker-runc / runc", "ctr_brunc", "ctr_runc", 1.5),
           ("console script, no bytecode / runc run", "brunc_script", "runc_run", None))
CREATE_IMPORTS = ("bocker_magics.runc", "bocker_magics.engine.runtime.oci", "bocker_magics.engine.spec",
                  "bocker_magics.engine.runtime.init", "bocker_magics.engine.kernel.cgroups",
                  "bocker_magics.engine.kernel.devices", "bocker_magics.engine.runtime.hooks")


def console_script(path: Path, package_parent: Path) -> Path:
    """What an install puts on PATH: bin/bocker-runc with its `#!python` made this interpreter
    (with site), pointed at `package_parent` through PYTHONPATH."""
    text = (REPO / "bin" / "bocker-runc").read_text()
    path.write_text(f"#!{sys.executable}\n" + text.split("\n", 1)[1])
    path.chmod(0o755)
    return path


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--breakdown-runs", type=int, default=15)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_runc.py needs root", file=sys.stderr)
        return 1
    common.own_network_namespace()  # bridges, NAT and peers never on the host's network

    work = Path(tempfile.mkdtemp(prefix="bocker-runc-bench-"))
    parent = f"bocker-runc-bench-{os.getpid()}"
    samples: dict[str, list[float]] = {m: [] for m in METHODS}
    errors: dict[str, list[str]] = {m: [] for m in METHODS}
    sequence: list[dict] = []
    breakdown: dict[str, dict[str, float]] = {}
    leftovers: list[str] = []
    ctrd = None
    status = 0
    try:
        tar = peers.busybox_tarball(work / "busybox.tar", work)
        bundle = work / "bundle"
        (bundle / "rootfs").mkdir(parents=True)
        with tarfile.open(tar) as t:
            manifest = json.loads(t.extractfile("manifest.json").read())
            with tarfile.open(fileobj=t.extractfile(manifest[0]["Layers"][0])) as lt:
                lt.extractall(bundle / "rootfs", numeric_owner=True)
        subprocess.run([peers.RUNC, "spec"], cwd=bundle, check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"].update(args=["/bin/true"], terminal=False)
        (work / "bin").mkdir()
        launcher = write_launcher(work / "bin" / "bocker-runc")
        clean = work / "clean"  # a copy of the package without bytecode, for the console script
        shutil.copytree(REPO / "bocker_magics", clean / "bocker_magics", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "notebooks"))
        script = console_script(work / "bin" / "bocker-runc-script", clean)
        script_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(clean)}
        roots = {"runc": work / "runc-root", "brunc": work / "brunc-root"}
        n = iter(range(1, 1 << 30))

        def run_argv(binary: str, root: Path) -> list[str]:
            i = next(n)
            spec["linux"]["cgroupsPath"] = f"/{parent}/run-{i}"
            (bundle / "config.json").write_text(json.dumps(spec))
            return [binary, "--root", str(root), "run", "-b", str(bundle), f"bench-{i}"]

        commands: dict[str, Callable[[], list[str]]] = {
            "runc_run": lambda: run_argv(peers.RUNC, roots["runc"]),
            "brunc_run": lambda: run_argv(launcher, roots["brunc"]),
            "brunc_script": lambda: run_argv(str(script), roots["brunc"]),
        }
        envs: dict[str, dict] = {"brunc_script": script_env}
        try:
            ctrd = peers.Containerd(work / "containerd").__enter__()
            # the namespace is named after the peer's cgroup parent: containers at /<ns>/<id>
            ref = ctrd.load(tar)
            commands["ctr_runc"] = lambda: ctrd.ctr_argv("run", "--rm", ref, f"c-{next(n)}", "true")
            commands["ctr_brunc"] = lambda: ctrd.ctr_argv("run", "--rm", "--runc-binary", launcher, ref,
                                                          f"c-{next(n)}", "true")
            envs["ctr_runc"] = envs["ctr_brunc"] = ctrd.env
        except peers.PeerUnavailable as e:
            print(f"containerd skipped: {e}", file=sys.stderr)
        active = tuple(m for m in METHODS if m in commands)

        def one(method: str) -> float | None:
            return common.timed_process(commands[method](), errors[method], env=envs.get(method), cwd=bundle)

        print(f"{args.warmup} warm-ups, then {args.runs} timed runs of each of {len(active)} methods, interleaved...",
              flush=True)
        common.interleave(active, common.euler_cycle(len(active)), one, args.warmup, args.runs, samples, sequence)

        # -- where the time goes ---------------------------------------------------------
        print("breakdown: each verb alone...", flush=True)
        for name, binary in (("runc", peers.RUNC), ("bocker-runc", launcher)):
            root = roots["runc" if name == "runc" else "brunc"]
            verbs: dict[str, list[float]] = {"create": [], "start": [], "delete": [], "delete --force (gone)": []}
            for _ in range(args.breakdown_runs):
                i = next(n)
                spec["linux"]["cgroupsPath"] = f"/{parent}/verb-{i}"
                (bundle / "config.json").write_text(json.dumps(spec))
                cid = f"verb-{i}"
                for verb, argv in (("create", ["create", "-b", str(bundle), cid]), ("start", ["start", cid])):
                    t = time.perf_counter()
                    # not pipes: the created container holds its stdio for as long as it lives
                    subprocess.run([binary, "--root", str(root), *argv], check=True, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    verbs[verb].append(time.perf_counter() - t)
                deadline = time.monotonic() + 5
                while json.loads(subprocess.run([binary, "--root", str(root), "state", cid], capture_output=True,
                                                check=True).stdout)["status"] != "stopped":
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} {cid} did not stop")
                    time.sleep(0.01)
                for verb, argv in (("delete", ["delete", cid]), ("delete --force (gone)", ["delete", "--force", cid])):
                    t = time.perf_counter()
                    subprocess.run([binary, "--root", str(root), *argv], check=True, capture_output=True)
                    verbs[verb].append(time.perf_counter() - t)
            breakdown[name] = {v: median_ms(s) for v, s in verbs.items()}
        pass_times, import_times = [], []
        code = (f"import sys, time; sys.path.insert(0, {str(REPO)!r}); t = time.perf_counter(); "
                f"import {', '.join(CREATE_IMPORTS)}; print(time.perf_counter() - t)")
        for _ in range(args.breakdown_runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
            pass_times.append(time.perf_counter() - t)
            import_times.append(float(subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True,
                                                     capture_output=True, text=True).stdout))
        breakdown["python"] = {"interpreter start (-I -S, nothing)": median_ms(pass_times),
                               "imports of create's path (bytecode cached)": median_ms(import_times)}
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        status = 1
    finally:
        if ctrd is not None:
            leftovers += [f"containerd: {x}" for x in ctrd.close()]
        for name, binary in (("runc", peers.RUNC), ("brunc", str(work / "bin" / "bocker-runc"))):
            root = work / f"{name}-root"
            for cid in (sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []):
                leftovers.append(f"{name} state {cid}")
                subprocess.run([binary, "--root", str(root), "delete", "--force", cid], capture_output=True)
        leftovers += peers.remove_cgroups(parent)  # runc leaves its parent in every hierarchy
        leftovers = common.remove_work(work, leftovers)

    status = status or common.report_failures(errors)
    stats = common.print_table(METHODS, samples, LABELS, None, width=48)
    ratios = {}
    for name, a, b, target in TARGETS:
        if a in stats and b in stats:
            ratios[name] = r = stats[a]["median_ms"] / stats[b]["median_ms"]
            verdict = "" if target is None else (f"<= {target} PASS" if r <= target else f"<= {target} MISS")
            print(f"{name:48} {r:>10.2f}  {verdict}")
    if breakdown:
        print("\nwhere the time goes (medians, ms)")
        for who, rows in breakdown.items():
            for what, ms in rows.items():
                print(f"  {who:12} {what:44} {ms:7.1f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs, "warmup": args.warmup,
            "stats": stats, "ratios": ratios, "breakdown_ms": breakdown,
            "errors": {m: e for m, e in errors.items() if e},
            "samples_ms": {m: [round(x * 1000, 3) for x in samples[m]] for m in METHODS}, "sequence": sequence,
        }, indent=1) + "\n")
    return common.finish(status, leftovers, "no runtime state, cgroup, mount or process left")


if __name__ == "__main__":
    sys.exit(main())
