#!/usr/bin/env python3
"""The Docker API service against dockerd 20.10, measured in the same run, as Docker's own
clients use each:

  bocker_cli    `docker run --rm --network none busybox true` (Debian's docker CLI) with
                DOCKER_HOST on `bocker system service`
  dockerd_cli   the same command against dockerd 20.10 (its own data root, exec root and
                socket, `--bridge none --iptables=false`, in this benchmark's network namespace)
  bocker_py     docker-py's containers.run("busybox", "true", remove=True, network_mode="none")
                in this process, against bocker's service
  dockerd_py    the same call against dockerd

Interleaved (an Euler cycle over the methods) after warm-ups, so drift hits each alike.
Ratios: bocker_cli / dockerd_cli and bocker_py / dockerd_py, target <= 0.5 each.

Run as root:
    .venv/bin/python benchmarks/bench_api.py [--runs 20] [--warmup 3] [--json out.json]
Exit status: 0 (targets met or not), 1 if a method failed, 2 if the host was left unclean.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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

METHODS = ("bocker_cli", "dockerd_cli", "bocker_py", "dockerd_py")
DOCKER = "/usr/bin/docker"
TARGET = 0.5


def start_service(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    sock = work / "bocker.sock"
    proc = subprocess.Popen([sys.executable, "-m", "bocker_magics.cli", "system", "service", "-H", f"unix://{sock}",
                             "--time", "0"], env=env, stdout=open(work / "service.log", "wb"),
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise peers.PeerError(f"the service did not start: {(work / 'service.log').read_text()}")
        time.sleep(0.05)
    return proc, f"unix://{sock}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", help="write the samples and the ratios here")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("run it as root: it starts containers and dockerd", file=sys.stderr)
        return 1
    import docker  # docker-py: the test extras (pip install -e .[test])

    common.own_network_namespace()
    work = Path(tempfile.mkdtemp(prefix="bocker-api-bench-"))
    cgroup_parent = f"bocker-api-bench-{os.getpid()}"
    env = {**os.environ, "BOCKER_ROOT": str(work / "root"), "BOCKER_CGROUP_PARENT": cgroup_parent,
           "BOCKER_NO_SERVER": "1", "PYTHONPATH": str(REPO)}
    samples: dict[str, list[float]] = {m: [] for m in METHODS}
    errors: dict[str, list[str]] = {m: [] for m in METHODS}
    leftovers: list[str] = []
    service = dock = None
    clients = {}
    status = 0
    try:
        tar = peers.busybox_tarball(work / "busybox.tar", work)
        service, bocker_host = start_service(work, env)
        cli_env = {"bocker": {**os.environ, "DOCKER_HOST": bocker_host, "DOCKER_CONFIG": str(work / "cli-b")},
                   "dockerd": None}
        subprocess.run([DOCKER, "load", "-i", str(tar)], env=cli_env["bocker"], check=True, capture_output=True)
        dock = peers.Dockerd(work / "dockerd").__enter__()
        dock.load(tar)
        cli_env["dockerd"] = dock.env
        clients = {"bocker": docker.DockerClient(base_url=bocker_host, timeout=120),
                   "dockerd": docker.DockerClient(base_url=dock.env["DOCKER_HOST"], timeout=120)}
        run = ["run", "--rm", "--network", "none", "busybox", "true"]

        def one(method: str) -> float | None:
            who, how = method.split("_")
            if how == "cli":
                return common.timed_process([DOCKER, *run], errors[method], env=cli_env[who])
            t = time.perf_counter()
            try:
                clients[who].containers.run("busybox", "true", remove=True, network_mode="none")
            except Exception as e:  # a failed sample is counted, never timed
                errors[method].append(f"{type(e).__name__}: {e}")
                return None
            return time.perf_counter() - t

        sequence: list[dict] = []
        common.interleave(METHODS, common.euler_cycle(len(METHODS)), one, args.warmup, args.runs, samples,
                          sequence)
        summaries = {m: common.summary(samples[m]) for m in METHODS if samples[m]}
        ratios = {}
        for how in ("cli", "py"):
            b, d = summaries.get(f"bocker_{how}"), summaries.get(f"dockerd_{how}")
            if b and d:
                ratios[f"bocker_{how}/dockerd_{how}"] = b["median_ms"] / d["median_ms"]
        print(f"{'method':<14}{'n':>4}{'median ms':>12}{'p90 ms':>10}")
        for m, s in summaries.items():
            print(f"{m:<14}{s['n']:>4}{s['median_ms']:>12.1f}{s['p90_ms']:>10.1f}")
        for name, value in ratios.items():
            print(f"{name:<28}{value:6.2f}  (target <= {TARGET}: {'met' if value <= TARGET else 'missed'})")
        if args.json:
            Path(args.json).write_text(json.dumps({"summaries": summaries, "ratios": ratios, "samples": samples,
                                                   "errors": errors, "sequence": sequence}, indent=1) + "\n")
        status = common.report_failures(errors)
    except KeyboardInterrupt:
        status = 1
    finally:
        for c in clients.values():
            c.close()
        if service is not None:
            service.send_signal(signal.SIGINT)
            try:
                service.wait(15)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        if dock is not None:
            leftovers += dock.close() or []
        subprocess.run([sys.executable, "-m", "bocker_magics.cli", "gc"], env=env, capture_output=True)
        leftovers += peers.remove_cgroups(cgroup_parent)
        shutil.rmtree(work, ignore_errors=True)
    if leftovers:
        print("left on the host:", *leftovers, sep="\n  ", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
