"""`%bocker` and `%%bocker`: the notebook face of the engine (IPython's %%bash and jupysql's
%sql are the patterns).

    %load_ext bocker_magics
    %bocker ps                          # a table (HTML) with .to_frame()
    %bocker run busybox echo hi         # streams the output, returns a RunReport
    %%bocker run -m 64m busybox         # the cell is the script /bin/sh runs
    %bocker ns ID                       # namespace inodes beside the host's
    %bocker top web                     # a live plot of its memory and cpu
    %bocker logs -f web                 # its log as it grows
    %bocker cleanup                     # remove what this kernel made
    %config BockerMagics.memory = "256m"

The verbs, their arguments and how a cell shows their results are commands.VERBS (defined
once, shared with the CLI; the views themselves in cell_views.py); the magic adds only what
a notebook needs, in tables here: its options (MAGIC_OPTIONS: --out VAR, --quiet,
--no-raise-error, --monitor), its own way with a few verbs (OWN_WAYS: run and exec stream
into the cell, logs -f follows, top --monitor plots) and its own verbs (MAGIC_VERBS: ns,
cleanup). Tab completes verbs, options, containers, images
and networks (completion.py). A BockerError is a UsageError (one line); an interrupt stops
the container and is one line too; anything else keeps its traceback (a bug).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, Unicode, observe

from . import commands
from .cell_output import CellOutput, follow_logs
from .cell_views import label as _label
from .commands import VERBS, Context
from .errors import BockerError, BuildStepFailed, NotFound

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
_HELP_LINE = re.compile(r"^\s*%bocker\s+([\w-]+)\s*\?{1,2}\s*$")


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


@magics_class
class BockerMagics(Magics):
    """The %bocker magics; a traitlets Configurable: `%config BockerMagics.memory = '256m'`."""

    root = Unicode(None, allow_none=True, config=True,
                   help="BOCKER_ROOT for this kernel (default: $BOCKER_ROOT or /var/lib/bocker)")
    cgroup_parent = Unicode(None, allow_none=True, config=True,
                            help="cgroup parent (default: $BOCKER_CGROUP_PARENT or bocker)")
    default_image = Unicode("busybox", config=True, help="image of %%bocker run when the line names none")
    memory = Unicode(None, allow_none=True, config=True, help="default -m of run, e.g. '256m'")
    cpu_shares = Int(None, allow_none=True, config=True, help="default --cpu-shares of run")
    cpus = Float(None, allow_none=True, config=True, help="default --cpus of run")
    pids_limit = Int(None, allow_none=True, config=True, help="default --pids-limit of run")
    live_widgets = Bool(False, config=True, help="show views as live ipywidgets instead of static HTML")
    monitor_interval = Float(0.2, config=True, help="seconds between cgroup samples of a run")
    stream_lines = Int(1000, config=True, help="lines of a run's output shown in the cell (0: all); the rest is "
                                               "kept in the result and the log (%bocker logs)")
    _engine = None  # made on first use; config may set root before __init__ ends
    _stack = None   # the last %%bocker compose cell: (its text, its -p), for %bocker compose VERB

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._engine = None

    # -- the engine ---------------------------------------------------------------------------
    @property
    def engine(self):
        if self._engine is None:
            from .engine import Engine

            self._engine = Engine(self.root or None, cgroup_parent=self.cgroup_parent or None)
        return self._engine

    @observe("root", "cgroup_parent")
    def _where_changed(self, change: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    # -- the magic ----------------------------------------------------------------------------
    @line_cell_magic
    def bocker(self, line: str, cell: str | None = None) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as e:
            raise UsageError(f"%bocker: {e} in the line") from None
        if not words or words[0] in ("help", "-h", "--help"):
            print(_help())
            return None
        verb, args = words[0], words[1:]
        if verb.endswith("?"):
            verb, args = verb.rstrip("?"), ["--help"]
        verb, args = commands.canonical(verb, args)  # container ls, image rm ...
        if verb not in VERBS and verb not in MAGIC_VERBS:
            from .views.hints import did_you_mean
            raise UsageError(f"Unknown command '{verb}'{did_you_mean(verb, [*VERBS, *MAGIC_VERBS])}: "
                             "see %bocker? for the verbs")
        if cell is not None and verb not in CELL_VERBS:
            raise UsageError(f"%%bocker {verb}: only run, exec and build take a cell (and compose: its file); use "
                             f"%bocker {verb} on one line")
        parser = magic_parser(verb)
        try:
            a = self._parse(parser, verb, args, cell)
        except BockerError as e:
            from .views.hints import option_hint
            raise UsageError(option_hint(str(e), parser._option_string_actions)) from None
        except SystemExit:  # --help: argparse printed it
            return None
        try:
            result = self._call(verb, a, cell)
        except BuildStepFailed as e:  # the build ran and a step failed: not a usage mistake
            raise BuildFailed(str(e)) from None
        except BockerError as e:
            raise UsageError(str(e)) from None
        if a.out:
            self.shell.user_ns[a.out] = result
        if verb in RUNS and result.exit_code != 0 and not a.no_raise_error:
            raise ContainerExitError(result)
        if a.out:
            return None
        return self._shown(result)

    bocker.__doc__ = _help()

    def _shown(self, result: Any) -> Any:
        """With live_widgets, a view goes out as its widget (and its HTML, for where widgets
        do not render)."""
        if not self.live_widgets or result is None or not hasattr(result, "widget"):
            return result
        from .views import WithWidget

        live = getattr(result, "live_widget", None)  # the widget that followed it live, if one did
        return WithWidget(result, live if live is not None else result.widget())

    def _parse(self, parser: commands.Parser, verb: str, args: list[str], cell: str | None):
        if verb == "run":
            args = self._defaults() + args
        if cell is None:
            a = parser.parse_args(args)
            if verb == "top" and a.ps_options:  # `top NAME --monitor ...`: the options after the name count
                from .views.hints import name_last
                a = parser.parse_args(name_last(args, a.container))
            return _template_braces(a)
        if verb == "compose":
            return parser.parse_args(args)
        if verb == "build":
            try:
                a = parser.parse_args(args)
            except BockerError:
                a = parser.parse_args(args + ["."])           # %%bocker build -t NAME: the context is .
            if a.file is not None:
                raise UsageError("%%bocker build: the cell is the Dockerfile; give no -f")
            a.dockerfile_text = cell
            return a
        try:
            a = parser.parse_args(args)
        except BockerError:
            if verb != "run":
                raise
            a = parser.parse_args(args + [self.default_image])  # %%bocker run [OPTIONS]
        if a.command and not getattr(a, "interactive", False):
            raise UsageError(f"%%bocker {verb}: the cell is the script; give no command on the line "
                             f"(got '{' '.join(a.command)}'), or -i to feed the cell to it as its input")
        return a

    def _defaults(self) -> list[str]:
        out: list[str] = []
        if self.memory:
            out += ["-m", self.memory]
        if self.cpu_shares is not None:
            out += ["--cpu-shares", str(self.cpu_shares)]
        if self.cpus is not None:
            out += ["--cpus", str(self.cpus)]
        if self.pids_limit is not None:
            out += ["--pids-limit", str(self.pids_limit)]
        return out

    def _context(self, verb: str, **kwargs: Any) -> Context:
        return Context(prog=PROG, hint=f"see {PROG} {verb}?", no_terminal=NO_TERMINAL, environ=dict(os.environ),
                       **kwargs)

    def _call(self, verb: str, a: Any, cell: str | None) -> Any:
        """The magic's own way with the verb where it has one (OWN_WAYS), else the verb's."""
        own = OWN_WAYS.get(verb)
        return own(self, verb, a, cell) if own is not None else self._verb(verb, a)

    def _verb(self, verb: str, a: Any) -> Any:
        """The verb's engine call (a progress bar for pull and push), then its view (cell_views.py)."""
        entry = VERBS[verb]
        e = self.engine
        progress = None
        if entry.progress:
            progress = self._progress(f"{verb} {getattr(a, 'ref', None) or getattr(a, 'image', '')}")
        images_before = {i.id for i in e.images()} if verb in MAKES_IMAGES else set()
        try:
            result = entry.call(e, a, self._context(verb, on_progress=progress))
        except BaseException as err:
            if progress is not None:
                progress.close(ok=False, note=str(err).splitlines()[0] if str(err) else type(err).__name__)
            raise
        if progress is not None:
            progress.close(ok=True, note=f"{verb}ed")
        self._remember(verb, a, result, images_before)
        return entry.view(e, entry, a, result)

    # -- the magic's own ways (OWN_WAYS) ----------------------------------------------------------
    def _no_terminal(self, verb: str, a: Any, cell: str | None) -> None:
        raise UsageError(NO_TERMINAL)  # attach: a notebook has no terminal

    def _cp(self, verb: str, a: Any, cell: str | None) -> Any:
        if "-" in (a.source, a.destination):
            raise UsageError("%bocker cp: a notebook has no stdin or stdout stream for a tar ('-'): "
                             "copy to or from a file path")
        return self._verb(verb, a)

    def _top_or_monitor(self, verb: str, a: Any, cell: str | None) -> Any:
        if a.monitor or a.interval is not None or a.duration is not None:
            return self._top(a)
        return self._verb(verb, a)

    def _logs(self, verb: str, a: Any, cell: str | None) -> Any:
        return self._follow(a.container) if a.follow else self._verb(verb, a)

    def _ns_verb(self, verb: str, a: Any, cell: str | None) -> Any:
        return self._ns(a.refs)

    def _cleanup_verb(self, verb: str, a: Any, cell: str | None) -> list[str] | None:
        removed = self._cleanup(a.dry_run, a.out)
        return removed if a.out else None  # its lines were printed: no list after them

    def _dashboard(self, verb: str, a: Any, cell: str | None) -> Any:
        from . import views
        return views.Dashboard.shown(self.engine, lambda: list(MADE.containers), a.interval, a.duration)

    def _stats(self, verb: str, a: Any, cell: str | None) -> Any:
        if a.stream and a.no_stream:
            raise UsageError(f"{PROG} stats: --stream and --no-stream contradict each other: give one")
        if a.stream or not (a.no_stream or a.out):  # docker stats: redrawn until the cell is interrupted
            from . import views
            return views.StatsTable.stream(self.engine, a.containers or None, a.interval)
        return self._verb(verb, a)

    def _compose(self, verb: str, a: Any, cell: str | None) -> Any:
        """%%bocker compose: the cell is the compose file (up by default, detached: the cell shows
        the stack); %bocker compose VERB on one line, without -f, works on the last stack this
        kernel brought up from a cell."""
        if cell is not None:
            a.compose_text = cell
        elif not a.file and self._stack is not None:
            a.compose_text = self._stack[0]
            a.project_name = a.project_name or self._stack[1]
        if "--out" in a.args[:-1]:  # after the compose verb, the magic's --out is still the magic's
            i = a.args.index("--out")
            a.out, a.args = a.args[i + 1], a.args[:i] + a.args[i + 2:]
        if a.action is None and cell is not None:
            a.action = "up"
        if a.action == "up" and not {"-d", "--detach"} & set(a.args):
            a.args = ["-d", *a.args]  # a cell does not block on the logs: %bocker compose logs -f follows
        try:
            shown = self._verb(verb, a)
        except KeyboardInterrupt:  # logs -f, followed until the stop button
            raise ContainerInterrupted(f"%bocker compose {a.action}: interrupted") from None
        if cell is not None and a.action == "up":  # the stack the one-line verbs work on
            self._stack = (cell, a.project_name)
        return shown

    def _remember(self, verb: str, a: Any, result: Any, images_before: set[str]) -> None:
        if verb in MAKES_IMAGES:
            for img in result if isinstance(result, list) else [result]:
                if getattr(img, "id", None) and img.id not in images_before:
                    MADE.add("images", img.id)
        elif verb == "network" and a.action == "create":
            MADE.add("networks", a.name)

    # -- progress: a bar in the cell, a widget, or the terminal's --------------------------------
    def _progress(self, what: str) -> _EndingProgress:
        from .views.live import updates_in_place

        if updates_in_place():
            from .views.progress import LayerProgress

            return _EndingProgress(LayerProgress(what, widget=self.live_widgets))
        from .progress import TerminalProgress

        return _EndingProgress(TerminalProgress(sys.stderr))

    # -- run and exec ---------------------------------------------------------------------------
    def _run(self, verb: str, a: Any, cell: str | None):
        from . import views

        e = self.engine
        stdin = None
        if cell is not None and getattr(a, "interactive", False) and a.command:
            stdin = cell.encode()  # %%bocker run -i IMAGE PROGRAM: the cell is its input
        elif cell is not None:
            a.command = [cell] if verb == "run" else ["/bin/sh", "-c", cell]
        if verb == "run":
            self._check_image(a.image)
            name, cid = a.name, None
        else:
            c = e.container(a.container)
            name, cid = c.name, c.id
        started: dict[str, str] = {}
        see_all = (lambda: f"%bocker logs {started.get('id') or name}") if verb == "run" and not a.rm else \
            "the result's .text (`_.text`, or --out VAR)"
        output = None if a.quiet else CellOutput(self.stream_lines, see_all)
        monitor = views.Monitor(e, self.monitor_interval) if verb == "run" else None

        def on_start(container_id: str) -> None:
            started["id"] = container_id
            MADE.add("containers", container_id)
            if monitor is not None:
                monitor.start(container_id)
                if a.monitor and not a.detach:
                    monitor.show_live(widget=self.live_widgets)

        ctx = self._context(verb, on_output=output.write if output else None, capture=True,
                            on_start=on_start if verb == "run" else None, stdin=stdin)
        try:
            result = VERBS[verb].call(e, a, ctx)
        except KeyboardInterrupt:
            raise ContainerInterrupted(self._interrupted(verb, name, started.get("id") or cid)) from None
        finally:
            if monitor is not None:
                monitor.stop()
                monitor.end_live()
            if output is not None:
                output.close()
        if verb == "exec":
            return views.RunReport(result, exec_in=name or cid, label=_label(name, cid), streamed=output is not None,
                                   command=_command_line(a.command))
        detached = a.detach
        stats = monitor.last if monitor is not None else None
        if not detached and not a.rm:
            # the stats the monitor recorded at exit, where it does (else the last sample)
            recorded = e.stats([result.id]).get(result.id)
            if recorded is not None and recorded.cpu_seconds is not None:
                stats = recorded
        return views.RunReport(result, stats, monitor if a.monitor else None, detached,
                               label=_label(name, result.id), streamed=output is not None,
                               command=_command_line(a.command))

    # -- build ----------------------------------------------------------------------------------
    def _build(self, verb: str, a: Any, cell: str | None):
        """Stream each step into the cell, then show the steps (and each layer's diff)."""
        from . import views

        e = self.engine
        output = None if a.quiet else CellOutput(self.stream_lines, "the result's .steps (--out VAR)")
        images_before = {i.id for i in e.images()}
        try:
            result = VERBS["build"].call(e, a, self._context("build", on_output=output.write if output else None))
        except KeyboardInterrupt:
            raise ContainerInterrupted("interrupted: the build stopped; its step's container was removed "
                                       "and no image was made") from None
        finally:
            if output is not None:
                output.close()
        if result.image.id not in images_before:
            MADE.add("images", result.image.id)
        return views.BuildReport(result, e.store.layer_dir)

    def _check_image(self, ref: str) -> None:
        """A missing image says how to get one (the engine's message, and the magic's verbs)."""
        try:
            self.engine.image(ref)
        except NotFound as e:
            raise NotFound(f"{str(e).split(':')[0]}: `%bocker pull {ref}` fetches it, or `%bocker init --busybox` "
                           "makes the built-in busybox") from None

    def _interrupted(self, verb: str, name: str | None, cid: str | None) -> str:
        """The one line an interrupt leaves: what stopped, and its exit status."""
        if cid is None:
            return "interrupted: the container was not started"
        if verb == "exec":
            return f"interrupted: exec in {_label(name, cid)} stopped, exit 137"
        code = 137  # the engine stops it with SIGKILL; with --rm its record is gone already
        try:
            c = self.engine.container(cid)
            code = c.exit_code if c.exit_code is not None else code
        except BockerError:
            pass
        return f"interrupted: container {_label(name, cid)} stopped, exit {code}"

    # -- top, logs -f ---------------------------------------------------------------------------
    def _top(self, a: Any):
        from . import views

        c = self.engine.container(a.container)
        if not c.running:
            raise BockerError(f"Container '{a.container}' exists but is not running")
        m = views.Monitor(self.engine, a.interval if a.interval is not None else 0.5, c.id)
        m.show_live(widget=self.live_widgets)
        try:
            m.follow(a.duration)
        except KeyboardInterrupt:
            pass  # the interrupt ends the sampling (it observes; nothing to stop): the picture stays
        finally:
            m.end_live()
        return m

    def _follow(self, ref: str) -> None:
        """`%bocker logs -f`: the log into the cell as it grows; an interrupt ends it."""
        from . import format

        self.engine.container(ref)  # a missing container is a one-line error before anything
        out = CellOutput(None)
        try:
            for chunk in follow_logs(self.engine, ref):
                out.write(chunk)
        except KeyboardInterrupt:
            out.close()
            print(f"(stopped following {ref})")
            return None
        out.close()
        c = self.engine.container(ref)
        print(f"({ref} {c.status_text}" + (f" at {format.local_time(c.finished_at)})" if c.finished_at else ")"))
        return None

    # -- cleanup --------------------------------------------------------------------------------
    def _cleanup(self, dry_run: bool, quiet: bool) -> list[str]:
        """Remove what this kernel made and still exists: containers (killed first if
        running), then images, then networks. Returns what it removed."""
        e = self.engine
        removed: list[str] = []
        existing = {c.id: c for c in e.ps()}
        for cid in list(MADE.containers):
            if cid in existing:
                if not dry_run:
                    e.rm(cid, force=True)
                removed.append(_label(existing[cid].name, cid))
            if not dry_run:
                MADE.containers.remove(cid)
        images = {i.id: i for i in e.images()}
        for iid in list(MADE.images):
            if iid in images:
                if not dry_run:
                    e.rmi(iid)
                removed.append(_label(", ".join(images[iid].names), iid))
            if not dry_run:
                MADE.images.remove(iid)
        from .completion import network_names

        networks = set(network_names(e))
        for net in list(MADE.networks):
            if net in networks:
                if not dry_run:
                    e.network_rm(net)
                removed.append(f"network {net}")
            if not dry_run:
                MADE.networks.remove(net)
        if not quiet:
            word = "Would remove" if dry_run else "Removed"
            for what in removed:
                print(f"{word}: {what}")
            if not removed:
                print("Nothing to remove: what this kernel made is gone already")
        return removed

    # -- ns -------------------------------------------------------------------------------------
    def _ns(self, refs: list[str]):
        from .views import NamespaceTable

        pids: dict[str, int] = {}
        for ref in refs:
            if ref.isdigit():
                from .views.namespaces import process_label

                pids[process_label(int(ref))] = int(ref)
                continue
            c = self.engine.container(ref)
            if not c.running or not c.pid:
                raise BockerError(f"Container '{ref}' exists but is not running: its namespaces are gone")
            pids[c.name or c.id] = c.pid
        try:
            return NamespaceTable.of(pids)
        except ProcessLookupError as e:
            raise BockerError(f"{e}: give a running process or container") from None


# The verbs a notebook handles its own way (each may still end in the verb's own call and view).
OWN_WAYS: dict[str, Callable[[BockerMagics, str, Any, str | None], Any]] = {
    "run": BockerMagics._run, "exec": BockerMagics._run, "build": BockerMagics._build,
    "attach": BockerMagics._no_terminal, "cp": BockerMagics._cp, "top": BockerMagics._top_or_monitor,
    "logs": BockerMagics._logs, "ns": BockerMagics._ns_verb, "cleanup": BockerMagics._cleanup_verb,
    "dashboard": BockerMagics._dashboard, "stats": BockerMagics._stats, "compose": BockerMagics._compose,
}


class _EndingProgress:
    """A pull's or push's progress, whichever display it is, ending done or failed."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def __call__(self, event: Any) -> None:
        self.target(event)

    def close(self, ok: bool, note: str) -> None:
        from .progress import TerminalProgress

        if isinstance(self.target, TerminalProgress):
            self.target.close(ok)
        elif ok:
            self.target.close(note)
        else:
            self.target.fail(note)


def _help_transformer(lines: list[str]) -> list[str]:
    """`%bocker run?` is help for the verb: IPython would look up an object named `run`."""
    if len(lines) == 1:
        m = _HELP_LINE.match(lines[0])
        if m:
            return [f"%bocker {m.group(1)} --help\n"]
    return lines


def load(ipython: Any) -> BockerMagics:
    from .completion import BockerCompleter

    magics = BockerMagics(shell=ipython)
    ipython.register_magics(magics)
    if _help_transformer not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(_help_transformer)
    completer = getattr(ipython, "Completer", None)
    if completer is not None:
        _remove_completers(completer)
        completer.custom_matchers.append(BockerCompleter(lambda: magics.engine, verbs, magic_parser).matcher())
    return magics


def _remove_completers(completer: Any) -> None:
    completer.custom_matchers[:] = [m for m in completer.custom_matchers if not hasattr(m, "bocker_completer")]


def unload(ipython: Any) -> None:
    mm = ipython.magics_manager
    instance = mm.registry.pop("BockerMagics", None)
    for kind in ("line", "cell"):
        mm.magics[kind].pop("bocker", None)
    if instance is not None:
        instance.close()
        if instance in getattr(ipython, "configurables", []):
            ipython.configurables.remove(instance)
    while _help_transformer in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(_help_transformer)
    if getattr(ipython, "Completer", None) is not None:
        _remove_completers(ipython.Completer)
