"""bocker-runc at hand: a launcher for this checkout, busybox bundles, and a small client.

    rt = Runc(launcher("/tmp/x"), root="/tmp/x/state")
    b = busybox_bundle("/tmp/x/b", engine, ["echo", "hi"])     # rootfs/ + config.json (`runc spec`'s)
    rt("run", "--bundle", b, "hello").stdout                   # "hi\n"
    rt.state("hello")["status"]

The notebook 07-oci-runtime, the tests and benchmarks/bench_runc.py use it; callers such as
podman and containerd are pointed at the launcher (`--runtime`, `--runc-binary`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..runc import write_launcher


def launcher(directory: str | os.PathLike) -> str:
    """An executable bocker-runc in `directory` (`python -I -S`, this checkout's package)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return write_launcher(Path(directory) / "bocker-runc")


def busybox_rootfs(target: str | os.PathLike, engine) -> Path:
    """A private copy of the built-in busybox image's files at `target` (a bundle's rootfs:
    a runtime may make mount points in it, and the engine's layers are shared)."""
    image = engine.busybox()
    target = Path(target)
    for layer in engine.images_store.layer_paths(image):  # bottom first: upper layers win
        shutil.copytree(layer, target, symlinks=True, dirs_exist_ok=True)
    return target


def busybox_bundle(directory: str | os.PathLike, engine, args: list[str], *, cgroups_path: str | None = None,
                   terminal: bool = False, rootfs: str | os.PathLike | None = None, **process) -> Path:
    """A bundle: rootfs/ (busybox, or a copy of `rootfs`) and the config.json `runc spec`
    writes, with these args, terminal and cgroupsPath (and other process fields)."""
    from ..engine.spec import default_spec
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if rootfs is not None:
        shutil.copytree(rootfs, directory / "rootfs", symlinks=True)
    else:
        busybox_rootfs(directory / "rootfs", engine)
    config = default_spec().to_json()
    config["process"].update(args=list(args), terminal=terminal, **process)
    if cgroups_path:
        config["linux"]["cgroupsPath"] = cgroups_path
    write_config(directory, config)
    return directory


def write_config(bundle: str | os.PathLike, config: dict) -> None:
    (Path(bundle) / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def read_config(bundle: str | os.PathLike) -> dict:
    return json.loads((Path(bundle) / "config.json").read_text())


class Runc:
    """Runs a runc-compatible runtime (bocker-runc, or runc itself) with a --root of its own."""

    def __init__(self, binary: str, root: str | os.PathLike, *, log: str | None = None,
                 log_format: str | None = None) -> None:
        self.binary, self.root = str(binary), str(root)
        self.globals = ["--root", self.root]
        if log:
            self.globals += ["--log", str(log)]
        if log_format:
            self.globals += ["--log-format", log_format]

    def argv(self, *args: str) -> list[str]:
        return [self.binary, *self.globals, *map(str, args)]

    def __call__(self, *args: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        """Run it; what it prints is read from files, not pipes: a container made by create
        or run -d holds the stdio it was given for as long as it runs."""
        import tempfile
        if "input" not in kw and "stdin" not in kw:
            kw["stdin"] = subprocess.DEVNULL
        text = kw.pop("text", True)
        files = {}
        for name in ("stdout", "stderr"):
            if name not in kw:
                files[name] = kw[name] = tempfile.TemporaryFile()
        if "input" in kw and text and isinstance(kw["input"], str):
            kw["input"] = kw["input"].encode()
        try:
            r = subprocess.run(self.argv(*args), timeout=timeout, **kw)
            for name, f in files.items():
                f.seek(0)
                data = f.read()
                setattr(r, name, data.decode(errors="replace") if text else data)
        finally:
            for f in files.values():
                f.close()
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(self.argv(*args))} -> {r.returncode}\n{r.stdout or ''}{r.stderr or ''}")
        return r

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).stdout)

    def status(self, cid: str) -> str:
        r = self("state", cid, check=False)
        return json.loads(r.stdout)["status"] if r.returncode == 0 else "absent"


def remove_cgroup_parent(name: str, timeout: float = 0.0) -> list[str]:
    """rmdir the cgroup `name` (a parent such as containerd's namespace) and what is under it,
    deepest first, in every hierarchy; returns what could not go (a process still in it). A
    cgroup whose last process is still exiting is busy for a moment: with a timeout, retried."""
    import time
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] in (["cgroup"], ["cgroup2"]):
                mounts.append(left.split()[4])
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for mount in mounts:
            top = os.path.join(mount, name.strip("/"))
            for d in sorted((d for d, _, _ in os.walk(top)), key=lambda p: -p.count("/")):
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError as e:
                    left.append(f"cgroup {d}: {e.strerror}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
