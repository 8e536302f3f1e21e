"""The runtime's plain records (bocker_magics/_record.py) and the spec model's own fields:
what tests/test_dataclasses_subset.py checked of the dataclass() subset they replace (equality
and hashing as a dataclass's, repr, fields as a dict, defaults and factories, argument
errors), now of plain classes. No root needed."""

from __future__ import annotations

import pytest

from bocker_magics._record import Record, Value
from bocker_magics.engine.kernel.cgroups import CgroupStats
from bocker_magics.engine.kernel.devices import DeviceRule
from bocker_magics.engine.runtime.protocol import Endpoint, Launch, Publish, RestartPolicy
from bocker_magics.engine.spec import _f, _Model, _model, _unknown


class Point(Record):
    __slots__ = ("x", "y", "tags")

    def __init__(self, x: int, y: int = 0, tags: list[str] | None = None) -> None:
        self.x, self.y, self.tags = x, y, [] if tags is None else tags


class Pair(Value):
    __slots__ = ("a", "b")

    def __init__(self, a: int, b: Point | None = None) -> None:
        self.a, self.b = a, b


def test_equality_repr_and_hash_as_a_dataclass():
    assert Point(1) == Point(1, 0, []) and Point(1) != Point(2)
    assert Point(1).__eq__(Pair(1)) is NotImplemented
    assert repr(Point(1, tags=["a"])) == "Point(x=1, y=0, tags=['a'])"
    assert Point(1).tags is not Point(1).tags  # a factory per instance
    with pytest.raises(TypeError):
        hash(Point(1))  # mutable: unhashable, as a dataclass that is not frozen
    assert hash(Pair(1)) == hash(Pair(1)) and {Pair(1), Pair(1), Pair(2)} == {Pair(1), Pair(2)}
    p = Point(1)
    p.x = 5
    assert p.x == 5
    with pytest.raises(AttributeError):
        p.other = 1  # __slots__: no field that is not declared


def test_argument_errors():
    for args, kwargs in (((), {}), ((1, 2, [], 4), {}), ((1,), {"x": 2}), ((1,), {"z": 1})):
        with pytest.raises(TypeError):
            Point(*args, **kwargs)


def test_as_dict_is_recursive_and_copies_containers():
    tags = ["t"]
    d = Pair(1, Point(2, 3, tags)).as_dict()
    assert d == {"a": 1, "b": {"x": 2, "y": 3, "tags": ["t"]}}
    assert d["b"]["tags"] is not tags


def test_the_runtimes_records():
    launch = Launch("id1", "/b", "/l", ["a"], "bocker", "boot",
                    endpoint=Endpoint("n", "br", "10.0.0.2", 24, "10.0.0.1", "02:00:00:00:00:01", "veth1"),
                    publish=[Publish("127.0.0.1", 8080, 80)], restart=RestartPolicy("always", 0))
    assert Launch.from_json(launch.to_json()) == launch
    assert launch.to_json()["op"] == "run" and launch.to_json()["publish"] == [
        {"host_ip": "127.0.0.1", "host_port": 8080, "container_port": 80, "proto": "tcp"}]
    assert Launch("i", "/b", "/l", [], "p", "x").restart == RestartPolicy()
    assert CgroupStats(oom_kills=1).as_dict()["oom_kills"] == 1 and list(CgroupStats.__slots__)[0] == "cpu_seconds"
    assert DeviceRule(True, "c", 1, 3) == DeviceRule(allow=True, type="c", major=1, minor=3)
    assert len({DeviceRule(True), DeviceRule(True)}) == 1
    from bocker_magics.errors import InvalidArgument
    with pytest.raises(InvalidArgument):
        DeviceRule("yes")  # checked as it is made (the dataclass's __post_init__)


def test_the_spec_model_collects_its_own_fields():
    @_model
    class Thing(_Model):
        name: str = _f("", required=True)
        items: list[str] = _f(factory=list)
        size: int | None = _f(range=(0, 9, "a digit"))
        unknown: dict[str, object] = _unknown()

    assert [f.name for f in Thing._decls] == ["name", "items", "size", "unknown"]
    t = Thing(name="a")
    assert (t.name, t.items, t.size, t.unknown) == ("a", [], None, {})
    assert Thing().items is not Thing().items and Thing.size is None and "items" not in Thing.__dict__
    assert Thing(name="a") == Thing(name="a") != Thing(name="b")
    with pytest.raises(TypeError, match="unexpected keyword"):
        Thing(nope=1)
    with pytest.raises(TypeError, match="declare a field"):
        @_model
        class Bad(_Model):
            plain: int = 0
