"""bocker_magics._dataclasses against the standard module: the same classes behave the same."""

from __future__ import annotations

import dataclasses as std

import pytest

from bocker_magics import _dataclasses as ours


def pair(**options):
    """The same class body made by each module."""
    made = []
    for mod in (std, ours):
        @mod.dataclass(**options)
        class Point:
            x: int
            y: int = 0
            tags: list[str] = mod.field(default_factory=list)
            note: str = mod.field(default="", repr=False, compare=False)
        made.append(Point)
    return made


@pytest.mark.parametrize("frozen", [False, True])
def test_init_eq_repr_hash_as_the_standard_module(frozen):
    a_std, a_ours = pair(frozen=frozen)
    for args, kwargs in (((1,), {}), ((1, 2), {}), ((), {"x": 3, "tags": ["a"]}), ((1,), {"note": "n"})):
        s, o = a_std(*args, **kwargs), a_ours(*args, **kwargs)
        assert repr(s) == repr(o)
        assert std.asdict(s) == ours.asdict(o) == std.asdict(o)
        assert (s == a_std(*args, **kwargs)) and (o == a_ours(*args, **kwargs))
        assert o != a_ours(99)
        assert o.__eq__(s) is NotImplemented
        if frozen:
            assert hash(a_ours(1, 2, ())) == hash(a_ours(1, 2, ())) == hash(a_std(1, 2, ()))  # the fields' tuple
            with pytest.raises(AttributeError):
                o.x = 5
            with pytest.raises(ours.FrozenInstanceError):
                o.other = 5
        else:
            assert a_ours.__hash__ is None
            o.x = 5
            assert o.x == 5
    assert a_ours(1, note="a") == a_ours(1, note="b")  # compare=False
    assert a_ours.y == 0 and "x" not in a_ours.__dict__ and "tags" not in a_ours.__dict__
    assert a_ours(1).tags is not a_ours(1).tags


def test_argument_errors_as_the_standard_module():
    a_std, a_ours = pair()
    for args, kwargs in (((), {}), ((1, 2, [], "", 5), {}), ((1,), {"x": 2}), ((1,), {"z": 1})):
        with pytest.raises(TypeError):
            a_std(*args, **kwargs)
        with pytest.raises(TypeError):
            a_ours(*args, **kwargs)
    with pytest.raises(ValueError, match="mutable default"):
        @ours.dataclass
        class Bad:
            items: list = []  # noqa: RUF012
    with pytest.raises(TypeError, match="non-default argument"):
        @ours.dataclass
        class Order:
            a: int = 0
            b: int


def test_the_standard_module_reads_our_classes():
    _, a_ours = pair(frozen=True)
    o = a_ours(1, 2, ["t"], "n")
    assert std.is_dataclass(o) and ours.is_dataclass(a_ours)
    assert [f.name for f in std.fields(o)] == [f.name for f in ours.fields(o)] == ["x", "y", "tags", "note"]
    assert std.fields(o)[2].default_factory is list
    assert std.replace(o, y=7) == ours.replace(o, y=7) == a_ours(1, 7, ["t"], "n")
    assert std.astuple(o) == (1, 2, ["t"], "n")


def test_post_init_inheritance_classvar_explicit_hash():
    seen = []

    @ours.dataclass
    class Base:
        a: int
        LIMIT: ClassVar[int] = 3  # noqa: F821 (a string: from __future__ import annotations)

        def __post_init__(self):
            seen.append(self.a)

    @ours.dataclass(frozen=True)
    class Child(Base):
        b: str = "b"

        def __hash__(self):
            return 42

    c = Child(1)
    assert (c.a, c.b, seen, hash(c)) == (1, "b", [1], 42)
    assert [f.name for f in ours.fields(Child)] == ["a", "b"] and Base.LIMIT == 3
    assert repr(c) == "test_post_init_inheritance_classvar_explicit_hash.<locals>.Child(a=1, b='b')"
    nested = ours.asdict(Child(2))
    assert nested == {"a": 2, "b": "b"}
