"""Writing: a destination directory, its owner rules, and one entry copied into it (copy-up
of the directories on the way, whiteouts replaced, as overlayfs does)."""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import IO

from ...errors import CopyError, NotFound
from ..changes import OPAQUE_XATTR, is_opaque, is_whiteout
from .view import DIR, Entry, View, lstat_at


@dataclass
class Owner:
    """Who owns what a copy writes: fixed (0:0 in a container, us on the host) or, with -a,
    the source's owners."""
    keep: bool
    uid: int = 0
    gid: int = 0
    # a running --userns=remap container's root is an idmapped view: its ids are the host's
    # uid/gid of the container's root plus the container's own
    shift: tuple[int, int] = (0, 0)

    def of(self, st: os.stat_result | tarfile.TarInfo) -> tuple[int, int]:
        if not self.keep:
            uid, gid = self.uid, self.gid
        elif isinstance(st, tarfile.TarInfo):
            uid, gid = st.uid, st.gid
        else:
            uid, gid = st.st_uid, st.st_gid
        return uid + self.shift[0], gid + self.shift[1]


@dataclass
class Tally:
    files: int = 0
    bytes: int = 0


class Dest:
    """A directory to write into: a plain one (the host's, a running container's), or the
    upper dir of a stopped container with `lower` (the same directory in its image's layers,
    as overlayfs merges it below). Owns its fds."""

    def __init__(self, fd: int, lower: View | None, path: str, owner: Owner, tally: Tally) -> None:
        self.fd = fd
        self.lower = lower
        self.path = path
        self.owner = owner
        self.tally = tally

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
        if self.lower is not None:
            self.lower.close()

    def __enter__(self) -> Dest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _where(self, name: str) -> str:
        return self.path.rstrip("/") + "/" + name

    def _visible(self, name: str) -> Entry | None:
        """What the merged view shows at `name` (upper first, then the lower layers)."""
        st = lstat_at(name, self.fd)
        if st is not None:
            return None if (self.lower is not None and is_whiteout(st)) else Entry(name, st, self.fd)
        return self.lower.entry(name) if self.lower is not None else None

    def _remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def _meta(self, name: str, st, fd: int | None = None) -> None:
        uid, gid = self.owner.of(st)
        mode = stat.S_IMODE(st.mode if isinstance(st, tarfile.TarInfo) else st.st_mode)
        mtime = st.mtime if isinstance(st, tarfile.TarInfo) else st.st_mtime
        if fd is not None:
            os.chown(fd, uid, gid)
            os.chmod(fd, mode)
            os.utime(fd, (mtime, mtime))
        else:  # a symlink: its owner and times only
            os.chown(name, uid, gid, dir_fd=self.fd, follow_symlinks=False)
            with contextlib.suppress(OSError):
                os.utime(name, (mtime, mtime), dir_fd=self.fd, follow_symlinks=False)

    def directory(self, name: str, st=None, *, create: bool = True, replace: bool = True) -> Dest:
        """The directory `name` here: made if missing (`create`), put in the place of a
        non-directory (`replace`). In a stopped container a directory of the lower layers is
        copied up (made in the upper dir with its owner and mode, merged over it), and one
        that replaces a whiteout or a non-directory is opaque (the layers' below stay hidden)."""
        upper = lstat_at(name, self.fd)
        seen = self._visible(name)
        if upper is not None and stat.S_ISDIR(upper.st_mode):
            fd = os.open(name, DIR, dir_fd=self.fd)
            lower_child = None
            if self.lower is not None:
                lower_child = View([], True) if is_opaque(fd) else self.lower.child(name)
            if st is not None:
                self._meta(name, st, fd)
            return Dest(fd, lower_child, self._where(name), self.owner, self.tally)
        copy_up = self.lower is not None and seen is not None and stat.S_ISDIR(seen.st.st_mode)
        if not copy_up:
            if seen is None and not create:
                raise NotFound(f"No such directory: {self._where(name)}")
            if seen is not None and not replace:
                raise CopyError(f"Not a directory: {self._where(name)}")
        opaque = False
        if upper is not None:  # a file, a link, a whiteout: the directory takes its place
            opaque = self.lower is not None and self.lower.entry(name) is not None
            self._remove(name)
        lower_child = self.lower.child(name) if copy_up else (View([], True) if self.lower is not None else None)
        if copy_up and st is None:
            st = seen.st  # the lower directory's owner, mode and time
        try:
            os.mkdir(name, 0o700, dir_fd=self.fd)
            fd = os.open(name, DIR, dir_fd=self.fd)
            if opaque:
                os.setxattr(fd, OPAQUE_XATTR, b"y")
            if st is None:
                os.chown(fd, self.owner.uid, self.owner.gid)
                os.chmod(fd, 0o755)
            elif copy_up:
                os.chown(fd, st.st_uid, st.st_gid)  # copied up as it is, whoever copies
                os.chmod(fd, stat.S_IMODE(st.st_mode))
                os.utime(fd, (st.st_mtime, st.st_mtime))
            else:
                self._meta(name, st, fd)
        except BaseException:
            if lower_child is not None:
                lower_child.close()
            raise
        return Dest(fd, lower_child, self._where(name), self.owner, self.tally)

    def _replaceable(self, name: str) -> os.stat_result | None:
        """Make room for a non-directory at `name`; the upper entry's stat if it is a regular
        file to overwrite in place."""
        upper = lstat_at(name, self.fd)
        seen = self._visible(name)
        if seen is not None and stat.S_ISDIR(seen.st.st_mode):
            raise CopyError(f"Cannot overwrite directory '{self._where(name)}' with a non-directory")
        if upper is not None and stat.S_ISREG(upper.st_mode) and upper.st_nlink == 1:
            return upper
        if upper is not None:
            self._remove(name)
        return None

    def file(self, name: str, data: IO[bytes] | int, st) -> None:
        existing = self._replaceable(name)
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        fd = os.open(name, flags | (os.O_TRUNC if existing is not None else os.O_CREAT | os.O_EXCL), 0o600,
                     dir_fd=self.fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise CopyError(f"'{self._where(name)}' changed into a non-file while it was copied")
            os.set_blocking(fd, True)
            written = 0
            while True:
                chunk = os.read(data, 1 << 20) if isinstance(data, int) else data.read(1 << 20)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                written += len(chunk)
            self._meta(name, st, fd)
        finally:
            os.close(fd)
        self.tally.files += 1
        self.tally.bytes += written

    def symlink(self, name: str, target: str, st) -> None:
        self._replaceable(name)
        os.symlink(target, name, dir_fd=self.fd)
        self._meta(name, st)
        self.tally.files += 1

    def special(self, name: str, mode: int, device: int, st) -> None:
        self._replaceable(name)
        os.mknod(name, stat.S_IFMT(mode) | 0o600, device, dir_fd=self.fd)
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            uid, gid = self.owner.of(st)
            os.chown(f"/proc/self/fd/{fd}", uid, gid)
            os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(mode))
        finally:
            os.close(fd)
        self.tally.files += 1


def open_file(entry: Entry) -> int:
    fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=entry.fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CopyError(f"'{entry.name}' changed into a non-file while it was copied")
    os.set_blocking(fd, True)
    return fd


def copy_entry(parent: View, entry: Entry, dest: Dest, name: str) -> None:
    """`entry` (of `parent`) and, for a directory, everything in it, as `name` in `dest`."""
    st = entry.st
    if stat.S_ISDIR(st.st_mode):
        with parent.child(entry.name) as view, dest.directory(name, st) as sub:
            for child in view.names():
                e = view.entry(child)
                if e is not None:
                    copy_entry(view, e, sub, child)
    elif stat.S_ISREG(st.st_mode):
        fd = open_file(entry)
        try:
            dest.file(name, fd, st)
        finally:
            os.close(fd)
    elif stat.S_ISLNK(st.st_mode):
        dest.symlink(name, os.readlink(entry.name, dir_fd=entry.fd), st)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        dest.special(name, st.st_mode, st.st_rdev, st)
    # a socket is no file to copy: skipped, as tar does


