"""Tar streams: an entry written to one, and one checked and unpacked into a destination."""

from __future__ import annotations

import os
import stat
import tarfile
from typing import IO

from ...errors import CopyError
from .dest import Dest, Tally, open_file
from .view import DIR, Entry, View


def _tar_info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, int(st.st_mtime)
    return info


class _FdReader:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, n: int = -1) -> bytes:
        return os.read(self.fd, n if n >= 0 else 1 << 20)


def tar_entry(tar: tarfile.TarFile, parent: View, entry: Entry, name: str, tally: Tally) -> None:
    st = entry.st
    info = _tar_info(name, st)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        with parent.child(entry.name) as view:
            for child in view.names():
                e = view.entry(child)
                if e is not None:
                    tar_entry(tar, view, e, f"{name}/{child}", tally)
        return
    if stat.S_ISREG(st.st_mode):
        fd = open_file(entry)
        try:
            info.size = os.fstat(fd).st_size
            tar.addfile(info, _FdReader(fd))
        finally:
            os.close(fd)
        tally.bytes += info.size
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(entry.name, dir_fd=entry.fd)
        tar.addfile(info)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        info.type = (tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else
                     tarfile.BLKTYPE if stat.S_ISBLK(st.st_mode) else tarfile.FIFOTYPE)
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        tar.addfile(info)
    else:
        return
    tally.files += 1


def _member_parts(name: str) -> list[str]:
    """A member's path under the destination ([] for '.', the destination itself); a leading
    '/' is dropped, as GNU tar does."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise CopyError(f"Refusing the archive member '{name}': its path leaves the destination")
    return parts


def check_archive(tar: tarfile.TarFile) -> None:
    """The whole stream checked before anything is written: no member leaves the destination
    ('..'), none goes through an earlier member that is not a directory (a symlink), a hard
    link names an earlier file."""
    kinds: dict[str, str] = {}
    for member in tar:
        parts = _member_parts(member.name)
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if kinds.get(prefix, "dir") != "dir":
                raise CopyError(f"Refusing the archive member '{member.name}': '{prefix}' is not a directory "
                                "in the archive")
        if member.islnk():
            target = "/".join(_member_parts(member.linkname))
            if kinds.get(target) != "file":
                raise CopyError(f"Refusing the hard link '{member.name}': its target '{member.linkname}' is not "
                                "an earlier file of the archive")
        if parts:
            kinds["/".join(parts)] = "dir" if member.isdir() else "file" if member.isreg() else "other"


def untar_into(tar: tarfile.TarFile, dest: Dest) -> None:
    """A tar stream's members written under `dest`, each path walked from `dest` (never
    leaving it: no '..', no absolute name, no symlink followed; a hard link's target must
    be an earlier member, copied)."""
    written: dict[str, tuple[list[str], tarfile.TarInfo]] = {}
    for member in tar:
        parts = _member_parts(member.name)
        if not parts:
            continue  # '.': the destination, which exists
        stack: list[Dest] = []
        try:
            here = dest
            for part in parts[:-1]:
                # a missing directory is made; a symlink (or file) on the way is an error,
                # never followed and never replaced
                here = here.directory(part, replace=False)
                stack.append(here)
            name = parts[-1]
            if member.isdir():
                stack.append(here.directory(name, member))
            elif member.isreg():
                here.file(name, tar.extractfile(member), member)
            elif member.issym():
                here.symlink(name, member.linkname, member)
            elif member.islnk():
                target = "/".join(_member_parts(member.linkname))
                if not target or target not in written:
                    raise CopyError(f"Refusing the hard link '{member.name}': its target "
                                    f"'{member.linkname}' is not an earlier file of the archive")
                _copy_written(dest, written[target][0], here, name)
            elif member.ischr() or member.isblk() or member.isfifo():
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
                here.special(name, kind | member.mode, os.makedev(member.devmajor, member.devminor), member)
            if member.isreg():
                written["/".join(parts)] = (parts, member)
        finally:
            for d in reversed(stack):
                d.close()


def _copy_written(dest: Dest, parts: list[str], into: Dest, name: str) -> None:
    """A hard link of a tar stream: a copy of the file an earlier member wrote."""
    fds: list[int] = []
    try:
        fd = dest.fd
        for part in parts[:-1]:
            fd = os.open(part, DIR, dir_fd=fd)
            fds.append(fd)
        e = Entry(parts[-1], os.stat(parts[-1], dir_fd=fd, follow_symlinks=False), fd)
        src = open_file(e)
        try:
            into.file(name, src, e.st)
        finally:
            os.close(src)
    finally:
        for fd in fds:
            os.close(fd)


def spooled(data: IO[bytes]):
    """A tar stream read whole (in memory up to 64 MiB, then a temporary file): it is checked
    before it is written, and tarfile reads it again."""
    import shutil
    import tempfile
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)
    shutil.copyfileobj(data, spool, 1 << 20)
    spool.seek(0)
    return spool


