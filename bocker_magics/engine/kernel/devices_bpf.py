"""cgroup v2's devices policy: a BPF_PROG_TYPE_CGROUP_DEVICE program assembled from the rules
(eBPF instructions packed here: no compiler, no libbpf), loaded with bpf(2) and attached to the
group's directory (devices.py says what the rules mean). Loaded on first use of one of its
names through devices.py: a v1 host never imports it. Stdlib + ctypes (imported only when a
program is loaded)."""

from __future__ import annotations

import errno
import os
import struct
import sys

from bocker_magics.errors import BockerError, HostUnsupported

from .devices import ACCESS, effective_rules

TYPE_CHECKING = False  # not typing's: the monitor would import typing at every start for nothing
if TYPE_CHECKING:
    from typing import Any

    from .devices import DeviceRule


# --------------------------------------------------------------------------- eBPF assembly

# Instruction classes and fields (linux/bpf_common.h, linux/bpf.h).
_LDX, _ALU64, _JMP, _JMP32 = 0x01, 0x07, 0x05, 0x06
_MEM, _W = 0x60, 0x00
_K, _X = 0x00, 0x08
_MOV, _AND, _RSH = 0xB0, 0x50, 0x70
_JA, _JEQ, _JNE, _EXIT = 0x00, 0x10, 0x50, 0x90

# struct bpf_cgroup_dev_ctx { __u32 access_type; __u32 major; __u32 minor; }
# access_type = (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*
_CTX_ACCESS_TYPE, _CTX_MAJOR, _CTX_MINOR = 0, 4, 8
_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_ACC_BIT = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE

# Registers the program keeps the request in (r1 holds the context, then scratch).
_R0, _R1, _TYPE, _ACCESS, _MAJOR, _MINOR = 0, 1, 2, 3, 4, 5

_LITTLE = sys.byteorder == "little"


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    # struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; }: the
    # bit-field order follows the host's byte order.
    regs = (src << 4) | dst if _LITTLE else (dst << 4) | src
    return struct.pack("=BBhi", code, regs, off, imm)


def _imm32(value: int) -> int:
    # imm is an s32; a u32 above 2^31 is the same 32 bits, and the 32-bit jumps compare
    # those bits, so the comparison is exact for every u32 major and minor.
    return value - (1 << 32) if value >= 1 << 31 else value


def access_mask(access: str) -> int:
    mask = 0
    for ch in access:
        mask |= _ACC_BIT[ch]
    return mask


def _rule_block(rule: DeviceRule) -> list[bytes]:
    """Instructions that return the rule's verdict when it matches, and fall through to the
    next block otherwise. Jumps are to the end of this block (fixed up below)."""
    tests: list[tuple[int, int, int, int]] = []  # (code, dst, src, imm) of a "not matched" jump
    pre: list[list[bytes]] = []  # instructions before each test
    if rule.type != "a":
        pre.append([])
        tests.append((_JMP32 | _JNE | _K, _TYPE, 0, _DEV_TYPE[rule.type]))
    mask = access_mask(rule.access)
    if mask != access_mask(ACCESS):
        # An allow rule covers a request whose bits are all in the rule; a deny rule one
        # that asks for any of its bits (deny "w" refuses an open for read and write).
        pre.append([_insn(_ALU64 | _MOV | _X, _R1, _ACCESS), _insn(_ALU64 | _AND | _K, _R1, imm=mask)])
        if rule.allow:
            tests.append((_JMP | _JNE | _X, _R1, _ACCESS, 0))
        else:
            tests.append((_JMP | _JEQ | _K, _R1, 0, 0))
    if rule.major is not None:
        pre.append([])
        tests.append((_JMP32 | _JNE | _K, _MAJOR, 0, _imm32(rule.major)))
    if rule.minor is not None:
        pre.append([])
        tests.append((_JMP32 | _JNE | _K, _MINOR, 0, _imm32(rule.minor)))
    verdict = [_insn(_ALU64 | _MOV | _K, _R0, imm=1 if rule.allow else 0), _insn(_JMP | _EXIT)]
    # Lay out: [pre0, test0, pre1, test1, ..., verdict]; each test jumps past the verdict.
    sizes = [len(p) + 1 for p in pre]
    out: list[bytes] = []
    for i, (code, dst, src, imm) in enumerate(tests):
        out += pre[i]
        remaining = sum(sizes[i + 1 :]) + len(verdict)  # instructions after this jump
        out.append(_insn(code, dst, src, off=remaining, imm=imm))
    return out + verdict


def compile_program(rules: list[DeviceRule]) -> bytes:
    """The eBPF program of ``rules``: the last matching rule decides; none matching, deny.

    The kernel checks every request against it, so the rules are tested from the last one
    back to the first and the first match returns (OCI's "applied in order").
    """
    rules = effective_rules(rules)
    insns = [
        _insn(_LDX | _MEM | _W, _TYPE, _R1, off=_CTX_ACCESS_TYPE),
        _insn(_ALU64 | _MOV | _X, _ACCESS, _TYPE),
        _insn(_ALU64 | _AND | _K, _TYPE, imm=0xFFFF),
        _insn(_ALU64 | _RSH | _K, _ACCESS, imm=16),
        _insn(_LDX | _MEM | _W, _MAJOR, _R1, off=_CTX_MAJOR),
        _insn(_LDX | _MEM | _W, _MINOR, _R1, off=_CTX_MINOR),
    ]
    for rule in reversed(rules):
        insns += _rule_block(rule)
        if rule.matches_all():
            # It answers every request: anything after it would be unreachable, which the
            # verifier refuses.
            return b"".join(insns)
    insns += [_insn(_ALU64 | _MOV | _K, _R0, imm=0), _insn(_JMP | _EXIT)]
    return b"".join(insns)


# --------------------------------------------------------------------------- bpf(2)

_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}.get(os.uname().machine, 321)

_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
_BPF_PROG_DETACH = 9
_BPF_PROG_GET_FD_BY_ID = 13
_BPF_PROG_QUERY = 16
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6  # enum bpf_attach_type
BPF_F_ALLOW_MULTI = 1 << 1
BPF_F_REPLACE = 1 << 2

_ATTR_SIZE = 128  # larger than every field used; the kernel wants the tail zero, and it is
_LICENSE = b"MIT\0"  # the program calls no GPL-only helper
_PROG_NAME = b"bocker_devices"  # 15 bytes at most; bpftool prog shows it
_LOG_SIZE = 1 << 16

_libc: Any = None


def _bpf(cmd: int, attr: Any) -> int:
    """bpf(cmd, attr): the result, or OSError with the errno."""
    global _libc
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    r = _libc.syscall(
        ctypes.c_long(_NR_BPF), ctypes.c_long(cmd), ctypes.c_void_p(ctypes.addressof(attr)), ctypes.c_long(_ATTR_SIZE)
    )
    if r < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return r


def _attr() -> Any:
    import ctypes

    return ctypes.create_string_buffer(_ATTR_SIZE)


def _verifier_reason(log: str) -> str:
    """The line of the verifier's log that says why: the last one that is neither an
    instruction dump ("12: (b7) r0 = 1") nor the closing statistics."""
    reason = ""
    for line in log.splitlines():
        line = line.strip()
        if not line or line.startswith(("processed ", "verification time")):
            continue
        head, _, _ = line.partition(":")
        if head.isdigit():
            continue
        reason = line
    return reason or (log.strip().splitlines() or ["no log"])[-1]


def load_program(insns: bytes) -> int:
    """BPF_PROG_LOAD of a CGROUP_DEVICE program; its fd (the caller closes it).

    Loaded without a log first (the common case costs no log buffer); a refusal is loaded
    again with the verifier's log, whose reason becomes the one line of the error.
    """
    import ctypes

    if not insns or len(insns) % 8:
        raise BockerError(f"a BPF program is a whole number of 8-byte instructions, not {len(insns)} bytes")
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(_LICENSE)

    def attempt(log: Any) -> int:
        attr = _attr()
        struct.pack_into("=IIQQ", attr, 0, _BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                         ctypes.addressof(code), ctypes.addressof(lic))
        if log is not None:
            struct.pack_into("=IIQ", attr, 24, 1, _LOG_SIZE, ctypes.addressof(log))
        attr[48 : 48 + len(_PROG_NAME)] = _PROG_NAME
        return _bpf(_BPF_PROG_LOAD, attr)

    try:
        return attempt(None)
    except OSError as e:
        first = e
    if first.errno == errno.EPERM:
        raise HostUnsupported("loading the devices BPF program needs root (CAP_BPF and CAP_SYS_ADMIN)") from None
    if first.errno == errno.ENOSYS:
        raise HostUnsupported(
            "this kernel has no bpf(2) (CONFIG_BPF_SYSCALL); cgroup v2 device rules need it"
        ) from None
    log = ctypes.create_string_buffer(_LOG_SIZE)
    try:
        fd = attempt(log)
        return fd  # a transient refusal: the second load passed
    except OSError as e:
        text = log.value.decode(errors="replace")
        if not text.strip():
            if e.errno == errno.EINVAL:
                raise HostUnsupported(
                    "this kernel refused a BPF_PROG_TYPE_CGROUP_DEVICE program (EINVAL, no verifier log); "
                    "cgroup v2 device rules need Linux 4.15+ with CONFIG_CGROUP_BPF"
                ) from None
            raise BockerError(f"the kernel refused the devices BPF program ({e.strerror})") from None
        raise BockerError(
            f"the kernel's BPF verifier refused the devices program: {_verifier_reason(text)} "
            f"({len(insns) // 8} instructions); this is a bug in bocker's device rules, please report it"
        ) from None


def _open_dir(directory: str) -> int:
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BockerError(f"no cgroup at {directory}; create the container's cgroup first") from None


def _query(dir_fd: int) -> list[int]:
    """Ids of the device programs attached to the group itself (not inherited ones)."""
    import ctypes

    count = 64
    while True:
        ids = (ctypes.c_uint32 * count)()
        attr = _attr()
        struct.pack_into("=IIIIQI", attr, 0, dir_fd, _BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), count)
        try:
            _bpf(_BPF_PROG_QUERY, attr)
        except OSError as e:
            if e.errno == errno.ENOSPC:  # more than fit: prog_cnt says how many
                count = struct.unpack_from("=I", attr, 24)[0]
                continue
            raise
        n = struct.unpack_from("=I", attr, 24)[0]
        return list(ids[:n])


def attached_programs(directory: str) -> list[int]:
    """Ids of the device programs attached to the cgroup2 directory (for tests and inspect)."""
    fd = _open_dir(directory)
    try:
        return _query(fd)
    finally:
        os.close(fd)


def _prog_fd(prog_id: int) -> int | None:
    attr = _attr()
    struct.pack_into("=I", attr, 0, prog_id)
    try:
        return _bpf(_BPF_PROG_GET_FD_BY_ID, attr)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None  # detached and freed meanwhile
        raise


def _attach(dir_fd: int, prog_fd: int, flags: int, replace_fd: int = 0) -> None:
    attr = _attr()
    struct.pack_into("=IIIII", attr, 0, dir_fd, prog_fd, _BPF_CGROUP_DEVICE, flags, replace_fd)
    _bpf(_BPF_PROG_ATTACH, attr)


def _detach(dir_fd: int, prog_fd: int) -> None:
    attr = _attr()
    struct.pack_into("=III", attr, 0, dir_fd, prog_fd, _BPF_CGROUP_DEVICE)
    _bpf(_BPF_PROG_DETACH, attr)


def attach_v2(directory: str, rules: list[DeviceRule]) -> None:
    """Load the program of ``rules`` and make it the group's only device program.

    BPF_F_ALLOW_MULTI lets a group below carry its own program (all of them must allow).
    A policy that replaces an earlier one (``update``) swaps it in one step with
    BPF_F_REPLACE; with several old programs the new one is attached first and the old
    ones detached after, so in between both apply and the container gets the stricter of
    the two, never more.
    """
    insns = compile_program(rules)
    prog_fd = load_program(insns)
    try:
        dir_fd = _open_dir(directory)
        try:
            try:
                old = _query(dir_fd)
                old_fds = [fd for fd in (_prog_fd(i) for i in old) if fd is not None]
                try:
                    if len(old_fds) == 1:
                        _attach(dir_fd, prog_fd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, old_fds[0])
                    else:
                        _attach(dir_fd, prog_fd, BPF_F_ALLOW_MULTI)
                        for fd in old_fds:
                            try:
                                _detach(dir_fd, fd)
                            except FileNotFoundError:
                                pass  # detached meanwhile
                finally:
                    for fd in old_fds:
                        os.close(fd)
            except OSError as e:
                raise BockerError(
                    f"cannot attach the devices BPF program to {directory} ({e.strerror}); "
                    "check that it is a cgroup2 directory and that this kernel has CONFIG_CGROUP_BPF"
                ) from None
        finally:
            os.close(dir_fd)
    finally:
        os.close(prog_fd)  # the attachment holds the program now


def detach_all_v2(directory: str) -> None:
    """Remove every device program attached to the group (back to what its parents allow)."""
    dir_fd = _open_dir(directory)
    try:
        for prog_id in _query(dir_fd):
            fd = _prog_fd(prog_id)
            if fd is None:
                continue
            try:
                _detach(dir_fd, fd)
            except FileNotFoundError:
                pass
            finally:
                os.close(fd)
    finally:
        os.close(dir_fd)
