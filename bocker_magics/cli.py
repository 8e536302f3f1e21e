"""`bocker`: the seed script's verbs, headers and messages, as a thin face over the engine.

    bocker [--MEM_LIMIT=MB] [--CPU_SHARE=N] VERB ARGS...

The verbs, their arguments and how their results are printed are defined once, in
commands.VERBS (the lines themselves in rendering.py); this module parses a command line,
looks the verb up and runs it with this terminal's input, output and environment. A
BockerError is one line on stderr and a non-zero status; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .commands import OWN_PTY, PROG, SEED_OPTIONS, VERBS, Context, canonical, help_text, parser
from .errors import BockerError, InvalidArgument
from .rendering import write_stream


def _split_seed_options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The seed's leading `--NAME=VALUE` options (it declares BOCKER_NAME=VALUE)."""
    options: dict[str, str] = {}
    while argv and argv[0].startswith("--") and argv[0] not in ("--help", "--version"):
        name, _, value = argv[0][2:].partition("=")
        if name not in SEED_OPTIONS or not value:
            raise InvalidArgument(f"Unknown option '{argv[0]}': before the verb, only "
                                  "--MEM_LIMIT=MB and --CPU_SHARE=N are understood")
        options[name] = value
        argv = argv[1:]
    return options, argv


def render(verb: str, args: Any, result: Any) -> int:
    """Print a verb's result with its `text` (rendering.py); return the exit status."""
    status = VERBS[verb].text(args, result)
    return status if isinstance(status, int) else 0


def one_line(message: str) -> str:
    """A message is one line: a name that holds a newline is shown escaped, not broken."""
    return message.replace("\r", "\\r").replace("\n", "\\n") or "failed"


def fault_message(e: OSError) -> str:
    import errno

    from .engine import default_root
    root = default_root()
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"No space left on BOCKER_ROOT ({root}): free space or move BOCKER_ROOT"
    if e.errno == errno.EROFS:
        return f"BOCKER_ROOT ({root}) is on a read-only file system: move BOCKER_ROOT"
    where = f" ({e.filename})" if e.filename else ""
    return f"{e.strerror or e}{where}: check BOCKER_ROOT ({root}) and the host"


@dataclass
class Face:
    """What one command runs with: its input (an fd), its environment, its terminal and the
    stream progress bars go to. None: this process's own (fd 0, os.environ, terminal.Terminal,
    sys.stderr); the bocker server (server.py) gives each request its client's."""

    stdin: int = 0
    environ: Mapping[str, str] | None = None
    terminal: Callable[[int], Any] | None = None   # fd -> a terminal.Terminal
    stderr: Any = None


def _terminal(ctx: Context, face: Face):
    """Our terminal, for -t (and attach to a container that has one); or why there is none."""
    if not os.isatty(face.stdin):
        ctx.no_terminal = "the input device is not a TTY: drop -t, or run bocker from a terminal"
        return None
    if face.terminal is None:
        from .terminal import Terminal
        ctx.terminal = Terminal(face.stdin)
    else:
        ctx.terminal = face.terminal(face.stdin)
    return ctx.terminal


def _wants_raw(attached: str | None, terminal: Any, engine: Any) -> bool:
    """Raw mode only while attached to a pty: the verb's own (run/exec -t, not -d), or a
    container made with -t (attach, start -a)."""
    if terminal is None or attached is None:
        return False
    if attached == OWN_PTY:
        return True
    try:
        c = engine.container(attached)
    except BockerError:
        return False
    return bool(c.record is not None and c.record.tty)


def _ask(question: str) -> bool:
    """prune's question, on a terminal only (a script gives -f)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _failed(verb: str, namespace: Any, e: BockerError) -> int:
    """A verb that acts on several ids (Verb.many) prints what it did before the failure too,
    as Docker does; then each failure, one line."""
    done = getattr(e, "done", None)
    if done and verb in VERBS and VERBS[verb].many:
        render(verb, namespace, done)
    for err in getattr(e, "errors", None) or [e]:
        sys.stderr.write(one_line(str(err)) + "\n")
    return e.exit_code


def main(argv: Sequence[str] | None = None, face: Face | None = None, engine: Any = None) -> int:
    """Run one command line; its exit status. `engine`: a warm Engine to use (and leave
    open), else one is made for the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    face = face or Face()
    namespace = None
    verb = ""
    try:
        seed, args = _split_seed_options(args)
        if not args:
            sys.stdout.write(help_text())
            return 1
        verb, rest = canonical(args[0], args[1:])
        if verb in ("help", "--help", "-h"):
            sys.stdout.write(help_text())
            return 0
        if verb == "--version":
            from . import __version__
            print(f"bocker {__version__}")
            return 0
        if verb not in VERBS:
            sys.stderr.write(f"Unknown command '{verb}': see '{PROG} help'\n")
            return 2
        namespace = parser(verb).parse_args(rest)
        entry = VERBS[verb]
        ctx = Context(on_output=write_stream, capture=False, seed=seed, stdin=face.stdin,
                      environ=dict(os.environ if face.environ is None else face.environ),
                      confirm=_ask if os.isatty(face.stdin) else None, binary_stdin=sys.stdin.buffer,
                      binary_stdout=sys.stdout.buffer)
        progress = None
        if entry.progress:
            from .progress import TerminalProgress
            ctx.on_progress = progress = TerminalProgress(face.stderr or sys.stderr)
        attached = entry.terminal(namespace)
        terminal = _terminal(ctx, face) if attached is not None else None
        if engine is None:
            from .engine import Engine
            engine_context: Any = Engine()
        else:
            engine_context = contextlib.nullcontext(engine)
        with engine_context as engine, (terminal.raw() if _wants_raw(attached, terminal, engine)
                                        else contextlib.nullcontext()):
            try:
                result = entry.call(engine, namespace, ctx)
            except BaseException:
                if progress is not None:
                    progress.close(ok=False)  # the bars end as failed, not midway
                raise
            finally:
                if terminal is not None:
                    terminal.close()
            if progress is not None:
                progress.close(ok=True)
        return render(verb, namespace, result)
    except BockerError as e:
        return _failed(verb, namespace, e)
    except BrokenPipeError:  # the reader left (`bocker ps | head -1`): an OSError, but no fault
        return 141
    except OSError as e:
        # a fault of the host (a full disk, a read-only BOCKER_ROOT): one line, never a traceback
        sys.stderr.write(one_line(fault_message(e)) + "\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
