"""dataclass() for the runtime's path, without importing dataclasses.

bocker-runc starts a fresh interpreter for every verb, and the modules of create's path
(the spec model, cgroups, devices, rootfs, seccomp, init, protocol) hold ~50 dataclasses.
There `dataclasses` cost a third of create's time: its import (inspect -> ast, dis,
tokenize: ~6 ms) and, per class, the source of __init__, __eq__, __repr__, __hash__ and
__setattr__ written out and exec'd (~0.4 ms for a frozen class of five fields).

This module makes the same classes without either: one shared __init__, __eq__, __repr__,
__hash__ and __setattr__ read a per-class field table. What the package uses of
dataclass() is here, with the same meaning:

    @dataclass / @dataclass(frozen=True, eq=..., init=..., repr=...)
    field(default=, default_factory=, repr=, compare=, hash=, metadata=)
    fields(), asdict(), replace(), is_dataclass(), MISSING, FrozenInstanceError

Positional and keyword arguments as dataclass's __init__ takes them, __post_init__,
defaults kept as class attributes, a mutable default refused, frozen instances hashable by
their fields (unless the class writes its own __hash__), unfrozen ones unhashable.

The classes also satisfy the standard module: `dataclasses.fields(x)`, `asdict(x)`,
`replace(x, ...)` and `is_dataclass(x)` work on them, through a `__dataclass_fields__`
that builds the standard Field objects (importing dataclasses) the first time something
looks, which the runtime's path never does.
"""

from __future__ import annotations


class _MissingType:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _MissingType()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen instance (dataclasses.FrozenInstanceError's role)."""


class Field:
    __slots__ = ("compare", "default", "default_factory", "hash", "metadata", "name", "repr", "type")

    def __init__(self, default=MISSING, default_factory=MISSING, repr=True, compare=True, hash=None,
                 metadata=None) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = None
        self.type = None
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare
        self.hash = hash
        self.metadata = {} if metadata is None else metadata

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"


def field(*, default=MISSING, default_factory=MISSING, repr=True, compare=True, hash=None, metadata=None):
    return Field(default, default_factory, repr, compare, hash, metadata)


class _Record:
    """A class's field table, read by the shared methods: one attribute per class (every
    attribute set on a class costs, and this module is here to be cheap at import)."""

    __slots__ = ("compare", "fields", "hash", "init", "names", "repr")

    def __init__(self, fields: tuple[Field, ...]) -> None:
        self.fields = fields
        self.names = frozenset(f.name for f in fields)
        self.init = []
        self.compare, self.hash, self.repr = [], [], []
        for f in fields:
            name = f.name
            self.init.append((name, f.default, f.default_factory))
            if f.compare:
                self.compare.append(name)
            if f.compare if f.hash is None else f.hash:
                self.hash.append(name)
            if f.repr:
                self.repr.append(name)


def _is_classvar(annotation) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(getattr(annotation, "__origin__", annotation), "_name", None) == "ClassVar"


class _StandardFields:
    """`__dataclass_fields__` of a class made here: the standard module's Field objects, built
    on the first look (by dataclasses.fields, asdict, replace, is_dataclass) and then kept."""

    def __get__(self, obj, owner):
        import dataclasses

        def std(value):
            return dataclasses.MISSING if value is MISSING else value

        shadow = dataclasses.make_dataclass(owner.__name__, [
            (f.name, f.type, dataclasses.field(default=std(f.default), default_factory=std(f.default_factory),
                                               repr=f.repr, compare=f.compare, hash=f.hash, metadata=f.metadata))
            for f in owner.__record__.fields], init=False, repr=False, eq=False)
        standard = dict(shadow.__dataclass_fields__)
        type.__setattr__(owner, "__dataclass_fields__", standard)
        return standard


# -- the shared methods --------------------------------------------------------------------------
def _init(self, *args, **kwargs) -> None:
    cls = type(self)
    table = cls.__record__.init
    if len(args) > len(table):
        raise TypeError(f"{cls.__qualname__}.__init__() takes {len(table) + 1} positional arguments "
                        f"but {len(args) + 1} were given")
    put = object.__setattr__
    for i, (name, default, factory) in enumerate(table):
        if i < len(args):
            if name in kwargs:
                raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument '{name}'")
            value = args[i]
        elif name in kwargs:
            value = kwargs.pop(name)
        elif default is not MISSING:
            value = default
        elif factory is not MISSING:
            value = factory()
        else:
            raise TypeError(f"{cls.__qualname__}.__init__() missing 1 required positional argument: '{name}'")
        put(self, name, value)
    if kwargs:
        raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


def _eq(self, other):
    if other.__class__ is self.__class__:
        names = type(self).__record__.compare
        return [getattr(self, n) for n in names] == [getattr(other, n) for n in names]
    return NotImplemented


def _hash(self) -> int:
    return hash(tuple([getattr(self, name) for name in type(self).__record__.hash]))


def _repr(self) -> str:
    shown = ", ".join([f"{name}={getattr(self, name)!r}" for name in type(self).__record__.repr])
    return f"{type(self).__qualname__}({shown})"


def _frozen_setattr(self, name, value) -> None:
    cls = type(self)
    if "__record__" in cls.__dict__ or name in cls.__record__.names:  # dataclass's own test
        raise FrozenInstanceError(f"cannot assign to field '{name}'")
    object.__setattr__(self, name, value)


def _frozen_delattr(self, name) -> None:
    cls = type(self)
    if "__record__" in cls.__dict__ or name in cls.__record__.names:
        raise FrozenInstanceError(f"cannot delete field '{name}'")
    object.__delattr__(self, name)


def _process(cls, init: bool, repr: bool, eq: bool, frozen: bool):
    own = cls.__dict__
    table: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        record = base.__dict__.get("__record__")
        if record is not None:
            for f in record.fields:
                table[f.name] = f
    for name, annotation in own.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        value = own.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name, f.type = name, annotation
        if f.default is not MISSING and f.default.__class__.__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {name} is not allowed: "
                             "use default_factory")
        if f.default is MISSING:
            if isinstance(value, Field):
                delattr(cls, name)
        else:
            setattr(cls, name, f.default)
        table[name] = f
    required_after_default = False
    for f in table.values() if init else ():
        if f.default is MISSING and f.default_factory is MISSING:
            if required_after_default:
                raise TypeError(f"non-default argument '{f.name}' follows default argument")
        else:
            required_after_default = True
    cls.__record__ = _Record(tuple(table.values()))
    cls.__dataclass_fields__ = _StandardFields()
    cls.__match_args__ = tuple(table)
    if init and "__init__" not in own:
        cls.__init__ = _init
    if repr and "__repr__" not in own:
        cls.__repr__ = _repr
    if eq and "__eq__" not in own:
        cls.__eq__ = _eq
    if frozen:
        if "__setattr__" in own or "__delattr__" in own:
            raise TypeError(f"cannot overwrite attribute __setattr__ or __delattr__ in class {cls.__name__}")
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    class_hash = own.get("__hash__", MISSING)  # dataclass's rule (unsafe_hash=False)
    explicit_hash = not (class_hash is MISSING or (class_hash is None and "__eq__" in own))
    if eq and not explicit_hash:
        cls.__hash__ = _hash if frozen else None
    if cls.__doc__ is None:
        cls.__doc__ = cls.__name__
    return cls


def dataclass(cls=None, /, *, init: bool = True, repr: bool = True, eq: bool = True, frozen: bool = False):
    """@dataclass or @dataclass(...): the class with its fields' methods."""
    def wrap(c):
        return _process(c, init, repr, eq, frozen)
    return wrap if cls is None else wrap(cls)


# -- the module functions ------------------------------------------------------------------------
def is_dataclass(obj) -> bool:
    cls = obj if isinstance(obj, type) else type(obj)
    return hasattr(cls, "__record__") or hasattr(cls, "__dataclass_fields__")


def fields(class_or_instance) -> tuple[Field, ...]:
    cls = class_or_instance if isinstance(class_or_instance, type) else type(class_or_instance)
    record = getattr(cls, "__record__", None)
    if record is None:
        import dataclasses
        return dataclasses.fields(class_or_instance)
    return record.fields


def _as(value):
    record = getattr(type(value), "__record__", None)
    if record is not None:
        return {f.name: _as(getattr(value, f.name)) for f in record.fields}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[_as(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_as(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_as(k), _as(v)) for k, v in value.items())
    if isinstance(value, (str, int, float, bool, bytes, type(None))):
        return value
    import copy
    return copy.deepcopy(value)


def asdict(obj) -> dict:
    """dataclasses.asdict: the fields as a dict, recursively, values copied."""
    if not hasattr(type(obj), "__record__"):
        import dataclasses
        return dataclasses.asdict(obj)
    return _as(obj)


def replace(obj, /, **changes):
    """dataclasses.replace: a new instance with some fields changed."""
    for f in type(obj).__record__.fields:
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return type(obj)(**changes)
