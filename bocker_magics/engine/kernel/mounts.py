"""Mount primitives of the root: the OCI mount options as flags, a path resolved inside a
root, masked and read-only paths. Used by kernel/rootfs.py's steps (and devfs.py)."""

from __future__ import annotations

import os
import stat

from ..._record import Record
from ...errors import RootfsError
from . import linux
from .linux import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
)

MS_SYNCHRONOUS = 16
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

# OCI mount option -> (flag, set it?)
FLAGS = {
    "defaults": (0, False), "ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False),
    "suid": (MS_NOSUID, False), "nosuid": (MS_NOSUID, True), "dev": (MS_NODEV, False),
    "nodev": (MS_NODEV, True), "exec": (MS_NOEXEC, False), "noexec": (MS_NOEXEC, True),
    "sync": (MS_SYNCHRONOUS, True), "async": (MS_SYNCHRONOUS, False), "dirsync": (MS_DIRSYNC, True),
    "remount": (MS_REMOUNT, True), "mand": (MS_MANDLOCK, True), "nomand": (MS_MANDLOCK, False),
    "atime": (MS_NOATIME, False), "noatime": (MS_NOATIME, True), "diratime": (MS_NODIRATIME, False),
    "nodiratime": (MS_NODIRATIME, True), "bind": (MS_BIND, True), "rbind": (MS_BIND | MS_REC, True),
    "relatime": (MS_RELATIME, True), "norelatime": (MS_RELATIME, False),
    "strictatime": (MS_STRICTATIME, True), "nostrictatime": (MS_STRICTATIME, False),
    "silent": (MS_SILENT, True), "loud": (MS_SILENT, False),
}
PROPAGATION = {
    "private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC, "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC,
}
# Options that only say how a caller made the mount, and need nothing from us.
NOTES = {"x-mount.mkdir"}


class MountOptions(Record):
    __slots__ = ("flags", "clear", "propagation", "data", "copy_up")

    def __init__(
        self,
        flags: int = 0,
        clear: int = 0,
        propagation: list[int] | None = None,
        data: list[str] | None = None,
        copy_up: bool = False,
    ) -> None:
        self.flags = flags
        self.clear = clear  # flags an option explicitly turned off (rw, suid, ...)
        self.propagation = [] if propagation is None else propagation
        self.data = [] if data is None else data
        self.copy_up = copy_up  # tmpcopyup: a tmpfs starts with what the directory held

    @property
    def bind(self) -> bool:
        return bool(self.flags & MS_BIND)


def parse_options(options: list[str], where: str) -> MountOptions:
    out = MountOptions()
    for opt in options:
        if opt in FLAGS:
            flag, on = FLAGS[opt]
            if on:
                out.flags |= flag
                out.clear &= ~flag
            else:
                out.flags &= ~flag
                out.clear |= flag
        elif opt in PROPAGATION:
            out.propagation.append(PROPAGATION[opt])
        elif opt in NOTES or opt.startswith("x-"):
            continue
        elif opt in ("tmpcopyup", "notmpcopyup"):
            out.copy_up = opt == "tmpcopyup"
        elif opt in ("idmap", "ridmap", "rro", "copy-symlink"):
            raise RootfsError(f"The mount option '{opt}' of {where} is not supported by bocker yet: "
                              "remove it from the configuration")
        else:
            out.data.append(opt)
    return out


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved inside `root`, following symlinks as if `root` were '/'.

    A symlink in the image (say /data -> /etc) must never make a bind mount land on the
    host's own /etc: resolve each component ourselves, confined to the root.
    """
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 40:
                raise RootfsError(f"Too many symbolic links in '{unsafe}' inside the image")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def mask_path(path: str) -> None:
    """Hide a path: a file gets /dev/null bound over it, a directory an empty read-only tmpfs."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        linux.mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k")
    else:
        linux.mount("/dev/null", path, None, MS_BIND)


def readonly_path(path: str) -> None:
    """A read-only bind mount of the path over itself."""
    if not os.path.exists(path):
        return
    linux.mount(path, path, None, MS_BIND | MS_REC)
    linux.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC)
