"""`bocker`: the seed script's verbs, headers and messages, as a thin face over the engine.

    bocker [--MEM_LIMIT=MB] [--CPU_SHARE=N] VERB ARGS...

Every verb parses its arguments, calls one engine method and prints the result. A
BockerError is one line on stderr and a non-zero status; anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Callable, Sequence

from .errors import BockerError, InvalidArgument

PROG = "bocker"

# verb -> (one-line purpose, usage): `bocker help` prints these as the seed's #HELP lines.
VERBS: dict[str, tuple[str, str]] = {
    "init": ("Create an image from a directory", "init <directory> [--name NAME[:TAG]] | init --busybox"),
    "images": ("List images", "images"),
    "run": ("Create a container", "run [-d] [--rm] [--name N] [--hostname H] [-e K=V] [-w DIR] "
            "[-v HOST:CTR[:ro]] [-m MEM] [--cpu-shares N] [--cpus N] [--pids-limit N] [--cap-add CAP] "
            "[--cap-drop CAP] [--privileged] <image> [command...]"),
    "exec": ("Execute a command in a running container", "exec [-e K=V] [-w DIR] <container_id> <command...>"),
    "ps": ("List containers", "ps"),
    "logs": ("View logs from a container", "logs <container_id>"),
    "stop": ("Stop a running container (SIGTERM, then SIGKILL)", "stop [-t SECONDS] <container_id>"),
    "kill": ("Send a signal to a running container", "kill [-s SIGNAL] <container_id>"),
    "wait": ("Wait for a container to exit; print its exit code", "wait <container_id>"),
    "commit": ("Commit a container to an image", "commit <container_id> <image_id or name[:tag]>"),
    "inspect": ("Show a container's or an image's record as JSON", "inspect <container_id or image>"),
    "rm": ("Delete an image or container", "rm [-f] <image_id or container_id>"),
    "rmi": ("Delete an image", "rmi <image>"),
    "gc": ("Remove what crashes left (cgroups, processes, half-made state)", "gc"),
    "help": ("Display this message", "help"),
}

SEED_OPTIONS = {"MEM_LIMIT", "CPU_SHARE"}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)b?$", re.IGNORECASE)


def help_text() -> str:
    return "".join(f"{purpose}:\n\t{PROG} {usage}\n\n" for purpose, usage in VERBS.values())


def parse_size(text: str) -> int:
    """Docker's memory spelling: 512m, 1g, 65536k, or bytes."""
    m = _SIZE.match(text.strip())
    if not m:
        raise InvalidArgument(f"Invalid memory size '{text}': use a number with b, k, m or g (e.g. 256m)")
    number, unit = float(m.group(1)), m.group(2).lower()
    return int(number * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit])


def _positive_int(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"Invalid value '{text}' for {flag}: it must be a whole number") from None


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line and a BockerError (exit 2), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        err = InvalidArgument(f"{self.prog}: {message} (see '{PROG} help')")
        err.exit_code = 2
        raise err


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


def _engine():
    from .engine.engine import Engine
    return Engine()


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


# -- verbs ------------------------------------------------------------------------------
def cmd_init(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} init")
    p.add_argument("directory", nargs="?")
    p.add_argument("--busybox", action="store_true", help="the built-in image, from the host's static busybox")
    p.add_argument("--name", help="also name the image NAME[:TAG]")
    a = p.parse_args(args)
    if bool(a.busybox) == bool(a.directory):
        p.error("give a directory, or --busybox")
    engine = _engine()
    img = engine.busybox() if a.busybox else engine.init(a.directory, a.name)
    print(f"Created: {img.id}")
    return 0


def cmd_images(args: list[str], seed: dict[str, str]) -> int:
    _Parser(prog=f"{PROG} images").parse_args(args)
    images = _engine().images()
    print("IMAGE_ID\t\tSOURCE\t\tNAMES\t\tLAYERS\t\tCREATED")
    for img in images:
        names = ",".join(img.names) or "<none>"
        print(f"{img.id}\t\t{img.source}\t\t{names}\t\t{len(img.layers)}\t\t{_when(img.created)}")
    return 0


def cmd_ps(args: list[str], seed: dict[str, str]) -> int:
    _Parser(prog=f"{PROG} ps").parse_args(args)
    containers = _engine().ps()
    print("CONTAINER_ID\t\tCOMMAND\t\tSTATUS\t\tIMAGE\t\tCREATED\t\tNAME")
    for c in containers:
        print(f"{c.id}\t\t{c.command}\t\t{c.status_text}\t\t{c.image_name}\t\t{_when(c.created)}\t\t{c.name or ''}")
    return 0


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def cmd_run(args: list[str], seed: dict[str, str]) -> int:
    from .engine.cgroups import Limits
    from .engine.engine import MB

    p = _Parser(prog=f"{PROG} run")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--name")
    p.add_argument("--hostname")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-v", "--volume", action="append", default=[])
    p.add_argument("-m", "--memory")
    p.add_argument("--cpu-shares")
    p.add_argument("--cpus")
    p.add_argument("--pids-limit")
    p.add_argument("--cap-add", action="append", default=[])
    p.add_argument("--cap-drop", action="append", default=[])
    p.add_argument("--privileged", action="store_true")
    p.add_argument("image")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(args)
    memory = 512 * MB
    shares = 512
    if "MEM_LIMIT" in seed:
        memory = _positive_int("--MEM_LIMIT", seed["MEM_LIMIT"]) * MB
    if "CPU_SHARE" in seed:
        shares = _positive_int("--CPU_SHARE", seed["CPU_SHARE"])
    if a.memory is not None:
        memory = parse_size(a.memory)
    if a.cpu_shares is not None:
        shares = _positive_int("--cpu-shares", a.cpu_shares)
    cpus = None
    if a.cpus is not None:
        try:
            cpus = float(a.cpus)
        except ValueError:
            raise InvalidArgument(f"Invalid value '{a.cpus}' for --cpus: it must be a number, e.g. 0.5") from None
    pids = _positive_int("--pids-limit", a.pids_limit) if a.pids_limit is not None else None
    # 0 means "no limit" for memory and shares, as in Docker
    limits = Limits(memory=memory or None, cpu_shares=shares or None, cpus=cpus, pids=pids)
    engine = _engine()
    result = engine.run(
        a.image, a.command or None, name=a.name, hostname=a.hostname, env=a.env, workdir=a.workdir,
        volumes=a.volume, limits=limits, detach=a.detach, remove=a.rm,
        cap_add=a.cap_add, cap_drop=a.cap_drop, privileged=a.privileged,
        on_output=_write, capture=False,
    )
    if a.detach:
        print(result.id)
    return result.exit_code


def cmd_exec(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} exec")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(args)
    if not a.command:
        p.error("give the command to run, e.g. bocker exec ID ls /")
    result = _engine().exec(a.container, a.command, env=a.env, workdir=a.workdir,
                            on_output=_write, capture=False)
    return result.exit_code


def cmd_logs(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} logs")
    p.add_argument("container")
    _write(_engine().logs(p.parse_args(args).container))
    return 0


def cmd_inspect(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} inspect")
    p.add_argument("ref")
    print(json.dumps(_engine().inspect(p.parse_args(args).ref), indent=2, sort_keys=True))
    return 0


def cmd_rm(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} rm")
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("ref")
    a = p.parse_args(args)
    _engine().rm(a.ref, force=a.force)
    print(f"Removed: {a.ref}")
    return 0


def cmd_rmi(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} rmi")
    p.add_argument("ref")
    a = p.parse_args(args)
    _engine().rmi(a.ref)
    print(f"Removed: {a.ref}")
    return 0


def _one_container(verb: str, args: list[str], *options: tuple[tuple[str, ...], dict]) -> argparse.Namespace:
    p = _Parser(prog=f"{PROG} {verb}")
    for flags, kwargs in options:
        p.add_argument(*flags, **kwargs)
    p.add_argument("container")
    return p.parse_args(args)


def cmd_stop(args: list[str], seed: dict[str, str]) -> int:
    a = _one_container("stop", args, (("-t", "--time"), {"type": float, "default": 10.0}))
    _engine().stop(a.container, timeout=a.time)
    print(a.container)
    return 0


def cmd_kill(args: list[str], seed: dict[str, str]) -> int:
    a = _one_container("kill", args, (("-s", "--signal"), {"default": "KILL"}))
    _engine().kill(a.container, a.signal)
    print(a.container)
    return 0


def cmd_wait(args: list[str], seed: dict[str, str]) -> int:
    a = _one_container("wait", args)
    code = _engine().wait(a.container)
    print(code if code is not None else "unknown")
    return 0


def cmd_commit(args: list[str], seed: dict[str, str]) -> int:
    p = _Parser(prog=f"{PROG} commit")
    p.add_argument("container")
    p.add_argument("image")
    a = p.parse_args(args)
    img = _engine().commit(a.container, a.image)
    print(f"Created: {img.id}")
    return 0


def cmd_gc(args: list[str], seed: dict[str, str]) -> int:
    _Parser(prog=f"{PROG} gc").parse_args(args)
    for line in _engine().gc():
        print(f"Removed: {line}")
    return 0


def cmd_help(args: list[str], seed: dict[str, str]) -> int:
    sys.stdout.write(help_text())
    return 0


COMMANDS: dict[str, Callable[[list[str], dict[str, str]], int]] = {
    "init": cmd_init, "images": cmd_images, "run": cmd_run, "exec": cmd_exec, "ps": cmd_ps, "logs": cmd_logs,
    "inspect": cmd_inspect, "rm": cmd_rm, "rmi": cmd_rmi, "help": cmd_help, "stop": cmd_stop,
    "kill": cmd_kill, "wait": cmd_wait, "commit": cmd_commit, "gc": cmd_gc,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        seed, args = _split_seed_options(args)
        if not args:
            sys.stdout.write(help_text())
            return 1
        verb, rest = args[0], args[1:]
        if verb in ("--help", "-h"):
            verb = "help"
        if verb == "--version":
            from . import __version__
            print(f"bocker {__version__}")
            return 0
        if verb not in COMMANDS:
            sys.stderr.write(f"Unknown command '{verb}': see '{PROG} help'\n")
            return 2
        return COMMANDS[verb](rest, seed)
    except BockerError as e:
        sys.stderr.write(f"{e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
