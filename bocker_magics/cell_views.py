"""How a notebook cell shows each verb's result: commands.VERBS names one of these per verb
(its `view`). A view is a table or a picture (views/, with .to_frame()), the CLI's own lines
(rendering.py) where there is nothing better to see, or the result itself.

A view takes the engine, the verb (its commands.Verb), the parsed arguments (with the
magic's --out) and the result; what it returns is what the cell shows (None: nothing more
than what it printed). The views are imported when a cell shows one, never before.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .errors import BockerError

if TYPE_CHECKING:
    from .commands import Verb
    from .engine import Engine

PROG = "%bocker"


def label(name: str | None, cid: str | None) -> str:
    """How a cell names a container: `web (ps_1a2b…)`, or whichever of the two it has."""
    return f"{name} ({cid})" if name and cid else (name or cid or "?")


def result(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    """The result as it is (wait's exit code, create's container, a network's record...)."""
    return value


def nothing(e: Engine, verb: Verb, a: Any, value: Any) -> None:
    """stop, kill: the cell shows nothing (the result still goes into --out)."""
    return None


def printed(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    """The CLI's lines (one renderer for both faces); the result itself only into --out."""
    status = verb.text(a, value)
    if status:
        raise BockerError(f"{PROG} {verb.name} did not finish: see the lines above")
    return value if getattr(a, "out", None) else None


def printed_only(e: Engine, verb: Verb, a: Any, value: Any) -> None:
    """rm, rmi: a line per ref, named as the user named it, and nothing kept."""
    from .views.hints import removed_lines
    print(removed_lines(getattr(a, "refs", None) or getattr(a, "images", None) or [], value))
    return None


def ps(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    if a.quiet or a.format:
        return printed(e, verb, a, value)
    from .views import ContainerTable
    return ContainerTable(value)


def images(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    if a.quiet or a.format:
        return printed(e, verb, a, value)
    from .views import ImageTable
    return ImageTable(value)


def history(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    if a.quiet or a.format:
        return printed(e, verb, a, value)
    from .views import HistoryTable
    return HistoryTable(value, a.image)


def image(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    """init, commit, pull: the image made, as a one-row table."""
    if not hasattr(value, "layers"):
        return value
    from .views import ImageTable
    return ImageTable([value])


def loaded(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    from .views import ImageTable
    return ImageTable(value)


def top(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    from .views import ProcessTable
    c = e.container(a.container)
    return ProcessTable(value, label(c.name, c.id))


def volume(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    if a.action not in ("ls", "inspect") or a.quiet or a.format:
        return printed(e, verb, a, value)
    from .views import Inspect, VolumeTable
    if a.action == "ls":
        return VolumeTable(value)
    return Inspect(value[0]) if len(value) == 1 else [Inspect(r) for r in value]


def system(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    if a.action == "info":
        return printed(e, verb, a, value)
    from .views import DiskUsageTable
    return DiskUsageTable(value)


def inspect(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    from .views import Inspect
    return Inspect(value)


def diff(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    from .views import LayerDiff
    upper, lowers = e.diff_dirs(a.ref)
    return LayerDiff(value, upper, lowers, title=a.ref)


def stats(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    """Docker's columns: CPU % over two samples, memory of its limit, I/O, pids."""
    from .views import StatsTable
    return StatsTable.sampled(e, value)


def logs(e: Engine, verb: Verb, a: Any, records: Any) -> str | None:
    """The log as text: into --out, else printed into the cell."""
    text = b"".join(r.text(a.timestamps) for r in records).decode(errors="replace")
    if getattr(a, "out", None):
        return text
    sys.stdout.write(text)
    return None


def compose(e: Engine, verb: Verb, a: Any, value: Any) -> Any:
    """`%bocker compose`: after up (and ps, start, restart) the stack, a table and its picture;
    the rest as the CLI's lines."""
    if value.action in ("up", "ps", "start", "restart") and not getattr(a, "out", None):
        from .views.stack import StackView
        return StackView.of(value.stack)
    return printed(e, verb, a, value)
