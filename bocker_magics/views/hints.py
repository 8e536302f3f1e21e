"""Small helpers for what the notebook face says: the nearest verb, options after a name,
`Removed:` lines in the names the user typed, and sizes as the user gave them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from .. import format


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean ps?)' for the nearest choice, or '' when none is near."""
    near = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""


def name_last(args: Sequence[str], name: str) -> list[str]:
    """The words with the first `name` moved to the end: `top web --monitor --duration 8` is
    read as `top --monitor --duration 8 web` (options after the name count, as argparse users
    expect)."""
    words = list(args)
    words.remove(name)
    return words + [name]


def removed_lines(typed: Sequence[str], removed: Sequence[str]) -> str:
    """`Removed: web (ps_…)`: each thing as the user named it, with its id when that differs."""
    out = []
    for i, rid in enumerate(removed):
        ref = typed[i] if i < len(typed) else rid
        out.append(f"Removed: {ref}" + (f" ({rid})" if ref != rid else ""))
    return "\n".join(out)


def limit_size(n: int | None) -> str:
    """A limit as the user likely gave it: 512 MB (Docker's `512m` is MiB, the seed's
    --MEM_LIMIT=512 is 512,000,000 bytes): a whole number of GiB, MiB, GB or MB shows so,
    anything else in binary units with a decimal."""
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("GB", 10**9), ("MB", 10**6)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return format.size(n)


def option_hint(message: str, options: Iterable[str]) -> str:
    """An argparse `unrecognized arguments: --memry` message with the nearest option added:
    `... --memry (did you mean --memory?) (see %bocker run?)`."""
    import re

    m = re.search(r"unrecognized arguments: (-[\w-]+)", message)
    if not m:
        return message
    near = did_you_mean(m.group(1), [o for o in options if o.startswith("--")])
    return message.replace(m.group(0), m.group(0) + near, 1) if near else message
