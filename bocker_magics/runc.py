"""`bocker-runc`: bocker's engine as an OCI runtime, with runc's command line.

podman (`--runtime $(command -v bocker-runc)`), containerd's runc shim (`ctr run --runc-binary
bocker-runc`, or a runtime entry whose options name the binary) and Kubernetes through them
call it as they call runc:

    bocker-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] VERB ...
    create [--bundle B] [--pid-file P] [--console-socket S] [--no-pivot] [--no-new-keyring]
           [--preserve-fds N] ID
    start ID | state ID | pause ID | resume ID | kill [--all] ID [SIGNAL] | delete [--force] ID
    run [--detach] [--bundle B] [--pid-file P] [--console-socket S] ... ID
    exec [--process FILE] [--detach] [--pid-file P] [--console-socket S] [--tty] [--cwd D]
         [--env K=V] [--user UID[:GID]] [--cap CAP] [--no-new-privs] [--preserve-fds N] ID [ARGS...]
    ps [--format table|json] ID [PS-ARGS...] | list [--format table|json] [--quiet]
    events [--stats] [--interval 5s] ID
    spec [--bundle B] | update --resources FILE|- [--memory N] [--cpu-shares N] ... ID
    features | --version

This module parses the command line, looks the verb up and says its errors as runc does;
the verbs (their flags, what each calls and prints) are runc_verbs.py; the runtime is
engine/runtime/oci/, which runs each container through the same code as `bocker run`.
Imports stay few: runc's callers start it several times per container (create, start,
delete, delete --force).
"""

from __future__ import annotations

import os
import sys

from .runc_verbs import (  # noqa: F401  (the verbs and their checks, importable from here as before)
    VERBS,
    Usage,
    Verb,
    _duration,
    _one_id,
    _size,
    check_args,
    list_table,
    ps_table,
    run_verb,
)

USAGE = "usage:\n" + __doc__.split("\n\n")[2]

# flag -> (option name, kind): "flag" (a boolean), "value", "list" (repeatable), "int"
GLOBAL = {
    "root": ("root", "value"), "log": ("log", "value"), "log-format": ("log_format", "value"),
    "debug": ("debug", "flag"), "systemd-cgroup": ("systemd_cgroup", "flag"), "criu": ("criu", "value"),
    "rootless": ("rootless", "value"), "help": ("help", "flag"), "h": ("help", "flag"),
    "version": ("version", "flag"), "v": ("version", "flag"),
}


# A verb's failure as runc words it (its callers show these: Docker's "OCI runtime create
# failed: runc create failed: ..."): the prefix and the exit status; the others add nothing, exit 1
FAILED = {"create": ("runc create failed: ", 1), "run": ("runc run failed: ", 1), "exec": ("exec failed: ", 255)}
# runc's verbs that bocker-runc refuses, and why
REFUSED = {v: f"{v} is not supported by bocker-runc: it needs CRIU 4.1 or newer, which Debian 12 lacks"
           for v in ("checkpoint", "restore")}


def parse(table: dict, argv: list[str], stop_at_positional: bool) -> tuple[dict, list[str]]:
    """Flags in runc's (urfave/cli's) forms: --name, -name, --name=value, --name value, a
    boolean as --name or --name=true; flags end at `--` or, with stop_at_positional, at the
    first positional argument (what follows is the container's command)."""
    opts: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i + 1:]
            break
        if not arg.startswith("-") or arg == "-":
            if stop_at_positional:
                rest += argv[i:]
                break
            rest.append(arg)
            i += 1
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if name not in table:
            raise Usage(f"flag provided but not defined: -{name}")
        dest, kind = table[name]
        if kind == "flag":
            if eq and value.lower() not in ("true", "false", "1", "0"):
                raise Usage(f"invalid boolean value {value!r} for -{name}")
            opts[dest] = not eq or value.lower() in ("true", "1")
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv):
                raise Usage(f"flag needs an argument: -{name}")
            value = argv[i + 1]
            i += 1
        i += 1
        if kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise Usage(f"invalid value {value!r} for -{name}: give a number") from None
        if kind == "list":
            opts.setdefault(dest, []).append(value)
        else:
            opts[dest] = value
    return opts, rest


def version() -> str:
    from . import __version__
    return f"bocker-runc version {__version__}\nspec: 1.0.2-dev\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    log = verb = None
    try:
        from .engine.runtime.oci import DEFAULT_ROOT, Log, Runtime
        glob, rest = parse(GLOBAL, argv, stop_at_positional=True)
        log = Log()  # runc's default, until the flags say otherwise (a bad --log-format is said so)
        log = Log(glob.get("log"), glob.get("log_format", "text"), glob.get("debug", False))
        if glob.get("version"):
            sys.stdout.write(version())
            return 0
        if glob.get("help") or not rest or rest[0] == "help":
            sys.stdout.write(USAGE + "\n")
            return 0
        verb, rest = rest[0], rest[1:]
        if verb in REFUSED:
            raise Usage(REFUSED[verb])
        if verb not in VERBS:
            raise Usage(f"No help topic for '{verb}'\n", code=3)  # urfave/cli's words and status
        if glob.get("systemd_cgroup"):
            raise Usage("--systemd-cgroup is not supported by bocker-runc: let the caller use cgroupfs "
                        "(podman --cgroup-manager cgroupfs; containerd: SystemdCgroup = false)")
        entry = VERBS[verb]
        opts, args = parse(entry.flags, rest, stop_at_positional=entry.command_follows)
        if entry.command_follows and args and args[0].startswith("-"):
            raise Usage(f"flag provided but not defined: {args[0]}")
        log.debug(f"{verb} {' '.join(rest)}")
        rt = Runtime(glob.get("root") or DEFAULT_ROOT, log)
        return entry.run(rt, opts, args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        return _failed(e, log, verb)


def _failed(e: Exception, log, verb: str | None) -> int:
    """Say an error as runc does (one line: its words, its verb's prefix) and return its
    exit status; a bug is one line too, its traceback only with --debug."""
    from .errors import BockerError
    code = 1
    if isinstance(e, Usage):
        message, code = str(e), e.code
    elif isinstance(e, BockerError):
        message = str(e)
    else:
        import traceback
        message = f"bocker-runc bug: {type(e).__name__}: {e}"
        if log is not None and log.debugging:
            log.debug(traceback.format_exc())
    if verb in FAILED and not isinstance(e, Usage):
        prefix, code = FAILED[verb]
        message = prefix + message
    if log is None:
        sys.stderr.write(message + "\n")
    else:
        log.error(message)
    return code


def cli() -> None:
    """The `bocker-runc` command (bin/bocker-runc and the launcher): main(), then out.

    A verb lives for milliseconds and its caller waits for it to exit, so what a long-lived
    interpreter does for memory's sake is waste here: the cyclic garbage collector is off
    (its passes over the imported modules' objects are a measurable part of a create), and
    the exit skips the interpreter's teardown of every module (after create's imports, as
    long as the work of start; benchmarks/bench_runc.py's breakdown). Everything of ours is
    written by then (os.write, files closed); stdout and stderr are flushed here. A
    foreground `run` or `exec`, which may live long, turns the collector back on while it
    waits (oci/exec.py's wait_foreground)."""
    import gc
    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def write_launcher(path: str | os.PathLike, python: str | None = None) -> str:
    """An executable `bocker-runc` at `path` for this checkout's package, run as `python -I -S`
    (no site-packages to scan: the fastest start). Tests, notebooks and benchmarks point
    podman and containerd at it; an installed package has bin/bocker-runc instead."""
    parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = (f"#!{python or sys.executable} -IS\n"
            f"import sys; sys.path.insert(0, {parent!r})\n"
            "from bocker_magics.runc import cli\n"
            "cli()\n")
    path = os.fspath(path)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


if __name__ == "__main__":
    cli()
