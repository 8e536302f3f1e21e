"""Plain records for the runtime's path (the shim, pid 1, bocker-runc): each class names its
fields in ``__slots__`` and writes its own ``__init__``; this base gives it ``==``, a repr and
its fields as a dict, and the immutable ones (``Value``) a hash.

Not ``dataclasses``: bocker-runc starts a fresh interpreter for every verb, and that module's
import (inspect, ast, dis, tokenize) and the code it writes and compiles for each class are a
cost create would pay on every container (tests/test_runc.py checks create imports none of
it). Stdlib-free.
"""

from __future__ import annotations


class Record:
    """Fields in ``__slots__`` (in order); equal when of the same class with equal fields."""

    __slots__ = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, n) for n in type(self).__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # mutable: unhashable, as a dataclass that is not frozen

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__slots__)
        return f"{type(self).__name__}({shown})"

    def as_dict(self) -> dict:
        """The fields as a dict: nested records (and lists and tuples of them) too."""
        return {n: _plain(getattr(self, n)) for n in type(self).__slots__}


class Value(Record):
    """A record that is not changed once made: hashable by its fields."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._values())


def _plain(v):
    if isinstance(v, Record):
        return v.as_dict()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v
