"""A directory as overlayfs (or a plain filesystem) shows it, and a path resolved in a root one
component at a time, never following a symlink or '..' out of it."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass

from ...errors import CopyError, NotFound
from ..changes import is_opaque, is_whiteout

DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40


def lstat_at(name: str, fd: int) -> os.stat_result | None:
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
            st = lstat_at(name, fd)
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
                st = lstat_at(name, fd)
                if st is None:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    break
                fds.append(os.open(name, DIR, dir_fd=fd))
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
                st = lstat_at(name, fd)
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


