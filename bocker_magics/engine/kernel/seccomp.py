"""Seccomp: an OCI `linux.seccomp` profile compiled once to classic BPF, loaded in pid 1.

Two halves, so a container's start pays only for the second:

- the engine (or the shim) compiles a profile with libseccomp (Debian's libseccomp2, through
  a small ctypes binding) to the bytes of a `struct sock_filter` array: `compile_profile`, or
  `cached_program`, which keeps the bytes under a directory keyed by the profile's hash;
- the container's pid 1 (and every exec'd process) loads those bytes with seccomp(2), after
  no_new_privs and just before execve: `load_filter`, stdlib + ctypes, no libseccomp.

`default_profile(capabilities)` is the default (seccomp_default.py); `load_profile_file`
reads a profile a user gives, in Docker's format or the OCI one, and returns the OCI form.
A fault in a profile is an InvalidArgument naming the field.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import struct

from ..._record import Value
from ...errors import ContainerStartError, HostUnsupported, InvalidArgument
from .seccomp_default import ENOSYS, default_profile

__all__ = ["default_profile", "host_arch", "resolve", "compile_profile", "cached_program", "load_filter",
           "filter_flags", "load_profile_file", "docker_to_oci", "instructions", "check_profile"]

# -- the OCI vocabulary -------------------------------------------------------------------
# Actions as libseccomp encodes them (seccomp.h); ERRNO and TRACE carry a 16-bit value.
_ACT_KILL_THREAD, _ACT_KILL_PROCESS, _ACT_TRAP = 0x00000000, 0x80000000, 0x00030000
_ACT_ERRNO, _ACT_TRACE, _ACT_LOG, _ACT_ALLOW = 0x00050000, 0x7FF00000, 0x7FFC0000, 0x7FFF0000
_ACTIONS = {
    "SCMP_ACT_KILL": _ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": _ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": _ACT_KILL_PROCESS, "SCMP_ACT_TRAP": _ACT_TRAP,
    "SCMP_ACT_ERRNO": _ACT_ERRNO, "SCMP_ACT_TRACE": _ACT_TRACE,
    "SCMP_ACT_LOG": _ACT_LOG, "SCMP_ACT_ALLOW": _ACT_ALLOW,
}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
# seccomp(2) flags, and the libseccomp attribute that stands for each.
_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": (1, 4), "SECCOMP_FILTER_FLAG_LOG": (2, 6),
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW": (4, 7)}
_ARCHES = ("X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL",
           "MIPSEL64", "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC",
           "PARISC64", "RISCV64", "LOONGARCH64")
_MAX_ARGS = 6

# uname -m -> (Docker's name for the architecture in "includes"/"excludes", its OCI name)
_MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"), "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "arm64": ("arm64", "SCMP_ARCH_AARCH64"), "i686": ("x86", "SCMP_ARCH_X86"),
    "i386": ("x86", "SCMP_ARCH_X86"), "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "armv8l": ("arm", "SCMP_ARCH_ARM"), "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"), "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
    "loongarch64": ("loong64", "SCMP_ARCH_LOONGARCH64"),
}


def host_arch(machine: str | None = None) -> str:
    """The OCI name of this host's architecture (SCMP_ARCH_X86_64 on x86_64)."""
    machine = machine or os.uname().machine
    if machine not in _MACHINES:
        raise HostUnsupported(f"seccomp: no architecture name for {machine}: "
                              "run with --security-opt seccomp=unconfined")
    return _MACHINES[machine][1]


class Arg(Value):
    __slots__ = ("index", "op", "value", "value_two")

    def __init__(self, index: int, op: int, value: int, value_two: int) -> None:
        self.index = index
        self.op = op
        self.value = value
        self.value_two = value_two


class Rule(Value):
    __slots__ = ("names", "action", "args")

    def __init__(self, names: tuple[str, ...], action: int, args: tuple[Arg, ...]) -> None:
        self.names = names
        self.action = action
        self.args = args


class Profile(Value):
    """A checked OCI profile, in libseccomp's numbers."""

    __slots__ = ("default_action", "architectures", "flags", "rules")

    def __init__(
        self,
        default_action: int,
        architectures: tuple[str, ...],
        flags: int,
        rules: tuple[Rule, ...],
    ) -> None:
        self.default_action = default_action
        self.architectures = architectures  # OCI names, SCMP_ARCH_...
        self.flags = flags  # seccomp(2) flags
        self.rules = rules


def _fault(field: str, what: str) -> InvalidArgument:
    return InvalidArgument(f"seccomp profile: {field} {what}")


def _u64(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise _fault(field, f"{value!r} is not an unsigned 64-bit number")
    return value


def _action(name: object, errno_ret: object, field: str) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise _fault(field, "SCMP_ACT_NOTIFY needs a seccomp agent, which bocker does not run: "
                            "use SCMP_ACT_ERRNO, SCMP_ACT_LOG or SCMP_ACT_KILL_PROCESS")
    if name not in _ACTIONS:
        raise _fault(field, f"{name!r} is not an action: use one of {', '.join(_ACTIONS)}")
    action = _ACTIONS[name]
    if action in (_ACT_ERRNO, _ACT_TRACE):
        # runc's rule: no errnoRet means EPERM, for ERRNO and for TRACE's message alike
        ret = 1 if errno_ret is None else _u64(errno_ret, field + " errnoRet")
        if ret > 0xFFFF:
            raise _fault(field, f"errnoRet {ret} does not fit in 16 bits")
        action |= ret
    elif errno_ret is not None:
        raise _fault(field, f"{name} takes no errnoRet (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)")
    return action


def check_profile(profile: object) -> Profile:
    """The profile checked field by field; the first fault is one line naming its field."""
    if not isinstance(profile, dict):
        raise InvalidArgument("seccomp profile: not a JSON object with a defaultAction")
    if "defaultAction" not in profile:
        raise _fault("defaultAction", "is missing: SCMP_ACT_ERRNO is the usual one")
    default = _action(profile["defaultAction"], profile.get("defaultErrnoRet"), "defaultAction")
    arches = profile.get("architectures") or []
    if not isinstance(arches, list):
        raise _fault("architectures", "is not a list")
    for i, arch in enumerate(arches):
        if not isinstance(arch, str) or arch.removeprefix("SCMP_ARCH_") not in _ARCHES \
                or not arch.startswith("SCMP_ARCH_"):
            raise _fault(f"architectures[{i}]", f"{arch!r} is not an architecture: use SCMP_ARCH_X86_64, "
                                                "SCMP_ARCH_AARCH64, ...")
    flags = 0
    for i, flag in enumerate(profile.get("flags") or []):
        if flag not in _FLAGS:
            raise _fault(f"flags[{i}]", f"{flag!r} is not a flag: use one of {', '.join(_FLAGS)}")
        flags |= _FLAGS[flag][0]
    if profile.get("listenerPath"):
        raise _fault("listenerPath", "asks for a seccomp agent, which bocker does not run: remove it")
    calls = profile.get("syscalls") or []
    if not isinstance(calls, list):
        raise _fault("syscalls", "is not a list")
    rules = []
    for i, call in enumerate(calls):
        field = f"syscalls[{i}]"
        if not isinstance(call, dict):
            raise _fault(field, "is not an object with names and action")
        names = call.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise _fault(field + ".names", "must be a non-empty list of system call names")
        action = _action(call.get("action"), call.get("errnoRet"), field + ".action")
        args = []
        for j, arg in enumerate(call.get("args") or []):
            afield = f"{field}.args[{j}]"
            if not isinstance(arg, dict):
                raise _fault(afield, "is not an object with index, value and op")
            index = arg.get("index")
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < _MAX_ARGS:
                raise _fault(afield + ".index", f"{index!r} is not an argument number 0-5")
            op = arg.get("op")
            if op not in _OPS:
                raise _fault(afield + ".op", f"{op!r} is not an op: use one of {', '.join(_OPS)}")
            args.append(Arg(index, _OPS[op], _u64(arg.get("value", 0), afield + ".value"),
                            _u64(arg.get("valueTwo", 0), afield + ".valueTwo")))
        rules.append(Rule(tuple(names), action, tuple(args)))
    return Profile(default, tuple(arches), flags, tuple(rules))


def filter_flags(profile: dict) -> int:
    """The seccomp(2) flags a profile asks for, to pass to load_filter."""
    return check_profile(profile).flags


# -- compiling: libseccomp through ctypes ----------------------------------------------------
class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_NR_SCMP_ERROR = -1
_ATTR_OPTIMIZE = 8   # SCMP_FLTATR_CTL_OPTIMIZE: 2 sorts the syscalls into a binary tree
_lib: ctypes.CDLL | None = None


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is not None:
        return _lib
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        raise HostUnsupported("libseccomp is missing: install it (apt-get install libseccomp2) "
                              "or run with --security-opt seccomp=unconfined") from None
    u32, c_int, vp = ctypes.c_uint32, ctypes.c_int, ctypes.c_void_p
    for name, res, argtypes in (
        ("seccomp_init", vp, [u32]),
        ("seccomp_release", None, [vp]),
        ("seccomp_arch_add", c_int, [vp, u32]),
        ("seccomp_arch_remove", c_int, [vp, u32]),
        ("seccomp_arch_exist", c_int, [vp, u32]),
        ("seccomp_arch_native", u32, []),
        ("seccomp_arch_resolve_name", u32, [ctypes.c_char_p]),
        ("seccomp_syscall_resolve_name", c_int, [ctypes.c_char_p]),
        ("seccomp_syscall_resolve_name_arch", c_int, [u32, ctypes.c_char_p]),
        ("seccomp_rule_add_array", c_int, [vp, u32, c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)]),
        ("seccomp_attr_set", c_int, [vp, c_int, u32]),
        ("seccomp_export_bpf", c_int, [vp, c_int]),
        ("seccomp_version", ctypes.POINTER(_Version), []),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, argtypes
    _lib = lib
    return lib


def libseccomp_version() -> str:
    v = _libseccomp().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def _arch_token(lib: ctypes.CDLL, oci_name: str) -> int:
    token = lib.seccomp_arch_resolve_name(oci_name.removeprefix("SCMP_ARCH_").lower().encode())
    if token == 0:
        raise InvalidArgument(f"seccomp profile: architecture {oci_name} is unknown to libseccomp "
                              f"{libseccomp_version()}: remove it from architectures")
    return token


def resolve(name: str, arch: str) -> int | None:
    """A system call's number on an architecture (OCI name), or None where it has none."""
    lib = _libseccomp()
    nr = lib.seccomp_syscall_resolve_name_arch(_arch_token(lib, arch), name.encode())
    return nr if nr >= 0 else None


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise InvalidArgument(f"seccomp profile: libseccomp refused {what}: {os.strerror(-rc)}")


def compile_profile(profile: dict, arches: list[str] | None = None) -> bytes:
    """The profile as classic BPF: the bytes of a struct sock_filter array, for load_filter.

    The filter covers the profile's architectures and, as runc's does, the host's own; or
    exactly `arches` (OCI names) when given, to build for another machine."""
    checked = check_profile(profile)
    lib = _libseccomp()
    ctx = lib.seccomp_init(checked.default_action)
    if not ctx:
        raise InvalidArgument("seccomp profile: libseccomp refused the defaultAction")
    try:
        native = lib.seccomp_arch_native()
        wanted = [_arch_token(lib, a) for a in (arches if arches is not None else checked.architectures)]
        for token in wanted:
            if lib.seccomp_arch_exist(ctx, token) != 0:
                _check(lib.seccomp_arch_add(ctx, token), f"architecture {token:#x}")
        if arches is not None and native not in wanted:
            _check(lib.seccomp_arch_remove(ctx, native), "removing the host's architecture")
        for flag, (bit, attr) in _FLAGS.items():
            if checked.flags & bit:  # for libseccomp's own loader; load_filter takes them as flags
                _check(lib.seccomp_attr_set(ctx, attr, 1), flag)
        # A binary tree of syscalls: a call is found in ~log2(n) jumps instead of a linear scan
        # of the ~380 allowed names; libseccomp before 2.5 lacks it, and the filter still works.
        lib.seccomp_attr_set(ctx, _ATTR_OPTIMIZE, 2)
        for rule in checked.rules:
            if rule.action == checked.default_action:
                continue  # libseccomp refuses a rule that repeats the default; it adds nothing
            for name in rule.names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == _NR_SCMP_ERROR:
                    continue  # a call this libseccomp does not know: the default action applies
                for args in _conditions(rule.args):
                    array = (_ArgCmp * len(args))(*[_ArgCmp(a.index, a.op, a.value, a.value_two) for a in args])
                    _check(lib.seccomp_rule_add_array(ctx, rule.action, nr, len(args), array),
                           f"the rule for {name}")
        program = _export(lib, ctx)
        tokens = [t for t in _TOKENS if lib.seccomp_arch_exist(ctx, t) == 0]
    finally:
        lib.seccomp_release(ctx)
    if not (checked.default_action in (_ACT_ALLOW, _ACT_LOG) or checked.default_action & 0xFFFF0000 == _ACT_TRACE):
        program = _enosys_prefix(lib, checked, tokens) + program
    if instructions(program) > _BPF_MAXINSNS:
        raise InvalidArgument(f"seccomp profile: compiles to {instructions(program)} BPF instructions, more than "
                              f"the kernel's {_BPF_MAXINSNS}: use fewer rules or architectures")
    return program


# -- newer calls than the profile knows: ENOSYS, not EPERM -----------------------------------
# A program calling a system call newer than the profile (or than libseccomp) must see ENOSYS,
# as on an older kernel, so that libc falls back to the old call; EPERM would make it fail.
# As runc does, a few instructions before libseccomp's program return ENOSYS for a number
# above the largest one the profile names, per architecture. Audit arch values (seccomp_data):
_AUDIT_X86_64, _AUDIT_I386, _AUDIT_AARCH64, _AUDIT_ARM = 0xC000003E, 0x40000003, 0xC00000B7, 0x40000028
_X32_TOKEN, _X32_BIT = 0x4000003E, 0x40000000   # x32 shares x86_64's audit arch; its numbers carry a bit
# token -> (audit arch, the last number of the architecture's ordinary table)
_TOKENS = {_AUDIT_X86_64: (_AUDIT_X86_64, _X32_BIT - 1), _X32_TOKEN: (_AUDIT_X86_64, _X32_BIT + 511),
           _AUDIT_I386: (_AUDIT_I386, _X32_BIT - 1), _AUDIT_AARCH64: (_AUDIT_AARCH64, _X32_BIT - 1),
           _AUDIT_ARM: (_AUDIT_ARM, 0xEFFFF)}   # arm's private calls (set_tls, ...) start at 0xf0000
_LD_ABS, _JEQ, _JGT, _JA, _RET = 0x20, 0x15, 0x25, 0x05, 0x06
_RET_ERRNO = 0x00050000


def _enosys_prefix(lib: ctypes.CDLL, checked: Profile, tokens: list[int]) -> bytes:
    names = {n for rule in checked.rules for n in rule.names}
    blocks: dict[int, list[tuple[int, int]]] = {}    # audit arch -> ranges (above, up to) for ENOSYS
    for token in tokens:
        audit, last = _TOKENS[token]
        numbers = [lib.seccomp_syscall_resolve_name_arch(token, n.encode()) for n in names]
        known = [nr for nr in numbers if 0 <= nr <= last]
        if known and max(known) < last:
            blocks.setdefault(audit, []).append((max(known), last))
    if not blocks:
        return b""
    # Layout: ld arch; per architecture [jeq arch else next; ld nr; per range (jgt above else
    # next range; jgt up_to ? next range : ENOSYS); ja libseccomp]; ja over the ret; ret ENOSYS.
    size = 1 + sum(3 + 2 * len(r) for r in blocks.values())
    enosys = size + 1
    program = [(_LD_ABS, 0, 0, 4)]                         # A = seccomp_data.arch
    for audit, ranges in blocks.items():
        program.append((_JEQ, 0, 2 + 2 * len(ranges), audit))
        program.append((_LD_ABS, 0, 0, 0))                 # A = seccomp_data.nr
        for above, up_to in ranges:
            here = len(program)
            program.append((_JGT, 0, 1, above))
            program.append((_JGT, 0, enosys - (here + 1) - 1, up_to))
        program.append((_JA, 0, 0, enosys + 1 - len(program) - 1))
    program.append((_JA, 0, 0, 1))                        # no range matched: on to libseccomp
    program.append((_RET, 0, 0, _RET_ERRNO | ENOSYS))
    return b"".join(struct.pack("<HBBI", *insn) for insn in program)


def _conditions(args: tuple[Arg, ...]) -> list[tuple[Arg, ...]]:
    """The comparisons each rule gets. libseccomp can't test one argument twice in a rule, so,
    as runc does, conditions on a repeated argument become one rule each (they OR)."""
    indexes = [a.index for a in args]
    if len(set(indexes)) < len(indexes):
        return [(a,) for a in args]
    return [args]


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    fd = os.memfd_create("bocker-seccomp", os.MFD_CLOEXEC)
    try:
        _check(lib.seccomp_export_bpf(ctx, fd), "exporting the filter")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def instructions(program: bytes) -> int:
    """How many BPF instructions a program holds (each struct sock_filter is 8 bytes)."""
    return len(program) // 8


_CACHE_FORMAT = 1


def cached_program(profile: dict, cache_dir: str | os.PathLike) -> bytes:
    """compile_profile, once per distinct profile: the bytes are kept in cache_dir under the
    hash of the profile (and of what else shapes them: libseccomp's version, the host)."""
    with open(cached_program_file(profile, cache_dir), "rb") as f:
        return f.read()


def cached_program_file(profile: dict, cache_dir: str | os.PathLike):
    """The file in cache_dir that holds the profile's compiled program (made if missing):
    what the engine hands a container's monitor, which only loads it."""
    import hashlib  # here, not at the top: pid 1 imports this module only to load
    from pathlib import Path

    canonical = json.dumps(profile, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(f"{_CACHE_FORMAT}\0{libseccomp_version()}\0{os.uname().machine}\0{canonical}"
                         .encode()).hexdigest()
    path = Path(cache_dir) / f"{key}.bpf"
    try:
        if path.stat().st_size and path.stat().st_size % 8 == 0:
            return path
    except FileNotFoundError:
        pass
    program = compile_profile(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..fileio import atomic_write
    atomic_write(path, program, fsync=False)  # a concurrent reader sees the whole program or none
    return path


# -- loading: stdlib + ctypes only ---------------------------------------------------------
class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "riscv64": 277, "loongarch64": 277, "ppc64le": 358,
                "s390x": 348, "i686": 354, "armv7l": 383}
_SECCOMP_SET_MODE_FILTER = 1
_BPF_MAXINSNS = 4096


def load_filter(program: bytes, flags: int = 0) -> None:
    """Install `program` (from compile_profile) on this process; every later child inherits it.

    Needs no_new_privs set first (capabilities.apply sets it) or CAP_SYS_ADMIN. Call it last,
    just before execve: each call made after it passes the filter."""
    count, rest = divmod(len(program), 8)
    if rest or not 0 < count <= _BPF_MAXINSNS:
        raise ContainerStartError(f"the seccomp program is {len(program)} bytes, not 1 to {_BPF_MAXINSNS} "
                                  "BPF instructions: compile it again (remove the seccomp cache)")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(count, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    nr = _SYS_SECCOMP.get(os.uname().machine, 317)
    rc = libc.syscall(ctypes.c_long(nr), ctypes.c_long(_SECCOMP_SET_MODE_FILTER), ctypes.c_long(flags),
                      ctypes.byref(fprog))
    if rc == 0:
        return
    if rc > 0:  # TSYNC: the id of a thread that could not be synchronised
        raise ContainerStartError(f"seccomp: thread {rc} could not take the filter (TSYNC): start the "
                                  "container's process single-threaded")
    err = ctypes.get_errno()
    if err == errno.EACCES:
        raise ContainerStartError("seccomp: the kernel wants no_new_privs or CAP_SYS_ADMIN before a filter: "
                                  "set no_new_privs first (capabilities.apply does)")
    if err in (errno.ENOSYS, errno.EOPNOTSUPP):
        raise HostUnsupported("this kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): "
                              "run with --security-opt seccomp=unconfined")
    raise ContainerStartError(f"seccomp: the kernel refused the filter ({os.strerror(err)}): "
                              "a flag it lacks, or a bad program; compile it again")


# -- profiles from files: Docker's format or the OCI one -----------------------------------
def docker_to_oci(config: dict, capabilities: list[str] | tuple[str, ...],
                  machine: str | None = None, kernel: str | None = None) -> dict:
    """A profile in Docker's format (archMap; syscalls with includes/excludes by caps, arches,
    minKernel) as the OCI object for a container with `capabilities` on `machine`
    (uname -m; default this host). An OCI profile passes through unchanged."""
    if not isinstance(config, dict):
        raise InvalidArgument("seccomp profile: not a JSON object with a defaultAction")
    machine = machine or os.uname().machine
    docker_arch, oci_arch = _MACHINES.get(machine, (machine, ""))
    held = {f"CAP_{c.upper().removeprefix('CAP_')}" for c in capabilities}
    release = _kernel_version(kernel or os.uname().release)
    if config.get("architectures") and config.get("archMap"):
        raise _fault("archMap", "and architectures are both given: keep one")
    out = {k: v for k, v in config.items() if k in _OCI_KEYS}
    if "archMap" in config:
        if not isinstance(config["archMap"], list):
            raise _fault("archMap", "is not a list")
        for i, entry in enumerate(config["archMap"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("architecture"), str):
                raise _fault(f"archMap[{i}]", "is not an object with an architecture")
            if entry["architecture"] == oci_arch:
                out["architectures"] = [oci_arch, *(entry.get("subArchitectures") or [])]
                break
    calls = config.get("syscalls") or []
    if not isinstance(calls, list):
        raise _fault("syscalls", "is not a list")
    out["syscalls"] = []
    for i, call in enumerate(calls):
        field = f"syscalls[{i}]"
        if not isinstance(call, dict):
            raise _fault(field, "is not an object with names and action")
        call = dict(call)
        if call.get("name"):
            if call.get("names"):
                raise _fault(field, "has both name and names: keep one")
            call["names"] = [call["name"]]
        excludes, includes = call.pop("excludes", None) or {}, call.pop("includes", None) or {}
        if _matches(excludes, held, docker_arch, release, field + ".excludes", any_cap=True):
            continue
        if includes and not _matches(includes, held, docker_arch, release, field + ".includes", any_cap=False):
            continue
        out["syscalls"].append({k: v for k, v in call.items() if k in ("names", "action", "errnoRet", "args")})
    check_profile(out)  # the faults of a file are told when it is read, not at the container's start
    return out


_OCI_KEYS = ("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata")


def _matches(cond: dict, held: set[str], arch: str, release: tuple[int, ...], field: str, any_cap: bool) -> bool:
    """Whether a Docker includes (all of it must hold) or excludes (any of it) applies."""
    if not isinstance(cond, dict):
        raise _fault(field, "is not an object with caps, arches or minKernel")
    tests = []
    if cond.get("arches"):
        tests.append(arch in cond["arches"])
    if cond.get("caps"):
        caps = {f"CAP_{c.upper().removeprefix('CAP_')}" for c in cond["caps"]}
        tests.append(bool(caps & held) if any_cap else caps <= held)
    if cond.get("minKernel"):
        tests.append(release >= _kernel_version(str(cond["minKernel"]), field + ".minKernel"))
    return any(tests) if any_cap else all(tests)


def _kernel_version(text: str, field: str = "") -> tuple[int, ...]:
    parts = text.split("-")[0].split(".")[:2]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        if field:
            raise _fault(field, f"{text!r} is not a kernel version like 5.10") from None
        return (0,)


def load_profile_file(path: str | os.PathLike, capabilities: list[str] | tuple[str, ...] = (),
                      machine: str | None = None) -> dict:
    """A profile file (Docker's format or the OCI one) as the OCI object for a container with
    `capabilities` on this host; a file that can't be read or used is one line."""
    from pathlib import Path

    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InvalidArgument(f"seccomp profile {path}: {e.strerror}: give the path of a JSON profile") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidArgument(f"seccomp profile {path}: not JSON ({e.msg} at line {e.lineno})") from None
    try:
        return docker_to_oci(config, capabilities, machine)
    except InvalidArgument as e:
        raise InvalidArgument(str(e).replace("seccomp profile:", f"seccomp profile {path}:", 1)) from None
