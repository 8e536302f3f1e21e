"""The OCI runtime spec (its Linux part) as dataclasses, and the container state as a type.

A container's whole configuration is one `Spec`, the bundle's config.json: the engine
translates Docker-style options into it once and then executes only the spec; the runc-style
command line reads bundles with it. The reference is the runtime spec the Debian package
golang-github-opencontainers-specs-dev ships (1.0.2-dev, the version runc 1.1 reads): its
schema/config-schema.json, config-linux.json, defs*.json and state-schema.json.

    spec = Spec.from_json(text)             # any valid config.json; one clear line if not
    spec.process.user.uid                   # snake_case in Python, camelCase in the JSON
    spec.linux.resources.memory.limit = 64 << 20
    spec.set_paths()                        # ["process.args", "linux.resources.memory.limit", ...]
    spec.to_json()                          # a dict without the unset fields, validated

Conventions:
- An empty `Spec()` means "nothing set": every field's default is its JSON "absent" (None,
  "", False, [], {}), and the nested objects whose absence means nothing (process, root,
  linux, resources, memory, cpu, ...) are there, empty, so `spec.linux.resources.cpu.shares`
  always works. Objects whose mere presence means something are None until given:
  `process.capabilities` ({} drops every capability; absent leaves them alone), `linux.seccomp`,
  `linux.intelRdt`, `linux.personality`, `process.consoleSize`.
- As in the spec's Go types (omitempty), an empty list or string equals an absent one.
- Errors and set_paths() name fields by their JSON paths ("linux.resources.memory.limit"),
  as the user reads them in config.json.
- Keys the model does not know (other platforms, newer spec fields) are kept in each object's
  `unknown` dict and written back, so a round trip loses nothing; set_paths() reports them.
- Validation is ours: types, required fields, ranges, the spec's enumerations and a few
  MUSTs of its text; `from_json` and `to_json` both run it (tests check the result against
  the JSON schema too). Two deliberate differences from the Debian schema, both newer spec
  versions' and real tools' behaviour: the `time` namespace and `linux.timeOffsets`
  (runtime-spec 1.1), and a device's `fileMode` up to 2**32-1 (podman writes the st_mode,
  e.g. 8630 = 0o20666, above the old schema's maximum of 512).

Stdlib only and cheap to import: the shim (`python -I -S`) imports it. The field tables
behind (de)serialisation are built on first use, not at import.
"""

from __future__ import annotations

import os
import types

from .. import _cjson  # json.loads and dumps without json's imports (re, enum): bocker-runc
from ..errors import InvalidArgument
from .fileio import atomic_write

TYPE_CHECKING = False  # not typing's, nor collections.abc at run time: bocker-runc imports this module
if TYPE_CHECKING:
    from collections.abc import Iterable

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


# -- the model ------------------------------------------------------------------------------
# Field order is the spec's Go types' (so the JSON reads like runc's); keyword-only, so code
# that builds a spec names what it sets.

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

@_model
class IDMapping(_Model):
    container_id: int = _f(0, json="containerID", range=U32, required=True)
    host_id: int = _f(0, json="hostID", range=U32, required=True)
    size: int = _f(0, range=U32, required=True)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if self.size == 0:
            raise _Invalid(_at(path, "size"), "0 maps no ids (give 1 or more)")
        for key, start in (("containerID", self.container_id), ("hostID", self.host_id)):
            if start + self.size > 2**32:  # ids are 32 bits: the kernel refuses such a range
                raise _Invalid(_at(path, "size"), f"{self.size} ids from {key} {start} pass the last id, {2**32 - 1}")


@_model
class Box(_Model):
    height: int = _f(0, range=U64, required=True)
    width: int = _f(0, range=U64, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class User(_Model):
    uid: int = _f(0, range=U32, always=True)
    gid: int = _f(0, range=U32, always=True)
    umask: int | None = _f(range=U32)
    additional_gids: list[int] = _f(factory=list, range=U32)
    unknown: dict[str, object] = _unknown()


@_model
class Capabilities(_Model):
    bounding: list[str] = _f(factory=list, pattern=_CAPABILITY)
    effective: list[str] = _f(factory=list, pattern=_CAPABILITY)
    inheritable: list[str] = _f(factory=list, pattern=_CAPABILITY)
    permitted: list[str] = _f(factory=list, pattern=_CAPABILITY)
    ambient: list[str] = _f(factory=list, pattern=_CAPABILITY)
    unknown: dict[str, object] = _unknown()


@_model
class Rlimit(_Model):
    type: str = _f("", required=True, enum=RLIMIT_TYPES, noun="an rlimit type")
    hard: int = _f(0, range=U64, required=True)
    soft: int = _f(0, range=U64, required=True)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if self.soft > self.hard:  # setrlimit(2) refuses it: it can never work
            raise _Invalid(_at(path, "soft"), f"{self.soft} is above the hard limit {self.hard}")


@_model
class Process(_Model):
    terminal: bool = _f(False)
    console_size: Box | None = _f()
    user: User = _f(factory=User, always=True)
    args: list[str] = _f(factory=list)
    env: list[str] = _f(factory=list)
    cwd: str = _f("", required=True)
    capabilities: Capabilities | None = _f()
    rlimits: list[Rlimit] = _f(factory=list)
    no_new_privileges: bool = _f(False)
    apparmor_profile: str = _f("")
    oom_score_adj: int | None = _f(range=OOM_SCORE_ADJ)
    selinux_label: str = _f("")
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.cwd.startswith("/"):
            raise _Invalid(_at(path, "cwd"), f"{_show(self.cwd)} is not an absolute path")
        seen: set[str] = set()
        for i, rlimit in enumerate(self.rlimits):
            if rlimit.type in seen:  # the spec: a runtime MUST refuse duplicates
                raise _Invalid(f"{_at(path, 'rlimits')}[{i}].type", f"{rlimit.type} is given twice")
            seen.add(rlimit.type)


@_model
class Root(_Model):
    path: str = _f("", required=True)
    readonly: bool = _f(False)
    unknown: dict[str, object] = _unknown()


@_model
class Mount(_Model):
    destination: str = _f("", required=True)
    type: str = _f("")
    source: str = _f("")
    options: list[str] = _f(factory=list)
    uid_mappings: list[IDMapping] = _f(factory=list)
    gid_mappings: list[IDMapping] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class Hook(_Model):
    path: str = _f("", required=True)
    args: list[str] = _f(factory=list)
    env: list[str] = _f(factory=list)
    timeout: int | None = _f(range=TIMEOUT)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.path.startswith("/"):  # the spec extends execv: path MUST be absolute
            raise _Invalid(_at(path, "path"), f"{_show(self.path)} is not an absolute path")


@_model
class Hooks(_Model):
    prestart: list[Hook] = _f(factory=list)
    create_runtime: list[Hook] = _f(factory=list)
    create_container: list[Hook] = _f(factory=list)
    start_container: list[Hook] = _f(factory=list)
    poststart: list[Hook] = _f(factory=list)
    poststop: list[Hook] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class Namespace(_Model):
    type: str = _f("", required=True, enum=NAMESPACE_TYPES, noun="a namespace type")
    path: str = _f("")  # join this namespace instead of making one
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if self.path and not self.path.startswith("/"):
            raise _Invalid(_at(path, "path"), f"{_show(self.path)} is not an absolute path")


@_model
class Device(_Model):
    """A device node to make in the container (mknod)."""

    path: str = _f("", required=True)
    type: str = _f("", required=True, enum=DEVICE_TYPES, noun="a device type")
    major: int = _f(0, range=I64, always=True)
    minor: int = _f(0, range=I64, always=True)
    file_mode: int | None = _f(range=U32)
    uid: int | None = _f(range=U32)
    gid: int | None = _f(range=U32)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.path.startswith("/"):
            raise _Invalid(_at(path, "path"), f"{_show(self.path)} is not an absolute path")
        if self.type != "p":
            for key in ("major", "minor"):
                if key not in raw:
                    raise _Invalid(_at(path, key), f"required for a '{self.type}' device but missing")


@_model
class DeviceRule(_Model):
    """An allow or deny rule of the devices cgroup (None major/minor: any)."""

    allow: bool = _f(False, required=True)
    type: str = _f("", enum=DEVICE_RULE_TYPES, noun="a device rule type")
    major: int | None = _f(range=I64)
    minor: int | None = _f(range=I64)
    access: str = _f("", pattern=_ACCESS)
    unknown: dict[str, object] = _unknown()


@_model
class Memory(_Model):
    limit: int | None = _f(range=I64)
    reservation: int | None = _f(range=I64)
    swap: int | None = _f(range=I64)
    kernel: int | None = _f(range=I64)
    kernel_tcp: int | None = _f(json="kernelTCP", range=I64)
    swappiness: int | None = _f(range=U64)
    disable_oom_killer: bool | None = _f(json="disableOOMKiller")
    use_hierarchy: bool | None = _f()
    check_before_update: bool | None = _f()
    unknown: dict[str, object] = _unknown()


@_model
class CPU(_Model):
    shares: int | None = _f(range=U64)
    quota: int | None = _f(range=I64)
    burst: int | None = _f(range=U64)
    period: int | None = _f(range=U64)
    realtime_runtime: int | None = _f(range=I64)
    realtime_period: int | None = _f(range=U64)
    cpus: str = _f("")
    mems: str = _f("")
    idle: int | None = _f(range=I64)
    unknown: dict[str, object] = _unknown()


@_model
class Pids(_Model):
    limit: int | None = _f(range=I64, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class WeightDevice(_Model):
    major: int = _f(0, range=I64, required=True)
    minor: int = _f(0, range=I64, required=True)
    weight: int | None = _f(range=U16)
    leaf_weight: int | None = _f(range=U16)
    unknown: dict[str, object] = _unknown()


@_model
class ThrottleDevice(_Model):
    major: int = _f(0, range=I64, required=True)
    minor: int = _f(0, range=I64, required=True)
    rate: int = _f(0, range=U64, always=True)
    unknown: dict[str, object] = _unknown()


@_model
class BlockIO(_Model):
    weight: int | None = _f(range=U16)
    leaf_weight: int | None = _f(range=U16)
    weight_device: list[WeightDevice] = _f(factory=list)
    throttle_read_bps_device: list[ThrottleDevice] = _f(factory=list)
    throttle_write_bps_device: list[ThrottleDevice] = _f(factory=list)
    throttle_read_iops_device: list[ThrottleDevice] = _f(factory=list, json="throttleReadIOPSDevice")
    throttle_write_iops_device: list[ThrottleDevice] = _f(factory=list, json="throttleWriteIOPSDevice")
    unknown: dict[str, object] = _unknown()


@_model
class HugepageLimit(_Model):
    page_size: str = _f("", required=True, pattern=_PAGE_SIZE)
    limit: int = _f(0, range=U64, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class InterfacePriority(_Model):
    name: str = _f("", required=True)
    priority: int = _f(0, range=U32, required=True)
    unknown: dict[str, object] = _unknown()


@_model
class Network(_Model):
    class_id: int | None = _f(json="classID", range=U32)
    priorities: list[InterfacePriority] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class Rdma(_Model):
    hca_handles: int | None = _f(range=U32)
    hca_objects: int | None = _f(range=U32)
    unknown: dict[str, object] = _unknown()


@_model
class Resources(_Model):
    devices: list[DeviceRule] = _f(factory=list)
    memory: Memory = _f(factory=Memory)
    cpu: CPU = _f(factory=CPU)
    pids: Pids = _f(factory=Pids)
    block_io: BlockIO = _f(factory=BlockIO, json="blockIO")
    hugepage_limits: list[HugepageLimit] = _f(factory=list)
    network: Network = _f(factory=Network)
    rdma: dict[str, Rdma] = _f(factory=dict)  # by device name
    unified: dict[str, str] = _f(factory=dict)  # cgroup v2 file -> value
    unknown: dict[str, object] = _unknown()


@_model
class SeccompArg(_Model):
    index: int = _f(0, range=ARG_INDEX, required=True)
    value: int = _f(0, range=U64, required=True)
    value_two: int = _f(0, range=U64)
    op: str = _f("", required=True, enum=SECCOMP_OPERATORS, noun="a seccomp operator")
    unknown: dict[str, object] = _unknown()


@_model
class Syscall(_Model):
    names: list[str] = _f(factory=list, required=True)
    action: str = _f("", required=True, enum=SECCOMP_ACTIONS, noun="a seccomp action")
    errno_ret: int | None = _f(range=U32)
    args: list[SeccompArg] = _f(factory=list)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.names:
            raise _Invalid(_at(path, "names"), "empty (name at least one system call)")
        for i, name in enumerate(self.names):
            if not name:
                raise _Invalid(f"{_at(path, 'names')}[{i}]", "an empty system call name")


@_model
class Seccomp(_Model):
    default_action: str = _f("", required=True, enum=SECCOMP_ACTIONS, noun="a seccomp action")
    default_errno_ret: int | None = _f(range=U32)
    architectures: list[str] = _f(factory=list, enum=SECCOMP_ARCHES, noun="a seccomp architecture")
    flags: list[str] = _f(factory=list, enum=SECCOMP_FLAGS, noun="a seccomp flag")
    listener_path: str = _f("")
    listener_metadata: str = _f("")
    syscalls: list[Syscall] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class IntelRdt(_Model):
    clos_id: str = _f("", json="closID")
    l3_cache_schema: str = _f("")
    mem_bw_schema: str = _f("", pattern=_MEM_BW_SCHEMA)
    enable_cmt: bool = _f(False, json="enableCMT")
    enable_mbm: bool = _f(False, json="enableMBM")
    unknown: dict[str, object] = _unknown()


@_model
class Personality(_Model):
    domain: str = _f("", always=True, enum=PERSONALITY_DOMAINS, noun="a personality domain")
    flags: list[str] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class TimeOffset(_Model):
    """A clock's offset in a new time namespace (runtime-spec 1.1)."""

    secs: int = _f(0, range=I64, always=True)
    nanosecs: int = _f(0, range=U32, always=True)
    unknown: dict[str, object] = _unknown()


@_model
class Linux(_Model):
    uid_mappings: list[IDMapping] = _f(factory=list)
    gid_mappings: list[IDMapping] = _f(factory=list)
    sysctl: dict[str, str] = _f(factory=dict)
    resources: Resources = _f(factory=Resources)
    cgroups_path: str = _f("")
    namespaces: list[Namespace] = _f(factory=list)
    devices: list[Device] = _f(factory=list)
    seccomp: Seccomp | None = _f()
    rootfs_propagation: str = _f("", enum=ROOTFS_PROPAGATIONS, noun="a rootfs propagation")
    masked_paths: list[str] = _f(factory=list)
    readonly_paths: list[str] = _f(factory=list)
    mount_label: str = _f("")
    intel_rdt: IntelRdt | None = _f()
    personality: Personality | None = _f()
    time_offsets: dict[str, TimeOffset] = _f(factory=dict)  # by clock: monotonic, boottime
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        seen: set[str] = set()
        for i, ns in enumerate(self.namespaces):
            if ns.type in seen:  # the spec: a runtime MUST refuse a type given twice
                raise _Invalid(f"{_at(path, 'namespaces')}[{i}].type", f"{ns.type} is given twice")
            seen.add(ns.type)
        for clock in self.time_offsets:
            if clock not in TIME_CLOCKS:
                raise _Invalid(f'{_at(path, "timeOffsets")}["{clock}"]',
                               f"{_show(clock)} is not a clock with an offset (use {', '.join(TIME_CLOCKS)})")

    def namespace(self, type: str) -> Namespace | None:
        """The namespace of this type, if the container has (or joins) one."""
        return next((ns for ns in self.namespaces if ns.type == type), None)


@_model
class Spec(_Model):
    """A bundle's config.json."""

    oci_version: str = _f(OCI_VERSION, required=True, pattern=_OCI_VERSION)
    process: Process = _f(factory=Process)
    root: Root = _f(factory=Root)
    hostname: str = _f("")
    domainname: str = _f("")
    mounts: list[Mount] = _f(factory=list)
    hooks: Hooks = _f(factory=Hooks)
    annotations: dict[str, str] = _f(factory=dict)
    linux: Linux = _f(factory=Linux)
    unknown: dict[str, object] = _unknown()

    def to_json(self, *, source: str = "config.json") -> dict:
        """The config.json as a dict, without the unset fields; InvalidArgument if invalid."""
        obj = _dump(self)
        _parse(Spec, obj, source)  # the one validator, on exactly what is written
        return obj

    @classmethod
    def from_json(cls, obj: dict | str | bytes, *, source: str = "config.json") -> Spec:
        """Read a config.json (its text, or its parsed dict); InvalidArgument names the field."""
        return _parse(cls, obj, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Spec:
        return cls.from_json(_read(path), source=os.fspath(path))

    def save(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        """Write it as config.json, atomically (a reader sees the old file or the new one)."""
        text = _cjson.dumps(self.to_json(source=os.fspath(path)), indent=2) + "\n"
        atomic_write(path, text.encode(), fsync=fsync)

    def set_paths(self) -> list[str]:
        """The JSON paths of every field that is set, unknown keys included: dotted, with
        `[]` for the fields of a list's items ("linux.namespaces[].path"); a map (sysctl,
        annotations, ...) is one path; ociVersion is not a setting and is left out."""
        out: list[str] = []
        _set_paths(self, "", out, in_list=False)
        return [p for p in dict.fromkeys(out) if p != "ociVersion"]

    def unhonoured(self, honoured: Iterable[str]) -> list[str]:
        """The set paths not covered by `honoured` (a path covers the paths below it)."""
        covered = tuple(honoured)
        return [p for p in self.set_paths()
                if not any(p == h or p.startswith((h + ".", h + "[")) for h in covered)]

    def check_honoured(self, honoured: Iterable[str], *, by: str = "bocker",
                       source: str = "config.json") -> None:
        """Refuse, with one line, a spec that sets a field `by` does not honour yet."""
        missing = self.unhonoured(honoured)
        if missing:
            more = f" (and {len(missing) - 1} more: {', '.join(missing[1:4])}{', ...' if len(missing) > 4 else ''})" \
                if len(missing) > 1 else ""
            raise InvalidArgument(f"{source}: {missing[0]}: not supported by {by} yet{more}; "
                                  "remove it from the configuration")


# -- the container state ---------------------------------------------------------------------

@_model
class State(_Model):
    """A container's state: the OCI state (state-schema.json) and, beside it, ours.

    OCI's status has no "paused" (runtime-spec 1.0.2's state-schema.json allows creating,
    created, running, stopped), so a paused container is status "running" with paused=True;
    `runc_status` is what runc's `state` command prints ("paused" then).
    """

    oci_version: str = _f(OCI_VERSION, required=True, pattern=_OCI_VERSION)
    id: str = _f("", required=True)
    status: str = _f("creating", required=True, enum=STATUSES, noun="a container status")
    pid: int = _f(0, range=(0, 2**31 - 1, "a pid"))
    bundle: str = _f("", required=True)
    annotations: dict[str, str] = _f(factory=dict)
    # ours
    paused: bool = _f(False)
    exit_code: int | None = _f(range=(0, 255, "an exit code"))
    oom_killed: bool = _f(False, json="oomKilled")
    error: str = _f("")  # why it failed to start, or what was left behind
    created_at: float | None = _f()  # seconds since the epoch
    started_at: float | None = _f()
    finished_at: float | None = _f()
    monitor_pid: int = _f(0, range=(0, 2**31 - 1, "a pid"))
    monitor_start: int = _f(0, range=U64)  # its start time (/proc/PID/stat field 22): pid reuse
    pid_start: int = _f(0, range=U64)
    boot_id: str = _f("")  # a state from before a reboot describes nothing that runs
    # the engine's own lifecycle, finer than OCI's: created (made, never started), starting,
    # running, restarting (between two runs of --restart), exited, failed (never ran)
    phase: str = _f("", enum=PHASES, noun="a phase")
    restart_count: int = _f(0, range=U32)
    creator_pid: int = _f(0, range=(0, 2**31 - 1, "a pid"))  # the engine that launched it
    creator_start: int = _f(0, range=U64)
    netns: int | None = _f(range=U64)  # the network namespace's inode
    cgroup_driver: str = _f("")
    cgroup: dict[str, str] = _f(factory=dict)  # hierarchy -> the container's cgroup dir
    stats: dict[str, float] = _f(factory=dict)  # the final accounting, taken at exit
    unknown: dict[str, object] = _unknown()

    OCI_KEYS = ("ociVersion", "id", "status", "pid", "bundle", "annotations")

    def _check(self, path: str, raw: dict) -> None:
        if self.status in ("created", "running") and not self.pid:
            raise _Invalid(_at(path, "pid"), f"required when the status is {self.status} but missing")
        if self.paused and self.status != "running":
            raise _Invalid(_at(path, "paused"), f"a paused container is running (frozen), not {self.status}")

    @property
    def runc_status(self) -> str:
        return "paused" if self.paused else self.status

    def to_json(self, *, source: str = "state.json") -> dict:
        """The state.json: the OCI state with our fields beside it; validated."""
        obj = _dump(self)
        _parse(State, obj, source)
        return obj

    def oci_json(self) -> dict:
        """The OCI state alone: what hooks read on stdin and `state` prints."""
        return {k: v for k, v in self.to_json().items() if k in self.OCI_KEYS}

    @classmethod
    def from_json(cls, obj: dict | str | bytes, *, source: str = "state.json") -> State:
        return _parse(cls, obj, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> State:
        return cls.from_json(_read(path), source=os.fspath(path))

    def save(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        text = _cjson.dumps(self.to_json(source=os.fspath(path)), indent=1) + "\n"
        atomic_write(path, text.encode(), fsync=fsync)


# -- a default config ------------------------------------------------------------------------

_DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec() -> Spec:
    """The config.json `runc spec` prints (not rootless): sh on a read-only rootfs/, five new
    namespaces, three capabilities, every device denied, /proc's risky files masked."""
    def mount(destination: str, type: str, source: str, *options: str) -> Mount:
        return Mount(destination=destination, type=type, source=source, options=list(options))

    return Spec(
        process=Process(
            terminal=True, user=User(uid=0, gid=0), args=["sh"],
            env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            cwd="/",
            capabilities=Capabilities(bounding=list(_DEFAULT_CAPS), effective=list(_DEFAULT_CAPS),
                                      permitted=list(_DEFAULT_CAPS), ambient=list(_DEFAULT_CAPS)),
            rlimits=[Rlimit(type="RLIMIT_NOFILE", hard=1024, soft=1024)],
            no_new_privileges=True,
        ),
        root=Root(path="rootfs", readonly=True),
        hostname="runc",
        mounts=[
            mount("/proc", "proc", "proc"),
            mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
                  "mode=0620", "gid=5"),
            mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
            mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
        ],
        linux=Linux(
            resources=Resources(devices=[DeviceRule(allow=False, access="rwm")]),
            namespaces=[Namespace(type=t) for t in ("pid", "network", "ipc", "uts", "mount")],
            masked_paths=["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                          "/proc/scsi"],
            readonly_paths=["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        ),
    )


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


# -- the codec: JSON <-> dataclasses, driven by the field tables -----------------------------

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


# For annotations that are strings (this module uses `from __future__ import annotations`):
# the names they use. Resolved once per class, on first (de)serialisation.
_NAMES = {name: value for name, value in globals().items() if isinstance(value, type)}
_EVALUATED: dict[str, object] = {}
_NAMES.update(int=int, str=str, bool=bool, float=float, list=list, dict=dict, object=object)
