"""compose: the verb of a stack of services (engine/stacks/), and its own verbs (up, down, ps,
logs, exec, run, ...) each with its arguments and what it does with the stack.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import Context, Parser, no_arguments, usage_error, whole_number
from .running import environment

if TYPE_CHECKING:
    from ..engine import Engine


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
    "config": (no_arguments, lambda s, a, c: s.project.to_config()),
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

    from ..engine.stacks.stack import open_stack
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
