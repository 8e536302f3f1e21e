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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import format
from .commands import PROG, SEED_OPTIONS, VERBS, Context, canonical, help_text, parser
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
    """The seed's two columns (IMAGE_ID, SOURCE); --format table is the wider table."""
    from . import listing
    if args.quiet:
        return _lines(*(img.id for img in result))
    if args.format is None:
        print("IMAGE_ID\t\tSOURCE")
        return _lines(*(f"{img.id}\t\t{img.source}" for img in result))

    def wide() -> list[str]:
        return ["IMAGE_ID\t\tSOURCE\t\tNAMES\t\tLAYERS\t\tCREATED"] + [
            f"{img.id}\t\t{img.source}\t\t{','.join(img.names) or '<none>'}\t\t{len(img.layers)}\t\t"
            f"{_when(img.created)}" for img in result]

    rows = [listing.image_row(img, _image_size(img), args.no_trunc) for img in result]
    _lines(*listing.render(args.format, rows, listing.IMAGES, wide))


def _image_size(img: Any):
    def size() -> int:
        from .engine import image_size
        return image_size(img)
    return size


def _ps(args: Any, result: Any) -> None:
    """The seed's two columns (CONTAINER_ID, COMMAND) for every container; --format table is
    Docker's wider table (status, image, created, restarts, ports, name)."""
    from . import listing
    if args.quiet:
        return _lines(*(c.id for c in result))
    if args.format is None:
        print("CONTAINER_ID\t\tCOMMAND")
        return _lines(*(f"{c.id}\t\t{c.command}" for c in result))

    def wide() -> list[str]:
        return ["CONTAINER_ID\t\tCOMMAND\t\tSTATUS\t\tIMAGE\t\tCREATED\t\tRESTARTS\t\tPORTS\t\tNAME"] + [
            f"{c.id}\t\t{listing.shorten(c.command, args.no_trunc, 60)}\t\t{c.status_text}\t\t{c.image_name}"
            f"\t\t{_when(c.created)}\t\t{c.restart_count}\t\t{listing.ports_text(c)}\t\t{c.name or ''}"
            for c in result]

    rows = [listing.container_row(c, args.no_trunc) for c in result]
    _lines(*listing.render(args.format, rows, listing.CONTAINERS, wide))


def _history(args: Any, rows: Any) -> None:
    from . import listing
    if args.quiet:
        return _lines(*(h.image for h in rows))
    fields = [listing.history_row(h, args.no_trunc) for h in rows]

    def wide() -> list[str]:
        return ["IMAGE\t\tCREATED\t\tCREATED_BY\t\tSIZE\t\tCOMMENT"] + [
            "\t\t".join([f["ID"], f["CreatedSince"], f["CreatedBy"], f["Size"], f["Comment"]]) for f in fields]

    _lines(*listing.render(args.format or "table", fields, listing.HISTORY, wide))


def _top(args: Any, processes: Any) -> None:
    print("PID\t\tCONTAINER_PID\t\tPPID\t\tUSER\t\tSTAT\t\tTIME\t\tCOMMAND")
    for p in processes:
        minutes, seconds = divmod(int(p.cpu_seconds), 60)
        print(f"{p.pid}\t\t{p.container_pid}\t\t{p.ppid}\t\t{p.user}\t\t{p.state}\t\t"
              f"{minutes}:{seconds:02d}\t\t{p.command}")


def _port(args: Any, mappings: Any) -> None:
    _lines(*((m.host for m in mappings) if args.private_port else map(str, mappings)))


def _cp(args: Any, result: Any) -> None:
    if not args.quiet and args.destination != "-":
        sys.stderr.write(f"Successfully copied {format.count(result.files, 'file')} "
                         f"({format.size(result.bytes)}) to {result.destination}\n")


def _prune(title: str):
    def render(args: Any, result: Any) -> int | None:
        if result.removed:
            _lines(title, *result.removed, "")
        _lines(f"Total reclaimed space: {format.size(result.reclaimed)}")
        for line in result.errors:
            sys.stderr.write(line + "\n")
        return 1 if result.errors else None
    return render


def _volume(args: Any, result: Any) -> None:
    from . import listing
    if args.action == "create":
        return _lines(result.name)
    if args.action == "rm":
        return _lines(*result)
    if args.action == "inspect":
        return _json(args, result)
    if args.quiet:
        return _lines(*(v.name for v in result))

    def wide() -> list[str]:
        return ["DRIVER\t\tVOLUME_NAME"] + [f"{v.driver}\t\t{v.name}" for v in result]

    _lines(*listing.render(args.format or "table", [listing.volume_row(v) for v in result], listing.VOLUMES, wide))


def _df(rows: Any) -> None:
    print("TYPE\t\tTOTAL\t\tACTIVE\t\tSIZE\t\tRECLAIMABLE")
    for r in rows:
        share = f" ({100 * r.reclaimable // r.size}%)" if r.size else ""
        print(f"{r.kind}\t\t{r.total}\t\t{r.active}\t\t{format.size(r.size)}\t\t"
              f"{format.size(r.reclaimable)}{share}")


def _info(i: Any) -> None:
    _lines(f"Containers: {i.containers}", f" Running: {i.running}", f" Paused: {i.paused}",
           f" Stopped: {i.stopped}", f"Images: {i.images}", f"Volumes: {i.volumes}",
           f"Server Version: {i.server_version}", f"Storage Driver: {i.storage_driver}",
           f" Backing Filesystem: {i.backing_filesystem}", f"Cgroup Driver: {i.cgroup_driver}",
           f"Cgroup Version: {i.cgroup_version}", f"Networks: {' '.join(i.networks)}",
           f"Security Options: {', '.join(i.security_options) or 'none'}", f"Kernel Version: {i.kernel}",
           f"Operating System: {i.operating_system}", "OSType: linux", f"Architecture: {i.architecture}",
           f"CPUs: {i.cpus}", f"Total Memory: {format.size(i.memory)}", f"Bocker Root Dir: {i.root_dir}",
           *i.warnings)


def _version(v: Any) -> None:
    _lines(*(f"{key}: {value}" for key, value in v.lines()))


def _system(args: Any, result: Any) -> None:
    if args.action == "service":
        return None
    return _df(result) if args.action == "df" else _info(result)


def _run(args: Any, result: Any) -> int:
    if args.detach:
        print(result.id)
    else:
        _left_running(result)
    return result.exit_code


def _left_running(result: Any) -> int:
    """The detach keys left it running: a line that says so and how to come back (stderr,
    so that its output stays its own)."""
    if getattr(result, "detached", False):
        sys.stderr.write(f"\nread escape sequence: {result.id} runs on (bocker attach {result.id})\n")
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
    "tag": lambda a, r: None,
    "history": _history,
    "pause": lambda a, r: _lines(*r),
    "unpause": lambda a, r: _lines(*r),
    "top": _top,
    "port": _port,
    "rename": lambda a, r: None,
    "cp": _cp,
    "container": _prune("Deleted Containers:"),
    "image": _prune("Deleted Images:"),
    "volume": _volume,
    "system": _system,
    "info": lambda a, r: _info(r),
    "version": lambda a, r: _version(r),
    "run": _run,
    "exec": lambda a, r: r.exit_code,
    "build": lambda a, r: _lines(r.image.id) if a.quiet else None,
    "create": lambda a, r: _lines(r.id),
    "start": lambda a, r: _left_running(r) if a.attach else _lines(*a.containers),
    "restart": lambda a, r: _lines(*r),
    "attach": lambda a, r: _left_running(r),
    "logs": _logs,
    "stop": lambda a, r: _lines(*r),
    "kill": lambda a, r: _lines(*r),
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


def _attaches_a_terminal(verb: str, a: Any) -> bool:
    """Whether the verb attaches to a pty: run/exec -t (not -d), attach, start -a."""
    if verb in ("run", "exec"):
        return bool(a.tty and not a.detach)
    return verb == "attach" or (verb == "start" and a.attach)


def _wants_raw(verb: str, a: Any, terminal: Any, engine: Any) -> bool:
    """Raw mode only while attached to a pty: run/exec -t (not -d), attach and start -a to a
    container made with -t."""
    if terminal is None or not _attaches_a_terminal(verb, a):
        return False
    if verb in ("run", "exec"):
        return True
    ref = a.container if verb == "attach" else a.containers[0]
    try:
        c = engine.container(ref)
    except BockerError:
        return False
    return bool(c.record is not None and c.record.tty)


def _ask(question: str) -> bool:
    """prune's question, on a terminal only (a script gives -f)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


# Verbs that act on several ids: what was done before a failure is printed too, as Docker does.
_EACH = ("stop", "kill", "rm", "rmi", "pause", "unpause", "restart", "volume")


def _failed(verb: str, namespace: Any, e: BockerError) -> int:
    done = getattr(e, "done", None)
    if done and verb in _EACH:
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
        ctx = Context(on_output=_write, capture=False, seed=seed, stdin=face.stdin,
                      environ=dict(os.environ if face.environ is None else face.environ),
                      confirm=_ask if os.isatty(face.stdin) else None, binary_stdin=sys.stdin.buffer,
                      binary_stdout=sys.stdout.buffer)
        progress = None
        if verb in ("pull", "push"):
            from .progress import TerminalProgress
            ctx.on_progress = progress = TerminalProgress(face.stderr or sys.stderr)
        terminal = _terminal(ctx, face) if _attaches_a_terminal(verb, namespace) else None
        if engine is None:
            from .engine import Engine
            engine_context: Any = Engine()
        else:
            engine_context = contextlib.nullcontext(engine)
        with engine_context as engine, (terminal.raw() if _wants_raw(verb, namespace, terminal, engine)
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
