"""The verbs that start a process: run and create (their options, Docker's spellings, and how
they become the engine's RunOptions), start, attach, restart and exec; what a face
connects to them (its stdin, its terminal, the detach keys).
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from .base import Context, each, memory_size, usage_error, whole_number

if TYPE_CHECKING:
    from ..engine import Engine


def _create_args(p: argparse.ArgumentParser) -> None:
    """The options of run and create (Docker's spellings)."""
    p.add_argument("--rm", action="store_true", help="remove the container (and its anonymous volumes) when it "
                   "exits, detached too")
    p.add_argument("--network-alias", action="append", default=[], metavar="NAME",
                   help="another name the container answers to on a user network")
    p.add_argument("--health-cmd", metavar="CMD", help="the healthcheck, run by /bin/sh -c in the container")
    p.add_argument("--health-interval", metavar="DURATION", help="between two checks (30s, 1m30s; default 30s)")
    p.add_argument("--health-timeout", metavar="DURATION", help="a check running longer fails (default 30s)")
    p.add_argument("--health-retries", metavar="N", help="failures in a row that make it unhealthy (default 3)")
    p.add_argument("--health-start-period", metavar="DURATION",
                   help="failures in this time after the start don't count (default 0s)")
    p.add_argument("--no-healthcheck", action="store_true", help="no healthcheck, whatever the image says")
    p.add_argument("--name", help="a name to refer to the container by")
    p.add_argument("--hostname", "-h", help="its hostname (default: its id)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VAL]",
                   help="an environment variable (KEY alone: its value here)")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE", help="KEY=VAL lines")
    p.add_argument("-w", "--workdir", metavar="DIR", help="working directory in the container (made if missing)")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="[HOST|NAME:]CTR[:ro]",
                   help="a bind mount, a named volume (made on first use), or CTR alone: an "
                        "anonymous volume")
    p.add_argument("--mount", action="append", default=[], metavar="type=bind|volume|tmpfs,source=…,target=…",
                   help="a mount, Docker's long form")
    p.add_argument("--tmpfs", action="append", default=[], metavar="/PATH[:size=…]", help="a tmpfs")
    p.add_argument("-m", "--memory", metavar="SIZE", help="memory limit, e.g. 256m (0: none; default 512 MB)")
    p.add_argument("--cpu-shares", "-c", metavar="N", help="relative CPU weight (default 512)")
    p.add_argument("--cpus", metavar="N", help="CPU quota in CPUs, e.g. 0.5")
    p.add_argument("--pids-limit", metavar="N", help="at most N processes")
    p.add_argument("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]", help="a resource limit")
    p.add_argument("--oom-score-adj", metavar="N", help="the OOM killer's preference, -1000 to 1000")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP", help="add a capability")
    p.add_argument("--cap-drop", action="append", default=[], metavar="CAP", help="drop a capability (ALL: every one)")
    p.add_argument("--privileged", action="store_true", help="every capability and device, no masked paths, no seccomp")
    p.add_argument("--userns", metavar="host|remap",
                   help="remap: root in the container is an unprivileged range of host ids (host: the default)")
    p.add_argument("--security-opt", action="append", default=[], metavar="OPT",
                   help="seccomp=unconfined | seccomp=PROFILE.json | no-new-privileges")
    p.add_argument("--device", action="append", default=[], metavar="HOST[:CTR][:rwm]", help="a host device")
    p.add_argument("-u", "--user", metavar="NAME|UID[:GROUP|GID]", help="the user (the image's own names)")
    p.add_argument("--group-add", action="append", default=[], metavar="GROUP", help="another group")
    p.add_argument("--read-only", action="store_true", help="a read-only root (volumes and --tmpfs stay writable)")
    p.add_argument("--sysctl", action="append", default=[], metavar="KEY=VAL", help="a namespaced kernel setting")
    p.add_argument("--network", "--net", action="append", default=[], metavar="NET",
                   help="bridge (default), none, host, a network, container:NAME; again: one more network "
                        "(eth1, eth2...)")
    p.add_argument("--ip", metavar="IPv4", help="a static address on the (first) user network")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="[IP:]HOST:CTR[/tcp]",
                   help="publish a container port on the host")
    p.add_argument("-P", "--publish-all", action="store_true", help="publish the image's exposed ports on free ports")
    p.add_argument("--dns", action="append", default=[], metavar="IP", help="a nameserver for resolv.conf")
    p.add_argument("--pid", metavar="host|container:NAME", help="share a pid namespace")
    p.add_argument("--ipc", metavar="host|container:NAME", help="share an IPC namespace")
    p.add_argument("--uts", metavar="host|container:NAME", help="share a UTS namespace")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open and connected")
    p.add_argument("-t", "--tty", action="store_true", help="a terminal (a pty) for the container")
    p.add_argument("--entrypoint", metavar="PROGRAM", help="run PROGRAM with the words as its arguments")
    p.add_argument("-l", "--label", action="append", default=[], metavar="KEY=VAL", help="a label")
    p.add_argument("--stop-signal", metavar="SIGNAL", help="the signal stop sends (default the image's, or TERM)")
    p.add_argument("--stop-timeout", metavar="SECONDS", help="stop's wait before SIGKILL (default 10)")
    p.add_argument("--init", action="store_true", help="tini as pid 1: reaps zombies, forwards signals")
    p.add_argument("--restart", metavar="POLICY", help="no | on-failure[:N] | always | unless-stopped")
    p.add_argument("image", help="image id or name")
    p.add_argument("command", nargs=argparse.REMAINDER, help="run by /bin/sh -c, words joined")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="print the id and return; the container runs on")
    p.add_argument("--detach-keys", metavar="KEYS", help="keys that leave an attached container running "
                   "(default ctrl-p,ctrl-q)")
    _create_args(p)


def _exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VAL]")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE")
    p.add_argument("-w", "--workdir", metavar="DIR")
    p.add_argument("-u", "--user", metavar="NAME|UID[:GROUP|GID]", help="the user (the container's own names)")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open and connected")
    p.add_argument("-t", "--tty", action="store_true", help="a terminal (a pty)")
    p.add_argument("-d", "--detach", action="store_true", help="run it in the background")
    p.add_argument("--detach-keys", metavar="KEYS")
    p.add_argument("container", help="container id or name")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the program and its arguments")


def _start_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="attach its output (and exit with its status)")
    p.add_argument("-i", "--interactive", action="store_true", help="attach its stdin too")
    p.add_argument("--detach-keys", metavar="KEYS")
    p.add_argument("containers", nargs="+", metavar="container")


def _attach_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach-keys", metavar="KEYS", help="keys that leave it running (default ctrl-p,ctrl-q)")
    p.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    p.add_argument("container", help="container id or name")


def limits_from(a: argparse.Namespace, seed: dict[str, str]):
    """The run's limits: the seed's defaults (512 MB, 512 shares), its --MEM_LIMIT/--CPU_SHARE
    spellings, then Docker's -m/--cpu-shares/--cpus/--pids-limit. 0 means no limit."""
    from ..engine import MB, Limits

    memory, shares = 512 * MB, 512
    if "MEM_LIMIT" in seed:
        memory = whole_number("--MEM_LIMIT", seed["MEM_LIMIT"]) * MB
    if "CPU_SHARE" in seed:
        shares = whole_number("--CPU_SHARE", seed["CPU_SHARE"])
    if a.memory is not None:
        memory = memory_size(a.memory)
    if a.cpu_shares is not None:
        shares = whole_number("--cpu-shares", a.cpu_shares)
    cpus = None
    if a.cpus is not None:
        try:
            cpus = float(a.cpus)
        except ValueError:
            raise InvalidArgument(f"Invalid value '{a.cpus}' for --cpus: it must be a number, e.g. 0.5") from None
    pids = whole_number("--pids-limit", a.pids_limit) if a.pids_limit is not None else None
    return Limits(memory=memory or None, cpu_shares=shares or None, cpus=cpus, pids=pids)


def environment(items: list[str], files: list[str], environ: dict[str, str]) -> list[str]:
    """-e and --env-file as Docker reads them: `KEY` alone takes its value from the face's own
    environment (and is dropped if unset there); a file holds KEY=VALUE lines (# comments)."""
    out: list[str] = []
    lines: list[str] = []
    for path in files:
        try:
            with open(path) as f:
                lines += [line.rstrip("\n") for line in f]
        except OSError as err:
            raise InvalidArgument(f"Can't read --env-file {path}: {err.strerror}") from None
    for item in [*lines, *items]:
        stripped = item.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" in item:
            out.append(item)
        elif item in environ:
            out.append(f"{item}={environ[item]}")
        elif not item or any(c.isspace() for c in item):
            raise InvalidArgument(f"Invalid environment variable '{item}': use -e KEY=VALUE or -e KEY")
    return out


def _int_option(flag: str, text: str | None) -> int | None:
    return None if text is None else whole_number(flag, text)


def _networks_of(a: argparse.Namespace) -> list[str | None]:
    """--network, given once or more (a face may give one name as a str)."""
    given = [a.network] if isinstance(a.network, str) else list(a.network or [])
    return given or [None]


def run_options(a: argparse.Namespace, ctx: Context):
    """The run's options, as the engine takes them."""
    from ..engine import RunOptions
    return RunOptions(
        name=a.name, hostname=a.hostname, env=environment(a.env, a.env_file, ctx.environ), workdir=a.workdir,
        volumes=a.volume, mounts=a.mount, tmpfs=a.tmpfs, limits=limits_from(a, ctx.seed),
        detach=getattr(a, "detach", True), remove=a.rm, cap_add=a.cap_add, cap_drop=a.cap_drop,
        privileged=a.privileged, network=_networks_of(a)[0], more_networks=[
            {"name": n, "aliases": [], "ip": ""} for n in _networks_of(a)[1:]], ip=a.ip,
        publish=a.publish, publish_all=a.publish_all, dns=a.dns,
        user=a.user, group_add=a.group_add, read_only=a.read_only, ulimits=a.ulimit,
        oom_score_adj=_int_option("--oom-score-adj", a.oom_score_adj), sysctls=a.sysctl, devices=a.device,
        security_opt=a.security_opt, userns=a.userns, interactive=a.interactive, tty=a.tty, entrypoint=a.entrypoint,
        labels=a.label, pid=a.pid, ipc=a.ipc, uts=a.uts, stop_signal=a.stop_signal,
        stop_timeout=_int_option("--stop-timeout", a.stop_timeout), init=a.init, restart=a.restart,
        network_aliases=a.network_alias, health=health_options(a), no_healthcheck=a.no_healthcheck)


def health_options(a: argparse.Namespace) -> dict[str, object]:
    """--health-*: the fields given, in the engine's units (a test list, seconds, a count)."""
    from ..engine.build.instructions import parse_duration

    out: dict[str, object] = {}
    if a.health_cmd is not None:
        out["test"] = ["CMD-SHELL", a.health_cmd]
    for flag in ("interval", "timeout", "start_period"):
        text = getattr(a, f"health_{flag}")
        if text is not None:
            try:
                out[flag] = parse_duration(text) / 1e9
            except ValueError:
                raise InvalidArgument(f"Invalid --health-{flag.replace('_', '-')} '{text}': a duration such as "
                                      "30s, 1m30s or 500ms") from None
    if a.health_retries is not None:
        out["retries"] = whole_number("--health-retries", a.health_retries)
    return out


def _command(a: argparse.Namespace) -> str | list[str] | None:
    """One word is the seed's form, a script /bin/sh -c runs (`run IMG 'echo a; echo b'`).
    Several words are the program and its arguments, as Docker runs them (`run IMG sh -c
    'echo out; echo err >&2'`): each word is quoted as it is, so the shell that runs them
    adds nothing of its own, and a builtin (`run IMG exit 3`) still works as in the seed.
    With --entrypoint the words are that program's arguments, no shell between."""
    if not a.command:
        return None
    if getattr(a, "entrypoint", None) is not None:
        return list(a.command)
    return a.command[0] if len(a.command) == 1 else shlex.join(a.command)


def _io(ctx: Context, interactive: bool, tty: bool):
    """What the face connects: its stdin (with -i) and its terminal (with -t)."""
    if tty and ctx.terminal is None and ctx.no_terminal:
        raise InvalidArgument(ctx.no_terminal)
    return (ctx.stdin if interactive else None), (ctx.terminal if tty else None)


def _detach_keys(a: argparse.Namespace, tty: bool = True):
    """The keys that detach, read from the input only where it is a terminal's (-t), as
    Docker's: piped input (-i alone) goes to the container byte for byte. A bad --detach-keys
    is an error either way."""
    from ..terminal import DEFAULT_DETACH_KEYS, parse_detach_keys
    keys = parse_detach_keys(getattr(a, "detach_keys", None) or DEFAULT_DETACH_KEYS)
    return keys if tty else None


def _run(e: Engine, a: argparse.Namespace, ctx: Context):
    # detached, nothing is attached: -t gives the container a pty, and needs no terminal here
    stdin, terminal = (None, None) if a.detach else _io(ctx, a.interactive, a.tty)
    options = run_options(a, ctx)
    if terminal is not None:
        options.console_size = terminal.size()  # the pty starts at the terminal's size
    return e.run(a.image, _command(a), options, on_output=ctx.on_output, capture=ctx.capture,
                 on_start=ctx.on_start, stdin=stdin, terminal=terminal, detach_keys=_detach_keys(a, a.tty))


def _create(e: Engine, a: argparse.Namespace, ctx: Context):
    # -t needs a terminal only once something attaches (start -a, attach)
    return e.create(a.image, _command(a), run_options(a, ctx))


def _start(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.attach and len(a.containers) > 1:
        raise usage_error(f"{ctx.prog} start: -a attaches to one container: give one")
    if not a.attach:
        return [e.start(ref).id for ref in a.containers]
    c = e.container(a.containers[0])
    stdin, terminal = _io(ctx, a.interactive, c.record.tty if c.record else False)
    return e.start(c.id, attach=True, on_output=ctx.on_output, capture=ctx.capture, stdin=stdin,
                   terminal=terminal, detach_keys=_detach_keys(a, bool(c.record and c.record.tty)))


def _attach(e: Engine, a: argparse.Namespace, ctx: Context):
    c = e.container(a.container)
    if not c.running:
        from ..errors import Conflict
        raise Conflict(f"Container '{a.container}' exists but is not running: start it first")
    stdin, terminal = _io(ctx, not a.no_stdin, c.record.tty if c.record else False)
    return e.attach(c.id, on_output=ctx.on_output, stdin=stdin, terminal=terminal,
                    detach_keys=_detach_keys(a, bool(c.record and c.record.tty)))


def _restart(e: Engine, a: argparse.Namespace, ctx: Context):
    return each(lambda e, r: e.restart(r, timeout=a.time) and r)(e, a.containers)


def _exec(e: Engine, a: argparse.Namespace, ctx: Context):
    if not a.command:
        raise usage_error(f"{ctx.prog} exec: give the command to run, e.g. {ctx.prog} exec ID ls /")
    stdin, terminal = _io(ctx, a.interactive and not a.detach, a.tty and not a.detach)
    return e.exec(a.container, a.command, env=environment(a.env, a.env_file, ctx.environ), workdir=a.workdir,
                  user=a.user, tty=a.tty, detach=a.detach, on_output=ctx.on_output, capture=ctx.capture,
                  stdin=stdin, terminal=terminal, detach_keys=_detach_keys(a, a.tty))
