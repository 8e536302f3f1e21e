"""Every verb once: its arguments (argparse) and the engine call they make.

The two faces use this module: `cli.py` parses a command line, calls `execute` and prints
the result in the seed's formats; `magics.py` does the same with a magic's line and returns
the result as an object. Neither holds engine logic, and neither defines a verb's arguments.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import InvalidArgument, UsageError

if TYPE_CHECKING:
    from .engine import Engine

PROG = "bocker"
SEED_OPTIONS = ("MEM_LIMIT", "CPU_SHARE")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)b?$", re.IGNORECASE)


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


@dataclass
class Verb:
    name: str
    purpose: str      # the seed's #HELP first line
    usage: str        # … and its second
    arguments: Callable[[argparse.ArgumentParser], None]
    call: Callable[["Engine", argparse.Namespace, Context], Any]


def parse_size(text: str) -> int:
    """Docker's memory spelling: 512m, 1g, 65536k, or bytes."""
    m = _SIZE.match(text.strip())
    if not m:
        raise InvalidArgument(f"Invalid memory size '{text}': use a number with b, k, m or g (e.g. 256m)")
    number, unit = float(m.group(1)), m.group(2).lower()
    return int(number * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit])


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


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="print the id and return; the container runs on")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--name", help="a name to refer to the container by")
    p.add_argument("--hostname", help="its hostname (default: its id)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL", help="an environment variable")
    p.add_argument("-w", "--workdir", metavar="DIR", help="working directory in the container")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]", help="a bind mount")
    p.add_argument("-m", "--memory", metavar="SIZE", help="memory limit, e.g. 256m (0: none; default 512 MB)")
    p.add_argument("--cpu-shares", metavar="N", help="relative CPU weight (default 512)")
    p.add_argument("--cpus", metavar="N", help="CPU quota in CPUs, e.g. 0.5")
    p.add_argument("--pids-limit", metavar="N", help="at most N processes")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP", help="add a capability")
    p.add_argument("--cap-drop", action="append", default=[], metavar="CAP", help="drop a capability (ALL: every one)")
    p.add_argument("--privileged", action="store_true", help="every capability, no masked paths, /sys writable")
    p.add_argument("--network", "--net", metavar="NET", help="bridge (default), none, host, or a network's name")
    p.add_argument("-p", "--publish", action="append", default=[], metavar="[IP:]HOST:CTR[/tcp]",
                   help="publish a container port on the host")
    p.add_argument("--dns", action="append", default=[], metavar="IP", help="a nameserver for resolv.conf")
    p.add_argument("image", help="image id or name")
    p.add_argument("command", nargs=argparse.REMAINDER, help="run by /bin/sh -c, words joined")


def _exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VAL")
    p.add_argument("-w", "--workdir", metavar="DIR")
    p.add_argument("container", help="container id or name")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the program and its arguments")


def _stop_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--time", type=float, default=10.0, help="seconds before SIGKILL (default 10)")
    _container(p)


def _kill_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help="signal name or number (default KILL)")
    _container(p)


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", help="[registry[:port]/]name[:tag|@sha256:…] (Docker Hub by default)")
    p.add_argument("tag", nargs="?", help="the seed's form: pull NAME TAG")
    p.add_argument("--platform", help="os/arch[/variant] to choose from a multi-platform image")
    p.add_argument("--insecure", action="store_true", help="plain http or unverified https (loopback always may)")


def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="image id or name")
    p.add_argument("ref", nargs="?", help="where to: [registry[:port]/]name[:tag] (default: the image's name)")
    p.add_argument("--insecure", action="store_true", help="plain http or unverified https (loopback always may)")


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


def _login(e: "Engine", a: argparse.Namespace, ctx: Context):
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
    _ref_args(p)


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
        memory = parse_size(a.memory)
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


def _init(e: "Engine", a: argparse.Namespace, ctx: Context):
    if bool(a.busybox) == bool(a.directory):
        raise usage_error(f"{ctx.prog} init: give a directory, or --busybox ({ctx.hint})")
    return e.busybox() if a.busybox else e.init(a.directory, a.name)


def run_options(a: argparse.Namespace, ctx: Context):
    """The run's options, as the engine takes them."""
    from .engine import RunOptions
    return RunOptions(name=a.name, hostname=a.hostname, env=a.env, workdir=a.workdir, volumes=a.volume,
                      limits=limits_from(a, ctx.seed), detach=a.detach, remove=a.rm, cap_add=a.cap_add,
                      cap_drop=a.cap_drop, privileged=a.privileged, network=a.network, publish=a.publish,
                      dns=a.dns)


def _run(e: "Engine", a: argparse.Namespace, ctx: Context):
    # the seed's semantics: the words are joined and run by /bin/sh -c
    command = " ".join(a.command) if a.command else None
    return e.run(a.image, command, run_options(a, ctx), on_output=ctx.on_output, capture=ctx.capture,
                 on_start=ctx.on_start)


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


def build_args_of(items: list[str]) -> dict[str, str]:
    """--build-arg K=V; a bare K takes its value from the environment, as Docker does (and is
    left out when the environment has none)."""
    import os
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"Invalid build arg '{item}': use --build-arg NAME=VALUE")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def _build(e: "Engine", a: argparse.Namespace, ctx: Context):
    text = getattr(a, "dockerfile_text", None)
    if text is None and a.file == "-":
        import sys
        text = sys.stdin.read()
    output = None if a.quiet else ctx.on_output
    return e.build(a.context, a.tag, dockerfile=a.file, dockerfile_text=text, build_args=build_args_of(a.build_arg),
                   target=a.target, no_cache=a.no_cache, pull=a.pull, network=a.network,
                   on_output=(lambda chunk, stream="stdout": output(chunk, stream)) if output else None)


def _network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["ls", "inspect", "create", "rm"])
    p.add_argument("name", nargs="?", help="the network (inspect, create, rm)")
    p.add_argument("--subnet", help="create: an IPv4 subnet, e.g. 172.19.0.0/24")
    p.add_argument("--gateway", help="create: the bridge's address (default: the first host)")
    p.add_argument("--bridge", help="create: the bridge device's name (default bk-NAME)")


def _network(e: "Engine", a: argparse.Namespace, ctx: Context):
    if a.action == "ls":
        return e.network_ls()
    if not a.name:
        raise usage_error(f"{ctx.prog} network {a.action}: give the network's name ({ctx.hint})")
    if a.action == "inspect":
        return e.network_inspect(a.name)
    if a.action == "create":
        return e.network_create(a.name, a.subnet, a.gateway, a.bridge)
    return e.network_rm(a.name)


def _exec(e: "Engine", a: argparse.Namespace, ctx: Context):
    if not a.command:
        raise usage_error(f"{ctx.prog} exec: give the command to run, e.g. {ctx.prog} exec ID ls /")
    return e.exec(a.container, a.command, env=a.env, workdir=a.workdir,
                  on_output=ctx.on_output, capture=ctx.capture)


VERBS: dict[str, Verb] = {v.name: v for v in [
    Verb("init", "Create an image from a directory", "init <directory> [--name NAME[:TAG]] | init --busybox",
         _init_args, _init),
    Verb("images", "List images", "images", _none, lambda e, a, c: e.images()),
    Verb("pull", "Pull an image from a registry", "pull <name> <tag> | pull [--platform P] [--insecure] <ref>",
         _pull_args, lambda e, a, c: e.pull(a.ref, a.tag, insecure=a.insecure, platform=a.platform,
                                            progress=c.on_progress)),
    Verb("push", "Push an image to a registry", "push [--insecure] <image> [ref]", _push_args,
         lambda e, a, c: e.push(a.image, a.ref, insecure=a.insecure, progress=c.on_progress)),
    Verb("save", "Save an image as a docker-save tarball or an OCI layout", "save [--format docker|oci] <image> <file>",
         _save_args, lambda e, a, c: e.save(a.image, a.file, a.format)),
    Verb("load", "Load images from a docker-save tarball or an OCI layout", "load <file>",
         lambda p: p.add_argument("file", help="a tarball or an OCI layout directory"),
         lambda e, a, c: e.load(a.file)),
    Verb("login", "Keep credentials for a registry", "login -u USER [-p PASS | --password-stdin] [registry]",
         _login_args, _login),
    Verb("run", "Create a container",
         "run [-d] [--rm] [--name N] [--hostname H] [-e K=V] [-w DIR] [-v HOST:CTR[:ro]] [-m MEM] "
         "[--cpu-shares N] [--cpus N] [--pids-limit N] [--cap-add CAP] [--cap-drop CAP] [--privileged] "
         "[--network NET] [-p HOST:CTR] [--dns IP] <image> [command...]", _run_args, _run),
    Verb("build", "Build an image from a Dockerfile",
         "build [-t NAME[:TAG]] [-f Dockerfile|-] [--build-arg K=V] [--target S] [--no-cache] [--pull] "
         "[--network none] [-q] <context>", _build_args, _build),
    Verb("exec", "Execute a command in a running container",
         "exec [-e K=V] [-w DIR] <container_id> <command...>", _exec_args, _exec),
    Verb("ps", "List containers", "ps", _none, lambda e, a, c: e.ps()),
    Verb("logs", "View logs from a container", "logs <container_id>", _container,
         lambda e, a, c: e.logs(a.container)),
    Verb("stop", "Stop a running container (SIGTERM, then SIGKILL)", "stop [-t SECONDS] <container_id>",
         _stop_args, lambda e, a, c: e.stop(a.container, timeout=a.time)),
    Verb("kill", "Send a signal to a running container", "kill [-s SIGNAL] <container_id>",
         _kill_args, lambda e, a, c: e.kill(a.container, a.signal)),
    Verb("wait", "Wait for a container to exit; print its exit code", "wait <container_id>",
         _container, lambda e, a, c: e.wait(a.container)),
    Verb("commit", "Commit a container to an image", "commit <container_id> <image_id or name[:tag]>",
         _commit_args, lambda e, a, c: e.commit(a.container, a.image)),
    Verb("inspect", "Show a container's or an image's record as JSON", "inspect <container_id or image>",
         _ref_args, lambda e, a, c: e.inspect(a.ref)),
    Verb("diff", "Show a container's (or an image's top layer's) changed files: A, C, D",
         "diff <container_id or image>", _ref_args, lambda e, a, c: e.diff(a.ref)),
    Verb("stats", "Show cgroup accounting: cpu, memory, pids", "stats [container_id...]", _refs_args,
         lambda e, a, c: e.stats(a.containers or None)),
    Verb("rm", "Delete an image or container", "rm [-f] <image_id or container_id>", _rm_args,
         lambda e, a, c: e.rm(a.ref, force=a.force)),
    Verb("rmi", "Delete an image", "rmi <image>", _ref_args, lambda e, a, c: e.rmi(a.ref)),
    Verb("network", "Manage networks (bridge, subnet, NAT)",
         "network ls | inspect NAME | create NAME [--subnet CIDR] [--gateway IP] | rm NAME",
         _network_args, _network),
    Verb("gc", "Remove what crashes left (cgroups, processes, half-made state)", "gc", _none,
         lambda e, a, c: e.gc()),
]}


def parser(verb: str, prog: str = PROG, hint: str = HELP_HINT) -> Parser:
    """The verb's arguments; `prog` and `hint` say how the face spells it and where its help is."""
    p = Parser(prog=f"{prog} {verb}", description=VERBS[verb].purpose, hint=hint)
    VERBS[verb].arguments(p)
    return p


def help_text() -> str:
    """Every verb, as the seed's `bocker help` prints its #HELP lines."""
    lines = [(v.purpose, v.usage) for v in VERBS.values()] + [("Display this message", "help")]
    return "".join(f"{purpose}:\n\t{PROG} {usage}\n\n" for purpose, usage in lines)


def execute(engine: "Engine", verb: str, args: list[str], ctx: Context | None = None) -> tuple[argparse.Namespace, Any]:
    """Parse `args` for `verb` and make its engine call; returns the arguments and the result."""
    if verb not in VERBS:
        raise InvalidArgument(f"Unknown command '{verb}': see '{PROG} help'")
    namespace = parser(verb).parse_args(args)
    return namespace, VERBS[verb].call(engine, namespace, ctx or Context())
