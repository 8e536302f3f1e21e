"""The codec: JSON <-> the model's objects, driven by field tables built from each class's
declarations on first use (not at import), and the one validator both directions run."""

from __future__ import annotations

import os
import types

from ... import _cjson
from ...errors import InvalidArgument
from .model import I64, MISSING, _at, _camel, _Invalid, _is_model, _show

# the names the annotations use (text, under `from __future__ import annotations`): the model's
# classes, filled in by the package's __init__, and the builtins
_NAMES: dict[str, object] = dict(int=int, str=str, bool=bool, float=float, list=list, dict=dict, object=object)
_EVALUATED: dict[str, object] = {}


class _Str:
    __slots__ = ("enum", "noun", "pattern")

    def __init__(self, meta) -> None:
        self.enum = meta.get("enum")
        self.noun = meta.get("noun")
        self.pattern = meta.get("pattern")

    def load(self, v: object, path: str) -> str:
        if not isinstance(v, str):
            raise _Invalid(path, f"{_show(v)} is not a string")
        if self.enum is not None and v not in self.enum:
            raise _Invalid(path, f"{_show(v)} is not {self.noun} (use {', '.join(self.enum)})")
        if self.pattern is not None and not self.pattern.match(v):
            raise _Invalid(path, f"{_show(v)} is not {self.pattern.what}")
        return v

    def dump(self, v):
        return v


class _Bool:
    __slots__ = ()

    def load(self, v: object, path: str) -> bool:
        if not isinstance(v, bool):
            raise _Invalid(path, f"{_show(v)} is not true or false")
        return v

    def dump(self, v):
        return v


class _Int:
    __slots__ = ("high", "low", "name")

    def __init__(self, meta) -> None:
        self.low, self.high, self.name = meta.get("range") or I64

    def load(self, v: object, path: str) -> int:
        if not isinstance(v, int) or isinstance(v, bool):
            raise _Invalid(path, f"{_show(v)} is not an integer")
        if not self.low <= v <= self.high:
            raise _Invalid(path, f"{v} is out of range for {self.name} ({self.low}..{self.high})")
        return v

    def dump(self, v):
        return v


class _Float:
    __slots__ = ()

    def load(self, v: object, path: str) -> float:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise _Invalid(path, f"{_show(v)} is not a number")
        return v

    def dump(self, v):
        return v


class _List:
    __slots__ = ("item",)

    def __init__(self, item) -> None:
        self.item = item

    def load(self, v: object, path: str) -> list:
        if not isinstance(v, list):
            raise _Invalid(path, f"{_show(v)} is not a list")
        load = self.item.load
        return [load(x, f"{path}[{i}]") for i, x in enumerate(v)]

    def dump(self, v):
        if not isinstance(v, (list, tuple)):
            return v  # the validator says what is wrong
        dump = self.item.dump
        return [dump(x) for x in v]


class _Map:
    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    def load(self, v: object, path: str) -> dict:
        if not isinstance(v, dict):
            raise _Invalid(path, f"{_show(v)} is not an object")
        load = self.value.load
        return {k: load(x, f'{path}["{k}"]') for k, x in v.items()}

    def dump(self, v):
        if not isinstance(v, dict):
            return v
        dump = self.value.dump
        return {k: dump(x) for k, x in v.items()}


class _Obj:
    __slots__ = ("cls",)

    def __init__(self, cls) -> None:
        self.cls = cls

    def load(self, v: object, path: str):
        if not isinstance(v, dict):
            raise _Invalid(path, f"{_show(v)} is not an object")
        table = _table(self.cls)
        kwargs = {}
        for f in table.fields:
            if f.json in v:
                kwargs[f.py] = f.kind.load(v[f.json], _at(path, f.json))
            elif f.required:
                raise _Invalid(_at(path, f.json), "required but missing")
        obj = self.cls(**kwargs)
        if len(kwargs) < len(v):  # kept as they are, but not shared with the caller's dict
            obj.unknown = {k: _deepcopy(x) for k, x in v.items() if k not in table.keys}
        if table.check:
            obj._check(path, v)
        return obj

    def dump(self, v):
        return _dump(v) if isinstance(v, self.cls) else v


class _Field:
    __slots__ = ("always", "default", "empty", "json", "kind", "nested", "py", "required")

    def __init__(self, f) -> None:
        meta = f.metadata
        self.py = f.name
        self.json = meta.get("json") or _camel(f.name)
        self.kind = _kind(f.type, meta)
        self.required = bool(meta.get("required"))
        self.always = bool(meta.get("always"))
        self.default = f.default if f.default is not MISSING else None
        self.empty = f.default_factory in (list, dict)  # unset when empty
        # a nested object that is always there (process, linux, ...): unset when empty
        self.nested = _is_model(f.default_factory)

    def unset(self, v: object) -> bool:
        if v is None:
            return True
        if self.nested:
            return isinstance(v, self.kind.cls) and _is_empty(v)
        if self.empty:
            return not v
        return v == self.default and type(v) is type(self.default)


class _Table:
    __slots__ = ("check", "fields", "keys")

    def __init__(self, cls) -> None:
        self.fields = tuple(_Field(f) for f in cls._decls if f.name != "unknown")
        self.keys = frozenset(f.json for f in self.fields)
        self.check = hasattr(cls, "_check")


_TABLES: dict[type, _Table] = {}


def _table(cls) -> _Table:
    table = _TABLES.get(cls)
    if table is None:
        table = _TABLES[cls] = _Table(cls)
    return table


def _kind(tp, meta):
    """How a field with this annotation reads and writes JSON."""
    if isinstance(tp, str):
        # `from __future__ import annotations` leaves them as text: evaluated here, on first
        # use, not at import (this module's own annotations, nothing else), once per text
        # ("int | None" is a hundred fields')
        text = tp
        tp = _EVALUATED.get(text)
        if tp is None:
            tp = _EVALUATED[text] = eval(text, _NAMES)
    if isinstance(tp, types.UnionType):
        (tp,) = (t for t in tp.__args__ if t is not type(None))
        return _kind(tp, meta)
    origin = getattr(tp, "__origin__", None)
    if origin is list:
        return _List(_kind(tp.__args__[0], meta))
    if origin is dict:
        return _Map(_kind(tp.__args__[1], meta))
    if tp is str:
        return _Str(meta)
    if tp is bool:
        return _Bool()
    if tp is int:
        return _Int(meta)
    if tp is float:
        return _Float()
    if _is_model(tp):
        return _Obj(tp)
    raise TypeError(f"no JSON kind for {tp!r}")


def _is_empty(obj) -> bool:
    if obj.unknown:
        return False
    return all(f.unset(getattr(obj, f.py)) for f in _table(type(obj)).fields)


def _dump(obj) -> dict:
    out = {}
    for f in _table(type(obj)).fields:
        v = getattr(obj, f.py)
        if f.always:
            if v is None or v == "":
                continue  # a required one: the validator says it is missing
        elif f.unset(v):
            continue
        out[f.json] = f.kind.dump(v)
    for k, v in obj.unknown.items():
        if k not in out:
            out[k] = _deepcopy(v)
    return out


def _deepcopy(value):
    """copy.deepcopy, imported only for a spec with keys the model does not know."""
    import copy
    return copy.deepcopy(value)


def _set_paths(obj, path: str, out: list[str], *, in_list: bool) -> None:
    for f in _table(type(obj)).fields:
        v = getattr(obj, f.py)
        # in a list's item, what is written is set (a namespace's type, a mapping's ids)
        if f.unset(v) and not (in_list and f.always and v is not None and v != ""):
            continue
        here = _at(path, f.json)
        kind = f.kind
        if isinstance(kind, _Obj) and isinstance(v, kind.cls):
            before = len(out)
            _set_paths(v, here, out, in_list=in_list)
            if len(out) == before:
                out.append(here)  # present and empty: that means something (capabilities {})
        elif isinstance(kind, _List) and isinstance(kind.item, _Obj):
            before = len(out)
            for item in v:
                if isinstance(item, kind.item.cls):
                    _set_paths(item, here + "[]", out, in_list=True)
            if len(out) == before:
                out.append(here)
        else:
            out.append(here)
    for k in obj.unknown:
        out.append(_at(path, k))


def object_json(obj) -> dict:
    """One object of the model as its JSON (unset fields left out)."""
    return _dump(obj)


def read_object(cls, obj: dict | str | bytes, source: str):
    """One object of the model (a Process, a Mount, ...) from its JSON, validated."""
    return _parse(cls, obj, source)


def _parse(cls, obj: dict | str | bytes, source: str):
    if isinstance(obj, (bytes, bytearray)):
        try:
            obj = obj.decode()  # UTF-8, as Go reads it (json.loads would guess UTF-16 too)
        except UnicodeDecodeError:
            raise InvalidArgument(f"{source}: not UTF-8 text, so not JSON") from None
    if isinstance(obj, str):
        try:
            obj = _cjson.loads(obj)
        except ValueError as e:
            raise InvalidArgument(f"{source}: not valid JSON ({e})") from None
    try:
        return _Obj(cls).load(obj, "")
    except _Invalid as e:
        where = f"{e.path}: " if e.path else ""  # "" is the document itself
        raise InvalidArgument(f"{source}: {where}{e.problem}") from None


# -- files (written with fileio.atomic_write) -----------------------------------------------

def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InvalidArgument(f"{os.fspath(path)}: no such file") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{os.fspath(path)}: is a directory, not a JSON file") from None
    except OSError as e:
        raise InvalidArgument(f"{os.fspath(path)}: cannot be read ({e.strerror})") from None
