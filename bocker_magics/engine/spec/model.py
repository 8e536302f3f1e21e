"""The model's base: the spec's enumerations and ranges, the string patterns, and `_Model`
with `_f()`, how a class of the model declares its fields (spec/__init__.py says the
conventions). Stdlib only: the shim and bocker-runc import it."""

from __future__ import annotations

from ... import _cjson

# The runtime-spec version written by default: the Debian package's, and runc 1.1's.
OCI_VERSION = "1.0.2-dev"

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
DEVICE_TYPES = ("c", "b", "u", "p")
DEVICE_RULE_TYPES = ("a", "c", "b")
# every mount(8) propagation name, as runc takes them for linux.rootfsPropagation (CRI asks rshared, rslave)
ROOTFS_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable")
PERSONALITY_DOMAINS = ("LINUX", "LINUX32")
TIME_CLOCKS = ("monotonic", "boottime")
# getrlimit(2); the spec says a runtime MUST refuse a type it cannot map
RLIMIT_TYPES = (
    "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
    "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
)
SECCOMP_ACTIONS = (
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
)
SECCOMP_OPERATORS = (
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
SECCOMP_FLAGS = (
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
)
SECCOMP_ARCHES = (
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
)
STATUSES = ("creating", "created", "running", "stopped")
PHASES = ("", "created", "starting", "running", "restarting", "exited", "failed")

# integer ranges: (low, high, the spec's name for it)
U16 = (0, 2**16 - 1, "a uint16")
U32 = (0, 2**32 - 1, "a uint32")
U64 = (0, 2**64 - 1, "a uint64")
I64 = (-(2**63), 2**63 - 1, "an int64")
ARG_INDEX = (0, 5, "a syscall argument index")  # the kernel passes six arguments
OOM_SCORE_ADJ = (-1000, 1000, "an oom_score_adj")  # what /proc/PID/oom_score_adj takes
TIMEOUT = (1, 2**63 - 1, "a timeout in seconds")


class _Pattern:
    """A string field's pattern (the schema's regex) and what a matching value is.

    `fast` is a plain test whose True means the regex matches; it answers for the values
    every config.json has (capability names, 1.0.2-dev). Anything else goes to the regex,
    compiled on first need: `re` (with enum) is a cost bocker-runc's create need not pay."""

    __slots__ = ("compiled", "fast", "regex", "what")

    def __init__(self, regex: str, what: str, fast) -> None:
        self.regex, self.what, self.fast, self.compiled = regex, what, fast, None

    def match(self, value: str) -> bool:
        if self.fast(value):
            return True
        if self.compiled is None:
            import re
            self.compiled = re.compile(self.regex)
        return self.compiled.match(value) is not None


_DIGITS = "0123456789"
_VERSION_PART = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"  # [0-9A-Za-z.-]


def _is_version(v: str) -> bool:
    head, plus, build = v.partition("+")
    core, dash, pre = head.partition("-")
    parts = core.split(".")
    return (len(parts) == 3 and parts[0] == "1" and all(p and not p.strip(_DIGITS) for p in parts[1:])
            and (not dash or bool(pre) and not pre.strip(_VERSION_PART))
            and (not plus or bool(build) and not build.strip(_VERSION_PART)))


# (`not s.strip(chars)`: every character of s is one of chars)
_OCI_VERSION = _Pattern(r"^1\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$",
                        "a runtime-spec version, 1.x.y (this runtime reads the 1.x spec)", _is_version)
_CAPABILITY = _Pattern(r"^CAP_[A-Z0-9_]+$", "a capability name (CAP_ and upper-case letters, e.g. CAP_KILL)",
                       lambda v: len(v) > 4 and v.startswith("CAP_")
                       and not v[4:].strip("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))
_PAGE_SIZE = _Pattern(r"^[1-9][0-9]*[KMG]B$", "a huge page size (digits and KB, MB or GB, e.g. 2MB)",
                      lambda v: len(v) >= 3 and v[0] in "123456789" and not v[1:-2].strip(_DIGITS)
                      and v[-2] in "KMG" and v[-1] == "B")
_MEM_BW_SCHEMA = _Pattern(r"^MB:[^\n]*$", "a memory bandwidth schema (MB:<cache id>=<bandwidth>;...)",
                          lambda v: v.startswith("MB:") and "\n" not in v)
_ACCESS = _Pattern(r"^[rwm]{1,3}$", "a device access (a combination of r, w and m)",
                   lambda v: 0 < len(v) <= 3 and not v.strip("rwm"))


class _Invalid(Exception):
    """A field that is wrong: where (a JSON path) and what."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path = path
        self.problem = problem


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class _Decl:
    """A field as its class declares it (`name: type = _f(...)`); `_model` fills in its
    name and annotation."""

    __slots__ = ("default", "default_factory", "metadata", "name", "type")

    def __init__(self, default: object, default_factory: object, metadata: dict) -> None:
        self.name = self.type = None
        self.default, self.default_factory, self.metadata = default, default_factory, metadata


def _f(default: object = None, *, factory: object = None, **spec: object) -> _Decl:
    """A field and how it looks in JSON: json= (its key when not plain camelCase),
    required= (the JSON must have it), always= (written whenever its object is), range=,
    enum= with noun=, pattern= (a _Pattern)."""
    if spec.get("required"):
        spec["always"] = True
    if factory is not None:
        return _Decl(MISSING, factory, spec)
    return _Decl(default, MISSING, spec)


def _unknown() -> _Decl:
    return _Decl(MISSING, dict, {})


class _Model:
    """What every model class shares: __init__ (keyword arguments only), == by fields, and a
    repr of the fields that are set."""

    __slots__ = ()
    unknown: dict[str, object]

    def __init__(self, **given: object) -> None:
        """Keyword arguments only (as kw_only=True made them); every field has a default."""
        for f in type(self)._decls:
            name = f.name
            if name in given:
                value = given.pop(name)
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = f.default
            setattr(self, name, value)
        if given:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments: {', '.join(sorted(given))}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in type(self)._decls)

    def __repr__(self) -> str:
        from .codec import _table
        table = _table(type(self))
        shown = [f"{f.py}={v!r}" for f in table.fields
                 for v in (getattr(self, f.py),) if not f.unset(v) or (f.always and v is not None and v != "")]
        if self.unknown:
            shown.append(f"unknown={self.unknown!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _model(cls):
    """A model class: its fields, in the order it declares them (`name: type = _f(...)`),
    become `cls._decls`, read by _Model's methods and the JSON tables; a plain default stays
    a class attribute."""
    decls = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        decl = cls.__dict__.get(name)
        if not isinstance(decl, _Decl):
            raise TypeError(f"{cls.__name__}.{name}: declare a field with _f() or _unknown()")
        decl.name, decl.type = name, annotation
        if decl.default_factory is MISSING:
            setattr(cls, name, decl.default)
        else:
            delattr(cls, name)
        decls.append(decl)
    cls._decls = tuple(decls)
    return cls


def _is_model(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, _Model)


# -- what errors say: a field by its JSON path, a value shortened

def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    try:
        text = _cjson.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
