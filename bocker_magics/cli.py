"""`bocker`: the seed script's verbs, headers and messages, as a thin face over the engine.

    bocker [--MEM_LIMIT=MB] [--CPU_SHARE=N] VERB ARGS...

The verbs and their arguments are defined once, in commands.py; this module only prints
their results the way the seed did. A BockerError is one line on stderr and a non-zero
status; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Sequence

from . import format
from .commands import PROG, SEED_OPTIONS, VERBS, Context, help_text, parser
from .errors import BockerError, InvalidArgument


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


def _write(data: bytes, stream: str = "stdout") -> None:
    """A container's output as it comes: stderr to stderr, once the engine keeps them apart."""
    out = sys.stderr if stream == "stderr" else sys.stdout
    out.buffer.write(data)
    out.buffer.flush()


_when = format.local_time


def _lines(*lines: str) -> None:
    for line in lines:
        print(line)


def _images(args: Any, result: Any) -> None:
    print("IMAGE_ID\t\tSOURCE\t\tNAMES\t\tLAYERS\t\tCREATED")
    for img in result:
        names = ",".join(img.names) or "<none>"
        print(f"{img.id}\t\t{img.source}\t\t{names}\t\t{len(img.layers)}\t\t{_when(img.created)}")


def _ps(args: Any, result: Any) -> None:
    print("CONTAINER_ID\t\tCOMMAND\t\tSTATUS\t\tIMAGE\t\tCREATED\t\tNAME")
    for c in result:
        print(f"{c.id}\t\t{c.command}\t\t{c.status_text}\t\t{c.image_name}\t\t{_when(c.created)}\t\t{c.name or ''}")


def _run(args: Any, result: Any) -> int:
    if args.detach:
        print(result.id)
    return result.exit_code


def _stats(args: Any, result: Any) -> None:
    print("CONTAINER_ID\t\tCPU_SEC\t\tMEM_CURRENT\t\tMEM_PEAK\t\tMEM_LIMIT\t\tOOM_KILLS\t\tPIDS")
    for cid, s in result.items():
        cpu = "-" if s.cpu_seconds is None else f"{s.cpu_seconds:.3f}"
        memory = [format.size(v) for v in (s.memory_current, s.memory_peak, s.memory_limit)]
        counts = ["-" if v is None else str(v) for v in (s.oom_kills, s.pids_current)]
        print("\t\t".join([cid, cpu, *memory, *counts]))


def _network(args: Any, result: Any) -> None:
    if args.action == "ls":
        print("NETWORK\t\tBRIDGE\t\tSUBNET\t\tGATEWAY\t\tCONTAINERS")
        for n in result:
            print(f"{n['name']}\t\t{n['bridge']}\t\t{n['subnet']}\t\t{n['gateway']}\t\t{len(n['Containers'])}")
    elif args.action == "rm":
        print(f"Removed: {result}")
    else:
        print(json.dumps(result, indent=2, sort_keys=True))


def _logs(args: Any, records: Any) -> None:
    """Each line to the stream it was printed on, as `docker logs` does; -f until it stops."""
    for r in records:
        _write(r.text(args.timestamps), r.stream)


def _json(args: Any, result: Any) -> None:
    print(json.dumps(result, indent=2, sort_keys=True))


# How each verb's result is printed: as the seed does (or Docker, for verbs the seed lacks).
# A renderer returns the exit status, or None for 0.
RENDERERS: dict[str, Any] = {
    "init": lambda a, r: _lines(f"Created: {r.id}"),
    "commit": lambda a, r: _lines(f"Created: {r.id}"),
    "pull": lambda a, r: _lines(f"Created: {r.id}"),
    "push": lambda a, r: _lines(f"Pushed: {r}"),
    "save": lambda a, r: _lines(f"Saved: {r}"),
    "load": lambda a, r: _lines(*(f"Loaded: {img.id}" + (f" ({', '.join(img.names)})" if img.names else "")
                                  for img in r)),
    "login": lambda a, r: _lines(f"Login Succeeded: {r}"),
    "images": _images,
    "ps": _ps,
    "run": _run,
    "exec": lambda a, r: r.exit_code,
    "build": lambda a, r: _lines(r.image.id) if a.quiet else None,
    "create": lambda a, r: _lines(r.id),
    "start": lambda a, r: r.exit_code if a.attach else _lines(*a.containers),
    "restart": lambda a, r: _lines(*a.containers),
    "attach": lambda a, r: r.exit_code,
    "logs": _logs,
    "stop": lambda a, r: _lines(*a.containers),
    "kill": lambda a, r: _lines(*a.containers),
    "wait": lambda a, r: _lines(str(r) if r is not None else "unknown"),
    "inspect": _json,
    "diff": lambda a, r: _lines(*(f"{ch.kind} {ch.path}{'  (opaque)' if ch.opaque else ''}" for ch in r)),
    "stats": _stats,
    "rm": lambda a, r: _lines(*(f"Removed: {ref}" for ref in r)),
    "rmi": lambda a, r: _lines(*(f"Removed: {ref}" for ref in r)),
    "network": _network,
    "gc": lambda a, r: _lines(*(f"Removed: {line}" for line in r)),
}


def render(verb: str, args: Any, result: Any) -> int:
    """Print a verb's result as the seed (or Docker) does; return the exit status."""
    renderer = RENDERERS.get(verb)
    status = renderer(args, result) if renderer is not None else None
    return status if isinstance(status, int) else 0


def one_line(message: str) -> str:
    """A message is one line: a name that holds a newline is shown escaped, not broken."""
    return message.replace("\r", "\\r").replace("\n", "\\n") or "failed"


def fault_message(e: OSError) -> str:
    import errno
    from .engine.store import default_root
    root = default_root()
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"No space left on BOCKER_ROOT ({root}): free space or move BOCKER_ROOT"
    if e.errno == errno.EROFS:
        return f"BOCKER_ROOT ({root}) is on a read-only file system: move BOCKER_ROOT"
    where = f" ({e.filename})" if e.filename else ""
    return f"{e.strerror or e}{where}: check BOCKER_ROOT ({root}) and the host"


def _terminal(ctx: Context):
    """Our terminal, for -t (and attach to a container that has one); or why there is none."""
    from .terminal import Terminal
    if not Terminal.is_terminal(0):
        ctx.no_terminal = "the input device is not a TTY: drop -t, or run bocker from a terminal"
        return None
    ctx.terminal = Terminal(0)
    return ctx.terminal


def _wants_raw(verb: str, a: Any, terminal: Any, engine: Any) -> bool:
    """Raw mode only while attached to a pty: run/exec -t (not -d), attach and start -a to a
    container made with -t."""
    if terminal is None:
        return False
    if verb in ("run", "exec"):
        return a.tty and not a.detach
    if verb == "attach" or (verb == "start" and a.attach):
        ref = a.container if verb == "attach" else a.containers[0]
        try:
            c = engine.container(ref)
        except BockerError:
            return False
        return bool(c.record is not None and c.record.tty)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        seed, args = _split_seed_options(args)
        if not args:
            sys.stdout.write(help_text())
            return 1
        verb, rest = args[0], args[1:]
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
        from .engine import Engine
        ctx = Context(on_output=_write, capture=False, seed=seed, stdin=0, environ=dict(os.environ))
        progress = None
        if verb in ("pull", "push"):
            from .progress import TerminalProgress
            ctx.on_progress = progress = TerminalProgress(sys.stderr)
        terminal = None
        if getattr(namespace, "tty", False) or verb in ("attach", "start"):
            terminal = _terminal(ctx)
        with Engine() as engine, (terminal.raw() if _wants_raw(verb, namespace, terminal, engine)
                                  else contextlib.nullcontext()):
            try:
                result = VERBS[verb].call(engine, namespace, ctx)
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
        for ref in getattr(e, "done", []) or []:
            print(ref)  # what a verb of several containers did before the one that failed
        sys.stderr.write(one_line(str(e)) + "\n")
        return e.exit_code
    except OSError as e:
        # a fault of the host (a full disk, a read-only BOCKER_ROOT): one line, never a traceback
        sys.stderr.write(one_line(fault_message(e)) + "\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
