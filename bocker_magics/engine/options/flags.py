"""Docker's flags, one value at a time: --restart, --ulimit, --sysctl, -v, --mount, --tmpfs,
-e, --hostname, the command and its argument sizes. Each a clear one-line InvalidArgument."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ...errors import InvalidArgument
from .run_options import _HOSTNAME, NAMESPACED_SYSCTL_KEYS, NAMESPACED_SYSCTLS, RESTART_POLICIES, ULIMITS



def parse_restart(text: str | None):
    """--restart no|on-failure[:N]|always|unless-stopped -> (name, max retries)."""
    if not text:
        return "no", 0
    name, _, count = text.partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise InvalidArgument(f"Invalid --restart '{text}': use no, on-failure[:N], always or unless-stopped")
    return name, int(count or 0)


def parse_ulimit(text: str):
    from ..spec import Rlimit
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
    from ..volumes import is_volume_name
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
