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
from typing import Any

from ..errors import BockerError, InvalidArgument, NotFound
from .kernel import capabilities
from .limits import Limits
from .spec import (
    Box,
    Capabilities,
    IDMapping,
    Linux,
    Mount,
    Namespace,
    Process,
    Resources,
    Root,
    Seccomp,
    Spec,
    User,
    read_object,
)

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


def parse_restart(text: str | None):
    """--restart no|on-failure[:N]|always|unless-stopped -> (name, max retries)."""
    if not text:
        return "no", 0
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidArgument(f"Invalid --restart '{text}': use no, on-failure[:N], always or unless-stopped")
    return name, int(count or 0)


def parse_ulimit(text: str):
    from .spec import Rlimit
    name, sep, values = text.partition("=")
    soft, _, hard = values.partition(":")
    try:
        if not sep or name not in ULIMITS:
            raise ValueError
        soft_n = -1 if soft in ("-1", "unlimited") else int(soft)
        hard_n = soft_n if not hard else (-1 if hard in ("-1", "unlimited") else int(hard))
        soft_n, hard_n = (2**64 - 1 if v < 0 else v for v in (soft_n, hard_n))
        if soft_n > hard_n:
            raise ValueError
    except ValueError:
        raise InvalidArgument(f"Invalid --ulimit '{text}': use NAME=SOFT[:HARD] with NAME one of "
                              f"{', '.join(ULIMITS)} and SOFT <= HARD (e.g. nofile=1024:2048)") from None
    return Rlimit(type=f"RLIMIT_{'AS' if name == 'as' else name.upper()}", soft=soft_n, hard=hard_n)


def check_sysctl(text: str, network_mode: str, ipc_host: bool) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or "\0" in text or "/" in key or ".." in key:
        raise InvalidArgument(f"Invalid --sysctl '{text}': use KEY=VALUE, e.g. net.ipv4.ip_forward=1")
    namespaced = key in NAMESPACED_SYSCTL_KEYS or key.startswith(NAMESPACED_SYSCTLS)
    if not namespaced:
        raise InvalidArgument(f"--sysctl {key} is not namespaced: it would change the host for every "
                              "container (allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)")
    if key.startswith("net.") and network_mode == "host":
        raise InvalidArgument(f"--sysctl {key} with --network host would change the host's network: refused")
    if not key.startswith("net.") and ipc_host and key != "kernel.domainname":
        raise InvalidArgument(f"--sysctl {key} with --ipc host would change the host's IPC limits: refused")
    return key, value


@dataclass
class MountRequest:
    """A -v, --mount or --tmpfs: what to mount where."""

    kind: str                 # bind | volume | tmpfs
    source: str               # host path or volume name ("" for tmpfs)
    target: str
    readonly: bool = False
    options: list[str] = field(default_factory=list)   # tmpfs options: size=, mode=


def parse_volume(text: str) -> MountRequest:
    """-v HOST:CTR[:ro|rw] (a bind mount), -v NAME:CTR[:ro|rw] (a named volume) or -v CTR
    (an anonymous volume: source "", the engine makes one for the container at create)."""
    from .volumes import is_volume_name
    parts = text.split(":")
    if len(parts) == 1 and text.startswith("/") and "\0" not in text and "," not in text:
        return MountRequest("volume", "", text)
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        source, target, mode = parts
    elif len(parts) == 2:
        (source, target), mode = parts, "rw"
    else:
        raise InvalidArgument(f"Invalid volume '{text}': use -v HOSTDIR:CTRDIR[:ro] or -v NAME:CTRDIR[:ro]")
    if "\0" in text or "," in text or not target.startswith("/"):
        raise InvalidArgument(f"Invalid volume '{text}': the container path must be absolute")
    if source.startswith("/"):
        return MountRequest("bind", source, target, mode == "ro")
    if not is_volume_name(source):
        raise InvalidArgument(f"Invalid volume '{text}': the host path must be absolute, or a volume's name")
    return MountRequest("volume", source, target, mode == "ro")


def parse_mount(text: str) -> MountRequest:
    """--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…][,tmpfs-mode=…]
    (a volume without source=: an anonymous one)"""
    fields_: dict[str, str] = {}
    flags = set()
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            flags.add(key)
            continue
        fields_[key] = value
    kind = fields_.pop("type", "volume")
    source = fields_.pop("source", fields_.pop("src", ""))
    target = fields_.pop("target", fields_.pop("destination", fields_.pop("dst", "")))
    readonly = "readonly" in flags or "ro" in flags or fields_.pop("readonly", "false") in ("true", "1") or \
        fields_.pop("ro", "false") in ("true", "1")
    options = []
    if "tmpfs-size" in fields_:
        options.append(f"size={fields_.pop('tmpfs-size')}")
    if "tmpfs-mode" in fields_:
        options.append(f"mode={fields_.pop('tmpfs-mode')}")
    fields_.pop("bind-propagation", None)
    unknown = sorted(set(fields_) | (flags - {"readonly", "ro"}))
    if kind not in ("bind", "volume", "tmpfs") or not target.startswith("/") or unknown or \
            (kind == "bind" and not source.startswith("/")) or (kind == "tmpfs" and source):
        raise InvalidArgument(f"Invalid --mount '{text}': use type=bind|volume|tmpfs,source=…,target=/path"
                              "[,readonly]" + (f" ({', '.join(unknown)} unknown)" if unknown else ""))
    # a volume without a source is an anonymous one, made for the container at create
    return MountRequest(kind, source, target, readonly, options)


def parse_tmpfs(text: str) -> MountRequest:
    target, _, opts = text.partition(":")
    if not target.startswith("/") or "\0" in text:
        raise InvalidArgument(f"Invalid --tmpfs '{text}': use /path[:size=64m,mode=1777]")
    options = [o for o in opts.split(",") if o]
    for o in options:
        if o.split("=")[0] not in ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "ro", "rw",
                                   "exec", "noexec", "suid", "nosuid", "dev", "nodev"):
            raise InvalidArgument(f"Invalid --tmpfs option '{o}' in '{text}': use size=, mode=, uid=, gid=")
    return MountRequest("tmpfs", "", target, "ro" in options, [o for o in options if o != "ro"])


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
    """(argv, the command as text). A string has the seed's semantics: run by /bin/sh -c (the
    CLI passes one word of `run` so, and several words quoted as they are); a list is the
    program and its arguments (Docker's exec form); no command runs the image's Entrypoint and
    Cmd, as Docker does."""
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
    check_arguments(argv)
    return argv, text


# The kernel's limits on what execve takes: one argument (MAX_ARG_STRLEN, 32 pages) and all of
# them with the environment (ARG_MAX, a quarter of the stack limit, 2 MiB at least).
MAX_ARG = 32 * 4096


def check_arguments(argv: list[str], env: list[str] = ()) -> None:
    longest = max((len(a.encode()) for a in argv), default=0)
    total = sum(len(a.encode()) + 1 for a in [*argv, *env])
    limit = os.sysconf("SC_ARG_MAX")
    if longest >= MAX_ARG or total >= limit:
        size = longest if longest >= MAX_ARG else total
        raise InvalidArgument(f"The command is too long for the kernel ({size} bytes; one argument may be "
                              f"{MAX_ARG - 1}, all of them {limit}): put it in a file and run that, e.g. "
                              "-v $PWD/script.sh:/script.sh ... sh /script.sh")


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
    options, in named steps as runc's specconv converts (process, mounts, namespaces,
    resources, seccomp). Every check of the options happens here, before anything exists."""
    config = image.config or {}
    check_hostname_option(options)
    limits = default_limits if options.limits is None else options.limits
    limits.validate()
    argv = _argv(config, command, options)
    requests = mount_requests(options)
    caps = capabilities.resolve(options.cap_add, options.cap_drop, options.privileged)
    who = _user(config, options, target)
    rlimits = _rlimits(options)
    seccomp = _seccomp(options, caps)
    uid_maps, gid_maps = _id_mappings(options)
    mounts = _mounts(options, target, requests, uid_maps, gid_maps)
    if options.init:
        mounts.append(_init_mount())
        argv = [INIT_PATH, "--", *argv]
    namespaces = _namespaces(options, target, bool(uid_maps))
    sysctl = dict(check_sysctl(x, target.network_mode, options.ipc == "host") for x in options.sysctls)
    resources, device_nodes = _resources(options, limits)
    # a UTS namespace of its own only: a joined one (or the host's) keeps its hostname
    hostname = None if options.uts else (options.hostname or target.id)
    return Spec(
        process=_process(config, options, argv, who, caps, rlimits, hostname),
        root=Root(path=str(target.bundle / "merged"), readonly=options.read_only),
        hostname=hostname,
        mounts=mounts,
        annotations={"org.opencontainers.image.ref.name": (image.names or [image.id])[0],
                     "io.bocker.image.id": image.id},
        linux=Linux(
            namespaces=namespaces,
            uid_mappings=uid_maps,
            gid_mappings=gid_maps,
            resources=resources,
            cgroups_path=target.cgroups_path,
            devices=device_nodes,
            sysctl=sysctl,
            seccomp=seccomp,
            masked_paths=[] if options.privileged else list(MASKED_PATHS),
            readonly_paths=[] if options.privileged else list(READONLY_PATHS),
        ),
    )


# -- the process ----------------------------------------------------------------------------------

def check_hostname_option(options: RunOptions) -> None:
    if options.hostname is not None:
        check_hostname(options.hostname)
        if options.uts:
            raise InvalidArgument(f"Conflicting options: --hostname and --uts {options.uts} (the hostname is "
                                  "that namespace's)")


def _argv(config: dict, command, options: RunOptions) -> list[str]:
    if options.entrypoint is None:
        return command_argv(config, command)[0]
    # --entrypoint: that program, and the words as its arguments (no shell)
    words = [command] if isinstance(command, str) else list(command or [])
    argv = [options.entrypoint, *words] if options.entrypoint else words
    if not argv:
        raise InvalidArgument("--entrypoint '' needs a command to run instead")
    return argv


def _user(config: dict, options: RunOptions, target: Target):
    """Who runs it: the image's own passwd and group files, never the host's NSS."""
    from .users import ExecUser, image_file, resolve
    user_text = options.user if options.user is not None else (config.get("User") or "")
    if user_text or options.group_add:
        passwd = image_file(target.layer_dirs, "etc/passwd")
        group = image_file(target.layer_dirs, "etc/group")
        return resolve(user_text or "0", passwd, group, options.group_add)
    passwd = image_file(target.layer_dirs, "etc/passwd") if target.layer_dirs else None
    return resolve("0", passwd, None) if passwd else ExecUser(0, 0, [], "/root")


def _environment(config: dict, options: RunOptions, home: str, hostname: str | None = None) -> list[str]:
    environment = parse_env([e for e in config.get("Env", []) if "=" in e])
    environment.update(parse_env(options.env))
    environment.setdefault("PATH", DEFAULT_PATH)
    if hostname:  # as Docker's daemon sets it (the image's or -e's value wins)
        environment.setdefault("HOSTNAME", hostname)
    if options.tty:
        environment.setdefault("TERM", "xterm")
    environment.setdefault("HOME", home or "/")
    return [f"{k}={v}" for k, v in environment.items()]


def _workdir(config: dict, options: RunOptions) -> str:
    workdir = options.workdir
    if workdir is not None and (not workdir.startswith("/") or "\0" in workdir):
        raise InvalidArgument(f"Invalid working directory '{workdir}': it must be an absolute path")
    return workdir or config.get("WorkingDir") or "/"


def _rlimits(options: RunOptions) -> list:
    rlimits = []
    seen = set()
    for u in options.ulimits:
        r = parse_ulimit(u)
        if r.type in seen:
            raise InvalidArgument(f"--ulimit {u.split('=')[0]} is given twice: give it once")
        seen.add(r.type)
        rlimits.append(r)
    if options.oom_score_adj is not None and not -1000 <= options.oom_score_adj <= 1000:
        raise InvalidArgument(f"Invalid --oom-score-adj {options.oom_score_adj}: from -1000 to 1000")
    return rlimits


def _process(config: dict, options: RunOptions, argv: list[str], who, caps, rlimits: list,
             hostname: str | None = None) -> Process:
    env = _environment(config, options, who.home, hostname)
    cwd = _workdir(config, options)
    oci_caps = capabilities.oci_names(caps)
    if who.uid == 0:
        process_caps = Capabilities(bounding=list(oci_caps), effective=list(oci_caps), permitted=list(oci_caps))
    else:
        # Docker's rule for a non-root user: the bounding set only, nothing effective
        process_caps = Capabilities(bounding=list(oci_caps))
    return Process(
        terminal=options.tty,
        console_size=Box(height=options.console_size[0], width=options.console_size[1])
        if options.tty and options.console_size else None,
        user=User(uid=who.uid, gid=who.gid, additional_gids=list(who.additional_gids)),
        args=argv,
        env=env,
        cwd=cwd,
        capabilities=process_caps,
        rlimits=rlimits,
        no_new_privileges=True,
        oom_score_adj=options.oom_score_adj,
    )


# -- seccomp (--security-opt) ---------------------------------------------------------------------

def _seccomp(options: RunOptions, caps) -> Seccomp | None:
    """The filter: Docker's default profile, a profile of the user's, or none; no_new_privs
    is always on."""
    choice: str | None = None
    for opt in options.security_opt:
        key, sep, value = opt.partition("=")
        if key == "seccomp" and sep and value:
            choice = value
        elif key == "no-new-privileges" and value in ("", "true", "1"):
            pass  # always on here
        elif key == "no-new-privileges" and value in ("false", "0"):
            raise InvalidArgument("--security-opt no-new-privileges=false is not supported: bocker always "
                                  "sets no_new_privs (setuid programs can't gain privileges in a container)")
        else:
            raise InvalidArgument(f"Invalid --security-opt '{opt}': use seccomp=unconfined, "
                                  "seccomp=PROFILE.json or no-new-privileges")
    if options.privileged or choice == SECCOMP_UNCONFINED:
        return None
    if choice:
        from .kernel.seccomp import load_profile_file
        profile = load_profile_file(choice, caps)
    else:
        from .kernel.seccomp_default import default_profile
        profile = default_profile(caps)
    return read_object(Seccomp, profile, "the seccomp profile")


# -- mounts ---------------------------------------------------------------------------------------

def mount_requests(options: RunOptions) -> list[MountRequest]:
    """-v, --mount and --tmpfs, checked: never over the kernel's filesystems, a bind's source there."""
    requests = ([parse_volume(v) for v in options.volumes] + [parse_mount(m) for m in options.mounts]
                + [parse_tmpfs(t) for t in options.tmpfs])
    for r in requests:
        check_destination(r.target, f"mount on {r.target}")
        if r.kind == "bind" and not os.path.exists(r.source):
            raise NotFound(f"No directory named '{r.source}' exists (mount on {r.target})")
    return requests


def _mounts(options: RunOptions, target: Target, requests: list[MountRequest], uid_maps: list[IDMapping],
            gid_maps: list[IDMapping]) -> list[Mount]:
    def owned(mount: Mount) -> Mount:
        if uid_maps:
            mount.uid_mappings, mount.gid_mappings = list(uid_maps), list(gid_maps)
        return mount

    mounts = default_mounts(options.privileged)
    for name, source in sorted(target.etc_files.items()):
        # in the container's directory, beside its upper directory: with --userns=remap the
        # runtime shows both through one idmapped mount already
        mounts.append(Mount(destination=f"/etc/{name}", type="bind", source=source, options=["rbind", "rprivate"]))
    for r in requests:
        if r.kind == "tmpfs":
            mounts.append(Mount(destination=os.path.normpath(r.target), type="tmpfs", source="tmpfs",
                                options=["nosuid", "nodev", "noexec", *r.options] + (["ro"] if r.readonly else [])))
            continue
        source = os.path.realpath(r.source) if r.kind == "bind" else target.volume_path(r.source)
        mount = Mount(destination=os.path.normpath(r.target), type="bind", source=source,
                      options=["rbind", "rprivate"] + (["ro"] if r.readonly else []))
        # a host directory stays the host's (Docker's rule); a named volume is the container's
        mounts.append(mount if r.kind == "bind" else owned(mount))
    return mounts


def _init_mount() -> Mount:
    if not os.path.exists(TINI):
        raise InvalidArgument("--init needs tini: apt-get install tini (its static build, /usr/bin/tini-static)")
    return Mount(destination=INIT_PATH, type="bind", source=TINI, options=["bind", "ro"])


# -- namespaces -----------------------------------------------------------------------------------

def _id_mappings(options: RunOptions) -> tuple[list[IDMapping], list[IDMapping]]:
    """--userns=remap: the container's ids 0..65535 are an unprivileged range of the host's;
    the files the engine made for it (etc files, named volumes) shown as its own through
    idmapped mounts, as its image is (kernel/userns.py)."""
    if options.userns == "remap":
        if options.privileged:
            raise InvalidArgument("--privileged and --userns=remap conflict: a privileged container is the "
                                  "host's root; drop one of them")
        from .kernel.userns import remap_range
        uid_base, uid_count, gid_base, gid_count = remap_range()
        return ([IDMapping(container_id=0, host_id=uid_base, size=uid_count)],
                [IDMapping(container_id=0, host_id=gid_base, size=gid_count)])
    if options.userns not in (None, "", "host"):
        raise InvalidArgument(f"Invalid --userns '{options.userns}': use host or remap")
    return [], []


def _namespaces(options: RunOptions, target: Target, userns: bool) -> list[Namespace]:
    namespaces = []
    for kind, choice in (("pid", options.pid), ("ipc", options.ipc), ("uts", options.uts)):
        if choice in (None, ""):
            namespaces.append(Namespace(type=kind))
        elif choice == "host":
            continue
        elif choice.startswith("container:") and kind in target.joins:
            namespaces.append(Namespace(type=kind, path=target.joins[kind]))
        else:
            raise InvalidArgument(f"Invalid --{kind} '{choice}': use host or container:NAME")
    namespaces.append(Namespace(type="mount"))
    if userns:
        namespaces.append(Namespace(type="user"))
    if target.network_mode == "container":
        namespaces.append(Namespace(type="network", path=target.joins["network"]))
    elif target.network_mode != "host":
        namespaces.append(Namespace(type="network"))
    return namespaces


# -- resources ------------------------------------------------------------------------------------

_SWAP_ACCOUNTING: list[bool] = []  # this host's answer, asked once


def swap_accounting() -> bool:
    """Whether the kernel limits memory+swap here (Docker asks the same before it sets swap)."""
    if not _SWAP_ACCOUNTING:
        from .kernel.cgroups import detect
        try:
            _SWAP_ACCOUNTING.append(detect().swap_accounting())
        except BockerError:
            _SWAP_ACCOUNTING.append(False)  # no usable cgroups: starting will say so
    return _SWAP_ACCOUNTING[0]


def _resources(options: RunOptions, limits: Limits) -> tuple[Resources, list]:
    """linux.resources (Docker's rules: Limits.to_resources) and its devices: the default
    nodes and --device's; --privileged: every one allowed. Returns (resources, the device
    nodes for linux.devices)."""
    from .kernel.devices import DeviceRule, default_rules, parse_device, rules_to_oci
    from .spec import Device
    device_rules = [DeviceRule(True)] if options.privileged else default_rules()
    device_nodes = []
    for d in options.devices:
        node, rule = parse_device(d)
        device_nodes.append(read_object(Device, node.to_oci(), "a device"))
        device_rules.append(rule)
    resources = limits.to_resources(swap_accounting=bool(limits.memory) and swap_accounting())
    resources.devices = [_device_rule(r) for r in rules_to_oci(device_rules)]
    return resources, device_nodes


def _device_rule(oci: dict):
    from .spec import DeviceRule
    return read_object(DeviceRule, oci, "a device rule")
