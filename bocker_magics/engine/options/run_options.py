"""`RunOptions` (what `docker run` takes, as data), `Target` (where the container lands), and
the fixed lists the conversion uses: masked and read-only paths, namespaced sysctls, ulimits."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ...errors import InvalidArgument
from ..limits import Limits

# What Docker and runc hide from a container: kernel memory, keys, timers, hardware.
MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"]
# ... and what it may read but never change: kernel tunables, interrupts, the magic SysRq key.
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# Where no volume may go: the kernel's own filesystems, which the spec mounts itself.
KERNEL_PATHS = ("/proc", "/sys", "/dev")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\Z")

# The spec fields the runtime executes are runtime/init.HONOURED: this module sets no others.


def check_destination(path: str, what: str) -> None:
    """A mount over /proc, /sys or /dev (or inside them) would replace the kernel's view the
    container depends on: `-v /etc:/sys` is refused, not made."""
    p = os.path.normpath(path)
    if p == "/" or any(p == k or p.startswith(k + "/") for k in KERNEL_PATHS):
        raise InvalidArgument(f"Invalid {what}: {p} is the kernel's (/proc, /sys, /dev); mount elsewhere")


@dataclass
class RunOptions:
    """What `docker run` takes, as data: the CLI and the magics build one, the engine turns it
    into a spec (to_spec) and runs that."""

    name: str | None = None
    hostname: str | None = None
    env: list[str] = field(default_factory=list)           # KEY=VALUE
    workdir: str | None = None
    volumes: list[str] = field(default_factory=list)       # HOST:CTR[:ro]
    limits: Limits | None = None                           # None: the engine's defaults
    detach: bool = False
    remove: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool = False
    network: str | None = None                             # bridge | none | host | NAME | container:ID
    publish: list[str] = field(default_factory=list)       # [IP:]HOST:CTR[/tcp]
    publish_all: bool = False                              # -P: the image's exposed ports, on free ports
    dns: list[str] = field(default_factory=list)
    # who and how (issue 11's isolation)
    user: str | None = None                                # NAME|UID[:GROUP|GID], in the image's own files
    group_add: list[str] = field(default_factory=list)
    read_only: bool = False
    tmpfs: list[str] = field(default_factory=list)         # /path[:size=...,mode=...]
    mounts: list[str] = field(default_factory=list)        # --mount type=bind|volume|tmpfs,source=,target=,readonly
    ulimits: list[str] = field(default_factory=list)       # name=soft[:hard]
    oom_score_adj: int | None = None
    sysctls: list[str] = field(default_factory=list)       # key=value, namespaced keys only
    devices: list[str] = field(default_factory=list)       # HOST[:CONTAINER][:rwm]
    security_opt: list[str] = field(default_factory=list)  # seccomp=unconfined|FILE, no-new-privileges
    userns: str | None = None                              # host (default) | remap (kernel/userns.py)
    # the process and its lifecycle (issue 14)
    interactive: bool = False                              # -i: stdin stays open
    tty: bool = False                                      # -t: a pty
    console_size: tuple[int, int] | None = None            # -t: (rows, cols) of the terminal it starts in
    entrypoint: str | None = None
    labels: list[str] = field(default_factory=list)        # KEY=VALUE
    pid: str | None = None                                 # host | container:ID
    ipc: str | None = None
    uts: str | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    init: bool = False                                     # tini as pid 1: reaps zombies, forwards signals
    restart: str | None = None                             # no | on-failure[:N] | always | unless-stopped
    # applications of several containers (issue 23)
    network_aliases: list[str] = field(default_factory=list)  # --network-alias: more names on a user network
    ip: str | None = None                                  # --ip: a static address on the (first) network
    # further networks, attached as eth1, eth2...: {"name": NET, "aliases": [...], "ip": ""}
    more_networks: list[dict] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict)   # --health-*: test, interval, timeout, retries,
                                                           # start_period (seconds) over the image's HEALTHCHECK
    no_healthcheck: bool = False                           # --no-healthcheck: none, whatever the image says

    @classmethod
    def of(cls, **kwargs) -> RunOptions:
        """From keyword arguments (Engine.run's convenience form); an unknown one is a mistake."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown run option(s): {', '.join(unknown)}")
        return cls(**{k: ([] if v is None and isinstance(getattr(cls(), k), list) else v)
                      for k, v in kwargs.items()})


@dataclass
class Target:
    """Where the container lands: what the spec needs besides the image and the options."""

    id: str
    bundle: Path
    cgroups_path: str
    network_mode: str = "none"      # bridge | none | host | container
    etc_files: dict[str, str] = field(default_factory=dict)  # /etc/NAME -> file in the bundle
    layer_dirs: list[Path] = field(default_factory=list)     # the image's layers, top first (its /etc/passwd)
    volume_path: object = None       # name -> the named volume's directory (made on first use)
    joins: dict[str, str] = field(default_factory=dict)      # namespace kind -> a path to join


SECCOMP_UNCONFINED = "unconfined"
TINI = "/usr/bin/tini-static"
INIT_PATH = "/sbin/docker-init"  # where Docker puts its init in the container, and so do we
# Namespaced sysctls a container may set (Docker's list): the rest would change the host.
NAMESPACED_SYSCTLS = ("kernel.shm", "kernel.msg", "fs.mqueue.", "net.")
NAMESPACED_SYSCTL_KEYS = ("kernel.sem", "kernel.domainname", "kernel.hostname")
ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
           "rss", "rtprio", "rttime", "sigpending", "stack", "as")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
