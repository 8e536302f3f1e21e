"""Every verb once: its arguments (argparse), the engine call they make, how its result is
printed (rendering.py) and how a notebook shows it (cell_views.py): the table VERBS.

The faces look a verb up here and do nothing else of their own: `cli.py` parses a command
line, makes the call and prints with the verb's `text`; `magics.py` parses a magic's line,
makes the same call and returns the verb's `view`; a Docker API handler would fill the same
arguments (`namespace_for`) and make the same call. No face defines a verb's arguments,
holds engine logic or imports another face.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import cell_views, rendering
from .errors import BockerError, InvalidArgument, UsageError

if TYPE_CHECKING:
    from .engine import Engine

PROG = "bocker"
SEED_OPTIONS = ("MEM_LIMIT", "CPU_SHARE")


HELP_HINT = f"see '{PROG} help'"


def usage_error(message: str) -> UsageError:
    """A usage mistake: one line, exit status 2."""
    return UsageError(message)


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line and an InvalidArgument (exit 2), not a usage dump.
    `hint` ends the line with where the face's help is: `bocker help` on the command line,
    `%bocker VERB?` in a notebook."""

    def __init__(self, *args: Any, hint: str = HELP_HINT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hint = hint

    def error(self, message: str) -> None:  # type: ignore[override]
        raise usage_error(f"{self.prog}: {message} ({self.hint})")

    intermixed = False  # options may come between the positionals (`volume rm -f a b`)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        # (help goes the plain way: argparse's intermixed parsing %-formats a usage that holds
        # the prog, and the notebook's prog is "%bocker")
        if self.intermixed and not {"-h", "--help"} & set(args or []):
            return self.parse_intermixed_args(args, namespace)
        return super().parse_args(args, namespace)


@dataclass
class Context:
    """What a face hands to a verb besides its arguments."""

    on_output: Callable[[bytes], None] | None = None   # live output of run and exec
    capture: bool = True                                # keep the output in the result too
    seed: dict[str, str] = field(default_factory=dict)  # the seed's --MEM_LIMIT=…, --CPU_SHARE=…
    on_start: Callable[[str], None] | None = None       # run: the container's id, once it runs
    on_progress: Callable[[Any], None] | None = None    # pull/push: a registry.Progress per layer event
    prog: str = PROG                                    # how the face spells a verb: "bocker", "%bocker"
    hint: str = HELP_HINT                               # where the face's help is, for usage mistakes
    stdin: bytes | int | None = None                    # -i: the face's input (an fd, or bytes: a cell)
    terminal: Any = None                                # -t: the face's terminal (terminal.Terminal)
    no_terminal: str = ""                               # why -t can't work here (a notebook has no terminal)
    environ: dict[str, str] = field(default_factory=dict)  # the face's environment (-e KEY, --env-file)
    confirm: Callable[[str], bool] | None = None        # asks a yes/no question (prune); None: can't ask
    binary_stdin: Any = None                            # cp - : the face's stdin as a binary stream
    binary_stdout: Any = None                           # cp … - : the face's stdout as a binary stream


# what Verb.terminal returns for a verb that attaches a pty of its own (run -t, exec -t)
OWN_PTY = "-t"


@dataclass(frozen=True)
class Verb:
    """One verb, for every face: the CLI parses with `arguments`, makes the engine `call` and
    prints with `text`; the magic does the same and shows the result with `view`; an HTTP
    handler (the Docker API face) fills a namespace (`namespace_for`) and makes the same call.
    Behind each field one function, named in VERBS below."""

    name: str
    purpose: str      # the seed's #HELP first line
    usage: str        # … and its second
    arguments: Callable[[argparse.ArgumentParser], None]
    call: Callable[[Engine, argparse.Namespace, Context], Any]
    text: Callable[[argparse.Namespace, Any], int | None] = rendering.nothing   # lines; the exit status
    view: Callable[[Engine, Verb, argparse.Namespace, Any], Any] = cell_views.result  # what a cell shows
    intermixed: bool = False  # an ACTION NAME... verb: options anywhere between the words
    many: bool = False        # acts on several refs: what was done before a failure is printed too
    progress: bool = False    # a registry transfer: the face shows its layers' progress
    # the terminal it attaches, from its arguments: None (none), OWN_PTY (a pty of its own: the
    # face's terminal goes raw), or the container whose -t decides (attach, start -a)
    terminal: Callable[[argparse.Namespace], str | None] = lambda a: None


def _own_pty(a: argparse.Namespace) -> str | None:
    """run and exec attach a pty of their own with -t, unless detached."""
    return OWN_PTY if a.tty and not a.detach else None


def memory_size(text: str) -> int:
    """-m's bytes, in Docker's spelling (512m, 1g, 65536k, or bytes): engine.units.parse_size."""
    from .engine.units import parse_size
    try:
        return parse_size(text)
    except ValueError:
        raise InvalidArgument(f"Invalid memory size '{text}': use a number with b, k, m or g (e.g. 256m)") from None


def whole_number(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"Invalid value '{text}' for {flag}: it must be a whole number") from None


# -- arguments --------------------------------------------------------------------------
def _none(p: argparse.ArgumentParser) -> None:
    pass


def _container(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", help="container id or name")


def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", nargs="?", help="the directory to copy into the image")
    p.add_argument("--busybox", action="store_true", help="the built-in image, from the host's static busybox")
    p.add_argument("--name", help="also name the image NAME[:TAG]")


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


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--follow", action="store_true", help="keep printing what it prints, until it stops")
    p.add_argument("--tail", metavar="N", help="only the last N lines (all: everything)")
    p.add_argument("-t", "--timestamps", action="store_true", help="each line with its time")
    p.add_argument("--since", metavar="TIME", help="only lines since TIME (RFC 3339, seconds since the epoch, "
                   "or a duration such as 10m)")
    p.add_argument("container", help="container id or name")


def _containers(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="+", metavar="container", help="container ids or names")


def _stop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--time", type=float, default=None, help="seconds before SIGKILL (default: its "
                   "--stop-timeout, or 10)")
    _containers(p)


def _kill_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help="signal name or number (default KILL)")
    _containers(p)


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", help="[registry[:port]/]name[:tag|@sha256:…] (Docker Hub by default)")
    p.add_argument("tag", nargs="?", help="the seed's form: pull NAME TAG")
    p.add_argument("--platform", help="os/arch[/variant] to choose from a multi-platform image")
    p.add_argument("--insecure", action="store_true", help="plain http or unverified https (loopback always may)")


def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="image id or name")
    p.add_argument("ref", nargs="?", help="where to: [registry[:port]/]name[:tag] (default: the image's name)")
    p.add_argument("--insecure", action="store_true", help="plain http or unverified https (loopback always may)")
    p.add_argument("--compression", choices=["gzip", "zstd"], default="gzip", help="the layers' (default gzip)")


def _save_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["docker", "oci"], default="docker",
                   help="docker-save tarball (default) or OCI image layout (a tar, or a dir if FILE ends with /)")
    p.add_argument("image", help="image id or name")
    p.add_argument("file", help="the tarball (or, for oci, a directory) to write")


def _login_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("registry", nargs="?", default="", help="host[:port] (default: Docker Hub)")
    p.add_argument("-u", "--username", required=True)
    p.add_argument("-p", "--password", help="the password (or --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--insecure", action="store_true")


def _login(e: Engine, a: argparse.Namespace, ctx: Context):
    import sys
    password = sys.stdin.readline().rstrip("\n") if a.password_stdin else a.password
    if password is None:
        raise usage_error(f"{ctx.prog} login: give -p PASSWORD or --password-stdin")
    return e.login(a.registry, a.username, password, insecure=a.insecure)


def _commit_args(p: argparse.ArgumentParser) -> None:
    _container(p)
    p.add_argument("image", help="an img_<hex> id (the seed's form) or a name[:tag]")


def _ref_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", help="container or image, by id or name")


def _refs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="*", metavar="container", help="containers (default: every running one)")


def _rm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("-v", "--volumes", action="store_true",
                   help="also remove its anonymous volumes (-v /path); named ones stay")
    p.add_argument("refs", nargs="+", metavar="ref", help="containers or images, by id or name")


# -- calls ------------------------------------------------------------------------------
def limits_from(a: argparse.Namespace, seed: dict[str, str]):
    """The run's limits: the seed's defaults (512 MB, 512 shares), its --MEM_LIMIT/--CPU_SHARE
    spellings, then Docker's -m/--cpu-shares/--cpus/--pids-limit. 0 means no limit."""
    from .engine import MB, Limits

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


def _init(e: Engine, a: argparse.Namespace, ctx: Context):
    if bool(a.busybox) == bool(a.directory):
        raise usage_error(f"{ctx.prog} init: give a directory, or --busybox ({ctx.hint})")
    return e.busybox() if a.busybox else e.init(a.directory, a.name)


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
    from .engine import RunOptions
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
    from .engine.build.instructions import parse_duration

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
    from .terminal import DEFAULT_DETACH_KEYS, parse_detach_keys
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
        from .errors import Conflict
        raise Conflict(f"Container '{a.container}' exists but is not running: start it first")
    stdin, terminal = _io(ctx, not a.no_stdin, c.record.tty if c.record else False)
    return e.attach(c.id, on_output=ctx.on_output, stdin=stdin, terminal=terminal,
                    detach_keys=_detach_keys(a, bool(c.record and c.record.tty)))


def _restart(e: Engine, a: argparse.Namespace, ctx: Context):
    return _each(lambda e, r: e.restart(r, timeout=a.time) and r)(e, a.containers)


# -- listings: ps, images, history, volume ls ----------------------------------------------
def _listing_args(p: argparse.ArgumentParser, what: str, table: str) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=f"only the {what} ids")
    p.add_argument("--format", metavar="FORMAT", help=f"table ({table}), json, or a Go template such as "
                   "'{{.ID}}\\t{{.Status}}'")
    p.add_argument("--no-trunc", action="store_true", help="long values whole")


def _ps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="every container (ps lists every one anyway, "
                   "as the seed does)")
    p.add_argument("-n", "--last", metavar="N", help="only the N made last")
    p.add_argument("-l", "--latest", action="store_true", help="only the one made last")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="status=…, name=…, ancestor=…, label=…, id=…, exited=…, volume=…, network=…")
    _listing_args(p, "container", "Docker's wider one: status, image, created, restarts, ports, name")


def _ps(e: Engine, a: argparse.Namespace, ctx: Context):
    from . import listing
    listing.check(a.format, listing.CONTAINERS)
    last = whole_number("--last", a.last) if a.last is not None else None
    if last is not None and last < 0:
        raise InvalidArgument(f"Invalid value '{a.last}' for --last: give 0 or more")
    return e.ps(filters=a.filter, last=1 if a.latest else last)


def _images_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="accepted (there are no intermediate images)")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="dangling=true|false, reference=PATTERN, label=…, before=IMAGE, since=IMAGE")
    _listing_args(p, "image", "the wider one: names, layers, created")
    p.add_argument("reference", nargs="?", help="only images whose name matches, e.g. busybox or 'busy*:*'")


def _images(e: Engine, a: argparse.Namespace, ctx: Context):
    from . import listing
    listing.check(a.format, listing.IMAGES)
    filters = list(a.filter) + ([f"reference={a.reference}"] if a.reference else [])
    return e.images(filters=filters or None)


def _history_args(p: argparse.ArgumentParser) -> None:
    _listing_args(p, "image", "IMAGE, CREATED, CREATED BY, SIZE, COMMENT")
    p.add_argument("image", help="image id or name")


def _history(e: Engine, a: argparse.Namespace, ctx: Context):
    from . import listing
    listing.check(a.format, listing.HISTORY)
    return e.history(a.image)


# -- containers: pause, top, port, rename, cp, prune ------------------------------------
def _top_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", help="container id or name")
    p.add_argument("ps_options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _top(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.ps_options:
        raise usage_error(f"{ctx.prog} top: no ps options ('{' '.join(a.ps_options)}'): it shows every process "
                          "with its pids, user, state, cpu time and command")
    return e.top(a.container)


def _port_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", help="container id or name")
    p.add_argument("private_port", nargs="?", metavar="PORT[/PROTO]", help="only this container port")


def _cp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--archive", action="store_true", help="keep the files' owners (uid and gid)")
    p.add_argument("-L", "--follow-link", action="store_true", help="copy what a symlink SRC points to")
    p.add_argument("-q", "--quiet", action="store_true", help="no line saying what was copied")
    p.add_argument("source", metavar="SRC", help="CONTAINER:PATH or a host path (- : a tar stream on stdin)")
    p.add_argument("destination", metavar="DEST", help="CONTAINER:PATH or a host path (- : a tar stream on stdout)")


def _cp(e: Engine, a: argparse.Namespace, ctx: Context):
    return e.cp(a.source, a.destination, archive=a.archive, follow_link=a.follow_link,
                stdin=ctx.binary_stdin, stdout=ctx.binary_stdout)


def _prune_args(p: argparse.ArgumentParser, all_help: str | None = None) -> None:
    p.add_argument("action", choices=["prune"], help="prune: remove what nothing uses")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for a confirmation")
    if all_help:
        p.add_argument("-a", "--all", action="store_true", help=all_help)
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="label=…, until=…")


def _confirmed(ctx: Context, a: argparse.Namespace, question: str, verb: str) -> bool:
    """prune without -f: asked where the face can ask (a terminal), else refused."""
    if a.force:
        return True
    if ctx.confirm is None:
        raise usage_error(f"{ctx.prog} {verb} {question.lower()}: add -f to go on (nothing was removed)")
    return ctx.confirm(f"WARNING! This {question.lower()}.\nAre you sure you want to continue? [y/N] ")


def _container_prune(e: Engine, a: argparse.Namespace, ctx: Context):
    from .engine import PruneResult, check_prune_filters
    check_prune_filters(a.filter, "container prune")  # a bad filter before the question
    if not _confirmed(ctx, a, "Will remove all stopped containers", "container prune"):
        return PruneResult()
    return e.container_prune(a.filter)


def _image_prune(e: Engine, a: argparse.Namespace, ctx: Context):
    from .engine import PruneResult, check_prune_filters
    check_prune_filters(a.filter, "image prune")
    what = "Will remove all images without at least one container" if a.all else "Will remove all dangling images"
    if not _confirmed(ctx, a, what, "image prune"):
        return PruneResult()
    return e.image_prune(a.all, a.filter)


def _system_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["df", "info", "service"],
                   help="df: disk usage; info: as bocker info; service: serve the Docker Engine API (api/)")
    p.add_argument("-H", "--host", default=None, help="service: where, unix:///run/bocker/docker.sock by default")
    p.add_argument("--time", "-t", type=float, default=None, metavar="SECONDS",
                   help="service: end after SECONDS without a request (0: never; default 300)")
    p.add_argument("--group", default=None, help="service: the group that may use the socket (0660; else root's)")


def _system(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.action == "service":
        from .api import DEFAULT_HOST, DEFAULT_IDLE, serve
        if a.time is not None and a.time < 0:
            raise usage_error("--time takes a number of seconds, 0 or more")
        serve(e, a.host or DEFAULT_HOST, DEFAULT_IDLE if a.time is None else a.time, a.group)
        return None
    return e.system_df() if a.action == "df" else e.info()


# -- volumes -------------------------------------------------------------------------------
def _volume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["create", "ls", "inspect", "rm"])
    p.add_argument("names", nargs="*", metavar="NAME", help="the volumes (create: at most one; a random name if "
                   "none)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="create: a label")
    p.add_argument("-q", "--quiet", action="store_true", help="ls: only the names")
    p.add_argument("--format", metavar="FORMAT", help="ls: table, json, or a Go template such as '{{.Name}}'")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="ls: name=…, dangling=true|false, label=…")
    p.add_argument("-f", "--force", action="store_true", help="rm: a missing volume is no error")


def _volume(e: Engine, a: argparse.Namespace, ctx: Context):
    from . import listing
    used = {"create": ("label",), "ls": ("quiet", "format", "filter"), "inspect": (), "rm": ("force",)}[a.action]
    for option, flag in (("label", "--label"), ("quiet", "-q"), ("format", "--format"), ("filter", "--filter"),
                         ("force", "-f")):
        if getattr(a, option) and option not in used:
            raise usage_error(f"{ctx.prog} volume {a.action}: {flag} is an option of volume "
                              + {"label": "create", "quiet": "ls", "format": "ls", "filter": "ls",
                                 "force": "rm"}[option] + f" ({ctx.hint})")
    if a.action == "create":
        if len(a.names) > 1:
            raise usage_error(f"{ctx.prog} volume create: give one name (or none, for a random one)")
        return e.volume_create(a.names[0] if a.names else None, a.label)
    if a.action == "ls":
        if a.names:
            raise usage_error(f"{ctx.prog} volume ls: no names (use --filter name=…)")
        listing.check(a.format, listing.VOLUMES)
        return e.volume_ls(a.filter)
    if not a.names:
        raise usage_error(f"{ctx.prog} volume {a.action}: give the volume's name ({ctx.hint})")
    if a.action == "inspect":
        return _each(lambda e, n: e.volume_inspect(n))(e, a.names)
    return _each(lambda e, n: e.volume_rm(n, force=a.force) and n)(e, a.names)


def _logs(e: Engine, a: argparse.Namespace, ctx: Context):
    from .engine import parse_since
    tail = None if a.tail in (None, "all") else whole_number("--tail", a.tail)
    since = None if a.since is None else parse_since(a.since)
    return e.log_records(a.container, tail=tail, since=since, follow=a.follow)


def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]", help="name the image (repeatable)")
    p.add_argument("-f", "--file", metavar="FILE", help="the Dockerfile (default CONTEXT/Dockerfile; - reads stdin)")
    p.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="a build argument (repeatable)")
    p.add_argument("--target", metavar="STAGE", help="build this stage (a name or an index) and the ones it needs")
    p.add_argument("--no-cache", action="store_true", help="run every step again, reuse nothing")
    p.add_argument("--pull", action="store_true", help="pull a FROM image from its registry again")
    p.add_argument("--network", metavar="NET", help="the RUN steps' network: bridge (default), none, or a name")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("context", help="the directory COPY and ADD take files from")


def build_args_of(items: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """--build-arg K=V; a bare K takes its value from the face's environment (`environ`, else
    this process's), as Docker does (and is left out when the environment has none)."""
    import os
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"Invalid build arg '{item}': use --build-arg NAME=VALUE")
        if eq:
            out[key] = value
        elif key in environ:
            out[key] = environ[key]
    return out


def _build(e: Engine, a: argparse.Namespace, ctx: Context):
    text = getattr(a, "dockerfile_text", None)
    if text is None and a.file == "-":
        import sys
        text = sys.stdin.read()
    output = None if a.quiet else ctx.on_output
    build_args = build_args_of(a.build_arg, ctx.environ or None)
    return e.build(a.context, a.tag, dockerfile=a.file, dockerfile_text=text, build_args=build_args,
                   target=a.target, no_cache=a.no_cache, pull=a.pull, network=a.network,
                   on_output=(lambda chunk, stream="stdout": output(chunk, stream)) if output else None)


def _network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["ls", "inspect", "create", "rm", "connect", "disconnect"])
    p.add_argument("name", nargs="?", help="the network (inspect, create, rm, connect, disconnect)")
    p.add_argument("container", nargs="?", help="connect, disconnect: the container")
    p.add_argument("--subnet", help="create: an IPv4 subnet, e.g. 172.19.0.0/24")
    p.add_argument("--gateway", help="create: the bridge's address (default: the first host)")
    p.add_argument("--bridge", help="create: the bridge device's name (default bk-NAME)")
    p.add_argument("--internal", action="store_true",
                   help="create: no way out (no NAT, no default route for its containers)")
    p.add_argument("-o", "--opt", action="append", default=[], metavar="KEY=VALUE",
                   help="create: a bridge option (com.docker.network.bridge.name=NAME, "
                        "com.docker.network.bridge.enable_ip_masquerade=false)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="create: a label")
    p.add_argument("--alias", action="append", default=[], metavar="NAME",
                   help="connect: another name of the container on that network")
    p.add_argument("--ip", metavar="IPv4", help="connect: a static address in the network's subnet")
    p.add_argument("-f", "--force", action="store_true", help="disconnect: even when its interface is gone")


def _pairs(flag: str, values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not key or (not sep and flag != "--label"):
            raise usage_error(f"Invalid {flag} '{v}': give KEY=VALUE")
        out[key] = value
    return out


def _network(e: Engine, a: argparse.Namespace, ctx: Context):
    if a.action == "ls":
        return e.network_ls()
    if not a.name:
        raise usage_error(f"{ctx.prog} network {a.action}: give the network's name ({ctx.hint})")
    if a.action in ("connect", "disconnect"):
        if not a.container:
            raise usage_error(f"{ctx.prog} network {a.action}: give the network and the container, e.g. "
                              f"{ctx.prog} network {a.action} mynet web ({ctx.hint})")
        if a.action == "connect":
            return e.network_connect(a.name, a.container, aliases=a.alias, ip=a.ip)
        return e.network_disconnect(a.name, a.container, force=a.force)
    if a.container:
        raise usage_error(f"{ctx.prog} network {a.action} takes one name, not '{a.container}' ({ctx.hint})")
    if a.action == "inspect":
        return e.network_inspect(a.name)
    if a.action == "create":
        return e.network_create(a.name, a.subnet, a.gateway, a.bridge, labels=_pairs("--label", a.label) or None,
                                internal=a.internal, options=_pairs("-o", a.opt) or None)
    return e.network_rm(a.name)


def _exec(e: Engine, a: argparse.Namespace, ctx: Context):
    if not a.command:
        raise usage_error(f"{ctx.prog} exec: give the command to run, e.g. {ctx.prog} exec ID ls /")
    stdin, terminal = _io(ctx, a.interactive and not a.detach, a.tty and not a.detach)
    return e.exec(a.container, a.command, env=environment(a.env, a.env_file, ctx.environ), workdir=a.workdir,
                  user=a.user, tty=a.tty, detach=a.detach, on_output=ctx.on_output, capture=ctx.capture,
                  stdin=stdin, terminal=terminal, detach_keys=_detach_keys(a, a.tty))


# -- compose: a stack of services (engine/stacks) ---------------------------------------------
@dataclass
class ComposeResult:
    """What a compose verb did: its action, its own arguments, the stack and the action's value
    (ps: its ServiceContainers, config: the model, exec/run: the RunResult...)."""

    action: str
    args: argparse.Namespace
    stack: Any
    value: Any = None


def _services(p: argparse.ArgumentParser) -> None:
    p.add_argument("services", nargs="*", metavar="SERVICE", help="the services (default: every one)")


def _compose_up_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="start them and return (else follow their logs)")
    p.add_argument("--build", action="store_true", help="build the images of services with build: first")
    p.add_argument("--no-deps", action="store_true", help="not the services they depend on")
    p.add_argument("--force-recreate", action="store_true", help="recreate the containers even if unchanged")
    p.add_argument("--wait", action="store_true", help="wait until they run (and are healthy, with a healthcheck)")
    _services(p)


def _compose_down_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--volumes", action="store_true", help="remove the named volumes of the file too")
    p.add_argument("--rmi", choices=["local", "all"], help="remove images: local (built ones) or all")
    p.add_argument("--remove-orphans", action="store_true", help="also containers of services not in the file")


def _compose_logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--follow", action="store_true", help="follow until they stop")
    p.add_argument("--tail", metavar="N", help="only the last N lines of each (all: everything)")
    _services(p)


def _compose_exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="no pseudo-terminal (the default here)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VAL]")
    p.add_argument("-w", "--workdir", metavar="DIR")
    p.add_argument("-u", "--user", metavar="USER")
    p.add_argument("--index", type=int, default=1, help="which container of the service (default 1)")
    p.add_argument("service")
    p.add_argument("command", nargs=argparse.REMAINDER)


def _compose_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="no pseudo-terminal (the default here)")
    p.add_argument("--no-deps", action="store_true", help="do not start the services it depends on")
    p.add_argument("service")
    p.add_argument("command", nargs=argparse.REMAINDER)


def _compose_emit(ctx: Context, text: str, stream: str = "stdout") -> None:
    """A line as it comes: the face's output, else this process's."""
    import sys
    if ctx.on_output is not None:
        ctx.on_output(text.encode(), stream)
    else:
        (sys.stderr if stream == "stderr" else sys.stdout).write(text)


def _compose_lines(ctx: Context, items) -> None:
    for prefix, stream, line in items:
        _compose_emit(ctx, f"{prefix}  | {line.decode(errors='replace')}\n", stream)


def _compose_up(stack, a: argparse.Namespace, ctx: Context):
    started = stack.up(a.services or None, build=a.build, no_deps=a.no_deps, force_recreate=a.force_recreate,
                       wait=a.wait)
    if a.detach:
        return started
    try:  # attached: every service's log, until they all exit; Ctrl-C stops what it started
        _compose_lines(ctx, stack.log_lines(started=started, follow=True))
    except KeyboardInterrupt:
        stack.say("Gracefully stopping... (press Ctrl+C again to force)")
        stack.stop(sorted({sc.service for sc in started}))
        raise
    return started


def _compose_logs(stack, a: argparse.Namespace, ctx: Context):
    tail = None if a.tail in (None, "all") else whole_number("--tail", a.tail)
    _compose_lines(ctx, stack.log_lines(a.services or None, tail=tail, follow=a.follow))


def _compose_exec(stack, a: argparse.Namespace, ctx: Context):
    return stack.exec(a.service, a.command, index=a.index, env=environment(a.env, [], ctx.environ),
                      workdir=a.workdir, user=a.user, on_output=ctx.on_output, capture=ctx.capture)


def _compose_run(stack, a: argparse.Namespace, ctx: Context):
    return stack.run(a.service, a.command, remove=a.rm, no_deps=a.no_deps, on_output=ctx.on_output,
                     capture=ctx.capture)


# action: (its arguments, what it does with the stack)
COMPOSE_ACTIONS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[..., Any]]] = {
    "up": (_compose_up_args, _compose_up),
    "down": (_compose_down_args, lambda s, a, c: s.down(volumes=a.volumes, rmi=a.rmi,
                                                        remove_orphans=a.remove_orphans)),
    "ps": (lambda p: (p.add_argument("-a", "--all", action="store_true", help="stopped ones too"), _services(p)),
           lambda s, a, c: s.ps(a.services or None, a.all)),
    "logs": (_compose_logs_args, _compose_logs),
    "exec": (_compose_exec_args, _compose_exec),
    "run": (_compose_run_args, _compose_run),
    "start": (_services, lambda s, a, c: s.start(a.services or None)),
    "stop": (_services, lambda s, a, c: s.stop(a.services or None)),
    "restart": (_services, lambda s, a, c: s.restart(a.services or None)),
    "pull": (_services, lambda s, a, c: s.pull(a.services or None)),
    "build": (_services, lambda s, a, c: s.build(a.services or None)),
    "config": (_none, lambda s, a, c: s.project.to_config()),
    "top": (_services, lambda s, a, c: s.top(a.services or None)),
    "images": (_services, lambda s, a, c: s.images(a.services or None)),
}


def _compose_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--file", action="append", default=[], metavar="FILE",
                   help="the compose file (repeatable; default: compose.yaml here or above)")
    p.add_argument("-p", "--project-name", metavar="NAME", help="the project's name (default: the directory's)")
    p.add_argument("--profile", action="append", default=[], metavar="P", help="enable a profile's services")
    p.add_argument("--env-file", metavar="FILE", help="the variables' file (default: .env beside the file)")
    p.add_argument("--project-directory", metavar="DIR", help="where the default file is looked for")
    p.add_argument("action", nargs="?", choices=list(COMPOSE_ACTIONS), metavar="VERB",
                   help=", ".join(COMPOSE_ACTIONS))
    p.add_argument("args", nargs=argparse.REMAINDER, help="the verb's options and services")


def _compose(e: Engine, a: argparse.Namespace, ctx: Context) -> ComposeResult:
    import sys

    from .engine.stacks.stack import open_stack
    if not a.action:
        raise usage_error(f"{ctx.prog} compose: give a verb: {', '.join(COMPOSE_ACTIONS)} ({ctx.hint})")
    arguments, act = COMPOSE_ACTIONS[a.action]
    p = Parser(prog=f"{ctx.prog} compose {a.action}", hint=ctx.hint, allow_abbrev=False)
    arguments(p)
    sub = p.parse_args(a.args)

    def say(line: str) -> None:
        sys.stderr.write(f" {line}\n")

    stack = open_stack(e, files=a.file, project=a.project_name, environ=ctx.environ or None,
                       env_file=a.env_file, profiles=a.profile, project_directory=a.project_directory,
                       text=getattr(a, "compose_text", None), say=say)
    return ComposeResult(a.action, sub, stack, act(stack, sub, ctx))


def _each(call):
    """A verb that takes several containers: each in turn; one that fails says so and the
    rest still run, as Docker's CLI does (the error of the first failure is raised after)."""
    def run(e: Engine, refs: list[str]):
        done, errors = [], []
        for ref in refs:
            try:
                done.append(call(e, ref))
            except BockerError as err:
                errors.append(err)
        if errors:
            err = errors[0]
            err.done = done  # what did happen, for the face to print
            err.errors = errors  # every failure, one line each
            raise err
        return done
    return run


VERBS: dict[str, Verb] = {v.name: v for v in [
    Verb("init", "Create an image from a directory", "init <directory> [--name NAME[:TAG]] | init --busybox",
         _init_args, _init, text=rendering.created, view=cell_views.image),
    Verb("images", "List images", "images [-q] [--filter K=V] [--format table|json|TEMPLATE] [REFERENCE] "
         "(the seed's two columns; --format table: the wider table)", _images_args, _images,
         text=rendering.images, view=cell_views.images),
    Verb("tag", "Give an image another name", "tag <image> <name[:tag]>",
         lambda p: (p.add_argument("source", help="image id or name"),
                    p.add_argument("target", help="the new name[:tag]")),
         lambda e, a, c: e.tag(a.source, a.target), view=cell_views.printed),
    Verb("history", "Show the steps that made an image (a row per layer and per config step)",
         "history [-q] [--no-trunc] [--format F] <image>", _history_args, _history,
         text=rendering.history, view=cell_views.history),
    Verb("pull", "Pull an image from a registry", "pull <name> <tag> | pull [--platform P] [--insecure] <ref>",
         _pull_args, lambda e, a, c: e.pull(a.ref, a.tag, insecure=a.insecure, platform=a.platform,
                                            progress=c.on_progress),
         text=rendering.created, view=cell_views.image, progress=True),
    Verb("push", "Push an image to a registry", "push [--insecure] [--compression zstd] <image> [ref]", _push_args,
         lambda e, a, c: e.push(a.image, a.ref, insecure=a.insecure, progress=c.on_progress,
                                compression=a.compression),
         text=rendering.prefixed("Pushed"), progress=True),
    Verb("save", "Save an image as a docker-save tarball or an OCI layout", "save [--format docker|oci] <image> <file>",
         _save_args, lambda e, a, c: e.save(a.image, a.file, a.format), text=rendering.prefixed("Saved")),
    Verb("load", "Load images from a docker-save tarball or an OCI layout", "load <file>",
         lambda p: p.add_argument("file", help="a tarball or an OCI layout directory"),
         lambda e, a, c: e.load(a.file), text=rendering.loaded, view=cell_views.loaded),
    Verb("login", "Keep credentials for a registry", "login -u USER [-p PASS | --password-stdin] [registry]",
         _login_args, _login, text=rendering.prefixed("Login Succeeded")),
    Verb("logout", "Forget the credentials of a registry", "logout [registry]",
         lambda p: p.add_argument("registry", nargs="?", default="", help="host[:port] (default: Docker Hub)"),
         lambda e, a, c: (a.registry or "docker.io", e.logout(a.registry)), text=rendering.logged_out),
    Verb("run", "Create a container",
         "run [-d] [--rm] [--name N] [--hostname H] [-e K=V] [-w DIR] [-v HOST:CTR[:ro]] [-m MEM] "
         "[--cpu-shares N] [--cpus N] [--pids-limit N] [--cap-add CAP] [--cap-drop CAP] [--privileged] "
         "[--userns remap] "
         "[--network NET] [-p HOST:CTR] [--dns IP] [-i] [-t] <image> [command...] (one word is a script "
         "/bin/sh -c runs, as the seed's; several are the program and its arguments, each word as it is)",
         _run_args, _run, text=rendering.run, terminal=_own_pty),
    Verb("create", "Create a container (nothing runs until start)", "create [OPTIONS] <image> [command...]",
         _create_args, _create, text=rendering.result_id),
    Verb("start", "Start created or stopped containers", "start [-a] [-i] <container_id...>", _start_args, _start,
         text=rendering.start, terminal=lambda a: a.containers[0] if a.attach else None),
    Verb("restart", "Stop and start containers again", "restart [-t SECONDS] <container_id...>",
         _stop_args, _restart, text=rendering.each_line, many=True),
    Verb("attach", "Attach to a running container's input and output (ctrl-p ctrl-q leaves it running)",
         "attach [--detach-keys KEYS] [--no-stdin] <container_id>", _attach_args, _attach,
         text=rendering.left_running, terminal=lambda a: a.container),
    Verb("build", "Build an image from a Dockerfile",
         "build [-t NAME[:TAG]] [-f Dockerfile|-] [--build-arg K=V] [--target S] [--no-cache] [--pull] "
         "[--network none] [-q] <context>", _build_args, _build, text=rendering.build),
    Verb("exec", "Execute a command in a running container",
         "exec [-i] [-t] [-d] [-u USER] [-e K=V] [-w DIR] <container_id> <command...>", _exec_args, _exec,
         text=rendering.exit_code, terminal=_own_pty),
    Verb("ps", "List containers", "ps [-q] [-n N] [--no-trunc] [--filter K=V] [--format table|json|TEMPLATE] "
         "(the seed's two columns; --format table: Docker's wider table)", _ps_args, _ps,
         text=rendering.ps, view=cell_views.ps),
    Verb("logs", "View logs from a container", "logs [-f] [--tail N] [-t] [--since T] <container_id>", _logs_args,
         _logs, text=rendering.logs, view=cell_views.logs),
    Verb("stop", "Stop running containers (their stop signal, then SIGKILL)", "stop [-t SECONDS] <container_id...>",
         _stop_args, lambda e, a, c: _each(lambda e, r: e.stop(r, timeout=a.time) and r)(e, a.containers),
         text=rendering.each_line, view=cell_views.nothing, many=True),
    Verb("kill", "Send a signal to running containers", "kill [-s SIGNAL] <container_id...>",
         _kill_args, lambda e, a, c: _each(lambda e, r: e.kill(r, a.signal) and r)(e, a.containers),
         text=rendering.each_line, view=cell_views.nothing, many=True),
    Verb("pause", "Pause every process of running containers (the cgroup freezer)", "pause <container_id...>",
         _containers, lambda e, a, c: _each(lambda e, r: e.pause(r) and r)(e, a.containers),
         text=rendering.each_line, view=cell_views.printed, many=True),
    Verb("unpause", "Let paused containers run on", "unpause <container_id...>",
         _containers, lambda e, a, c: _each(lambda e, r: e.unpause(r) and r)(e, a.containers),
         text=rendering.each_line, view=cell_views.printed, many=True),
    Verb("top", "Show a running container's processes (host and container pids)", "top <container_id>",
         _top_args, _top, text=rendering.top, view=cell_views.top),
    Verb("port", "Show a container's published ports", "port <container_id> [PORT[/PROTO]]", _port_args,
         lambda e, a, c: e.port(a.container, a.private_port), text=rendering.port, view=cell_views.printed),
    Verb("rename", "Rename a container", "rename <container> <new_name>",
         lambda p: (p.add_argument("container", help="container id or name"),
                    p.add_argument("new_name", help="its new name")),
         lambda e, a, c: e.rename(a.container, a.new_name), view=cell_views.printed),
    Verb("cp", "Copy files between a container and the host (through the container's root)",
         "cp [-a] [-L] <container:path> <hostpath|-> | cp [-a] [-L] <hostpath|-> <container:path>", _cp_args, _cp,
         text=rendering.cp, view=cell_views.printed),
    Verb("container", "Remove every stopped container (container VERB …: the verb, e.g. container ls)",
         "container prune [-f] [--filter label=…|until=…]", _prune_args, _container_prune,
         text=rendering.pruned("Deleted Containers:"), view=cell_views.printed),
    Verb("image", "Remove dangling images, or every unused one with -a (image VERB …: the verb)",
         "image prune [-f] [-a] [--filter label=…|until=…]",
         lambda p: _prune_args(p, "every image no container uses, not only the dangling ones"), _image_prune,
         text=rendering.pruned("Deleted Images:"), view=cell_views.printed),
    Verb("volume", "Manage named volumes", "volume create [NAME] [--label K=V] | ls [-q] [--filter K=V] | "
         "inspect NAME... | rm [-f] NAME...", _volume_args, _volume, text=rendering.volume,
         view=cell_views.volume, intermixed=True, many=True),
    Verb("system", "Show disk usage (df) or the engine's details (info), or serve the Docker API (service)",
         "system df | system info | system service [-H unix:///PATH] [--time SECONDS] [--group G]",
         _system_args, _system, text=rendering.system, view=cell_views.system),
    Verb("info", "Show the engine's details and what it runs on", "info", _none, lambda e, a, c: e.info(),
         text=rendering.info, view=cell_views.printed),
    Verb("version", "Show bocker's version and what it runs on", "version", _none, lambda e, a, c: e.version(),
         text=rendering.version, view=cell_views.printed),
    Verb("wait", "Wait for a container to exit; print its exit code", "wait <container_id>",
         _container, lambda e, a, c: e.wait(a.container), text=rendering.wait),
    Verb("commit", "Commit a container to an image", "commit <container_id> <image_id or name[:tag]>",
         _commit_args, lambda e, a, c: e.commit(a.container, a.image), text=rendering.created,
         view=cell_views.image),
    Verb("inspect", "Show a container's or an image's record as JSON", "inspect <container_id or image>",
         _ref_args, lambda e, a, c: e.inspect(a.ref), text=rendering.as_json, view=cell_views.inspect),
    Verb("diff", "Show a container's (or an image's top layer's) changed files: A, C, D",
         "diff <container_id or image>", _ref_args, lambda e, a, c: e.diff(a.ref), text=rendering.diff,
         view=cell_views.diff),
    Verb("stats", "Show cgroup accounting: cpu, memory, pids", "stats [container_id...]", _refs_args,
         lambda e, a, c: e.stats(a.containers or None), text=rendering.stats, view=cell_views.stats),
    Verb("rm", "Delete images or containers", "rm [-f] [-v] <image_id or container_id...>", _rm_args,
         lambda e, a, c: _each(lambda e, r: e.rm(r, force=a.force, volumes=a.volumes) and r)(e, a.refs),
         text=rendering.removed, view=cell_views.printed_only, many=True),
    Verb("rmi", "Delete images", "rmi <image...>",
         lambda p: p.add_argument("refs", nargs="+", metavar="image"),
         lambda e, a, c: _each(lambda e, r: e.rmi(r) and r)(e, a.refs),
         text=rendering.removed, view=cell_views.printed_only, many=True),
    Verb("network", "Manage networks (bridge, subnet, NAT)",
         "network ls | inspect NAME | create NAME [--subnet CIDR] [--gateway IP] [--internal] [-o K=V] "
         "[--label K=V] | rm NAME | connect [--alias A]... [--ip IP] NAME CONTAINER | "
         "disconnect [-f] NAME CONTAINER",
         _network_args, _network, text=rendering.network, intermixed=True),
    Verb("compose", "Run a stack of services from a compose file (Docker Compose's verbs)",
         "compose [-f FILE]... [-p NAME] [--profile P]... [--env-file F] [--project-directory D] "
         "up [-d] [--build] [--no-deps] [--force-recreate] [--wait] [SERVICE...] | down [-v] [--rmi local|all] "
         "[--remove-orphans] | ps [-a] | logs [-f] [--tail N] [SERVICE...] | exec [-T] SERVICE CMD... | "
         "run [--rm] SERVICE [CMD...] | start|stop|restart [SERVICE...] | pull | build | config | top | images",
         _compose_args, _compose, text=rendering.compose, view=cell_views.compose),
    Verb("gc", "Remove what crashes left (cgroups, processes, half-made state)", "gc", _none,
         lambda e, a, c: e.gc(), text=rendering.removed, view=cell_views.printed),
]}


# `container ls`, `image rm`…: Docker's management spellings of the verbs (the `container`,
# `image` and `system` verbs themselves hold only what has no verb of its own: prune, df).
ALIASES = {("container", "ls"): "ps", ("container", "list"): "ps", ("container", "ps"): "ps",
           ("image", "ls"): "images", ("image", "list"): "images", ("image", "rm"): "rmi",
           ("image", "build"): "build", ("system", "info"): "info"}
CONTAINER_VERBS = ("run", "create", "start", "stop", "restart", "kill", "rm", "attach", "exec", "logs", "inspect",
                   "top", "port", "rename", "cp", "pause", "unpause", "wait", "diff", "commit", "stats")
IMAGE_VERBS = ("pull", "push", "save", "load", "tag", "history", "inspect")


def canonical(verb: str, args: list[str]) -> tuple[str, list[str]]:
    """`container ls -a` -> ("ps", ["-a"]); anything else as it is."""
    if verb in ("container", "image", "system") and args:
        sub = args[0]
        target = ALIASES.get((verb, sub))
        if target is None and ((verb == "container" and sub in CONTAINER_VERBS) or
                               (verb == "image" and sub in IMAGE_VERBS)):
            target = sub
        if target is not None and target in VERBS:
            return target, args[1:]
    return verb, args


def parser(verb: str, prog: str = PROG, hint: str = HELP_HINT) -> Parser:
    """The verb's arguments; `prog` and `hint` say how the face spells it and where its help is.
    Options are never abbreviated (`--pid host` is not `--pids-limit host`); -h is help unless
    the verb has a -h of its own (run's --hostname, as Docker's)."""
    p = Parser(prog=f"{prog} {verb}", description=VERBS[verb].purpose, hint=hint, add_help=False,
               allow_abbrev=False)
    VERBS[verb].arguments(p)
    p.intermixed = VERBS[verb].intermixed
    flags = ["--help"] if "-h" in p._option_string_actions else ["-h", "--help"]
    p.add_argument(*flags, action="help", help="show this help")
    return p


def help_text() -> str:
    """Every verb, as the seed's `bocker help` prints its #HELP lines."""
    lines = [(v.purpose, v.usage) for v in VERBS.values()] + [("Display this message", "help")]
    return "".join(f"{purpose}:\n\t{PROG} {usage}\n\n" for purpose, usage in lines)


def lookup(name: str) -> Verb:
    """The verb of a name as any face spells it (`ps`, or `container ls` given as one word
    pair is canonical()'s job): an unknown one is a usage mistake."""
    try:
        return VERBS[name]
    except KeyError:
        raise InvalidArgument(f"Unknown command '{name}': see '{PROG} help'") from None


def namespace_for(name: str, **values: Any) -> argparse.Namespace:
    """The arguments of a verb as its parser would give them, from values instead of words: a
    face without a command line (an HTTP handler of the Docker API) fills what it has and the
    rest keeps the parser's defaults. An unknown name is a bug of that face: TypeError."""
    p = parser(name)
    defaults = {a.dest: (list(a.default) if isinstance(a.default, list) else a.default)
                for a in p._actions if a.dest != "help"}
    unknown = set(values) - set(defaults)
    if unknown:
        raise TypeError(f"{name} has no argument {', '.join(sorted(unknown))}")
    for action in p._actions:
        if action.nargs in ("+", "*", argparse.REMAINDER) and action.default is None:
            defaults[action.dest] = []
    return argparse.Namespace(**{**defaults, **values})


def execute(engine: Engine, verb: str, args: list[str], ctx: Context | None = None) -> tuple[argparse.Namespace, Any]:
    """Parse `args` for `verb` and make its engine call; returns the arguments and the result."""
    verb, args = canonical(verb, args)
    entry = lookup(verb)
    namespace = parser(verb).parse_args(args)
    return namespace, entry.call(engine, namespace, ctx or Context())
