"""Layers as tars, both ways: safe extraction into overlay form, and a layer dir back to a tar.

A registry layer is a tar whose deletions are `.wh.NAME` entries and whose opaque directories
carry a `.wh..wh..opq` marker. Stored here, a layer is a directory used as an overlay lowerdir,
so a deletion is a char 0/0 device and an opaque directory has `trusted.overlay.opaque=y` --
the same form a container's upper dir has, so `commit` and `pull` make the same kind of layer.

Extraction is done here, not by tarfile.extractall: its filters strip setuid bits and refuse
device nodes, and without them it follows symlinks out of the tree. Every path is walked one
component at a time from a directory fd with O_NOFOLLOW, so no entry can reach outside the
layer (`../`, absolute names, a symlinked parent, a hard link to outside all fail with a
LayerError naming the entry). The caller extracts into a scratch dir and moves it into place
only when the whole tar was read and its digests checked.

Here: the format's names and extraction. compression.py: the streams (hashing, gzip and zstd
both ways); layertar.py: a layer dir back to a tar blob (write_tar, write_blob), reached from
here too, imported on first use (a pull never loads it).
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ...errors import LayerError
from .compression import _CHUNK, Decompressed, HashingReader  # noqa: F401  (the two classes: from here as before)

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
# overlay's own xattrs in a tar could forge whiteouts, opaque dirs or redirects: never applied
_FORBIDDEN_XATTR = ("trusted.overlay.",)
_XATTR_PAX = "SCHILY.xattr."


class _Forward(io.RawIOBase):
    """A stream that tarfile's seekable mode can read: `seek` only to where it is or ahead
    (skipping), which is all a tar read from start to end asks for."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        # whole reads, as from a file: tarfile takes a short header read for a truncated tar
        data = self.raw.read(n)
        if 0 <= n and 0 < len(data) < n:
            parts = [data]
            got = len(data)
            while got < n and (more := self.raw.read(n - got)):
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        self.pos += len(data)
        return data

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self.pos + offset}.get(whence)
        if target is None or target < self.pos:
            raise LayerError("The layer's tar asks to read backwards: it is malformed")
        while self.pos < target:
            if not self.read(min(target - self.pos, _CHUNK)):
                break  # past the end: the next read finds nothing, as a file would
        return self.pos


# == extraction ============================================================================
def _components(name: str, what: str) -> list[str]:
    """A tar name as path components inside the layer; anything that could leave it is an error."""
    if "\0" in name:
        raise LayerError(f"Layer entry '{name!r}' has a NUL in its {what}")
    if name.startswith("/"):
        raise LayerError(f"Layer entry '{name}' has an absolute {what}: a layer's names are relative")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"Layer entry '{name}' has '..' in its {what}: it would reach outside the layer")
    return parts


class _Extractor:
    def __init__(self, dest: Path, whiteouts: bool = True) -> None:
        self.whiteouts = whiteouts
        self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.dirs: dict[tuple[str, ...], int] = {(): self.root}
        self.seen: set[tuple[str, ...]] = set()
        self.dir_meta: list[tuple[tuple[str, ...], tarfile.TarInfo]] = []
        self.source: _Forward | None = None  # where a member's data is read from directly

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        self.dirs.clear()

    def dir_fd(self, parts: tuple[str, ...], entry: str, create: bool = True) -> int:
        """The fd of a directory inside the layer, opened one component at a time without
        following a symlink; missing ones are made (0755) when `create`."""
        fd = self.dirs.get(parts)
        if fd is not None:
            return fd
        parent = self.dir_fd(parts[:-1], entry, create)
        name = parts[-1]
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise LayerError(f"Layer entry '{entry}' refers to '{'/'.join(parts)}', "
                                 "which the layer lacks") from None
            os.mkdir(name, 0o755, dir_fd=parent)
            fd = os.open(name, flags, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                kind = "a symlink" if e.errno == errno.ELOOP else "not a directory"
                raise LayerError(f"Layer entry '{entry}' goes through '{'/'.join(parts)}', which is {kind}: "
                                 "it could reach outside the layer") from None
            raise
        if len(self.dirs) > 256:
            for key in [k for k in self.dirs if k]:
                os.close(self.dirs.pop(key))
        self.dirs[parts] = fd
        return fd

    def claim(self, parts: tuple[str, ...], entry: str) -> None:
        if parts in self.seen:
            raise LayerError(f"Layer entry '{entry}' appears twice in the layer")
        self.seen.add(parts)

    def add(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = tuple(_components(m.name, "name"))
        if not parts:  # the layer's root itself: only its metadata
            if not m.isdir():
                raise LayerError(f"Layer entry '{m.name}' names the layer's root but is not a directory")
            self.claim(parts, m.name)
            self.dir_meta.append((parts, m))
            return
        base = parts[-1]
        if base.startswith(WHITEOUT) and self.whiteouts:
            return self.whiteout(m, parts)
        self.claim(parts, m.name)
        pfd = self.dir_fd(parts[:-1], m.name)
        if m.isdir():
            try:
                os.mkdir(base, 0o700, dir_fd=pfd)
            except FileExistsError:
                st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    raise LayerError(f"Layer entry '{m.name}' appears twice in the layer") from None
            self.dir_meta.append((parts, m))
            return
        try:
            os.stat(base, dir_fd=pfd, follow_symlinks=False)
            raise LayerError(f"Layer entry '{m.name}' appears twice in the layer")
        except FileNotFoundError:
            pass
        if m.isreg():
            self.regular(tf, m, pfd, base)
        elif m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
        elif m.islnk():
            target = tuple(_components(m.linkname, "hard link target"))
            if not target or target not in self.seen:
                raise LayerError(f"Layer entry '{m.name}' is a hard link to '{m.linkname}', "
                                 "which is not an earlier entry of the layer")
            tfd = self.dir_fd(target[:-1], m.name, create=False)
            try:
                os.link(target[-1], base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
            except (IsADirectoryError, PermissionError):
                raise LayerError(f"Layer entry '{m.name}' is a hard link to the directory '{m.linkname}'") from None
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(base, kind | 0o600, os.makedev(m.devmajor, m.devminor) if kind != stat.S_IFIFO else 0,
                     dir_fd=pfd)
            self.metadata_at(pfd, base, m)
        else:
            raise LayerError(f"Layer entry '{m.name}' is of a type layers can't hold ({m.type!r})")

    def regular(self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str) -> None:
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
        try:
            src = self.source if (m.sparse is None and self.source is not None
                                  and self.source.tell() == m.offset_data) else tf.extractfile(m)
            assert src is not None
            left = m.size
            while left > 0:
                chunk = src.read(min(_CHUNK, left))
                if not chunk:
                    raise LayerError(f"Layer entry '{m.name}' ends early: the layer is truncated")
                left -= len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)  # after chown, which clears setuid/setgid
            self.xattrs(m, lambda k, v, fd=fd: os.setxattr(fd, k, v))
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def metadata_at(self, pfd: int, base: str, m: tarfile.TarInfo) -> None:
        fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            path = f"/proc/self/fd/{fd}"
            os.chown(path, m.uid, m.gid)
            os.chmod(path, m.mode & 0o7777)
            self.xattrs(m, lambda k, v: os.setxattr(path, k, v))
            os.utime(path, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    @staticmethod
    def xattrs(m: tarfile.TarInfo, setx: Callable[[str, bytes], None]) -> None:
        for key, value in m.pax_headers.items():
            if key.startswith(_XATTR_PAX):
                name = key[len(_XATTR_PAX):]
                if name.startswith(_FORBIDDEN_XATTR):
                    raise LayerError(f"Layer entry '{m.name}' sets the overlay's own attribute {name}")
                setx(name, value.encode("utf-8", "surrogateescape"))

    def whiteout(self, m: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        base = parts[-1]
        if base == OPAQUE:
            self.claim(parts, m.name)
            fd = self.dir_fd(parts[:-1], m.name)
            os.setxattr(fd, OPAQUE_XATTR, b"y")
            return
        hidden = base[len(WHITEOUT):]
        if hidden in ("", ".", "..") or hidden.startswith(WHITEOUT):
            raise LayerError(f"Layer entry '{m.name}' is not a valid whiteout: "
                             "'.wh.' must be followed by the name of what it deletes")
        target = parts[:-1] + (hidden,)
        self.claim(target, m.name)
        pfd = self.dir_fd(parts[:-1], m.name)
        try:
            os.mknod(hidden, stat.S_IFCHR | 0o600, os.makedev(0, 0), dir_fd=pfd)
        except FileExistsError:
            raise LayerError(f"Layer entry '{m.name}' deletes '{'/'.join(target)}', which the layer "
                             "also adds") from None

    def finish(self) -> None:
        # directory metadata last, deepest first: adding entries changes a directory's mtime
        for parts, m in sorted(self.dir_meta, key=lambda pm: -len(pm[0])):
            fd = self.dir_fd(parts, m.name, create=False)
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)
            self.xattrs(m, lambda k, v, fd=fd: os.setxattr(fd, k, v))
            os.utime(fd, (m.mtime, m.mtime))


def extract(stream: BinaryIO, dest: Path, whiteouts: bool = True) -> int:
    """Extract an uncompressed layer tar read from `stream` into the empty directory `dest`,
    in overlay form. Returns the number of entries. Raises LayerError for a bad layer; the
    caller removes `dest` then (it holds only what this wrote, all of it inside `dest`).
    `whiteouts=False` reads a plain tar (a build's ADD): `.wh.` names are ordinary files."""
    ex = _Extractor(dest, whiteouts)
    count = 0
    try:
        fwd = _Forward(stream)
        ex.source = fwd
        try:
            # "r:" over a forward-only reader, not the stream mode "r|": a member's data is
            # then read straight from the decompressor in 1 MB pieces (_Extractor.regular);
            # "r|" passes every byte through tarfile's 10 KB buffer, joined and sliced again
            # for each read, and took most of a pull's CPU (benchmarks/bench_pull.py)
            tf = tarfile.open(fileobj=fwd, mode="r:", errors="surrogateescape")
        except tarfile.ReadError as e:
            if isinstance(e.__context__, LayerError):
                raise e.__context__ from None
            raise LayerError(f"The layer is not a tar archive ({e})") from None
        try:
            for m in tf:
                ex.add(tf, m)
                count += 1
            ex.finish()
        except tarfile.TarError as e:
            raise LayerError(f"The layer's tar is malformed ({e})") from None
        finally:
            tf.close()
    finally:
        ex.close()
    return count


# == a layer dir back to a tar: layertar.py, imported on first use ========================
def __getattr__(name: str):
    if name not in ("write_tar", "write_blob"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import layertar
    return getattr(layertar, name)
