"""RunOptions -> the spec, in named steps: the process, seccomp, mounts, namespaces, resources
(as runc's libcontainer/specconv). to_spec is the one entry."""

from __future__ import annotations

import os

from ...errors import BockerError, InvalidArgument, NotFound
from ..kernel import capabilities
from ..limits import Limits
from ..spec import (
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
from .flags import (
    MountRequest,
    check_hostname,
    check_sysctl,
    command_argv,
    parse_env,
    parse_mount,
    parse_tmpfs,
    parse_ulimit,
    parse_volume,
)
from .run_options import (
    DEFAULT_PATH,
    INIT_PATH,
    MASKED_PATHS,
    READONLY_PATHS,
    SECCOMP_UNCONFINED,
    TINI,
    RunOptions,
    Target,
    check_destination,
)



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
    from ..users import ExecUser, image_file, resolve
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
        from ..kernel.seccomp import load_profile_file
        profile = load_profile_file(choice, caps)
    else:
        from ..kernel.seccomp_default import default_profile
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
        from ..kernel.userns import remap_range
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
        from ..kernel.cgroups import detect
        try:
            _SWAP_ACCOUNTING.append(detect().swap_accounting())
        except BockerError:
            _SWAP_ACCOUNTING.append(False)  # no usable cgroups: starting will say so
    return _SWAP_ACCOUNTING[0]


def _resources(options: RunOptions, limits: Limits) -> tuple[Resources, list]:
    """linux.resources (Docker's rules: Limits.to_resources) and its devices: the default
    nodes and --device's; --privileged: every one allowed. Returns (resources, the device
    nodes for linux.devices)."""
    from ..kernel.devices import DeviceRule, default_rules, parse_device, rules_to_oci
    from ..spec import Device
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
    from ..spec import DeviceRule
    return read_object(DeviceRule, oci, "a device rule")
