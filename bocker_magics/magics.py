"""`%bocker` and `%%bocker`: the notebook face of the engine (IPython's %%bash and jupysql's
%sql are the patterns).

    %load_ext bocker_magics
    %bocker ps                          # a table (HTML) with .to_frame()
    %bocker run busybox echo hi         # streams the output, returns a RunReport
    %%bocker run -m 64m busybox         # the cell is the script /bin/sh runs
    %bocker ns ID                       # namespace inodes beside the host's
    %config BockerMagics.memory = "256m"

The verbs and their arguments are commands.VERBS (defined once, shared with the CLI); the
magic adds only what a notebook needs: --out VAR, --no-raise-error, --monitor. A BockerError
is a UsageError (one line); anything else keeps its traceback.
"""

from __future__ import annotations

import codecs
import re
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Int, Unicode, observe

from . import commands
from .commands import VERBS, Context
from .errors import BockerError

# Verbs of the magic only: views over processes, not engine commands.
MAGIC_VERBS = {
    "ns": ("Show namespace inodes of containers or processes beside the host's", "ns [container_id|PID...]"),
    "top": ("Sample a running container's memory and cpu and plot them", "top [--interval S] [--duration S] <container_id>"),
}
_HELP_LINE = re.compile(r"^\s*%bocker\s+([\w-]+)\s*\?{1,2}\s*$")


class ContainerExitError(Exception):
    """A container that exited non-zero: fails the cell (and nbconvert --execute, papermill)."""

    def __init__(self, report: Any) -> None:
        self.report = report
        self.exit_code = report.exit_code
        what = "was killed by the OOM killer" if report.oom_killed else f"exited with code {report.exit_code}"
        super().__init__(f"Container {report.id} {what} (use --no-raise-error to go on)")

    def _render_traceback_(self) -> list[str]:
        return [f"ContainerExitError: {self}"]


def magic_parser(verb: str) -> commands.Parser:
    """The verb's parser (commands.py) plus the magic's own options."""
    if verb in MAGIC_VERBS:
        p = commands.Parser(prog=f"%bocker {verb}", description=MAGIC_VERBS[verb][0])
        if verb == "ns":
            p.add_argument("refs", nargs="*", metavar="ID|PID", help="running containers or process ids")
        else:
            p.add_argument("--interval", type=float, default=0.5, help="seconds between samples (default 0.5)")
            p.add_argument("--duration", type=float, help="stop after this many seconds (default: until it exits)")
            p.add_argument("container", help="container id or name")
    else:
        p = commands.parser(verb)
        p.prog = f"%bocker {verb}"
    p.add_argument("--out", metavar="VAR", help="store the result in VAR instead of showing it")
    if verb in ("run", "exec"):
        p.add_argument("--no-raise-error", action="store_true",
                       help="a non-zero exit does not fail the cell")
    if verb == "run":
        p.add_argument("--monitor", action="store_true", help="sample memory and cpu while it runs; plot them")
    return p


def _help() -> str:
    rows = [(v.purpose, v.usage) for v in VERBS.values()] + list(MAGIC_VERBS.values())
    body = "".join(f"  %bocker {usage}\n      {purpose}\n" for purpose, usage in rows)
    return ("Run and look at containers: %bocker VERB ARGS, or %%bocker run [OPTIONS] [IMAGE] with the\n"
            "cell as the script /bin/sh runs. `%bocker VERB?` shows a verb's options. Every verb takes\n"
            "--out VAR; run and exec take --no-raise-error; run takes --monitor.\n\n" + body)


@magics_class
class BockerMagics(Magics):
    """The %bocker magics; a traitlets Configurable: `%config BockerMagics.memory = '256m'`."""

    root = Unicode(None, allow_none=True, config=True, help="BOCKER_ROOT for this kernel (default: $BOCKER_ROOT or /var/lib/bocker)")
    cgroup_parent = Unicode(None, allow_none=True, config=True, help="cgroup parent (default: $BOCKER_CGROUP_PARENT or bocker)")
    default_image = Unicode("busybox", config=True, help="image of %%bocker run when the line names none")
    memory = Unicode(None, allow_none=True, config=True, help="default -m of run, e.g. '256m'")
    cpu_shares = Int(None, allow_none=True, config=True, help="default --cpu-shares of run")
    cpus = Float(None, allow_none=True, config=True, help="default --cpus of run")
    pids_limit = Int(None, allow_none=True, config=True, help="default --pids-limit of run")
    live_widgets = Bool(False, config=True, help="show views as live ipywidgets instead of static HTML")
    monitor_interval = Float(0.2, config=True, help="seconds between cgroup samples of a run")
    _engine = None  # made on first use; config may set root before __init__ ends

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
        if verb not in VERBS and verb not in MAGIC_VERBS:
            raise UsageError(f"Unknown command '{verb}': see %bocker? for the verbs")
        if cell is not None and verb not in ("run", "exec"):
            raise UsageError(f"%%bocker {verb}: only run and exec take a cell; use %bocker {verb} on one line")
        parser = magic_parser(verb)
        try:
            a = self._parse(parser, verb, args, cell)
        except BockerError as e:
            raise UsageError(str(e)) from None
        except SystemExit:  # --help: argparse printed it
            return None
        try:
            result = self._call(verb, a, cell)
        except BockerError as e:
            raise UsageError(str(e)) from None
        if verb in ("run", "exec") and a.out:
            self.shell.user_ns[a.out] = result
        elif a.out:
            self.shell.user_ns[a.out] = result
        if verb in ("run", "exec") and result.exit_code != 0 and not a.no_raise_error:
            raise ContainerExitError(result)
        if a.out:
            return None
        if self.live_widgets and hasattr(result, "widget"):
            return result.widget()
        return result

    bocker.__doc__ = _help()

    def _parse(self, parser: commands.Parser, verb: str, args: list[str], cell: str | None):
        if verb == "run":
            args = self._defaults() + args
        if cell is None:
            return parser.parse_args(args)
        try:
            a = parser.parse_args(args)
        except BockerError:
            if verb != "run":
                raise
            a = parser.parse_args(args + [self.default_image])  # %%bocker run [OPTIONS]
        if a.command:
            raise UsageError(f"%%bocker {verb}: the cell is the script; give no command on the line "
                             f"(got '{' '.join(a.command)}')")
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

    def _call(self, verb: str, a: Any, cell: str | None) -> Any:
        from . import views

        e = self.engine
        if verb == "ns":
            return self._ns(a.refs)
        if verb == "top":
            c = e.container(a.container)
            if not c.running:
                raise BockerError(f"Container '{a.container}' exists but is not running")
            return views.Monitor(e, a.interval, c.id).follow(a.duration)
        if verb in ("run", "exec"):
            return self._run(verb, a, cell)
        ctx, progress = Context(), None
        if verb in ("pull", "push") and "on_progress" in Context.__dataclass_fields__:
            from .views.progress import LayerProgress

            progress = LayerProgress(f"{verb} {getattr(a, 'ref', None) or getattr(a, 'image', '')}",
                                     widget=self.live_widgets)
            ctx = Context(on_progress=progress)
        result = VERBS[verb].call(e, a, ctx)
        if progress is not None:
            progress.close(f"{verb}ed")
        if verb in ("ps",):
            return views.ContainerTable(result)
        if verb in ("images",):
            return views.ImageTable(result)
        if verb in ("init", "commit", "pull", "load") and hasattr(result, "layers"):
            return views.ImageTable([result])
        if verb == "inspect":
            return views.Inspect(result)
        if verb == "diff":
            upper, lowers = e.diff_dirs(a.ref)
            return views.LayerDiff(result, upper, lowers, title=a.ref)
        if verb == "stats":
            names = {c.id: c.name for c in e.ps()}
            return views.stats_frame(result, names)
        if verb == "logs":
            sys.stdout.write(result.decode(errors="replace"))
            return None if not a.out else result.decode(errors="replace")
        if verb in ("rm", "rmi"):
            print(f"Removed: {a.ref}")
            return None
        if verb == "gc":
            for line in result:
                print(f"Removed: {line}")
            return result if a.out else None
        if verb in ("stop", "kill"):
            return None
        return result  # wait: the exit code; anything a new verb returns

    def _run(self, verb: str, a: Any, cell: str | None):
        from . import views

        if cell is not None:
            a.command = [cell] if verb == "run" else ["/bin/sh", "-c", cell]
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def stream(chunk: bytes) -> None:
            sys.stdout.write(decoder.decode(chunk))
            sys.stdout.flush()

        monitor = views.Monitor(self.engine, self.monitor_interval) if verb == "run" else None
        ctx = Context(on_output=stream, capture=True, on_start=monitor.start if monitor else None)
        try:
            result = VERBS[verb].call(self.engine, a, ctx)
        finally:
            if monitor is not None:
                monitor.stop()
            tail = decoder.decode(b"", final=True)
            if tail:
                sys.stdout.write(tail)
            sys.stdout.flush()
        detached = verb == "run" and a.detach
        stats = monitor.last if monitor is not None else None
        if verb == "run" and not detached and not a.rm:
            # the stats the monitor recorded at exit, where it does (else the last sample)
            recorded = self.engine.stats([result.id]).get(result.id)
            if recorded is not None and recorded.cpu_seconds is not None:
                stats = recorded
        return views.RunReport(result, stats, monitor if verb == "run" and a.monitor else None, detached)

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


def _help_transformer(lines: list[str]) -> list[str]:
    """`%bocker run?` is help for the verb: IPython would look up an object named `run`."""
    if len(lines) == 1:
        m = _HELP_LINE.match(lines[0])
        if m:
            return [f"%bocker {m.group(1)} --help\n"]
    return lines


def load(ipython: Any) -> BockerMagics:
    magics = BockerMagics(shell=ipython)
    ipython.register_magics(magics)
    if _help_transformer not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(_help_transformer)
    return magics


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
