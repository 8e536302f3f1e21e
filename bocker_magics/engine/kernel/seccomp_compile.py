"""A seccomp profile compiled to classic BPF by libseccomp (Debian's libseccomp2, through a
small ctypes binding), with an ENOSYS prefix for calls newer than the profile, and the cache
of compiled programs keyed by the profile's hash (seccomp.py says the whole picture)."""

from __future__ import annotations

import ctypes
import json
import os
import struct

from ...errors import HostUnsupported, InvalidArgument
from .seccomp import _ACT_ALLOW, _ACT_LOG, _ACT_TRACE, _BPF_MAXINSNS, _FLAGS, Arg, Profile, check_profile
from .seccomp_default import ENOSYS


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
