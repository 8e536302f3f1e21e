"""User namespaces: root in the container as an unprivileged range of the host's ids.

`--userns=remap` puts a container's processes in a user namespace of their own whose ids
0..65535 are the host's BASE..BASE+65535 (the spec's linux.uidMappings/gidMappings). Docker's
userns-remap takes BASE from /etc/subuid's entry for its user "dockremap"; ours is the entry
for "bocker" in /etc/subuid and /etc/subgid, else REMAP_BASE, far above the ranges useradd
hands out (100000 + 65536 per user).

How a container enters it (runtime/init.py, kernel/process.py): the runtime makes the
namespace first, from outside (a process can write the maps of a namespace only from its
parent namespace): make() forks a child that unshares, writes its maps from here, and keeps an
fd of it. pid 1 prepares everything as the host's root (mounts, devices, hostname, rlimits,
cgroup), creating files with the file system ids of the container's root (take_ids), and
enters the namespace last, just before it changes user and drops capabilities.
So every other namespace of the container stays owned by the host's user namespace: the
container's root, even with capabilities added, has power over nothing but its own user
namespace (no mount, no network or hostname change), and outside it is uid BASE, nobody.

The image's files stay owned by 0 on disk (layers are shared with containers that do not
remap): the layers and the container's upper directory are shown to the container through
idmapped mounts (mount_setattr(2) MOUNT_ATTR_IDMAP, Linux 5.12; under overlayfs, 5.19), so
on-disk 0 is BASE to the kernel, root to the container, and what the container writes lands on
disk as its own ids: `commit`, `cp` and `diff` see the same files as without remapping.
"""

from __future__ import annotations

import ctypes
import os
import struct

from . import linux

REMAP_USER = "bocker"
REMAP_BASE = 1 << 30   # 1073741824: no login user's subordinate range starts near it
REMAP_SIZE = 65536

# The new mount API's calls have one number on every architecture (they came after the
# syscall tables were unified).
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_MOUNT_SETATTR = 442
_OPEN_TREE_CLONE = 1
_OPEN_TREE_CLOEXEC = os.O_CLOEXEC
_AT_EMPTY_PATH = 0x1000
_AT_RECURSIVE = 0x8000
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOUNT_ATTR_IDMAP = 0x00100000


def remap_range(user: str = REMAP_USER, subuid: str = "/etc/subuid",
                subgid: str = "/etc/subgid") -> tuple[int, int, int, int]:
    """(uid base, uid count, gid base, gid count) for --userns=remap: the user's first range
    in each file (at most 65536 ids), else REMAP_BASE."""
    def first(path: str) -> tuple[int, int] | None:
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[0] == user and parts[1].isdigit() and parts[2].isdigit():
                        return int(parts[1]), int(parts[2])
        except OSError:
            pass
        return None
    uid = first(subuid) or (REMAP_BASE, REMAP_SIZE)
    gid = first(subgid) or (REMAP_BASE, REMAP_SIZE)
    return uid[0], min(uid[1], REMAP_SIZE), gid[0], min(gid[1], REMAP_SIZE)


def map_text(mappings) -> bytes:
    """The spec's mappings as /proc/PID/uid_map wants them: one write, a line each."""
    return "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings).encode()


def make(uid_mappings, gid_mappings) -> int:
    """A new user namespace with these mappings; returns an fd of it (close-on-exec).

    A child unshares it (the caller is host root, so it owns the namespace), we write the
    maps from here, open /proc/CHILD/ns/user, and let the child go. Raises OSError.
    Any single-threaded caller with /proc mounted: the monitor, bocker-runc, pid 1 itself."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # only system calls from here: this may be a threaded process's child
        try:
            os.close(ready_r)
            os.close(go_w)
            linux.unshare(linux.CLONE_NEWUSER)
            # our pid as /proc knows it (pid 1 of a new pid namespace may be looking at the
            # host's /proc still, where its children have other numbers)
            os.write(ready_w, os.readlink("/proc/self").encode())
            os.read(go_r, 1)  # EOF once the parent holds the namespace
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        seen = os.read(ready_r, 32)
        if not seen.isdigit():
            raise OSError(1, "could not make a user namespace (unshare failed)")
        proc = f"/proc/{seen.decode()}"
        for name, mappings in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
            fd = os.open(f"{proc}/{name}", os.O_WRONLY)
            try:
                os.write(fd, map_text(mappings))
            except OSError as e:
                raise OSError(e.errno, f"could not write the {name[:3]} mappings {map_text(mappings)!r}: "
                                       f"{e.strerror}") from None
            finally:
                os.close(fd)
        return os.open(f"{proc}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(go_w)
        os.waitpid(pid, 0)


def enter(fd: int) -> None:
    """Join the namespace (pid 1, last, before the user change: it then holds every
    capability there, and none outside)."""
    linux.setns(fd, linux.CLONE_NEWUSER)
    os.close(fd)


def idmap_over(path: str, userns_fd: int) -> None:
    """Mount over `path` (a directory) an idmapped copy of it: its on-disk ids seen through
    the namespace's mappings. In the caller's mount namespace only."""
    libc = linux._libc
    long = ctypes.c_long
    tree = libc.syscall(long(_SYS_OPEN_TREE), long(-100), os.fsencode(path),
                        long(_OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_RECURSIVE))
    if tree < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree: {os.strerror(err)}", path)
    try:
        attr = struct.pack("QQQQ", _MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
        if libc.syscall(long(_SYS_MOUNT_SETATTR), long(tree), b"", long(_AT_EMPTY_PATH | _AT_RECURSIVE), attr,
                        long(len(attr))) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"an idmapped mount: {os.strerror(err)} (the file system or the kernel "
                               "has no idmapped mounts: Linux 5.12+; under overlayfs 5.19+)", path)
        if libc.syscall(long(_SYS_MOVE_MOUNT), long(tree), b"", long(-100), os.fsencode(path),
                        long(_MOVE_MOUNT_F_EMPTY_PATH)) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"move_mount: {os.strerror(err)}", path)
    finally:
        os.close(tree)


def take_ids(uid: int, gid: int) -> None:
    """From here on, create files as the namespace's root (uid, gid are the host's ids of
    it), every capability still effective: pid 1 makes the container's mount points, device
    nodes and overlay as the host's root, but what it creates must be the container root's
    (through an idmapped mount the host's 0 has no on-disk id: EOVERFLOW). The file system
    ids follow the user change later."""
    from . import capabilities
    libc = linux._libc
    libc.setfsgid(gid)
    libc.setfsuid(uid)
    capabilities.raise_effective()  # a fsuid away from 0 cleared CAP_CHOWN, DAC_OVERRIDE, ...

class files_as:
    """`with files_as(uid, gid):` take_ids() for a while, in this thread only (the file system
    ids and capabilities are a thread's): `cp` into a running remapped container writes through
    its idmapped root."""

    def __init__(self, uid: int, gid: int) -> None:
        self.ids = (uid, gid)

    def __enter__(self) -> None:
        take_ids(*self.ids)

    def __exit__(self, *exc) -> None:
        linux._libc.setfsuid(0)  # back to 0: the kernel makes the file capabilities effective again
        linux._libc.setfsgid(0)


def mapped_root_of(pid: str = "1") -> tuple[int, int] | None:
    """The host's (uid, gid) of a process's user namespace's root, from its maps in /proc
    (`exec`, joining a container: its pid 1's)."""
    found = []
    for name in ("uid_map", "gid_map"):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                rows = [tuple(map(int, line.split())) for line in f if line.strip()]
        except (OSError, ValueError):
            return None
        host = next((h - c for c, h, n in rows if c <= 0 < c + n), None)
        if host is None:
            return None
        found.append(host)
    return found[0], found[1]


def host_root(spec) -> tuple[int, int] | None:
    """The host's (uid, gid) of the container's root under the spec's mappings, or None
    where 0 is not mapped."""
    def of(mappings) -> int | None:
        for m in mappings:
            if m.container_id <= 0 < m.container_id + m.size:
                return m.host_id - m.container_id
        return None
    uid, gid = of(spec.linux.uid_mappings), of(spec.linux.gid_mappings)
    return None if uid is None or gid is None else (uid, gid)


def for_spec(spec) -> int | None:
    """An fd of the user namespace the spec's pid 1 enters: the one its path names, or a new
    one with its mappings; None without a user namespace. Raises OSError."""
    ns = spec.linux.namespace("user")
    if ns is None:
        return None
    if ns.path:
        return os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
    if not spec.linux.uid_mappings or not spec.linux.gid_mappings:
        raise OSError(22, "a new user namespace needs linux.uidMappings and linux.gidMappings")
    return make(spec.linux.uid_mappings, spec.linux.gid_mappings)

