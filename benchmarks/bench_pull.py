"""Pull of a ~100 MB multi-layer image from a loopback registry, against `skopeo copy` of it
to a local directory, in the same run; the same pull over TLS against plain HTTP; the image
with zstd layers against `skopeo copy` of that.

    sudo .venv/bin/python benchmarks/bench_pull.py [--runs 5] [--mb 140] [--only plain,tls,zstd]

The image (4 layers: busybox, then random and text files) is built with umoci and pushed with
skopeo to Debian's docker-registry on 127.0.0.1. Each timed pull starts from an empty store
(no layer cached); each skopeo copy into an empty directory. skopeo only downloads and checks
the blobs; the pull also gunzips, checks the diff_ids and extracts every file. Prints the
medians and the ratio (the goal: within 1.5x).

tls: the same image on a second docker-registry serving https with a CA the bench makes (its
certs.d in a scratch dir, BOCKER_CERTS_D), engine.pull over https (verified) against
engine.pull over http, alternated (goal: within 1.1x). zstd: the image pushed again by
skopeo with --dest-compress-format zstd; engine.pull of it against `skopeo copy` of it to a
directory (goal: at most 1.0x). Everything is removed at the end.
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


CPU: dict[str, list[float]] = {}   # label -> CPU seconds (the puller's or skopeo's, plus the registry's)


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_now(reg) -> tuple[float, float]:
    """This process's CPU (every thread) and its children's (skopeo); the registry's."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, _proc_cpu(reg.proc.pid)


def _cpu_since(reg, before: tuple[float, float]) -> tuple[float, float]:
    now = _cpu_now(reg)
    return now[0] - before[0], now[1] - before[1]


def timed_pull(work: Path, ref: str, tag: str, i: int, env: dict[str, str] | None = None, reg=None) -> float:
    from bocker_magics.engine.engine import Engine
    root = work / f"root-{tag}-{i}"
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    engine = Engine(root)
    try:
        cpu = _cpu_now(reg) if reg else (0.0, 0.0)
        t = time.perf_counter()
        img = engine.pull(ref)
        took = time.perf_counter() - t
        if reg:
            CPU.setdefault(tag, []).append(_cpu_since(reg, cpu))
        assert len(img.layers) == 4
        return took
    finally:
        engine.close()
        shutil.rmtree(root)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def timed_skopeo(work: Path, ref: str, i: int, reg=None, tag: str = "skopeo", cert_dir: Path | None = None) -> float:
    dest = work / f"skopeo-{i}"
    cpu = _cpu_now(reg) if reg else (0.0, 0.0)
    t = time.perf_counter()
    tls = [f"--src-cert-dir={cert_dir}"] if cert_dir else ["--src-tls-verify=false"]
    run("skopeo", "copy", "-q", *tls, f"docker://{ref}", f"dir:{dest}")
    took = time.perf_counter() - t
    if reg:
        CPU.setdefault(tag, []).append(_cpu_since(reg, cpu))
    shutil.rmtree(dest)
    return took


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1000:.0f} ms  (runs: {', '.join(f'{x * 1000:.0f}' for x in xs)})"


def cpu_ratio(a: str, b: str) -> str:
    """CPU seconds (client + registry), less sensitive than wall time to a busy machine; and
    each side's."""
    if a not in CPU or b not in CPU:
        return ""
    x, y = (statistics.median(sum(c) for c in CPU[k]) for k in (a, b))
    xc, yc, xr, yr = (statistics.median(c[i] for c in CPU[k]) for i in (0, 1) for k in (a, b))
    return (f"   [CPU, client + registry: {x:.2f} s vs {y:.2f} s: {x / y:.2f}; client {xc:.2f} vs {yc:.2f}, "
            f"registry {xr:.2f} vs {yr:.2f}]")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=140, help="uncompressed data; 140 gives ~100 MB of blobs")
    ap.add_argument("--only", default="plain,tls,zstd", help="which comparisons (plain, tls, zstd)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if os.geteuid() != 0 or missing_tools():
        print(f"needs root and {missing_tools() or 'nothing else'}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bocker-bench-pull-"))
    regs: list = []
    ok = True
    try:
        layout = build(work, args.mb)
        reg = Registry(work / "registry")
        regs.append(reg)
        reg.push_oci(layout.path, "big", "bench/big")
        size = sum(p.stat().st_size for p in (work / "oci" / "blobs").rglob("*") if p.is_file())
        ref = f"{reg.host}/bench/big:latest"
        print(f"image: 4 layers, {size / 1e6:.0f} MB in the layout (compressed), {args.runs} runs each")
        if "plain" in only:
            skopeo, pull = [], []
            for i in range(args.runs):
                skopeo.append(timed_skopeo(work, ref, i, reg))
                pull.append(timed_pull(work, ref, "plain", i, reg=reg))
            s, p = statistics.median(skopeo), statistics.median(pull)
            print(f"skopeo copy to dir: {ms(skopeo)}")
            print(f"engine.pull:        {ms(pull)}")
            print(f"ratio pull/skopeo:  {p / s:.2f}  (goal: <= 1.5){cpu_ratio('plain', 'skopeo')}")
            ok &= p / s <= 1.5
        if "tls" in only:
            from tls_fixtures import PKI

            from bocker_magics.lab.registry import LocalRegistry
            pki = PKI.make(work / "pki", ip="127.0.0.1")
            treg = LocalRegistry(work / "registry-tls", address="127.0.0.1", tls=pki.server)
            regs.append(treg)
            certs = pki.certs_d(work / "certs.d", treg.host)
            run("skopeo", "copy", "-q", f"--dest-cert-dir={certs / treg.host}", f"oci:{layout.path}:big",
                f"docker://{treg.host}/bench/big:latest")
            plain, tls = [], []
            for i in range(args.runs):
                # which one goes first changes every run (ABBA), so a drift through the runs
                # weighs on both alike: ext4 skips the inodes freed in the last minutes one by
                # one (ialloc's recently_deleted), a cost that grows as each run removes its store
                for which in (("http", "https") if i % 2 == 0 else ("https", "http")):
                    if which == "http":
                        plain.append(timed_pull(work, ref, "http", i, reg=reg))
                    else:
                        tls.append(timed_pull(work, f"{treg.host}/bench/big:latest", "https", i,
                                              {"BOCKER_CERTS_D": str(certs)}, reg=treg))
            # the same two registries read by a Go client (download and digests, no extraction):
            # what TLS costs on this machine, for reading the ratio above
            sk_plain, sk_tls = [], []
            for i in range(args.runs):
                sk_plain.append(timed_skopeo(work, ref, i, reg, "skopeo-http"))
                sk_tls.append(timed_skopeo(work, f"{treg.host}/bench/big:latest", i, treg, "skopeo-https",
                                           cert_dir=certs / treg.host))
            h, t = statistics.median(plain), statistics.median(tls)
            print(f"engine.pull http:   {ms(plain)}")
            print(f"engine.pull https:  {ms(tls)}")
            print(f"ratio https/http:   {t / h:.2f}  (goal: <= 1.1){cpu_ratio('https', 'http')}")
            sh, st = statistics.median(sk_plain), statistics.median(sk_tls)
            print(f"skopeo copy http:   {ms(sk_plain)}")
            print(f"skopeo copy https:  {ms(sk_tls)}")
            print(f"skopeo https/http:  {st / sh:.2f}  (the peer, for reference; https adds {(st - sh) * 1000:.0f} ms "
                  f"to skopeo, {(t - h) * 1000:.0f} ms to the pull){cpu_ratio('skopeo-https', 'skopeo-http')}")
            ok &= t / h <= 1.1
        if "zstd" in only:
            run("skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-compress-format", "zstd",
                f"oci:{layout.path}:big", f"docker://{reg.host}/bench/zstd:latest")
            zref = f"{reg.host}/bench/zstd:latest"
            zsize = sum(d["size"] for d in json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false",
                                                          f"docker://{zref}"))["layers"])
            skopeo, pull = [], []
            for i in range(args.runs):
                skopeo.append(timed_skopeo(work, zref, i, reg, "skopeo-zstd"))
                pull.append(timed_pull(work, zref, "zstd", i, reg=reg))
            s, p = statistics.median(skopeo), statistics.median(pull)
            print(f"zstd image: {zsize / 1e6:.0f} MB of layers")
            print(f"skopeo copy (zstd): {ms(skopeo)}")
            print(f"engine.pull (zstd): {ms(pull)}")
            print(f"ratio pull/skopeo:  {p / s:.2f}  (goal: <= 1.0){cpu_ratio('zstd', 'skopeo-zstd')}")
            ok &= p / s <= 1.0
        return 0 if ok else 1
    finally:
        for r in regs:
            r.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
