#!/usr/bin/env python3
"""Container start benchmark: the engine against runc, measured in the same run.

What it times, N times each (after warm-ups), interleaved so that drift on the host (other
load, page cache, thermal) hits every method alike:

  inproc       Engine.run(busybox, "/bin/true") in this process: the time of run() only
               (namespaces + cgroup limits + overlay root + exec + wait + exit status).
  inproc_1g    the same on an image of the busybox tree plus ~1 GB of random files.
  cli          `bocker run ... busybox /bin/true` as a subprocess: wall time of the whole
               process (interpreter start, imports, shim start, run).
  runc         `runc run` of an OCI bundle made by `runc spec` over a copy of the same busybox
               layer, with the same limits and the default five namespaces.

Same limits everywhere: memory 512 MB (512000000 bytes), cpu shares 512, a quota of 1 CPU
(100000/100000 us), pids 100. Ratios (the figures that matter, DESIGN.md: timings are ratios
against a peer measured in the same run):

  inproc / runc      target <= 1.0
  cli / runc         reported, no target
  inproc_1g / inproc target <= 1.2   (starting never copies an image: O(1) in image size)

The ~1 GB source tree is made once and cached under /var/cache/bocker-bench (remove it with
--clean). Everything else (bench root, containers, images, runc bundle and state, the
bocker-bench cgroups in every hierarchy) is removed at the end, and the host is checked.

Run as root:
    .venv/bin/python benchmarks/bench_run.py [--runs 30] [--json out.json]
    .venv/bin/python benchmarks/bench_run.py --clean      # drop the 1 GB cache
Exit status: 0 (targets missed or not), 1 if a method failed, 2 if the host was left unclean.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CACHE_DIR = Path("/var/cache/bocker-bench")
CGROUP_PARENT = "bocker-bench"
MEMORY = 512 * 1000 * 1000
CPU_SHARES = 512
CPU_PERIOD = 100_000
CPU_QUOTA = 100_000  # 1.0 CPU
PIDS = 100
RUNC = "/usr/sbin/runc"
METHODS = ("inproc", "inproc_net", "inproc_1g", "cli", "runc", "runc_seccomp")


def euler_cycle(n: int) -> tuple[int, ...]:
    """A cycle through the complete digraph on n nodes using every edge once (Hierholzer):
    every method comes right after every other exactly once."""
    edges = {a: [b for b in range(n) if b != a] for a in range(n)}
    stack, cycle = [0], []
    while stack:
        v = stack[-1]
        if edges[v]:
            stack.append(edges[v].pop())
        else:
            cycle.append(stack.pop())
    return tuple(reversed(cycle[1:]))


# The order of the starts. The method just before matters: a start right after another
# engine run came out ~25% faster (warm shim, caches) than one right after a runc or CLI
# subprocess, and a plain rotation (each method always after the same one) skewed
# 1GB/busybox to 0.72-0.79.
ORDER_CYCLE = euler_cycle(len(METHODS))
LABELS = {
    "inproc": "engine.run, busybox, --network none",
    "inproc_net": "engine.run, busybox, bridge network",
    "inproc_1g": "engine.run, 1 GB image, --network none",
    "cli": "bocker run busybox --network none",
    "runc": "runc run, same rootfs (no network)",
    "runc_seccomp": "runc run, with the engine's default seccomp profile (Docker's effect)",
}


# -- small helpers -------------------------------------------------------------------------
def own_network_namespace() -> None:
    """Every benchmark runs in a network namespace of its own: the bridges, addresses and NAT
    rules it makes (and its peers') never touch the host's network, and vanish with it. SIGTERM
    cleans up as Ctrl-C does."""
    from bocker_magics.engine.kernel import linux
    linux.unshare(linux.CLONE_NEWNET)
    linux.loopback_up()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))


def timed_process(argv: list, errors: list[str], *, timeout: float = 120, env=None, cwd=None) -> float | None:
    """One whole process, timed: its seconds, or None with why it failed noted in `errors`."""
    t = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env, cwd=cwd)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        errors.append(f"exit {p.returncode}: {(p.stdout + p.stderr).decode(errors='replace')[-300:]}")
        return None
    return dt


def interleave(methods: tuple[str, ...], cycle: tuple[int, ...], one: Callable[[str], float | None],
               warmup: int, runs: int, samples: dict[str, list[float]], sequence: list[dict]) -> None:
    """Call one(method) warmup + runs times per method in the cycle's order; keep timed samples."""
    total = warmup + runs
    attempts = {m: 0 for m in methods}
    previous = None
    k = 0
    while any(attempts[m] < total for m in methods):
        method = methods[cycle[k % len(cycle)]]
        k += 1
        if attempts[method] >= total:
            continue
        attempts[method] += 1
        dt = one(method)
        timed = attempts[method] > warmup
        if dt is not None and timed:
            samples[method].append(dt)
        sequence.append({"method": method, "after": previous, "timed": timed,
                         "ms": None if dt is None else round(dt * 1000, 3)})
        previous = method


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(samples: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in samples]
    return {"n": len(ms), "median_ms": statistics.median(ms), "p90_ms": percentile(ms, 90),
            "min_ms": min(ms), "max_ms": max(ms), "mean_ms": statistics.fmean(ms)}


def cgroup_mounts() -> list[str]:
    """Mount points of every cgroup (v1) and cgroup2 hierarchy on the host."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype = right.split()[0]
            if fstype in ("cgroup", "cgroup2"):
                points.append(left.split()[4].replace("\\040", " "))
    return points


def bench_cgroup_dirs() -> list[str]:
    """What `find /sys/fs/cgroup -name 'bocker-bench*'` would show, for every hierarchy."""
    found = []
    for mp in cgroup_mounts():
        for dirpath, dirnames, _ in os.walk(mp):
            for d in dirnames:
                if d.startswith(CGROUP_PARENT):
                    found.append(os.path.join(dirpath, d))
    return found


def mounts_mentioning(needles: list[str]) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.strip() for line in f if any(n in line for n in needles)]


def processes_marked(marker: bytes) -> list[str]:
    """Processes (other than us) whose environment carries `marker`, or that sit in a
    bocker-bench cgroup: what a container, a shim or a monitor of ours would look like."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{entry}/cgroup") as f:
                cg = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if marker in env.split(b"\0") or f"/{CGROUP_PARENT}/" in cg or f"/{CGROUP_PARENT}\n" in cg:
            found.append(f"{entry}: {cmd}")
    return found


# -- the 1 GB tree (cached between runs) -----------------------------------------------------
def big_tree(busybox_layer: Path, files: int, file_mb: int) -> tuple[Path, float]:
    """The busybox tree plus `files` files of random data (nothing sparse); made once."""
    name = f"big-{files}x{file_mb}MB"
    tree, done = CACHE_DIR / name, CACHE_DIR / f"{name}.done"
    if done.exists() and tree.is_dir():
        return tree, 0.0
    t0 = time.perf_counter()
    shutil.rmtree(tree, ignore_errors=True)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--", f"{busybox_layer}/.", str(tree)], check=True)
    data = tree / "data"
    data.mkdir()
    print(f"making the {files * file_mb} MB image tree in {tree} (cached for later runs)...", flush=True)
    for i in range(files):
        with open(data / f"f{i:05d}.bin", "wb") as f:
            for _ in range(file_mb):
                f.write(os.urandom(1 << 20))
    os.sync()
    done.write_text(f"{files} files of {file_mb} MiB, made {time.ctime()}\n")
    return tree, time.perf_counter() - t0


# -- runc -----------------------------------------------------------------------------------
class Runc:
    def __init__(self, work: Path, rootfs_src: Path, seccomp: dict | None = None) -> None:
        self.bundle = work / "bundle"
        self.state = work / "state"
        self.bundle.mkdir(parents=True)
        self.state.mkdir()
        subprocess.run([RUNC, "spec"], cwd=self.bundle, check=True)
        subprocess.run(["cp", "-a", "--", f"{rootfs_src}/.", str(self.bundle / "rootfs")], check=True)
        self.spec = json.loads((self.bundle / "config.json").read_text())
        self.spec["process"]["args"] = ["/bin/true"]
        self.spec["process"]["terminal"] = False
        linux = self.spec["linux"]
        linux.setdefault("resources", {}).update({
            "memory": {"limit": MEMORY},
            "cpu": {"shares": CPU_SHARES, "quota": CPU_QUOTA, "period": CPU_PERIOD},
            "pids": {"limit": PIDS},
        })
        if seccomp is not None:
            linux["seccomp"] = seccomp
        kinds = sorted(ns["type"] for ns in linux["namespaces"])
        assert kinds == ["ipc", "mount", "network", "pid", "uts"], kinds
        self.n = 0
        self.tag = f"{os.getpid()}"

    def prepare(self) -> str:
        """Outside the timing: a fresh id and cgroup path in config.json."""
        self.n += 1
        self.spec["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/runc-{self.tag}-{self.n}"
        (self.bundle / "config.json").write_text(json.dumps(self.spec, indent=1))
        return f"bocker-bench-{self.tag}-{self.n}"

    def run(self, cid: str) -> subprocess.CompletedProcess:
        return subprocess.run([RUNC, "--root", str(self.state), "run", "-b", str(self.bundle), cid],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)

    def leftovers(self) -> list[str]:
        return sorted(os.listdir(self.state)) if self.state.is_dir() else []

    def force_delete(self) -> None:
        for cid in self.leftovers():
            subprocess.run([RUNC, "--root", str(self.state), "delete", "-f", cid], capture_output=True)


# -- the benchmark ---------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="timed iterations per method (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    ap.add_argument("--json", metavar="FILE", help="write the figures (and every sample) as JSON")
    ap.add_argument("--files", type=int, default=1000, help="files in the big image (default 1000)")
    ap.add_argument("--file-mb", type=int, default=1, help="MiB per file (default 1)")
    ap.add_argument("--clean", action="store_true", help=f"remove the cache {CACHE_DIR} and exit")
    args = ap.parse_args()
    if args.clean:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
        print(f"removed {CACHE_DIR}")
        return 0
    if os.geteuid() != 0:
        print("bench_run.py needs root (namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")

    own_network_namespace()

    work = Path(tempfile.mkdtemp(prefix="bocker-bench-"))
    root = work / "root"
    os.environ["BOCKER_ROOT"] = str(root)
    os.environ["BOCKER_CGROUP_PARENT"] = CGROUP_PARENT
    marker = f"BOCKER_ROOT={root}".encode()

    from bocker_magics.engine.engine import Engine
    from bocker_magics.engine.limits import Limits

    limits = Limits(memory=MEMORY, cpu_shares=CPU_SHARES, cpus=CPU_QUOTA / CPU_PERIOD, pids=PIDS)
    bocker = Path(sys.executable).parent / "bocker"
    if not bocker.exists():
        bocker = Path(shutil.which("bocker") or "bocker")
    cli_argv = [str(bocker), "run", "-m", str(MEMORY), "--cpu-shares", str(CPU_SHARES),
                "--cpus", str(CPU_QUOTA / CPU_PERIOD), "--pids-limit", str(PIDS), "--network", "none",
                "busybox", "/bin/true"]

    samples: dict[str, list[float]] = {m: [] for m in METHODS}
    errors: dict[str, list[str]] = {m: [] for m in METHODS}
    setup: dict[str, float] = {}
    sequence: list[dict] = []  # every start in order (method, the one before, time), for the JSON
    engine = None
    runc = None
    status = 0
    try:
        engine = Engine(cgroup_parent=CGROUP_PARENT)
        t0 = time.perf_counter()
        img = engine.busybox()
        setup["busybox_image_s"] = time.perf_counter() - t0
        layer = engine.images_store.layer_paths(img)[0]
        tree, made = big_tree(layer, args.files, args.file_mb)
        setup["big_tree_made_s"] = made
        t0 = time.perf_counter()
        big = engine.init(tree)
        setup["big_init_s"] = time.perf_counter() - t0
        big_bytes = sum(p.stat().st_size for p in (tree / "data").iterdir())
        print(f"1 GB image {big.id}: {big_bytes / 1e9:.2f} GB, engine.init took {setup['big_init_s']:.1f} s "
              f"(a one-time copy; starting must not depend on it)", flush=True)
        runc = Runc(work / "runc", layer)
        from bocker_magics.engine.kernel.capabilities import DOCKER_DEFAULT
        from bocker_magics.engine.kernel.seccomp_default import default_profile
        runc_seccomp = Runc(work / "runc-seccomp", layer, seccomp=default_profile(list(DOCKER_DEFAULT)))

        def one(method: str) -> float | None:
            """One start; returns its time in seconds, or None (and notes why) if it failed.
            Removing what the start left (containers) is outside the timing."""
            if method in ("inproc", "inproc_net", "inproc_1g"):
                image = big.id if method == "inproc_1g" else img.id
                network = "bridge" if method == "inproc_net" else "none"
                t = time.perf_counter()
                r = engine.run(image, "/bin/true", limits=limits, network=network)
                dt = time.perf_counter() - t
                engine.rm(r.id)
                if r.exit_code != 0:
                    errors[method].append(f"exit {r.exit_code}: {r.text[-200:]}")
                    return None
                return dt
            if method == "cli":
                t = time.perf_counter()
                p = subprocess.run(cli_argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
                dt = time.perf_counter() - t
                for c in engine.ps():
                    engine.rm(c.id, force=True)
            else:
                which = runc_seccomp if method == "runc_seccomp" else runc
                cid = which.prepare()
                t = time.perf_counter()
                p = which.run(cid)
                dt = time.perf_counter() - t
                left = which.leftovers()
                if left:
                    errors[method].append(f"runc left state behind: {left}")
                    which.force_delete()
            if p.returncode != 0:
                errors[method].append(f"exit {p.returncode}: {(p.stdout + p.stderr).decode(errors='replace')[-300:]}")
                return None
            return dt

        print(f"{args.warmup} warm-ups, then {args.runs} timed runs of each method, interleaved...", flush=True)
        t_loop = time.perf_counter()
        interleave(METHODS, ORDER_CYCLE, one, args.warmup, args.runs, samples, sequence)
        setup["loop_s"] = time.perf_counter() - t_loop
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        status = 1
    finally:
        if "runc_seccomp" in locals():
            runc_seccomp.force_delete()
        leftovers = cleanup(engine, runc, work, marker)

    # -- report ------------------------------------------------------------------------------
    if status == 0:
        status = report(args, samples, errors, setup, sequence)
    return finish(status, leftovers, "no bocker-bench cgroup, mount, process, runc state or bench root left")


def finish(status: int, leftovers: list[str], clean: str) -> int:
    """The exit status: 2 if the host was not left clean (said on stderr), else `status`."""
    if leftovers:
        print("HOST NOT CLEAN after the benchmark:", file=sys.stderr)
        for item in leftovers:
            print(f"  {item}", file=sys.stderr)
        return 2
    print(f"host clean: {clean}")
    return status


def report_failures(errors: dict[str, list[str]]) -> int:
    """Print the first failures of each method; 1 if any method failed."""
    for m, errs in errors.items():
        for e in errs[:3]:
            print(f"{m}: FAILED {e}", file=sys.stderr)
    return 1 if any(errors.values()) else 0


def report(args: argparse.Namespace, samples: dict[str, list[float]], errors: dict[str, list[str]],
           setup: dict[str, float], sequence: list[dict]) -> int:
    status = report_failures(errors)
    stats = {m: summary(samples[m]) for m in METHODS if samples[m]}
    print()
    print(f"{'method':42} {'n':>3} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    for m in METHODS:
        if m in stats:
            s = stats[m]
            print(f"{LABELS[m]:42} {s['n']:>3} {s['median_ms']:>10.1f} {s['p90_ms']:>8.1f} {s['min_ms']:>8.1f}")
        else:
            print(f"{LABELS[m]:42}   0  (no successful run)")

    def ratio(a: str, b: str) -> dict[str, float] | None:
        if a not in stats or b not in stats:
            return None
        return {"median": stats[a]["median_ms"] / stats[b]["median_ms"],
                "p90": stats[a]["p90_ms"] / stats[b]["p90_ms"]}

    targets = [("inproc/runc", "inproc", "runc", 1.0), ("inproc/runc+seccomp", "inproc", "runc_seccomp", 1.0),
               ("inproc_net/runc", "inproc_net", "runc", 1.0),
               ("cli/runc", "cli", "runc", None), ("1GB/busybox", "inproc_1g", "inproc", 1.2)]
    ratios = {}
    print()
    print(f"{'ratio (of medians)':20} {'median':>7} {'p90':>7}  target")
    for name, a, b, target in targets:
        r = ratio(a, b)
        ratios[name] = {**(r or {}), "target": target}
        if r is None:
            print(f"{name:20} {'-':>7} {'-':>7}  {'MISS (no data)' if target else ''}")
            ratios[name]["pass"] = False if target else None
            continue
        verdict = ""
        if target is not None:
            ok = r["median"] <= target
            ratios[name]["pass"] = ok
            verdict = f"<= {target:.1f}  {'PASS' if ok else 'MISS'}"
        print(f"{name:20} {r['median']:>7.2f} {r['p90']:>7.2f}  {verdict}")

    if "inproc" in stats and "inproc_net" in stats:
        added = stats["inproc_net"]["median_ms"] - stats["inproc"]["median_ms"]
        ok = added <= 10.0
        ratios["network_added_ms"] = {"median": added, "target": 10.0, "pass": ok}
        print(f"{'network adds (ms)':20} {added:>7.1f} {'':>7}  <= 10 ms  {'PASS' if ok else 'MISS'}")

    if args.json:
        doc = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"kernel": platform.release(), "cpus": os.cpu_count(), "machine": platform.machine(),
                     "python": platform.python_version(),
                     "runc": subprocess.run([RUNC, "--version"], capture_output=True, text=True).stdout.split("\n")[0]},
            "limits": {"memory_bytes": MEMORY, "cpu_shares": CPU_SHARES, "cpu_quota_us": CPU_QUOTA,
                       "cpu_period_us": CPU_PERIOD, "pids": PIDS},
            "runs": args.runs, "warmup": args.warmup,
            "big_image": {"files": args.files, "file_mib": args.file_mb},
            "setup_s": setup, "stats": stats, "ratios": ratios,
            "errors": {m: e for m, e in errors.items() if e},
            "samples_ms": {m: [round(x * 1000, 3) for x in samples[m]] for m in METHODS},
            "sequence": sequence,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"\nfigures written to {args.json}")
    return status


def cleanup(engine, runc: Runc | None, work: Path, marker: bytes) -> list[str]:
    """Remove everything the run made; return what is still on the host."""
    problems: list[str] = []
    if engine is not None:
        with contextlib.suppress(Exception):
            for c in engine.ps():
                try:
                    engine.rm(c.id, force=True)
                except Exception as e:  # keep going: the checks below report what is left
                    problems.append(f"engine.rm {c.id}: {e}")
        with contextlib.suppress(Exception):
            for image in engine.images():
                engine.rmi(image.id)
        engine.close()
    if runc is not None:
        runc.force_delete()
        problems += [f"runc state: {x}" for x in runc.leftovers()]
    # the bocker servers the CLI runs started (one per root: the bench root, an empty one)
    from bocker_magics.server import stop_servers
    for d in [work, *(work.iterdir() if work.is_dir() else [])]:
        if (d / "server").is_dir():
            stop_servers(str(d))
    # Monitors exit right after their container; give any straggler a moment.
    deadline = time.monotonic() + 5
    while processes_marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    from bocker_magics.lab.runc import remove_cgroup_parent
    problems += remove_cgroup_parent(CGROUP_PARENT)
    needles = [str(work)]
    for line in mounts_mentioning(needles):
        problems.append(f"mount: {line}")
    if not any(p.startswith("mount:") for p in problems):
        shutil.rmtree(work, ignore_errors=True)
        if work.exists():
            problems.append(f"could not remove {work}")
    problems += [f"cgroup: {d}" for d in bench_cgroup_dirs()]
    problems += [f"process: {p}" for p in processes_marked(marker)]
    return problems


if __name__ == "__main__":
    sys.exit(main())


def remove_work(work: Path, leftovers: list[str]) -> list[str]:
    """A benchmark's scratch dir goes at the end, unless something is still mounted in it
    (then it stays, and the mount is reported)."""
    leftovers = leftovers + [f"mount {m}" for m in mounts_mentioning([str(work)])]
    if not any(x.startswith("mount") for x in leftovers):
        shutil.rmtree(work, ignore_errors=True)
    return leftovers


def print_table(methods, samples: dict, label, skipped: dict | None = None, width: int = 44) -> dict:
    """The medians table every benchmark prints; returns the summaries by method."""
    stats = {m: summary(samples[m]) for m in methods if samples[m]}
    print()
    print(f"{'method':{width}} {'n':>3} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    for m in methods:
        name = label(m) if callable(label) else label[m]
        if m in stats:
            s = stats[m]
            print(f"{name:{width}} {s['n']:>3} {s['median_ms']:>10.1f} {s['p90_ms']:>8.1f} {s['min_ms']:>8.1f}")
        elif skipped is not None:
            print(f"{name:{width}}   -  skipped: {skipped.get(m, 'no successful run')}")
    print()
    return stats
