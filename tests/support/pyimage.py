"""A small Python image for the tests: the host's Debian python3.11, the shared libraries it
loads and only the standard-library modules a test script needs, plus busybox for /bin/sh.
Made with umoci into an OCI layout (so nothing of this project makes it), then pushed to a
test registry with skopeo and pulled by the engine like any image."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.registry_fixtures import BUSYBOX, Layout

PYTHON = "/usr/bin/python3.11"
MODULES = "json, threading, subprocess, os, signal, selectors, ctypes"


def available() -> bool:
    return os.path.exists(PYTHON) and os.path.exists(BUSYBOX)


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        path = next((p for p in parts if p.startswith("/")), None)
        if path:
            libs.append(path)
    return libs


def python_tree(root: Path) -> None:
    for d in ("bin", "usr/bin", "etc", "tmp", "proc", "sys", "dev", "root"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(PYTHON, root / "usr/bin/python3.11")
    os.symlink("python3.11", root / "usr/bin/python3")
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    for applet in ("sh", "echo", "cat", "ls"):
        os.symlink("busybox", root / "bin" / applet)
    files = subprocess.run(
        [PYTHON, "-S", "-c", f"import sys, encodings, {MODULES}\n"
         "print('\\n'.join(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)})))"],
        capture_output=True, text=True, check=True).stdout.split()
    libs = set(_libraries(PYTHON))
    for f in files:
        if f.endswith(".so"):
            libs.update(_libraries(f))
    for f in files + sorted(libs):
        target = root / f.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(f), target)
    encodings = next(Path(f).parent for f in files if f.endswith("encodings/__init__.py"))
    for f in encodings.glob("*.py"):
        target = root / str(f).lstrip("/")
        if not target.exists():
            shutil.copy2(f, target)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")


def push_python_image(work: Path, registry, name: str = "test/python") -> str:
    """Build the image in an OCI layout, push it; returns the reference to pull."""
    layout = Layout(work / "py-layout")
    layout.new("py")
    bundle = work / "py-bundle"
    rootfs = layout.unpack("py", bundle)
    python_tree(rootfs)
    layout.repack("py", bundle)
    layout.config("py", "--config.entrypoint", "/usr/bin/python3", "--config.env", "PYTHONDONTWRITEBYTECODE=1")
    shutil.rmtree(bundle, ignore_errors=True)
    registry.push_oci(layout.path, "py", name)
    return f"{registry.host}/{name}"

