"""Pull of a ~100 MB multi-layer image from a loopback registry, against `skopeo copy` of it
to a local directory, in the same run.

    sudo .venv/bin/python benchmarks/bench_pull.py [--runs 5] [--mb 140]

The image (4 layers: busybox, then random and text files) is built with umoci and pushed with
skopeo to Debian's docker-registry on 127.0.0.1. Each timed pull starts from an empty store
(no layer cached); each skopeo copy into an empty directory. skopeo only downloads and checks
the blobs; the pull also gunzips, checks the diff_ids and extracts every file. Prints the
medians and the ratio (the goal: within 1.5x). Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from registry_fixtures import Layout, Registry, busybox_tree, missing_tools, run  # noqa: E402


def build(work: Path, total_mb: int) -> Layout:
    layout = Layout(work / "oci")
    bundle = work / "bundle"
    layout.new("big")
    root = layout.unpack("big", bundle)
    busybox_tree(root)
    layout.repack("big", bundle)
    per_layer = total_mb // 3
    words = b"the quick brown fox jumps over the lazy dog %d\n"
    for i in range(3):
        root = layout.unpack("big", bundle)
        d = root / f"data{i}"
        d.mkdir()
        # two thirds incompressible (binaries, media), one third text
        for j in range(8):
            (d / f"blob{j}.bin").write_bytes(os.urandom(per_layer * (1 << 20) * 2 // 3 // 8))
        text = b"".join(words % k for k in range(per_layer * (1 << 20) // 3 // 46))
        (d / "text.txt").write_bytes(text)
        layout.repack("big", bundle)
    shutil.rmtree(bundle, ignore_errors=True)
    return layout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=140, help="uncompressed data; 140 gives ~100 MB of blobs")
    args = ap.parse_args()
    if os.geteuid() != 0 or missing_tools():
        print(f"needs root and {missing_tools() or 'nothing else'}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bocker-bench-pull-"))
    reg = None
    try:
        layout = build(work, args.mb)
        reg = Registry(work / "registry")
        reg.push_oci(layout.path, "big", "bench/big")
        size = sum(p.stat().st_size for p in (work / "oci" / "blobs").rglob("*") if p.is_file())
        ref = f"{reg.host}/bench/big:latest"
        from bocker_magics.engine.engine import Engine

        skopeo, pull = [], []
        for i in range(args.runs):
            dest = work / f"skopeo-{i}"
            t = time.perf_counter()
            run("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"dir:{dest}")
            skopeo.append(time.perf_counter() - t)
            shutil.rmtree(dest)
            root = work / f"root-{i}"
            engine = Engine(root)
            try:
                t = time.perf_counter()
                img = engine.pull(ref)
                pull.append(time.perf_counter() - t)
                assert len(img.layers) == 4
            finally:
                engine.close()
                shutil.rmtree(root)
        s, p = statistics.median(skopeo), statistics.median(pull)
        print(f"image: 4 layers, {size / 1e6:.0f} MB in the layout (compressed), {args.runs} runs each")
        print(f"skopeo copy to dir: median {s * 1000:.0f} ms  (runs: {', '.join(f'{x * 1000:.0f}' for x in skopeo)})")
        print(f"engine.pull:        median {p * 1000:.0f} ms  (runs: {', '.join(f'{x * 1000:.0f}' for x in pull)})")
        print(f"ratio pull/skopeo:  {p / s:.2f}  (goal: <= 1.5)")
        return 0 if p / s <= 1.5 else 1
    finally:
        if reg is not None:
            reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
