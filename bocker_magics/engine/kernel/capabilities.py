"""Linux capabilities: Docker's default set for containers, the rest dropped for good.

The container's pid 1 (and every exec'd process) drops what is not in its set from the
bounding set, so no later execve can regain it, clears the ambient and inheritable sets,
sets no_new_privs (a setuid binary can't raise privilege), and keeps the set as its
effective and permitted capabilities. Root in the container is then much less than root.
"""

from __future__ import annotations

import ctypes
import errno
import os

from ...errors import InvalidArgument

NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
NUMBER = {name: i for i, name in enumerate(NAMES)}

# What Docker (moby's oci/caps/defaults.go) grants a container.
DOCKER_DEFAULT = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
    "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT_RAISE = 2
_CAPGET = {"x86_64": 125, "aarch64": 90, "riscv64": 90, "ppc64le": 183, "s390x": 184}.get(os.uname().machine, 125)
_CAPSET = {"x86_64": 126, "aarch64": 91, "riscv64": 91, "ppc64le": 184, "s390x": 185}.get(os.uname().machine, 126)
_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_LAST_CAP: list[int] = []  # the kernel's, for this boot: read once (pid 1 asks seven times)


def last_cap() -> int:
    if not _LAST_CAP:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _LAST_CAP.append(int(f.read()))
        except OSError:
            return len(NAMES) - 1
    return _LAST_CAP[0]


def normalize(name: str) -> str:
    """'net_admin', 'CAP_NET_ADMIN' -> 'NET_ADMIN'; 'ALL' stays 'ALL'."""
    n = name.strip().upper()
    n = n[4:] if n.startswith("CAP_") else n
    if n != "ALL" and n not in NUMBER:
        raise InvalidArgument(f"Unknown capability '{name}': use a name like NET_ADMIN or SYS_PTRACE "
                              "(see capabilities(7))")
    return n


def resolve(add: list[str] | tuple[str, ...] = (), drop: list[str] | tuple[str, ...] = (),
            privileged: bool = False) -> list[str]:
    """The container's capability names: Docker's default set, then --cap-drop, then --cap-add."""
    # "all": every capability this process holds (its bounding set): what moby, podman and
    # containerd (WithAllCurrentCapabilities) give a privileged container; a host whose root
    # lacks one (here CAP_SYS_RESOURCE) can't hand it on, and runc refuses a spec that asks
    held = _bounding()
    everything = [n for n in NAMES if NUMBER[n] <= last_cap() and held >> NUMBER[n] & 1]
    if privileged:
        return everything
    caps = set(DOCKER_DEFAULT)
    drops = {normalize(d) for d in drop}
    adds = {normalize(a) for a in add}
    caps = set() if "ALL" in drops else caps - drops
    caps = set(everything) if "ALL" in adds else caps | adds
    return [n for n in everything if n in caps]


def _status_caps(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1], 16)
    return (1 << (last_cap() + 1)) - 1


def _permitted() -> int:
    return _status_caps("CapPrm:")


def _bounding() -> int:
    return _status_caps("CapBnd:")


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    if _libc.prctl(option, arg2, arg3, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def raise_effective() -> None:
    """Every permitted capability effective again (after a setfsuid(2) away from 0 cleared
    the file ones: kernel/userns.py mounts the root with a mapped fsuid)."""
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    if _libc.syscall(_CAPGET, ctypes.byref(header), ctypes.byref(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capget: {os.strerror(err)}")
    for word in data:
        word.effective = word.permitted
    if _libc.syscall(_CAPSET, ctypes.byref(header), ctypes.byref(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def set_dumpable(flag: bool) -> None:
    """A non-dumpable process's /proc/PID files (exe, mem, fd) are closed to other processes,
    so a container can't reach the host's binaries through a process that joins it."""
    _prctl(PR_SET_DUMPABLE, int(flag))


def apply(names: list[str]) -> None:
    """Drop every capability not in `names`: bounding set, ambient, inheritable; keep
    `names` effective and permitted; set no_new_privs. Irreversible for this process tree."""
    held = _permitted()
    keep = {NUMBER[n] for n in names if held >> NUMBER[n] & 1}  # nobody gains what we lack
    for cap in range(last_cap() + 1):
        if cap not in keep:
            _prctl(PR_CAPBSET_DROP, cap)
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # kernels before 4.3 have no ambient set
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    for cap in keep:
        word, bit = divmod(cap, 32)
        data[word].effective |= 1 << bit
        data[word].permitted |= 1 << bit
    if _libc.syscall(_CAPSET, ctypes.byref(header), ctypes.byref(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)


def _numbers(names: list[str]) -> set[int]:
    """OCI names (CAP_CHOWN) or ours (CHOWN) -> numbers; a name this kernel lacks is skipped,
    as runc does, so a spec written for a newer kernel still runs."""
    out = set()
    top = last_cap()
    for name in names:
        n = name.upper()
        n = n[4:] if n.startswith("CAP_") else n
        if n not in NUMBER:
            raise InvalidArgument(f"Unknown capability '{name}' in the spec: use names like CAP_NET_ADMIN")
        if NUMBER[n] <= top:
            out.add(NUMBER[n])
    return out


def apply_sets(*, bounding: list[str], effective: list[str], permitted: list[str],
               inheritable: list[str], ambient: list[str], change_user=None,
               no_new_privs: bool = True) -> None:
    """The spec's five capability sets, with the user change in the one place it works:
    keep capabilities over setuid, drop the bounding set, change user, then set effective,
    permitted and inheritable, raise the ambient ones, and no_new_privs last (runc's order).
    Irreversible for this process tree."""
    # The five sets exactly as given, as runc applies them: the bounding set is cut to its
    # list, effective and permitted are set as listed (a capability may stay permitted
    # though out of the bounding set), inheritable as listed. Nobody gains what we lack:
    # a set naming a capability this process does not hold (this host's root lacks
    # CAP_SYS_RESOURCE) is refused, in runc's words, not silently shrunk.
    held = _permitted()
    have = {c for c in range(last_cap() + 1) if held >> c & 1}
    wanted = {name: _numbers(x) for name, x in (("bounding", bounding), ("effective", effective),
                                                ("permitted", permitted), ("inheritable", inheritable),
                                                ("ambient", ambient))}
    lacking = sorted(set().union(*wanted.values()) - have)
    if lacking:
        names = ", ".join("CAP_" + NAMES[c] if c < len(NAMES) else str(c) for c in lacking)
        raise OSError(errno.EPERM, f"unable to apply caps: operation not permitted ({names}: not held by the "
                                   "runtime's caller, so no container can get it here)")
    keep_bounding = wanted["bounding"]
    _prctl(PR_SET_KEEPCAPS, 1)
    for cap in range(last_cap() + 1):
        if cap not in keep_bounding:
            _prctl(PR_CAPBSET_DROP, cap)
    if change_user is not None:
        change_user()
    _prctl(PR_SET_KEEPCAPS, 0)
    eff, prm, inh = wanted["effective"], wanted["permitted"], wanted["inheritable"]
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    for field, caps in (("effective", eff), ("permitted", prm), ("inheritable", inh)):
        for cap in caps:
            word, bit = divmod(cap, 32)
            setattr(data[word], field, getattr(data[word], field) | 1 << bit)
    if _libc.syscall(_CAPSET, ctypes.byref(header), ctypes.byref(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)} (effective must be within permitted, "
                           "permitted within the bounding set)")
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
        for cap in wanted["ambient"] & prm & inh:  # the kernel holds no other ambient one (runc's spec lists
            # ambient without inheritable: those stay out, as with runc)
            _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
    except OSError:
        if ambient:
            raise
    if no_new_privs:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)


def oci_names(names: list[str]) -> list[str]:
    """Our names (CHOWN) as the spec writes them (CAP_CHOWN)."""
    return [n if n.startswith("CAP_") else f"CAP_{n}" for n in names]
