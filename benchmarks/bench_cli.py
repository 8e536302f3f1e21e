#!/usr/bin/env python3
"""The command line against podman, docker and runc (issue 13): whole processes, one run,
interleaved, medians and ratios.

  bocker_none     `bocker run --rm --network none busybox true`
  bocker_bridge   `bocker run --rm busybox true` (its default bridge network)
  bocker_exec     `bocker exec ID true` into a running busybox `sleep`
  bocker_ps       `bocker ps` with 100 containers (95 exited, 5 running)
  bocker_images   `bocker images`
  bocker_first    `bocker images` on a new root: the first command, which starts the server
                  (each sample's server is stopped after, outside the timing)
  the same five with PYTHONDONTWRITEBYTECODE unset (..._wb): these machines set it, so
                  nothing the interpreter compiles is kept unless it was compiled at install
  podman_*        `podman run --rm --network none busybox true`, `podman run --rm busybox true`
                  (its default network: netavark's bridge), `podman exec ID true`, `podman ps -a`
                  with 100 containers, `podman images`: --cgroup-manager cgroupfs, its own
                  storage, the busybox image of `bocker save` (tests/support/peers.py Podman sandbox)
  docker_*        the same through dockerd in a network namespace of its own (`--bridge none
                  --iptables=false`; the bridge case on a user-defined bridge network there)
  runc            `runc run` of busybox /bin/true: the floor

Targets: bocker_none <= 0.5 x podman_none, bocker_bridge <= 0.5 x podman_bridge,
bocker_exec <= 0.5 x podman_exec, bocker_ps <= 50 ms (with PYTHONDONTWRITEBYTECODE set and
unset). Each round runs every method once, in an order rotated by one each round, so that
every method comes after each of the others. Everything runs in network namespaces of its
own; nothing is left after (bocker's servers included), checked at the end.

    sudo python benchmarks/bench_cli.py [--runs 15] [--warmup 2] [--bocker PATH] [--json FILE]

--bocker: the `bocker` to time (default: the one beside this interpreter when it is the
client, as quickstart.sh installs it; else this checkout's bin/bocker run by this interpreter).
Exit status: 0 (targets met or not), 1 if a method failed, 2 if the host was not left clean.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO))

import bench_run as common  # noqa: E402  summaries, cgroup and mount helpers
import peers  # noqa: E402
from peers_baseline import RuncBundle  # noqa: E402

VERBS = ("none", "bridge", "exec", "ps", "images")
METHODS = (tuple(f"bocker_{v}" for v in VERBS) + ("bocker_first",) + tuple(f"bocker_{v}_wb" for v in VERBS)
           + tuple(f"podman_{v}" for v in VERBS) + tuple(f"docker_{v}" for v in VERBS) + ("runc",))
WHAT = {"none": "run --rm --network none busybox true", "bridge": "run --rm busybox true (default network)",
        "exec": "exec ID true", "ps": "ps, 100 containers", "images": "images"}
CONTAINERS = 100
RUNNING = 5


def label(method: str) -> str:
    if method == "runc":
        return "runc run busybox /bin/true"
    if method == "bocker_first":
        return "bocker images, first use (starts the server)"
    face, verb, *wb = method.split("_")
    text = f"{face} {WHAT[verb]}"
    if face == "docker" and verb == "bridge":
        text = "docker run --rm --network <user bridge>"
    if face != "bocker" and verb == "ps":
        text = f"{face} ps -a, 100 containers"
    return text + (" [bytecode written]" if wb else "")


def default_bocker() -> list[str]:
    installed = Path(sys.executable).parent / "bocker"
    try:
        if "bocker_magics.client" in installed.read_text():
            return [str(installed)]
    except OSError:
        pass
    return [sys.executable, str(REPO / "bin" / "bocker")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--bocker", metavar="PATH", help="the bocker command to time")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--only", nargs="*", choices=METHODS, help="just these methods")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_cli.py needs root", file=sys.stderr)
        return 1
    from bocker_magics.server import server_processes, stop_servers
    common.own_network_namespace()  # bridges, NAT and peers never on the host's network

    methods = tuple(m for m in METHODS if not args.only or m in args.only)
    bocker = [args.bocker] if args.bocker else default_bocker()
    work = Path(tempfile.mkdtemp(prefix="bocker-cli-bench-"))
    root = work / "bocker-root"
    cgroup_parent = f"bocker-cli-bench-{os.getpid()}"
    env = {**os.environ, "BOCKER_ROOT": str(root), "BOCKER_CGROUP_PARENT": cgroup_parent}
    if not args.bocker and bocker[0] == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env_set = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    env_unset = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    samples: dict[str, list[float]] = {m: [] for m in methods}
    errors: dict[str, list[str]] = {m: [] for m in methods}
    skipped: dict[str, str] = {}
    setup: dict[str, float] = {}
    started: list[peers.Peer] = []
    leftovers: list[str] = []
    firsts: list[Path] = []
    status = 0

    def bocker_run(*a: str, environ=env_set, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([*bocker, *a], env=environ, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise peers.PeerError(f"bocker {' '.join(a)} -> {r.returncode}: {r.stdout}{r.stderr}")
        return r

    try:
        t0 = time.perf_counter()
        tar = peers.busybox_tarball(work / "busybox.tar", work)
        setup["busybox_tar_s"] = time.perf_counter() - t0
        commands: dict[str, Callable[[], list[str]]] = {}
        envs: dict[str, dict[str, str]] = {}
        checks: dict[str, Callable[[bytes], str]] = {}  # what a sample's output must be

        def listing(n: int) -> Callable[[bytes], str]:
            return lambda out: "" if len(out.splitlines()) == n + 1 else f"{len(out.splitlines()) - 1} listed, not {n}"

        def start(name: str, cls, face: str):
            if not any(m.startswith(face + "_") for m in methods):
                return None
            t = time.perf_counter()
            try:
                peer = cls(work / name).__enter__()
            except peers.PeerUnavailable as e:
                for m in methods:
                    if m.startswith(face + "_"):
                        skipped[m] = f"{name}: {e}"
                return None
            started.append(peer)
            setup[f"{name}_start_s"] = time.perf_counter() - t
            return peer

        def fill(create_exited: Callable[[], None], create_running: Callable[[], str]) -> str:
            """95 exited containers and 5 running ones; returns a running one's id."""
            for _ in range(CONTAINERS - RUNNING):
                create_exited()
            return [create_running() for _ in range(RUNNING)][0]

        if "runc" in methods:
            runc = RuncBundle(work / "runc", tar, cgroup_parent)
            commands["runc"] = runc.argv

        if any(m.startswith("bocker_") for m in methods):
            t = time.perf_counter()
            bocker_run("load", str(tar))
            bcid = fill(lambda: bocker_run("run", "--network", "none", "busybox", "true"),
                        lambda: bocker_run("run", "-d", "--network", "none", "busybox", "sleep 100000").stdout.strip())
            setup["bocker_fill_s"] = time.perf_counter() - t
            argv = {"none": ["run", "--rm", "--network", "none", "busybox", "true"],
                    "bridge": ["run", "--rm", "busybox", "true"], "exec": ["exec", bcid, "true"],
                    "ps": ["ps"], "images": ["images"]}
            for verb, a in argv.items():
                commands[f"bocker_{verb}"] = commands[f"bocker_{verb}_wb"] = (lambda a=a: [*bocker, *a])
                envs[f"bocker_{verb}"], envs[f"bocker_{verb}_wb"] = env_set, env_unset
            checks["bocker_ps"] = checks["bocker_ps_wb"] = listing(CONTAINERS)

            def first() -> list[str]:
                fresh = work / f"first-{len(firsts)}"
                firsts.append(fresh)
                envs["bocker_first"] = {**env_set, "BOCKER_ROOT": str(fresh)}
                return [*bocker, "images"]
            commands["bocker_first"] = first

        pod = start("podman", peers.Podman, "podman")
        if pod:
            t = time.perf_counter()
            pod.load(tar)
            run = ["run", *pod.run_args()]
            pcid = fill(lambda: pod.podman(*run, "--network", "none", "busybox", "true"),
                        lambda: pod.podman(*run, "-d", "--network", "none", "busybox", "sleep", "100000").stdout.strip())
            setup["podman_fill_s"] = time.perf_counter() - t
            commands["podman_none"] = lambda: pod.full_argv(*run, "--rm", "--network", "none", "busybox", "true")
            commands["podman_bridge"] = lambda: pod.full_argv(*run, "--rm", "busybox", "true")
            commands["podman_exec"] = lambda: pod.full_argv("exec", pcid, "true")
            commands["podman_ps"] = lambda: pod.full_argv("ps", "-a")
            commands["podman_images"] = lambda: pod.full_argv("images")
            envs.update({f"podman_{v}": pod.env for v in VERBS})
            checks["podman_ps"] = listing(CONTAINERS)

        dock = start("dockerd", peers.Dockerd, "docker")
        if dock:
            t = time.perf_counter()
            dock.load(tar)
            dcid = fill(lambda: dock.docker("run", "--network", "none", "busybox", "true"),
                        lambda: dock.docker("run", "-d", "--network", "none", "busybox", "sleep", "100000").stdout.strip())
            setup["docker_fill_s"] = time.perf_counter() - t
            commands["docker_none"] = lambda: dock.docker_argv("run", "--rm", "--network", "none", "busybox", "true")
            commands["docker_bridge"] = lambda: dock.docker_argv("run", "--rm", "--network", dock.bridge, "busybox", "true")
            commands["docker_exec"] = lambda: dock.docker_argv("exec", dcid, "true")
            commands["docker_ps"] = lambda: dock.docker_argv("ps", "-a")
            commands["docker_images"] = lambda: dock.docker_argv("images")
            envs.update({f"docker_{v}": dock.env for v in VERBS})
            checks["docker_ps"] = listing(CONTAINERS)

        for m in methods:
            if m not in commands and m not in skipped:
                skipped[m] = "not set up"
        active = tuple(m for m in methods if m in commands)

        def one(method: str) -> float | None:
            argv = commands[method]()
            t = time.perf_counter()
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120, env=envs.get(method))
            dt = time.perf_counter() - t
            if method == "bocker_first":
                stop_servers(envs[method]["BOCKER_ROOT"])
            if p.returncode != 0:
                errors[method].append(f"exit {p.returncode}: {(p.stdout + p.stderr).decode(errors='replace')[-300:]}")
                return None
            wrong = checks.get(method, lambda out: "")(p.stdout)
            if wrong:
                errors[method].append(wrong)
                return None
            return dt

        print(f"{args.warmup} warm-ups, then {args.runs} timed runs of each of {len(active)} methods, "
              f"interleaved (bocker: {' '.join(bocker)})...", flush=True)
        t = time.perf_counter()
        for r in range(args.warmup + args.runs):
            k = r % len(active)
            for method in active[k:] + active[:k]:
                dt = one(method)
                if dt is not None and r >= args.warmup:
                    samples[method].append(dt)
        setup["loop_s"] = time.perf_counter() - t
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        status = 1
    except peers.PeerError as e:
        print(f"setup failed: {e}", file=sys.stderr)
        status = 1
    finally:
        for peer in reversed(started):
            leftovers += [f"{peer.name}: {x}" for x in peer.close()]
        if (work / "runc" / "state").is_dir():
            for cid in os.listdir(work / "runc" / "state"):
                leftovers.append(f"runc state {cid}")
                subprocess.run([peers.RUNC, "--root", str(work / "runc" / "state"), "delete", "-f", cid],
                               capture_output=True)
        if root.is_dir():
            ids = [line.split("\t\t")[0] for line in bocker_run("ps", check=False).stdout.splitlines()[1:]]
            if ids:
                bocker_run("rm", "-f", *ids, check=False)
            gc = bocker_run("gc", check=False).stdout
            if gc:
                leftovers.append(f"bocker gc had to remove: {gc.strip()}")
            stop_servers(str(root))
        for fresh in firsts:
            stop_servers(str(fresh))
        leftovers += [f"bocker server {pid}" for pid in server_processes(str(work))]
        leftovers += peers.remove_cgroups(cgroup_parent)
        leftovers = common.remove_work(work, leftovers)
        leftovers += [f"process {p}" for p in processes_with_root(str(work))]

    status = status or common.report_failures(errors)
    stats = common.print_table(methods, samples, label, skipped, width=58)
    ratios = report_ratios(stats)
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; setup: "
          + ", ".join(f"{k} {v:.1f}" for k, v in setup.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": args.runs, "warmup": args.warmup,
            "bocker": bocker, "stats": stats, "ratios": ratios, "skipped": skipped,
            "errors": {m: e for m, e in errors.items() if e}, "setup_s": setup,
            "samples_ms": {m: [round(x * 1000, 3) for x in samples[m]] for m in methods},
        }, indent=1) + "\n")
    return common.finish(status, leftovers, "no peer or bocker process (servers included), mount, cgroup or state left")


def report_ratios(stats: dict[str, dict[str, float]]) -> dict[str, dict]:
    def median(m: str) -> float | None:
        return stats[m]["median_ms"] if m in stats else None

    out: dict[str, dict] = {}
    print(f"\n{'ratio (of medians)':44} {'value':>8}  target")
    for wb in ("", "_wb"):
        for verb in ("none", "bridge", "exec"):
            for peer, target in (("podman", 0.5), ("docker", None), ("runc", None)):
                if peer == "runc" and verb != "none":
                    continue
                a, b = median(f"bocker_{verb}{wb}"), median("runc" if peer == "runc" else f"{peer}_{verb}")
                name = f"bocker_{verb}{wb} / {'runc' if peer == 'runc' else f'{peer}_{verb}'}"
                if a is None or b is None:
                    continue
                value = a / b
                verdict = "" if target is None else f"<= {target}  {'PASS' if value <= target else 'MISS'}"
                out[name] = {"value": value, "target": target, "pass": None if target is None else value <= target}
                print(f"{name:44} {value:>8.2f}  {verdict}")
        ps = median(f"bocker_ps{wb}")
        if ps is not None:
            out[f"bocker_ps{wb} ms"] = {"value": ps, "target": 50.0, "pass": ps <= 50.0}
            print(f"{f'bocker_ps{wb} (ms, 100 containers)':44} {ps:>8.1f}  <= 50 ms  {'PASS' if ps <= 50 else 'MISS'}")
    for peer in ("podman", "docker"):
        a, b = median("bocker_images"), median(f"{peer}_images")
        if a is not None and b is not None:
            out[f"bocker_images / {peer}_images"] = {"value": a / b, "target": None, "pass": None}
            print(f"{f'bocker_images / {peer}_images':44} {a / b:>8.2f}")
    return out


def processes_with_root(work: str) -> list[str]:
    """Processes whose BOCKER_ROOT is under the benchmark's directory (a server, a shim, a
    monitor that outlived the clean-up)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if any(e.startswith(f"BOCKER_ROOT={work}".encode()) for e in env):
            found.append(f"{pid}: {cmd}")
    return found


if __name__ == "__main__":
    sys.exit(main())
