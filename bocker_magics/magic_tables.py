"""The magic's own tables, beside the verbs' (commands.VERBS): its verbs (MAGIC_VERBS: ns,
cleanup, dashboard), the options it adds to a verb (MAGIC_OPTIONS: --out VAR, --monitor,
--quiet, --no-raise-error...), the parser of a magic's line (magic_parser), its help, the
errors that are one line in a cell, and what this kernel made (MADE: %bocker cleanup's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import commands
from .commands import VERBS

PROG = "%bocker"


@dataclass(frozen=True)
class MagicVerb:
    """A verb of the magic only: a view over processes, or the kernel's own bookkeeping."""

    purpose: str
    usage: str
    arguments: Callable[[commands.Parser], None]


MAGIC_VERBS = {
    "ns": MagicVerb("Show namespace inodes of containers or processes beside the host's", "ns [container_id|PID...]",
                    lambda p: p.add_argument("refs", nargs="*", metavar="ID|PID",
                                             help="running containers or process ids")),
    "cleanup": MagicVerb("Remove the containers, images and networks this kernel made (running ones killed)",
                         "cleanup [--dry-run]",
                         lambda p: p.add_argument("-n", "--dry-run", action="store_true",
                                                  help="list what would be removed, remove nothing")),
    "dashboard": MagicVerb("A live table of the containers this kernel made, with stop and logs buttons",
                           "dashboard [--interval S] [--duration S]", lambda p: _dashboard_arguments(p)),
}
RUNS = ("run", "exec")
CELL_VERBS = (*RUNS, "build", "compose")  # the verbs whose cell is their input: a script, a Dockerfile, a stack
MAKES_IMAGES = ("init", "pull", "load", "commit")  # what they made is this kernel's (%bocker cleanup)
NO_TERMINAL = ("a notebook has no terminal: use %%bocker run IMAGE (the cell is the script), "
               "%%bocker run -i IMAGE PROGRAM (the cell is its input) or %bocker exec NAME COMMAND")


# -- errors that are one line in a cell -------------------------------------------------------
class ContainerExitError(Exception):
    """A container that exited non-zero: fails the cell (and nbconvert --execute, papermill)."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.exit_code = report.exit_code
        what = f"was killed by the OOM killer (exit {report.exit_code})" if getattr(report, "killed_by_oom", False) \
            else f"exited with code {report.exit_code}"
        where = f"exec in {report.exec_in}" if getattr(report, "exec_in", None) else f"Container {report.label}"
        super().__init__(f"{where} {what} (use --no-raise-error to go on)")

    def _render_traceback_(self) -> list[str]:
        return [f"ContainerExitError: {self}"]


class BuildFailed(Exception):
    """A build whose step failed: fails the cell, labelled as the build failure it is."""

    def _render_traceback_(self) -> list[str]:
        return [f"BuildFailed: {self}"]


class ContainerInterrupted(KeyboardInterrupt):
    """The cell was interrupted (the stop button, Ctrl-C, a notebook run's timeout) and the
    container stopped. Still a KeyboardInterrupt: the cell fails and a notebook run stops
    there; the cell shows one line, no traceback."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line

    def _render_traceback_(self) -> list[str]:
        return [self.line]


# -- what this kernel made -------------------------------------------------------------------
@dataclass
class Made:
    """Containers, images and networks the magics made in this process, oldest first: what
    `%bocker cleanup` removes. Kept by the module, so %reload_ext keeps it."""

    containers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def add(self, kind: str, ref: str) -> None:
        refs = getattr(self, kind)
        if ref not in refs:
            refs.append(ref)


MADE = Made()


def _command_line(command: list[str] | None) -> str | None:
    """A run's command in one line, as given (a cell's script: its first line and a count)."""
    if not command:
        return None
    import shlex
    text = command[0] if len(command) == 1 else shlex.join(command)
    lines = text.strip().splitlines() or [""]
    return lines[0] + (f" … ({len(lines)} lines)" if len(lines) > 1 else "")


# -- arguments ---------------------------------------------------------------------------------
def _top_options(p: commands.Parser) -> None:
    """top shows the processes (as the CLI's); with these, a live plot of memory and cpu instead."""
    p.add_argument("--monitor", action="store_true", help="sample its memory and cpu: a live plot")
    p.add_argument("--interval", type=float, help="seconds between samples (default 0.5; implies --monitor)")
    p.add_argument("--duration", type=float, help="stop sampling after this many seconds (default: until it "
                                                  "exits or the cell is interrupted; implies --monitor)")


def _exec_options(p: commands.Parser) -> None:
    p.add_argument("--no-raise-error", action="store_true", help="a non-zero exit does not fail the cell")
    p.add_argument("--quiet", action="store_true",
                   help="stream nothing into the cell (the result, e.g. --out VAR, keeps the output)")


def _run_options(p: commands.Parser) -> None:
    _exec_options(p)
    p.add_argument("--monitor", action="store_true",
                   help="sample memory and cpu while it runs; a live plot, then the final one")


def _build_options(p: commands.Parser) -> None:
    p.description = (f"{p.description}. In %%bocker build the cell is the Dockerfile and CONTEXT "
                     "defaults to the current directory.")


def _stats_options(p: commands.Parser) -> None:
    """As `docker stats`: a live table redrawn until the cell is interrupted, by default."""
    p.add_argument("--no-stream", action="store_true",
                   help="one table, then return (as docker stats --no-stream); --out VAR implies it")
    p.add_argument("--stream", action="store_true",
                   help="redraw until interrupted: the default, and with --out VAR the last table is stored")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples while streaming (default 1)")


def _dashboard_arguments(p: commands.Parser) -> None:
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default 2)")
    p.add_argument("--duration", type=float, default=600.0, help="stop refreshing after this many seconds")


# The magic's options beyond a verb's own (every verb also takes --out VAR).
MAGIC_OPTIONS: dict[str, Callable[[commands.Parser], None]] = {
    "top": _top_options, "run": _run_options, "exec": _exec_options, "build": _build_options,
    "stats": _stats_options,
}


def magic_parser(verb: str) -> commands.Parser:
    """The verb's parser (commands.py, or MAGIC_VERBS) plus the magic's own options."""
    hint = f"see {PROG} {verb}?"
    if verb in MAGIC_VERBS:
        p = commands.Parser(prog=f"{PROG} {verb}", description=MAGIC_VERBS[verb].purpose, hint=hint)
        MAGIC_VERBS[verb].arguments(p)
    else:
        p = commands.parser(verb, prog=PROG, hint=hint)
    p.add_argument("--out", metavar="VAR", help="store the result in VAR instead of showing it")
    MAGIC_OPTIONS.get(verb, lambda p: None)(p)
    return p


def _template_braces(a: Any) -> Any:
    """IPython expands {expr} in a magic's line and turns Docker's {{.Field}} into {.Field}:
    in a --format without {{ the braces are the template's (written {{{{.ID}}}} they arrive
    as {{.ID}} and stay)."""
    fmt = getattr(a, "format", None)
    if isinstance(fmt, str) and "{{" not in fmt and "{" in fmt:
        a.format = fmt.replace("{", "{{").replace("}", "}}")
    return a


def verbs() -> list[str]:
    return [*VERBS, *MAGIC_VERBS, "help"]


EXAMPLES = """Examples:
  %bocker run busybox echo hello              # run a command: its output streams into the cell
  %bocker run -d --name web -p 8080:80 busybox httpd -f -p 80   # detached, a port published
  %bocker ps                                  # the containers: a table (.to_frame() for pandas)
  %bocker top web --monitor --duration 10     # a live plot of its cpu and memory
  %%bocker build -t app:v1 .                  # the cell is the Dockerfile, . the context
"""


def _help() -> str:
    rows = [(v.purpose, v.usage) for v in [*VERBS.values(), *MAGIC_VERBS.values()]]
    body = "".join(f"  %bocker {usage}\n      {purpose}\n" for purpose, usage in rows)
    return (EXAMPLES + "\n"
            "Run and look at containers: %bocker VERB ARGS, or %%bocker run [OPTIONS] [IMAGE] with the\n"
            "cell as the script /bin/sh runs. `%bocker VERB?` shows a verb's options; Tab completes\n"
            "verbs, options, containers, images and networks. --format '{{.ID}}' works as on the command line\n"
            "(IPython's {expr} expansion leaves single braces: they are read as the template's).\n"
            "Every verb takes --out VAR; run and\n"
            "exec take --quiet and --no-raise-error; run takes --monitor; logs takes -f; top takes\n"
            "--monitor, --interval S, --duration S (a live plot of memory and cpu instead of the processes).\n"
            "A notebook has no terminal: no -t (attached) and no attach; %%bocker run -i IMAGE PROGRAM feeds\n"
            "the cell to PROGRAM as its input.\n\n" + body)
