"""json.loads and json.dumps, with json's default arguments, without importing json.

The json package imports re, and re imports enum (with functools and collections): a visible
share of every bocker-runc create, which reads a config.json and speaks JSON with its pid 1,
and of every `state`. These are the C functions json itself calls (_json, CPython's
accelerator) given json's defaults, so what they return is what json returns; indent=
(`state` prints with it) is written here, in json's layout, for plain data. Anything else
goes to the json package itself, for its exact result, exception and message: other
keyword arguments (sort_keys=, separators=, ...), a document that does not parse, a value
that does not encode (or a float, a subclass, a non-str key under indent=), bytes that
are not plainly UTF-8, an interpreter without _json.
"""

from __future__ import annotations

try:
    import _json
except ImportError:  # pragma: no cover (CPython has it)
    _json = None

_WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE


class _Defaults:
    """What the C scanner reads off a json.JSONDecoder(): json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_Defaults()) if _json is not None else None


def loads(s):
    """json.loads(s)."""
    if isinstance(s, (bytes, bytearray)):
        # json.detect_encoding says UTF-8 unless a BOM or a NUL in the first bytes says otherwise
        if s[:1] and s[0] not in (0, 0xEF, 0xFE, 0xFF) and (len(s) in (1, 3) or s[1] != 0):
            s = s.decode("utf-8", "surrogatepass")
    if _scan is not None and isinstance(s, str) and not s.startswith("\ufeff"):
        start = len(s) - len(s.lstrip(_WHITESPACE))
        try:
            value, end = _scan(s, start)
        except Exception:  # json.loads below raises it as json does
            pass
        else:
            if len(s.rstrip(_WHITESPACE)) == end:  # only whitespace after it (a value never ends in one)
                return value
    import json
    return json.loads(s)


def _default(o):
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj, **kwargs) -> str:
    """json.dumps(obj) or json.dumps(obj, indent=N); other keyword arguments go to json."""
    if _json is not None and (not kwargs or list(kwargs) == ["indent"] and type(kwargs["indent"]) is int):
        try:
            if kwargs:
                out: list[str] = []
                _indented(obj, kwargs["indent"], "\n", out)
                return "".join(out)
            if isinstance(obj, str):
                return _json.encode_basestring_ascii(obj)
            # json.JSONEncoder().iterencode(obj, _one_shot=True): check_circular (a fresh
            # markers dict), ensure_ascii, separators (", ", ": "), no sort, allow_nan
            return "".join(_json.make_encoder({}, _default, _json.encode_basestring_ascii, None, ": ", ", ", False,
                                              False, True)(obj, 0))
        except Exception:
            pass
    import json
    return json.dumps(obj, **kwargs)


def _indented(obj, indent: int, newline: str, out: list[str]) -> None:
    """json.dumps(obj, indent=indent) of what a runtime prints (`state`, `features`): dicts
    with str keys, lists, str, int, bool, None; anything else raises, and json answers."""
    if isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = newline + " " * indent
        out.append("{")
        for i, (k, v) in enumerate(obj.items()):
            if type(k) is not str:
                raise TypeError("json converts such a key")
            out.append(("," if i else "") + inner + _json.encode_basestring_ascii(k) + ": ")
            _indented(v, indent, inner, out)
        out.append(newline + "}")
    elif isinstance(obj, (list, tuple)):
        if not obj:
            out.append("[]")
            return
        inner = newline + " " * indent
        out.append("[")
        for i, v in enumerate(obj):
            out.append(("," if i else "") + inner)
            _indented(v, indent, inner, out)
        out.append(newline + "]")
    elif isinstance(obj, str):
        out.append(_json.encode_basestring_ascii(obj))
    elif obj is None or obj is True or obj is False:
        out.append("null" if obj is None else "true" if obj else "false")
    elif type(obj) is int:
        out.append(int.__repr__(obj))
    else:
        raise TypeError("json writes it")
