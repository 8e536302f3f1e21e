"""The Linux system calls Python 3.11 lacks, through ctypes.

Only what the engine needs: unshare, setns, mount, umount2, pivot_root, sethostname, and
bringing the loopback link up. Every call raises OSError with errno on failure, like the os
module does.
"""

from __future__ import annotations

import _socket  # not socket: its import (selectors, enum) costs bocker-runc every start
import ctypes
import fcntl
import os
import struct

# The C library this interpreter already runs on (no ctypes.util: it imports subprocess,
# and this module is on the path of every container start).
_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

# clone as fork does it (SIGCHLD on exit, no new stack), plus CLONE_NEWPID: by number, since
# libc's clone wants a function to run.
_SYS_CLONE = {"x86_64": 56, "aarch64": 220, "riscv64": 220, "ppc64le": 120, "s390x": 120}.get(os.uname().machine, 56)
_SIGCHLD = 17

# pivot_root has no libc wrapper: call it by number.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}.get(
    os.uname().machine, 155
)

_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str, path: str | None = None) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)


def _b(value: str | bytes | None) -> bytes | None:
    if value is None:
        return None
    return value if isinstance(value, bytes) else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def clone_new_pid() -> int:
    """fork(), with the child as pid 1 of a new pid namespace. unshare(CLONE_NEWPID) would
    do it once per process; a monitor that restarts its container needs it again and again.
    The caller is single-threaded (the shim's monitors, bocker-runc), so the child may run
    Python as after a fork."""
    pid = _libc.syscall(_SYS_CLONE, ctypes.c_ulong(CLONE_NEWPID | _SIGCHLD), 0, 0, 0, 0)
    _check(pid, "clone")
    return pid


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {fstype or ''} on {target}",
           target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root", new_root)


_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 271, "s390x": 280}.get(os.uname().machine, 250)
_KEYCTL_JOIN_SESSION_KEYRING = 1


def join_session_keyring(name: str) -> None:
    """A new session keyring named `name` for this process (and what it execs): the
    container does not share the caller's keys (runc's default; --no-new-keyring skips it)."""
    _check(_libc.syscall(_SYS_KEYCTL, _KEYCTL_JOIN_SESSION_KEYRING, _b(name)), "keyctl")


def sethostname(name: str) -> None:
    _socket.sethostname(name)


def setdomainname(name: str) -> None:
    data = _b(name)
    _check(_libc.setdomainname(data, len(data)), "setdomainname")


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def loopback_up() -> None:
    """Bring `lo` up in the current network namespace.

    One ioctl: the container's pid 1 does this before exec, where importing pyroute2
    (a third of a second) would cost more than the whole container start.
    """
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    finally:
        s.close()


def readonly_interpreter_namespace(*more: str | None) -> None:
    """Enter a mount namespace of our own where the running interpreter's file (and `more`
    files: the sleeper, runtime/sleeper.py) is on a read-only bind mount; the caller then
    re-execs it from there.

    Every process the shim forks (monitors, and exec's child, which is briefly a Python
    process inside the container's pid namespace) then has a /proc/PID/exe that can't be
    opened for writing (EROFS), whatever capabilities a container holds: the fix runc
    made for CVE-2019-5736. Host mounts still propagate in (slave); none of ours go out.
    """
    exe = os.readlink("/proc/self/exe")
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_SLAVE)
    for path in (exe, *(p for p in more if p)):
        mount(path, path, None, MS_BIND)
        mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def on_fresh_thread(fn):
    """Run fn() on a short-lived thread and return its result (or raise its exception).

    For per-thread namespace changes (setns or unshare of CLONE_NEWNET) in a process that
    may be threaded, such as a Jupyter kernel, where forking Python is unsafe: the thread
    ends with the change, and the rest of the process never sees it."""
    import threading
    box: dict = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller
            box["error"] = e

    thread = threading.Thread(target=work, name="bocker-ns")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def exit_code(status: int) -> int:
    """A wait status as a shell gives it: the exit status, or 128 + the signal that ended it."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def process_start_time(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot (procfs.start_time)."""
    from .procfs import start_time
    return start_time(pid)


def boot_id() -> str:
    with open("/proc/sys/kernel/random/boot_id") as f:
        return f.read().strip()


def crash_point(step: str) -> None:
    """Die here, as kill -9 would, when BOCKER_CRASH_AT names this step: how the tests show
    that gc cleans up after a crash at every step of a container's life."""
    if os.environ.get("BOCKER_CRASH_AT") == step:
        os.kill(os.getpid(), 9)


def pause_point(step: str) -> None:
    """Sleep here when BOCKER_PAUSE_AT names this step (tests that need a window open)."""
    if os.environ.get("BOCKER_PAUSE_AT") == step:
        import time
        mark = os.environ.get("BOCKER_PAUSE_MARK")
        if mark:  # says "paused here now" to a test that waits for it (no guess of how long it takes)
            with open(mark, "w"):
                pass
        time.sleep(float(os.environ.get("BOCKER_PAUSE_SECONDS", "2")))


# -- fds over unix sockets, without the socket module ------------------------------------------
def socketpair_seqpacket():
    """A connected pair of SOCK_SEQPACKET unix sockets (close-on-exec)."""
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)


def send_fds(fd: int, data: bytes, fds: list[int]) -> None:
    """One message with fds attached (SCM_RIGHTS) on the socket `fd`."""
    sock = _socket.socket(fileno=os.dup(fd))
    try:
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
    finally:
        sock.close()


def recv_fds(fd: int, bufsize: int, maxfds: int) -> tuple[bytes, list[int]]:
    """One message and the fds it carries, from the socket `fd`."""
    sock = _socket.socket(fileno=os.dup(fd))
    try:
        data, ancdata, _, _ = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * 4))
    finally:
        sock.close()
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            n = len(payload) // 4
            fds += list(struct.unpack(f"{n}i", payload[: n * 4]))
    return data, fds
