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

Here: the OCI vocabulary, a profile checked (`check_profile`), and loading (`load_filter`);
seccomp_compile.py compiles with libseccomp and caches, seccomp_files.py reads profile files.
Their names are reached from here too, imported on first use: pid 1 loads a program without
importing the compiler.
"""

from __future__ import annotations

import ctypes
import errno
import os

from ..._record import Value
from ...errors import ContainerStartError, HostUnsupported, InvalidArgument
from .seccomp_default import default_profile

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


# -- compiling and files: their own modules, imported on first use of one of their names ----
_ELSEWHERE = {
    **dict.fromkeys(("resolve", "compile_profile", "cached_program", "cached_program_file", "instructions",
                     "libseccomp_version"), "seccomp_compile"),
    **dict.fromkeys(("load_profile_file", "docker_to_oci"), "seccomp_files"),
}


def __getattr__(name: str):
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(f"{__package__}.{module}")
    import sys
    return getattr(sys.modules[f"{__package__}.{module}"], name)
