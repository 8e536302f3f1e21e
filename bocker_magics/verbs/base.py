"""What every verb is made of: the parser of its arguments (one-line mistakes), the Context
a face hands it, the Verb record itself, and the small parts several verbs share.
commands.py puts the verbs together in one table (VERBS); the verbs/ modules beside this
one hold each verb's arguments and engine call, by what they act on.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import cell_views, rendering
from ..errors import BockerError, InvalidArgument, UsageError

if TYPE_CHECKING:
    from ..engine import Engine

PROG = "bocker"
SEED_OPTIONS = ("MEM_LIMIT", "CPU_SHARE")


HELP_HINT = f"see '{PROG} help'"


def usage_error(message: str) -> UsageError:
    """A usage mistake: one line, exit status 2."""
    return UsageError(message)


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line and an InvalidArgument (exit 2), not a usage dump.
    `hint` ends the line with where the face's help is: `bocker help` on the command line,
    `%bocker VERB?` in a notebook."""

    def __init__(self, *args: Any, hint: str = HELP_HINT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hint = hint

    def error(self, message: str) -> None:  # type: ignore[override]
        raise usage_error(f"{self.prog}: {message} ({self.hint})")

    intermixed = False  # options may come between the positionals (`volume rm -f a b`)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        # (help goes the plain way: argparse's intermixed parsing %-formats a usage that holds
        # the prog, and the notebook's prog is "%bocker")
        if self.intermixed and not {"-h", "--help"} & set(args or []):
            return self.parse_intermixed_args(args, namespace)
        return super().parse_args(args, namespace)


@dataclass
class Context:
    """What a face hands to a verb besides its arguments."""

    on_output: Callable[[bytes], None] | None = None   # live output of run and exec
    capture: bool = True                                # keep the output in the result too
    seed: dict[str, str] = field(default_factory=dict)  # the seed's --MEM_LIMIT=…, --CPU_SHARE=…
    on_start: Callable[[str], None] | None = None       # run: the container's id, once it runs
    on_progress: Callable[[Any], None] | None = None    # pull/push: a registry.Progress per layer event
    prog: str = PROG                                    # how the face spells a verb: "bocker", "%bocker"
    hint: str = HELP_HINT                               # where the face's help is, for usage mistakes
    stdin: bytes | int | None = None                    # -i: the face's input (an fd, or bytes: a cell)
    terminal: Any = None                                # -t: the face's terminal (terminal.Terminal)
    no_terminal: str = ""                               # why -t can't work here (a notebook has no terminal)
    environ: dict[str, str] = field(default_factory=dict)  # the face's environment (-e KEY, --env-file)
    confirm: Callable[[str], bool] | None = None        # asks a yes/no question (prune); None: can't ask
    binary_stdin: Any = None                            # cp - : the face's stdin as a binary stream
    binary_stdout: Any = None                           # cp … - : the face's stdout as a binary stream


# what Verb.terminal returns for a verb that attaches a pty of its own (run -t, exec -t)
OWN_PTY = "-t"


@dataclass(frozen=True)
class Verb:
    """One verb, for every face: the CLI parses with `arguments`, makes the engine `call` and
    prints with `text`; the magic does the same and shows the result with `view`; an HTTP
    handler (the Docker API face) fills a namespace (`namespace_for`) and makes the same call.
    Behind each field one function, named in VERBS below."""

    name: str
    purpose: str      # the seed's #HELP first line
    usage: str        # … and its second
    arguments: Callable[[argparse.ArgumentParser], None]
    call: Callable[[Engine, argparse.Namespace, Context], Any]
    text: Callable[[argparse.Namespace, Any], int | None] = rendering.nothing   # lines; the exit status
    view: Callable[[Engine, Verb, argparse.Namespace, Any], Any] = cell_views.result  # what a cell shows
    intermixed: bool = False  # an ACTION NAME... verb: options anywhere between the words
    many: bool = False        # acts on several refs: what was done before a failure is printed too
    progress: bool = False    # a registry transfer: the face shows its layers' progress
    # the terminal it attaches, from its arguments: None (none), OWN_PTY (a pty of its own: the
    # face's terminal goes raw), or the container whose -t decides (attach, start -a)
    terminal: Callable[[argparse.Namespace], str | None] = lambda a: None


def own_pty(a: argparse.Namespace) -> str | None:
    """run and exec attach a pty of their own with -t, unless detached."""
    return OWN_PTY if a.tty and not a.detach else None


def memory_size(text: str) -> int:
    """-m's bytes, in Docker's spelling (512m, 1g, 65536k, or bytes): engine.units.parse_size."""
    from ..engine.units import parse_size
    try:
        return parse_size(text)
    except ValueError:
        raise InvalidArgument(f"Invalid memory size '{text}': use a number with b, k, m or g (e.g. 256m)") from None


def whole_number(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"Invalid value '{text}' for {flag}: it must be a whole number") from None


# -- arguments several verbs share ----------------------------------------------------------
def no_arguments(p: argparse.ArgumentParser) -> None:
    pass


def container_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("container", help="container id or name")


def containers_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("containers", nargs="+", metavar="container", help="container ids or names")


def listing_arguments(p: argparse.ArgumentParser, what: str, table: str) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=f"only the {what} ids")
    p.add_argument("--format", metavar="FORMAT", help=f"table ({table}), json, or a Go template such as "
                   "'{{.ID}}\\t{{.Status}}'")
    p.add_argument("--no-trunc", action="store_true", help="long values whole")


PARALLEL = 50  # containers handled at once, as Docker's CLI does them (parallelOperation)


def each(call, parallel: bool = False):
    """A verb that takes several containers: each in turn; one that fails says so and the
    rest still run, as Docker's CLI does (the error of the first failure is raised after).
    `parallel`: up to PARALLEL at once, as Docker's CLI stops, kills, pauses and removes them
    (a stop that waits out its timeout waits for no other); what is printed keeps their order."""
    def one(e: Engine, ref: str):
        try:
            return call(e, ref), None
        except BockerError as err:
            return None, err

    def run(e: Engine, refs: list[str]):
        if parallel and len(refs) > 1:
            import concurrent.futures
            with concurrent.futures.ThreadPoolExecutor(min(PARALLEL, len(refs))) as pool:
                outcomes = list(pool.map(lambda ref: one(e, ref), refs))
        else:
            outcomes = [one(e, ref) for ref in refs]
        done = [result for result, err in outcomes if err is None]
        errors = [err for _, err in outcomes if err is not None]
        if errors:
            err = errors[0]
            err.done = done  # what did happen, for the face to print
            err.errors = errors  # every failure, one line each
            raise err
        return done
    return run
