"""bocker_magics._cjson against the json package: the same values, the same errors."""

from __future__ import annotations

import json
import math

import pytest

from bocker_magics import _cjson

DOCUMENTS = [
    '{"ociVersion": "1.0.2-dev", "process": {"args": ["sh"], "user": {"uid": 0}}, "x": [1, 2.5, -3e10, true, null]}',
    "  \n\t[1, 2, 3]\r\n", '"just a string"', "42", "-0.0", "1e400", "[NaN, Infinity, -Infinity]", "{}", "[]",
    '{"a": {"b": {"c": [{"d": "\\u00e9\\ud83d\\ude00\\n"}]}}}', '{"k": 1, "k": 2}', "null",
]
BAD = ["", "   ", "{", '{"a": 1,}', "[1] 2", "{'a': 1}", "\ufeff{}", "tru", '"\x01"', "[1e]", '{"a" 1}']


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_as_json(text):
    ours, theirs = _cjson.loads(text), json.loads(text)
    assert repr(ours) == repr(theirs)  # repr: NaN != NaN, -0.0 == 0.0
    assert repr(_cjson.loads(text.encode())) == repr(theirs)
    assert repr(_cjson.loads(text.encode("utf-16"))) == repr(theirs)


@pytest.mark.parametrize("text", BAD)
def test_loads_errors_as_json(text):
    with pytest.raises(ValueError) as theirs:
        json.loads(text)
    with pytest.raises(ValueError) as ours:
        _cjson.loads(text)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
    with pytest.raises(TypeError):
        _cjson.loads(None)


VALUES = [
    {"type": "ready"}, {"type": "error", "message": "Bug: é \n \"q\"", "code": 125}, [1, 2.5, None, True, False],
    "é\u2028", 3, 1.0, -0.0, math.inf, {1: "int key", 2.5: "float key", None: "null", False: "bool"},
    {"nested": [{"a": [[], {}]}]}, (1, 2), 10**30,
    {"ociVersion": "1.0.2-dev", "id": "c1", "pid": 4242, "status": "created", "bundle": "/b", "rootfs": "/b/rootfs",
     "created": "2026-12-01T13:35:55.023946472Z", "owner": "", "annotations": {"k": "v\u00e9", "e": ""},
     "hooks": [], "x": [{}, [], [1, [2, {"y": None}]], True, False]},
]


def outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as e:
        return type(e), str(e)


@pytest.mark.parametrize("value", VALUES)
def test_dumps_as_json(value):
    assert _cjson.dumps(value) == json.dumps(value)
    for kwargs in ({"indent": 2}, {"indent": 4}, {"indent": 0}, {"sort_keys": True, "separators": (",", ":")}):
        assert outcome(_cjson.dumps, value, **kwargs) == outcome(json.dumps, value, **kwargs)


def test_dumps_errors_as_json():
    circular: list = []
    circular.append(circular)
    for value in (object(), {"a": {1, 2}}, {(1, 2): "tuple key"}, circular):
        with pytest.raises((TypeError, ValueError)) as theirs:
            json.dumps(value)
        with pytest.raises((TypeError, ValueError)) as ours:
            _cjson.dumps(value)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
