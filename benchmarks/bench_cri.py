#!/usr/bin/env python3
"""A pod through Kubernetes' CRI on bocker-runc against runc (issue 25): one run, the two
runtime handlers interleaved (one pod of each, in turn), N timed pods each after warm-ups;
medians and ratios.

  start   RunPodSandbox (the pause container, CNI's bridge) + CreateContainer + StartContainer
          of busybox `sleep`: what a kubelet waits for before a pod runs
  stop    StopContainer (timeout 0) + StopPodSandbox + RemovePodSandbox
  total   the two

containerd 1.6 with its CRI plugin, its two runtime handlers (`runc`: Debian's runc;
`bocker-runc`: the launcher of this checkout, `python -I -S`), CNI and the images of the
tests (tests/cri_node.py), all in a network namespace of the benchmark's own. Target
(issue 25): total(bocker-runc) / total(runc) <= 1.5.

    sudo .venv/bin/python benchmarks/bench_cri.py [--runs 5] [--warmup 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO))

import bench_run as common  # noqa: E402  own_network_namespace
import peers  # noqa: E402

from bocker_magics.runc import write_launcher  # noqa: E402

HANDLERS = ("runc", "bocker-runc")
BUSYBOX = "docker.io/library/busybox:cri"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_cri.py needs root", file=sys.stderr)
        return 1
    try:
        import grpc  # noqa: F401
        from cri_node import CriNode, push_images
        from registry_fixtures import Registry, missing_tools
    except ImportError as e:
        print(f"bench_cri.py needs the test extras (grpcio, grpcio-tools): {e}", file=sys.stderr)
        return 1
    if missing_tools():
        print(f"bench_cri.py needs {', '.join(missing_tools())}", file=sys.stderr)
        return 1
    common.own_network_namespace()  # CNI's bridge and the registry never on the host's network

    work = Path(tempfile.mkdtemp(prefix="bocker-cri-bench-"))
    samples: dict[str, dict[str, list[float]]] = {h: {"start": [], "stop": [], "total": []} for h in HANDLERS}
    registry = node = None
    left: list[str] = []
    status = 0
    try:
        registry = Registry(work / "registry")
        push_images(registry, work / "images")
        (work / "bin").mkdir()
        launcher = write_launcher(work / "bin" / "bocker-runc")
        node = CriNode(work / "node", {"runc": peers.RUNC, "bocker-runc": launcher}, registry.host)
        node.__enter__()
        node.pull(BUSYBOX)
        node.pull("docker.io/library/pause:cri")
        n = 0
        for i in range(args.warmup + args.runs):
            for handler in (HANDLERS if i % 2 == 0 else HANDLERS[::-1]):
                n += 1
                t0 = time.perf_counter()
                pod, config = node.run_pod(f"bench{n}", handler=handler)
                c = node.create(pod, config, "main", BUSYBOX, ["sleep", "1000"])
                node.start_container(c)
                t1 = time.perf_counter()
                node.stop_container(c, timeout=0)
                node.stop_pod(pod)
                node.remove_pod(pod)
                t2 = time.perf_counter()
                if i >= args.warmup:
                    for key, value in (("start", t1 - t0), ("stop", t2 - t1), ("total", t2 - t0)):
                        samples[handler][key].append(value * 1000)
        complaints = node.log_lines("Failed to pipe", "failed to kill init's children")
    finally:
        if node is not None:
            left = node.close()
        if registry is not None:
            registry.stop()
        shutil.rmtree(work, ignore_errors=True)

    med = {h: {k: statistics.median(v) for k, v in samples[h].items()} for h in HANDLERS}
    print(f"CRI pod (sandbox + one container), {args.runs} runs each after {args.warmup} warm-up, interleaved; "
          "median ms")
    print(f"{'':14}{'start':>10}{'stop':>10}{'total':>10}")
    for h in HANDLERS:
        print(f"{h:14}" + "".join(f"{med[h][k]:10.1f}" for k in ("start", "stop", "total")))
    ratios = {k: med["bocker-runc"][k] / med["runc"][k] for k in ("start", "stop", "total")}
    print("ratio         " + "".join(f"{ratios[k]:10.2f}" for k in ("start", "stop", "total")))
    target = ratios["total"] <= 1.5
    print(f"target total ratio <= 1.5: {'met' if target else 'NOT met'}")
    if complaints:
        print(f"containerd complained {len(complaints)} times: {complaints[0][:200]}")
    if left:
        print(f"left behind (removed by force): {left}")
        status = 2
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": args.runs, "warmup": args.warmup, "samples_ms": samples,
                                               "median_ms": med, "ratios": ratios, "complaints": len(complaints),
                                               "left": left}, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
