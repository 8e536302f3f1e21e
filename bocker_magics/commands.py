"""Every verb once: its arguments (argparse), the engine call they make, how its result is
printed (rendering.py) and how a notebook shows it (cell_views.py): the table VERBS.

The faces look a verb up here and do nothing else of their own: `cli.py` parses a command
line, makes the call and prints with the verb's `text`; `magics.py` parses a magic's line,
makes the same call and returns the verb's `view`; a Docker API handler would fill the same
arguments (`namespace_for`) and make the same call. No face defines a verb's arguments,
holds engine logic or imports another face.

Each verb's arguments and engine call live in verbs/, by what the verb acts on (running.py:
run, create, start, attach, exec; containers.py; images.py; manage.py: prune, system, volume,
network; compose.py), on the parts they share (verbs/base.py: Parser, Context, Verb); their
names stay importable from here.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from . import cell_views, rendering
from .errors import InvalidArgument
from .verbs.base import (  # noqa: F401  (the names every face and test reaches through commands)
    HELP_HINT,
    OWN_PTY,
    PROG,
    SEED_OPTIONS,
    Context,
    Parser,
    Verb,
    container_argument,
    containers_argument,
    each,
    memory_size,
    no_arguments,
    own_pty,
    usage_error,
    whole_number,
)
from .verbs.compose import COMPOSE_ACTIONS, ComposeResult, _compose, _compose_args  # noqa: F401
from .verbs.containers import (
    _commit_args,
    _cp,
    _cp_args,
    _kill_args,
    _logs,
    _logs_args,
    _port_args,
    _ps,
    _ps_args,
    _ref_args,
    _refs_args,
    _rm_args,
    _stop_args,
    _top,
    _top_args,
)
from .verbs.images import (  # noqa: F401
    _build,
    _build_args,
    _history,
    _history_args,
    _images,
    _images_args,
    _init,
    _init_args,
    _login,
    _login_args,
    _pull_args,
    _push_args,
    _save_args,
    build_args_of,
)
from .verbs.manage import (
    _container_prune,
    _image_prune,
    _network,
    _network_args,
    _prune_args,
    _system,
    _system_args,
    _volume,
    _volume_args,
)
from .verbs.running import (  # noqa: F401
    _attach,
    _attach_args,
    _create,
    _create_args,
    _exec,
    _exec_args,
    _restart,
    _run,
    _run_args,
    _start,
    _start_args,
    environment,
    health_options,
    limits_from,
    run_options,
)

if TYPE_CHECKING:
    from .engine import Engine


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
         _run_args, _run, text=rendering.run, terminal=own_pty),
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
         text=rendering.exit_code, terminal=own_pty),
    Verb("ps", "List containers", "ps [-q] [-n N] [--no-trunc] [--filter K=V] [--format table|json|TEMPLATE] "
         "(the seed's two columns; --format table: Docker's wider table)", _ps_args, _ps,
         text=rendering.ps, view=cell_views.ps),
    Verb("logs", "View logs from a container", "logs [-f] [--tail N] [-t] [--since T] <container_id>", _logs_args,
         _logs, text=rendering.logs, view=cell_views.logs),
    Verb("stop", "Stop running containers (their stop signal, then SIGKILL)", "stop [-t SECONDS] <container_id...>",
         _stop_args, lambda e, a, c: each(lambda e, r: e.stop(r, timeout=a.time) and r, parallel=True)(e, a.containers),
         text=rendering.each_line, view=cell_views.nothing, many=True),
    Verb("kill", "Send a signal to running containers", "kill [-s SIGNAL] <container_id...>",
         _kill_args, lambda e, a, c: each(lambda e, r: e.kill(r, a.signal) and r, parallel=True)(e, a.containers),
         text=rendering.each_line, view=cell_views.nothing, many=True),
    Verb("pause", "Pause every process of running containers (the cgroup freezer)", "pause <container_id...>",
         containers_argument, lambda e, a, c: each(lambda e, r: e.pause(r) and r, parallel=True)(e, a.containers),
         text=rendering.each_line, view=cell_views.printed, many=True),
    Verb("unpause", "Let paused containers run on", "unpause <container_id...>",
         containers_argument, lambda e, a, c: each(lambda e, r: e.unpause(r) and r, parallel=True)(e, a.containers),
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
    Verb("info", "Show the engine's details and what it runs on", "info", no_arguments, lambda e, a, c: e.info(),
         text=rendering.info, view=cell_views.printed),
    Verb("version", "Show bocker's version and what it runs on", "version", no_arguments, lambda e, a, c: e.version(),
         text=rendering.version, view=cell_views.printed),
    Verb("wait", "Wait for a container to exit; print its exit code", "wait <container_id>",
         container_argument, lambda e, a, c: e.wait(a.container), text=rendering.wait),
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
         lambda e, a, c: each(lambda e, r: e.rm(r, force=a.force, volumes=a.volumes) and r, parallel=True)(e, a.refs),
         text=rendering.removed, view=cell_views.printed_only, many=True),
    Verb("rmi", "Delete images", "rmi <image...>",
         lambda p: p.add_argument("refs", nargs="+", metavar="image"),
         lambda e, a, c: each(lambda e, r: e.rmi(r) and r)(e, a.refs),
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
    Verb("gc", "Remove what crashes left (cgroups, processes, half-made state)", "gc", no_arguments,
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
