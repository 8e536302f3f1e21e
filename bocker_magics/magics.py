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
a notebook needs, in tables: its options (MAGIC_OPTIONS: --out VAR, --quiet,
--no-raise-error, --monitor) and its own verbs (MAGIC_VERBS: ns, cleanup), in
magic_tables.py; its own way with a few verbs (OWN_WAYS, here: run and exec stream into the
cell, logs -f follows, top --monitor plots), in magic_ways.py. Tab completes verbs,
options, containers, images and networks (completion.py). A BockerError is a UsageError (one line); an interrupt stops
the container and is one line too; anything else keeps its traceback (a bug).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, Unicode, observe

from . import commands
from .commands import VERBS, Context
from .errors import BockerError, BuildStepFailed
from .magic_tables import (  # noqa: F401  (the magic's names, importable from here as before)
    CELL_VERBS,
    EXAMPLES,
    MADE,
    MAGIC_OPTIONS,
    MAGIC_VERBS,
    MAKES_IMAGES,
    NO_TERMINAL,
    PROG,
    RUNS,
    BuildFailed,
    ContainerExitError,
    ContainerInterrupted,
    Made,
    MagicVerb,
    _help,
    _template_braces,
    magic_parser,
    verbs,
)
from .magic_ways import OwnWays

_HELP_LINE = re.compile(r"^\s*%bocker\s+([\w-]+)\s*\?{1,2}\s*$")


@magics_class
class BockerMagics(Magics, OwnWays):
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
