"""Docker-style run options -> the OCI runtime spec, in one place (as runc's specconv and
moby's daemon/oci_linux.go do). Below this module nothing knows Docker's flags: the
monitor and pid 1 execute only the spec.

    options = RunOptions(memory=64 << 20, env=["A=1"], volumes=["/srv:/data:ro"])
    spec = to_spec(image, command, options, Target(id, bundle, cgroups_path, network_mode))
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import InvalidArgument, NotFound
from .kernel import capabilities
from .kernel.cgroups import Limits
from .spec import (CPU, Capabilities, Linux, Memory, Mount, Namespace, Pids, Process, Resources, Root, Seccomp,
                   Spec, User, read_object)

# What Docker and runc hide from a container: kernel memory, keys, timers, hardware.
MASKED_PATHS = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"]
# ... and what it may read but never change: kernel tunables, interrupts, the magic SysRq key.
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# Where no volume may go: the kernel's own filesystems, which the spec mounts itself.
KERNEL_PATHS = ("/proc", "/sys", "/dev")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")

# Fields of the spec the engine honours; bocker-runc refuses a config.json that sets another
# (Spec.check_honoured), and this module never sets one that is not here.
HONOURED = (
    "ociVersion", "process.terminal", "process.consoleSize", "process.user", "process.args", "process.env",
    "process.cwd", "process.capabilities", "process.rlimits", "process.noNewPrivileges",
    "process.oomScoreAdj", "root", "hostname", "domainname", "mounts", "hooks", "annotations",
    "linux.namespaces", "linux.sysctl", "linux.resources.devices", "linux.resources.memory.limit",
    "linux.resources.memory.swap", "linux.resources.cpu.shares", "linux.resources.cpu.quota",
    "linux.resources.cpu.period", "linux.resources.pids.limit", "linux.cgroupsPath", "linux.devices",
    "linux.seccomp", "linux.rootfsPropagation", "linux.maskedPaths", "linux.readonlyPaths",
)


@dataclass
class Volume:
    """-v HOST:CTR[:ro]: a bind mount of a host path."""

    source: str
    destination: str
    readonly: bool = False

    @classmethod
    def parse(cls, text: str) -> "Volume":
        parts = text.split(":")
        if len(parts) == 3 and parts[2] in ("ro", "rw"):
            host, ctr, mode = parts
        elif len(parts) == 2:
            (host, ctr), mode = parts, "rw"
        else:
            raise InvalidArgument(f"Invalid volume '{text}': use -v HOSTDIR:CTRDIR[:ro]")
        if not host.startswith("/") or not ctr.startswith("/") or "\0" in text or "," in text:
            raise InvalidArgument(f"Invalid volume '{text}': both paths must be absolute")
        check_destination(ctr, f"volume '{text}'")
        if not os.path.exists(host):
            raise NotFound(f"No directory named '{host}' exists (volume '{text}')")
        return cls(os.path.realpath(host), os.path.normpath(ctr), mode == "ro")


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
    network: str | None = None                             # bridge | none | host | NAME
    publish: list[str] = field(default_factory=list)       # [IP:]HOST:CTR[/tcp]
    dns: list[str] = field(default_factory=list)
    user: str | None = None                                # NAME|UID[:GROUP|GID], the image's own names

    @classmethod
    def of(cls, **kwargs) -> "RunOptions":
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
    network_mode: str = "none"      # bridge | none | host
    etc_files: dict[str, str] = field(default_factory=dict)  # /etc/NAME -> file in the bundle
    layers: list[Path] = field(default_factory=list)  # the image's layer dirs, bottom first (user names)


def parse_env(items: list[str] | dict[str, str] | None) -> dict[str, str]:
    """-e KEY=VALUE items (or a dict) checked: a key, no NUL."""
    pairs = items.items() if isinstance(items, dict) else (
        tuple(e.split("=", 1)) if "=" in e else (e, None) for e in items or [])
    out = {}
    for key, value in pairs:
        if not key or value is None or "\0" in key + value:
            raise InvalidArgument(f"Invalid environment variable '{key}': use -e KEY=VALUE")
        out[key] = value
    return out


def check_hostname(hostname: str) -> str:
    if len(hostname) > 64 or not _HOSTNAME.match(hostname):
        raise InvalidArgument(f"Invalid hostname '{hostname}': ASCII letters, digits, '-' and '.', "
                              "at most 64 (e.g. web-1)")
    return hostname


def command_argv(image_config: dict, command: str | list[str] | None) -> tuple[list[str], str]:
    """(argv, the command as text): a string is run by /bin/sh -c (the seed's semantics; the
    CLI joins the words of `run` into one), a list is that exact argv (a build's RUN in exec
    form); no command runs the image's Entrypoint and Cmd, as Docker does."""
    if command is None or command == [] or command == "":
        argv = list(image_config.get("Entrypoint") or []) + list(image_config.get("Cmd") or [])
        argv = argv or ["sh"]
        return argv, " ".join(argv)
    if isinstance(command, str):
        argv, text = ["/bin/sh", "-c", command], command
    else:
        argv, text = [str(a) for a in command], " ".join(command)
    if any("\0" in a for a in argv):
        raise InvalidArgument("Invalid command: it holds a NUL byte")
    return argv, text


def default_mounts(privileged: bool) -> list[Mount]:
    """The kernel filesystems every container gets (the runtime spec's defaults, Docker's
    options)."""
    def m(dest: str, kind: str, source: str, *options: str) -> Mount:
        return Mount(destination=dest, type=kind, source=source, options=list(options))
    return [
        m("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        m("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        m("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        m("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
        m("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        m("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", *([] if privileged else ["ro"])),
        m("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
    ]


def to_spec(image, command: str | list[str] | None, options: RunOptions, target: Target,
            default_limits: Limits) -> Spec:
    """The container's spec: everything it runs with, from the image's config and the
    options. Every check of the options happens here, before anything exists."""
    config = image.config or {}
    if options.hostname is not None:
        check_hostname(options.hostname)
    limits = default_limits if options.limits is None else options.limits
    limits.validate()
    argv, _ = command_argv(config, command)
    environment = parse_env([e for e in config.get("Env", []) if "=" in e])
    environment.update(parse_env(options.env))
    environment.setdefault("PATH", DEFAULT_PATH)
    user = User(uid=0, gid=0)
    if options.user:
        ids = image_user(options.user, target.layers)
        user = User(uid=ids.uid, gid=ids.gid, additional_gids=list(ids.groups))  # the primary too, as runc
        environment.setdefault("HOME", ids.home or "/")
    environment.setdefault("HOME", "/root")
    workdir = options.workdir
    if workdir is not None and (not workdir.startswith("/") or "\0" in workdir):
        raise InvalidArgument(f"Invalid working directory '{workdir}': it must be an absolute path")
    volumes = [Volume.parse(v) for v in options.volumes]
    caps = capabilities.resolve(options.cap_add, options.cap_drop, options.privileged)
    oci_caps = capabilities.oci_names(caps)

    mounts = default_mounts(options.privileged)
    for name, source in sorted(target.etc_files.items()):
        mounts.append(Mount(destination=f"/etc/{name}", type="bind", source=source, options=["rbind", "rprivate"]))
    for v in volumes:
        mounts.append(Mount(destination=v.destination, type="bind", source=v.source,
                            options=["rbind", "rprivate"] + (["ro"] if v.readonly else [])))

    namespaces = [Namespace(type=t) for t in ("pid", "mount", "uts", "ipc")]
    if target.network_mode != "host":
        namespaces.append(Namespace(type="network"))

    from .kernel.devices import DeviceRule, default_rules, rules_to_oci
    device_rules = [DeviceRule(True)] if options.privileged else default_rules()
    resources = Resources(
        devices=[_device_rule(r) for r in rules_to_oci(device_rules)],
        memory=Memory(limit=limits.memory, swap=limits.memory) if limits.memory else Memory(),
        cpu=CPU(shares=limits.cpu_shares, quota=limits.cpu_quota_us(),
                period=limits.cpu_period if limits.cpus is not None else None),
        pids=Pids(limit=limits.pids) if limits.pids else Pids(),
    )
    seccomp = None
    if not options.privileged:
        from .kernel.seccomp_default import default_profile
        seccomp = read_object(Seccomp, default_profile(caps), "the default seccomp profile")

    return Spec(
        process=Process(
            user=user,
            args=argv,
            env=[f"{k}={v}" for k, v in environment.items()],
            cwd=workdir or config.get("WorkingDir") or "/",
            capabilities=Capabilities(bounding=list(oci_caps), effective=list(oci_caps),
                                      permitted=list(oci_caps)),
            no_new_privileges=True,
        ),
        root=Root(path=str(target.bundle / "merged")),
        hostname=options.hostname or target.id,
        mounts=mounts,
        annotations={"org.opencontainers.image.ref.name": (image.names or [image.id])[0],
                     "io.bocker.image.id": image.id},
        linux=Linux(
            namespaces=namespaces,
            resources=resources,
            cgroups_path=target.cgroups_path,
            seccomp=seccomp,
            masked_paths=[] if options.privileged else list(MASKED_PATHS),
            readonly_paths=[] if options.privileged else list(READONLY_PATHS),
        ),
    )


def image_user(spec: str, layers: list[Path]):
    """-u / USER: the ids from the image's own /etc/passwd and /etc/group (its layers), never
    the host's."""
    from .layerview import LayerView
    from .users import resolve_user
    return resolve_user(spec, LayerView(list(reversed(layers))))


def _device_rule(oci: dict):
    from .spec import DeviceRule
    return read_object(DeviceRule, oci, "a device rule")
