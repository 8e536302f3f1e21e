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

    view.py       a directory as overlayfs shows it; a path resolved inside a root
    dest.py       writing: a destination directory, owners, one entry copied into it
    tarstream.py  `-`: an entry to a tar stream, a checked tar stream into a destination
    here          the arguments, the roots (a running container's, a stopped one's), the verb
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

from ...errors import BockerError, Conflict, CopyError, InvalidArgument, NotFound
from ..container.status import Status
from .dest import Dest, Owner, Tally, copy_entry
from .tarstream import check_archive, spooled, tar_entry, untar_into
from .view import DIR, Entry, Resolved, View, lstat_at, resolve

if TYPE_CHECKING:
    from ..container import Containers

_DIR = DIR  # the name other verbs that open a container's layers (export) take from here


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
    fd = os.open(source, DIR)
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
                from ..kernel.userns import files_as
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
                opened.append(os.open(upper, DIR))
            for digest in reversed(c.record.layers):
                opened.append(os.open(containers.store.layer_dir(digest), DIR))
            root = Root(opened, True, label, Owner(archive), upper=upper.is_dir(),
                        mounts=_directory_binds(containers, c.id))
        yield root
    finally:
        for fd in opened:
            with contextlib.suppress(OSError):
                os.close(fd)


def _mapped_root(containers: Containers, cid: str) -> tuple[int, int] | None:
    """The host's ids of a --userns=remap container's root, None for another container."""
    from ..kernel.userns import host_root
    from ..spec import Spec
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
    st = lstat_at(name, fd)
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
            with spooled(data) as spool:
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
