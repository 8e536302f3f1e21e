"""`info` and `version`: what this engine is and what it runs on, read from the host
(/proc, /etc/os-release, the cgroup mounts) and from BOCKER_ROOT. Nothing is started."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from .container import Containers
    from .images import ImageStore
    from .network.networks import Networks
    from .volumes import Volumes


@dataclass
class Version:
    version: str             # bocker's
    python: str
    oci_runtime_spec: str    # the runtime spec version the engine writes
    os: str
    arch: str
    kernel: str

    def lines(self) -> list[tuple[str, str]]:
        return [("Version", self.version), ("Python", self.python), ("OCI runtime spec", self.oci_runtime_spec),
                ("OS/Arch", f"{self.os}/{self.arch}"), ("Kernel", self.kernel)]


def version() -> Version:
    from .. import __version__
    from .spec import OCI_VERSION
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return Version(__version__, platform.python_version(), OCI_VERSION, sys.platform, arch, platform.release())


@dataclass
class Info:
    containers: int
    running: int
    paused: int
    stopped: int
    images: int
    volumes: int
    networks: list[str]
    server_version: str
    storage_driver: str
    backing_filesystem: str
    cgroup_driver: str
    cgroup_version: str
    kernel: str
    operating_system: str
    architecture: str
    cpus: int
    memory: int                      # bytes
    root_dir: str
    security_options: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    engine_config: list[tuple[str, str]] = field(default_factory=list)  # what config.py read, as lines


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return "unknown"
    return fields.get("PRETTY_NAME", fields.get("NAME", "unknown")).strip('"')


def _memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _filesystem(path: str) -> str:
    """The type of the filesystem `path` is on (from /proc/self/mountinfo: the longest mount
    point that holds it)."""
    path = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                point = left.split()[4].replace("\\040", " ")
                if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                    best, kind = point, right.split()[0]
    except OSError:
        pass
    return kind


def info(rooms: Containers, images: ImageStore, networks: Callable[[], Networks], volumes: Volumes,
         engine_config: list[tuple[str, str]] | None = None) -> Info:
    from .. import __version__
    from .container.status import Status
    containers = rooms.list()
    try:
        driver = rooms.cgroup_driver()
        cgroup_version = "2" if driver.name == "v2" else "1"
    except Exception:
        cgroup_version = "none"
    security = []
    if os.path.exists("/proc/sys/kernel/seccomp/actions_avail"):
        security.append("seccomp (profile: default)")
    if os.path.exists("/sys/kernel/security/apparmor"):
        security.append("apparmor (not applied by bocker)")
    warnings = []
    if cgroup_version == "1" and not os.path.isdir("/sys/fs/cgroup/freezer"):
        warnings.append("WARNING: no cgroup freezer: pause and commit of a running container can't work")
    names = []
    try:
        names = [n.name for n in networks().list()]
    except Exception:
        pass
    return Info(
        containers=len(containers), running=sum(c.status is Status.RUNNING for c in containers),
        paused=sum(c.status is Status.PAUSED for c in containers),
        stopped=sum(not c.running for c in containers), images=len(images.list()),
        volumes=len(volumes.list()), networks=["bridge", "host", "none", *[n for n in names if n != "bridge"]],
        server_version=__version__, storage_driver="overlay", backing_filesystem=_filesystem(str(rooms.store.root)),
        cgroup_driver="cgroupfs", cgroup_version=cgroup_version, kernel=platform.release(),
        operating_system=_os_name(), architecture=platform.machine(), cpus=os.cpu_count() or 0,
        memory=_memory(), root_dir=str(rooms.store.root), security_options=security, warnings=warnings,
        engine_config=engine_config)
