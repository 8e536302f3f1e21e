"""`cp CONTAINER:PATH HOSTPATH` and `cp HOSTPATH CONTAINER:PATH` (and `-` for a tar stream on
stdin or stdout), through the container's root: a symlink in the container never makes us
read or write a file outside it.

Where the container's files are:
  running (or paused)  /proc/PID/root: its root as its processes see it, mounts included.
  stopped or created   its upper dir over its image's layers, read as overlayfs shows them
                       (a whiteout, char 0/0, hides what is below; an opaque directory hides
                       the layers below it); written into the upper dir only, the directories
                       on the way copied up (made in the upper dir with the lower one's owner
                       and mode), a whiteout replaced, as overlayfs itself does on a write.

How a path is resolved inside the root: one component at a time, each opened relative to the
directory before it with O_NOFOLLOW, so the kernel never follows a symlink or '..' for us;
a symlink is read and its target resolved by the same walk, confined to the root ('..' stops
at '/', an absolute target starts at the root). A container process that swaps a directory
for a symlink mid-copy makes the copy fail (ELOOP), never escape.

Docker's rules for what lands where (SRC, DEST):
  SRC a file:  DEST missing -> the file is DEST; DEST a file -> overwritten; DEST a directory
               -> DEST/basename(SRC); DEST ending in '/' must be a directory.
  SRC a dir:   DEST missing -> made, with SRC's contents; DEST a directory -> DEST/basename(SRC)
               (or, for SRC ending in '/.', SRC's contents into DEST); DEST a file -> error.
Ownership: written into a container, files belong to its root (0:0); to the host, to us.
With -a (archive) the owners are kept. Modes and modification times are kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from ..errors import BockerError, Conflict, CopyError, InvalidArgument, NotFound
from .changes import OPAQUE_XATTR, is_opaque, is_whiteout
from .container.status import Status

if TYPE_CHECKING:
    from .container import Containers

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40


# -- arguments -------------------------------------------------------------------------------
@dataclass
class Endpoint:
    container: str | None    # None: the host
    path: str                # "-": a tar stream


def parse_endpoint(text: str) -> Endpoint:
    """Docker's rule: CONTAINER:PATH, unless the argument starts with '/' or '.' (a host path
    that holds a ':' is written ./a:b)."""
    if text == "-":
        return Endpoint(None, "-")
    if text.startswith(("/", ".")) or ":" not in text:
        return Endpoint(None, text)
    name, _, path = text.partition(":")
    if not name:
        return Endpoint(None, text)
    if "\0" in path:
        raise InvalidArgument(f"Invalid path '{path}': it holds a NUL byte")
    return Endpoint(name, path or "/")


# -- a directory as overlayfs (or a plain filesystem) shows it --------------------------------
def _lstat(name: str, fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


@dataclass
class Entry:
    name: str
    st: os.stat_result
    fd: int                  # the directory (of the layer) that holds it


class View:
    """One directory: a list of directory fds, top-most first. `union`: overlayfs' rules
    over them (layers); else one plain directory. Owns its fds."""

    def __init__(self, fds: list[int], union: bool) -> None:
        self.fds = fds
        self.union = union

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []

    def __enter__(self) -> View:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def entry(self, name: str) -> Entry | None:
        """What `name` is here (the top-most layer that has it decides)."""
        for fd in self.fds:
            st = _lstat(name, fd)
            if st is None:
                continue
            if self.union and is_whiteout(st):
                return None
            return Entry(name, st, fd)
        return None

    def child(self, name: str) -> View:
        """The directory `name`, merged from every layer down to an opaque one (or to a layer
        where it is not a directory)."""
        fds: list[int] = []
        try:
            for fd in self.fds:
                st = _lstat(name, fd)
                if st is None:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    break
                fds.append(os.open(name, _DIR, dir_fd=fd))
                if not self.union or is_opaque(fds[-1]):
                    break
        except BaseException:
            View(fds, self.union).close()
            raise
        return View(fds, self.union)

    def names(self) -> list[str]:
        seen: dict[str, None] = {}
        hidden: set[str] = set()
        for fd in self.fds:
            for name in os.listdir(fd):
                if name in seen or name in hidden:
                    continue
                st = _lstat(name, fd)
                if st is None:
                    continue
                if self.union and is_whiteout(st):
                    hidden.add(name)
                    continue
                seen[name] = None
        return sorted(seen)


@dataclass
class Resolved:
    parent: View             # the directory that holds it (the caller closes it)
    name: str | None         # None: the root itself
    entry: Entry | None      # None: it does not exist
    path: str                # where it is, inside the root, symlinks resolved


def resolve(root_fds: list[int], union: bool, path: str, follow_last: bool) -> Resolved:
    """`path` inside the root (fds of its top-most layer first; not owned), every symlink
    resolved inside it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    stack: list[tuple[str, View]] = []
    links = 0

    def top() -> View:
        return stack[-1][1] if stack else root

    root = View([os.dup(fd) for fd in root_fds], union)
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if stack:
                    stack.pop()[1].close()
                continue
            here = top()
            e = here.entry(part)
            last = not parts
            if e is not None and stat.S_ISLNK(e.st.st_mode) and (follow_last or not last):
                links += 1
                if links > _MAX_LINKS:
                    raise CopyError(f"Too many levels of symbolic links in '{path}'")
                target = os.readlink(part, dir_fd=e.fd)
                if target.startswith("/"):
                    while stack:
                        stack.pop()[1].close()
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                continue
            where = "/" + "/".join([n for n, _ in stack] + [part])
            if last:
                parent = stack.pop()[1] if stack else root
                if parent is root:
                    root = View([], union)  # handed over
                return Resolved(parent, part, e, where)
            if e is None:
                raise NotFound(f"No such directory: {where}")
            if not stat.S_ISDIR(e.st.st_mode):
                raise CopyError(f"Not a directory: {where}")
            stack.append((part, here.child(part)))
        # the root itself
        if stack:
            name, view = stack.pop()
            parent = stack.pop()[1] if stack else root
            if parent is root:
                root = View([], union)
            view.close()
            e = parent.entry(name)
            return Resolved(parent, name, e, "/" + "/".join([n for n, _ in stack] + [name]))
        handed, root = root, View([], union)
        return Resolved(handed, None, None, "/")
    finally:
        for _, view in stack:
            view.close()
        root.close()


# -- writing ----------------------------------------------------------------------------------
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
        st = _lstat(name, self.fd)
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
        upper = _lstat(name, self.fd)
        seen = self._visible(name)
        if upper is not None and stat.S_ISDIR(upper.st_mode):
            fd = os.open(name, _DIR, dir_fd=self.fd)
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
            fd = os.open(name, _DIR, dir_fd=self.fd)
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
        upper = _lstat(name, self.fd)
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


def _open_file(entry: Entry) -> int:
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
        fd = _open_file(entry)
        try:
            dest.file(name, fd, st)
        finally:
            os.close(fd)
    elif stat.S_ISLNK(st.st_mode):
        dest.symlink(name, os.readlink(entry.name, dir_fd=entry.fd), st)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        dest.special(name, st.st_mode, st.st_rdev, st)
    # a socket is no file to copy: skipped, as tar does


# -- tar streams ----------------------------------------------------------------------------
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
        fd = _open_file(entry)
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
            fd = os.open(part, _DIR, dir_fd=fd)
            fds.append(fd)
        e = Entry(parts[-1], os.stat(parts[-1], dir_fd=fd, follow_symlinks=False), fd)
        src = _open_file(e)
        try:
            into.file(name, src, e.st)
        finally:
            os.close(src)
    finally:
        for fd in fds:
            os.close(fd)


def _spooled(data: IO[bytes]):
    """A tar stream read whole (in memory up to 64 MiB, then a temporary file): it is checked
    before it is written, and tarfile reads it again."""
    import shutil
    import tempfile
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)
    shutil.copyfileobj(data, spool, 1 << 20)
    spool.seek(0)
    return spool


# -- the roots ------------------------------------------------------------------------------
@dataclass
class Root:
    """Where a path is resolved: the fds of its layers (top first; container_root owns them)
    and whether they are overlayfs layers; `upper`: the first is their writable top (a
    stopped container's upper dir)."""
    fds: list[int]
    union: bool
    label: str                       # how errors name it: "container web", "the host"
    owner: Owner
    upper: bool = False
    # a stopped container's directory binds (named volumes, -v DIR): (destination, source, ro),
    # longest first: what is under one is read and written there, as the running one sees it
    mounts: tuple[tuple[str, str, bool], ...] = ()
    readonly: bool = False


def _directory_binds(containers: Containers, cid: str) -> tuple[tuple[str, str, bool], ...]:
    try:
        spec = containers.spec(cid)
    except (BockerError, OSError, ValueError):
        return ()
    binds = [(os.path.normpath(m.destination), m.source, "ro" in (m.options or []))
             for m in spec.mounts if m.type == "bind" and m.source and os.path.isdir(m.source)
             and os.path.normpath(m.destination) != "/"]
    return tuple(sorted(binds, key=lambda b: len(b[0]), reverse=True))


@contextlib.contextmanager
def _resolving(root: Root, path: str, follow_last: bool) -> Iterator[tuple[Root, Resolved, str | None]]:
    """`path` resolved in the root; for a stopped container, on into a directory bind that
    holds it (then resolved inside the bind's source: its own root). Yields the root it is
    in, the Resolved (its parent View closed after), and the name to show for a bind's own
    directory."""
    r = resolve(root.fds, root.union, path, follow_last)
    bind = next(((d, src, ro) for d, src, ro in root.mounts if r.path == d or r.path.startswith(d + "/")), None)
    if bind is None:
        with r.parent:
            yield root, r, None
        return
    r.parent.close()
    dest, source, ro = bind
    fd = os.open(source, _DIR)
    try:
        sub = Root([fd], False, root.label, root.owner, readonly=ro)
        rest = r.path[len(dest):] or "/"
        inner = resolve(sub.fds, False, rest, follow_last)
        shown = None
        if inner.name is None:  # the bind's own directory: its entry, under the name it has
            inner = Resolved(inner.parent, ".", Entry(".", os.fstat(fd), fd), "/")
            shown = os.path.basename(dest)
        with inner.parent:
            yield sub, inner, shown
    finally:
        os.close(fd)


@contextlib.contextmanager
def container_root(containers: Containers, ref: str, archive: bool, writing: bool) -> Iterator[Root]:
    c = containers.get(ref)
    label = f"container {c.name or c.id}"
    if c.status is Status.RESTARTING or c.starting:
        raise Conflict(f"Container '{ref}' is {'starting' if c.starting else 'restarting'}: "
                       "copy once it runs, or stop it first")
    if c.status is Status.BROKEN or c.record is None:
        raise Conflict(f"Container '{ref}' is broken ({c.problem}): nothing to copy")
    opened: list[int] = []
    try:
        if c.running:
            if not c.pid:
                raise Conflict(f"Container '{ref}' is running but has no process yet: try again")
            opened.append(os.open(f"/proc/{c.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            mapped = _mapped_root(containers, c.id)
            if mapped is not None and writing:
                # what we write lands through the idmapped view: as its root, ids shifted
                from .kernel.userns import files_as
                with files_as(*mapped):
                    yield Root(opened, False, label, Owner(archive, shift=mapped))
                return
            root = Root(opened, False, label, Owner(archive))
        else:
            cdir = containers.store.container_dir(c.id)
            upper = cdir / "upper"
            if writing:
                upper.mkdir(mode=0o755, exist_ok=True)
            if upper.is_dir():
                opened.append(os.open(upper, _DIR))
            for digest in reversed(c.record.layers):
                opened.append(os.open(containers.store.layer_dir(digest), _DIR))
            root = Root(opened, True, label, Owner(archive), upper=upper.is_dir(),
                        mounts=_directory_binds(containers, c.id))
        yield root
    finally:
        for fd in opened:
            with contextlib.suppress(OSError):
                os.close(fd)


def _mapped_root(containers: Containers, cid: str) -> tuple[int, int] | None:
    """The host's ids of a --userns=remap container's root, None for another container."""
    from .kernel.userns import host_root
    from .spec import Spec
    try:
        spec = Spec.load(str(containers.store.container_dir(cid) / "config.json"))
    except (OSError, BockerError):
        return None
    return host_root(spec) if spec.linux.namespace("user") is not None else None


@dataclass
class CopyResult:
    files: int
    bytes: int
    destination: str          # as the user named it
    source: str


def _open_dest_dir(root: Root, path: str, tally: Tally) -> Dest:
    """A Dest for the existing directory at `path` (resolved) inside the root; in a stopped
    container the directories on the way are copied up into the upper dir."""
    parts = [p for p in path.split("/") if p]
    if root.union:
        if not root.upper:
            raise CopyError(f"{root.label} has no upper dir to write into")
        here = Dest(os.dup(root.fds[0]), View([os.dup(fd) for fd in root.fds[1:]], True), "/", root.owner, tally)
    else:
        here = Dest(os.dup(root.fds[0]), None, "/", root.owner, tally)
    try:
        for part in parts:
            nxt = here.directory(part, create=False, replace=False)
            here.close()
            here = nxt
    except BaseException:
        here.close()
        raise
    return here


def _host_dest_dir(path: str, tally: Tally) -> Dest:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return Dest(fd, None, path, Owner(False, os.geteuid(), os.getegid()), tally)


def _os_error(err: OSError, where: str, root_label: str) -> BockerError:
    if err.errno == errno.EROFS:
        return CopyError(f"Can't write {where} in {root_label}: it is read-only (a --read-only root or a :ro mount)")
    if err.errno == errno.ENOSPC:
        return CopyError(f"Can't write {where} in {root_label}: no space left")
    if err.errno == errno.ELOOP:
        return CopyError(f"{where} in {root_label} changed into a symbolic link while it was copied: "
                         "nothing outside the root was touched; try again")
    return CopyError(f"Can't copy {where} ({root_label}): {err.strerror}")


def copy(containers: Containers, source: str, destination: str, *, archive: bool = False, follow_link: bool = False,
         stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> CopyResult:
    """Copy between a container and the host (or a tar stream, '-')."""
    src, dst = parse_endpoint(source), parse_endpoint(destination)
    if src.container is None and dst.container is None:
        raise InvalidArgument("cp copies between a container and the host: write one side as CONTAINER:PATH")
    if src.container is not None and dst.container is not None:
        raise InvalidArgument("cp copies between a container and the host, not between two containers: "
                              "copy to the host, then on")
    tally = Tally()
    if src.container is not None:
        with container_root(containers, src.container, archive, writing=False) as root:
            try:
                _from_container(root, src.path, dst.path, follow_link, tally, stdout)
            except OSError as err:
                raise _os_error(err, src.path, root.label) from None
    else:
        with container_root(containers, dst.container, archive, writing=True) as root:
            try:
                _into_container(root, src.path, dst.path, follow_link, archive, tally, stdin)
            except OSError as err:
                raise _os_error(err, dst.path, root.label) from None
    return CopyResult(tally.files, tally.bytes, destination, source)


def _source_contents_only(path: str) -> bool:
    return path.endswith("/.") or path == "."


def _copy_contents(parent: View, entry: Entry, dest: Dest) -> None:
    """What the directory `entry` holds, into `dest` (SRC/. to DEST)."""
    with parent.child(entry.name) as view:
        for child in view.names():
            e = view.entry(child)
            if e is not None:
                copy_entry(view, e, dest, child)


def _from_container(root: Root, path: str, host: str, follow_link: bool, tally: Tally,
                    stdout: IO[bytes] | None) -> None:
    contents = _source_contents_only(path)
    with _resolving(root, path, follow_link or path.endswith("/") or contents) as (root, r, shown):
        parent = r.parent
        entry, base = r.entry, shown or r.name
        if base is None:  # the whole root
            entry, base, contents = Entry(".", os.fstat(parent.fds[0]), parent.fds[0]), ".", True
        if entry is None:
            raise NotFound(f"No such file or directory in {root.label}: {path}")
        if host == "-":
            out = stdout if stdout is not None else os.fdopen(1, "wb", closefd=False)
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar_entry(tar, parent, entry, base, tally)
            out.flush()
            return
        is_dir = stat.S_ISDIR(entry.st.st_mode)
        try:
            target = os.stat(host)
        except FileNotFoundError:
            target = None
        if target is not None and stat.S_ISDIR(target.st_mode):
            with _host_dest_dir(host, tally) as dest:
                if is_dir and contents:
                    _copy_contents(parent, entry, dest)
                else:
                    copy_entry(parent, entry, dest, base)
            return
        if target is not None and is_dir:
            raise CopyError(f"Cannot copy a directory to a file: {host} exists and is not a directory")
        if target is None and host.endswith("/"):
            raise CopyError(f"Destination directory {host} does not exist")
        into, name = os.path.split(os.path.abspath(host))
        if not os.path.isdir(into):
            raise CopyError(f"Destination directory {into} does not exist")
        with _host_dest_dir(into, tally) as dest:
            copy_entry(parent, entry, dest, name)


def _host_source(host: str, follow_link: bool) -> tuple[View, Entry]:
    """The host file or directory to copy (with -L, a symlink's target) as a View of its
    directory and its Entry there."""
    path = os.path.abspath(host)
    if follow_link:
        path = os.path.realpath(path)
    directory, name = os.path.split(path)
    if not name:  # the host's /
        directory, name = "/", "."
    try:
        fd = os.open(directory or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"No such file or directory on the host: {host}") from None
    st = _lstat(name, fd)
    if st is None:
        os.close(fd)
        raise NotFound(f"No such file or directory on the host: {host}")
    return View([fd], False), Entry(name, st, fd)


def _into_container(root: Root, host: str, path: str, follow_link: bool, archive: bool, tally: Tally,
                    stdin: IO[bytes] | None) -> None:
    with _resolving(root, path, True) as (root, r, shown):
        if root.readonly:
            raise CopyError(f"Can't write {path} in {root.label}: it is read-only (a :ro mount)")
        exists = r.entry is not None
        target_is_dir = r.name is None or shown is not None or (exists and stat.S_ISDIR(r.entry.st.st_mode))
        if host == "-":
            if not target_is_dir:
                raise CopyError(f"Destination {path} in {root.label} must be an existing directory "
                                "to extract a tar stream into")
            data = stdin if stdin is not None else os.fdopen(0, "rb", closefd=False)
            with _spooled(data) as spool:
                try:
                    with tarfile.open(fileobj=spool, mode="r:*") as tar:
                        check_archive(tar)  # all of it, before anything is written
                        with _open_dest_dir(root, r.path, tally) as dest:
                            untar_into(tar, dest)
                except tarfile.TarError as err:
                    raise CopyError(f"Can't read the tar stream on stdin: {err}") from None
            return
        view, entry = _host_source(host, follow_link)
        with view:
            is_dir = stat.S_ISDIR(entry.st.st_mode)
            name = os.path.basename(os.path.abspath(host)) or "."
            if target_is_dir:
                into_path = r.path
                if is_dir and (_source_contents_only(host) or name == "."):
                    name = None
            else:
                if exists and is_dir:
                    raise CopyError(f"Cannot copy a directory to a file: {path} in {root.label} is not a directory")
                if not exists and path.endswith("/"):
                    raise CopyError(f"Destination directory {path} does not exist in {root.label}")
                into_path, name = r.path.rsplit("/", 1)[0] or "/", r.name
            with _open_dest_dir(root, into_path, tally) as dest:
                if name is None:
                    _copy_contents(view, entry, dest)
                else:
                    copy_entry(view, entry, dest, name)
