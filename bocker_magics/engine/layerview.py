"""An image's root file system as its layers show it, read without mounting anything.

    view = LayerView([store.layer_dir(d) for d in reversed(image.layers)])   # top-most first
    view.read_file("/etc/passwd")        # bytes, or None when the image has no such file
    view.lstat("/usr/bin")               # os.stat_result of what the overlay would show
    view.resolve("/bin/sh")              # symlinks followed inside the image's root: "/bin/busybox"
    view.listdir("/etc")                 # {name: Node} merged over the layers

Layers are in overlayfs form (a deleted path is a character device 0/0, a directory that
hides everything below it has trusted.overlay.opaque=y): a path is looked up one component
at a time from the top-most layer down, as the overlay does, so a whiteout hides the lower
layers' copy, a file hides a lower directory, and an opaque directory stops the merge.
Symlinks are resolved against the image's root, never the host's (an absolute link target
starts at the image's /, a `..` never climbs above it). Stdlib only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .changes import is_opaque, is_whiteout  # one reading of overlayfs' marks

MAX_SYMLINKS = 40   # as the kernel's ELOOP limit


class SymlinkLoop(OSError):
    """Too many symlinks while resolving a path inside an image."""


@dataclass(frozen=True)
class Node:
    """What a path is in the merged view: the layer file that shows it and its stat."""
    path: Path                  # the real path inside one layer directory
    st: os.stat_result
    layers: tuple[Path, ...]    # for a directory: the layers whose copies merge into it (top first)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.st.st_mode)


def split(path: str) -> list[str]:
    """An absolute or relative path inside the image as its components (`.` dropped, `..`
    kept for the caller to apply)."""
    return [p for p in path.split("/") if p not in ("", ".")]


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


class LayerView:
    """The merged view of layer directories, top-most first."""

    def __init__(self, layers_top_first: list[Path] | tuple[Path, ...]) -> None:
        self.layers = tuple(Path(p) for p in layers_top_first)

    # -- one path, no symlinks followed --------------------------------------------------------
    def node(self, path: str) -> Node | None:
        """What the overlay shows at `path` (its components taken literally: a symlink on the
        way is not followed, and then nothing is below it), or None."""
        parts = split(path)
        if ".." in parts:
            raise ValueError(f"{path}: resolve '..' first (LayerView.resolve)")
        layers = self.layers
        node: Node | None = None
        if not parts:
            return self._root()
        for i in range(len(parts)):
            found: tuple[Path, os.stat_result] | None = None
            merged: list[Path] = []
            rel = parts[:i + 1]
            for layer in layers:
                p = layer.joinpath(*rel)
                st = _lstat(p)
                if st is None:
                    continue
                if is_whiteout(st):
                    break                         # deleted here: the layers below are hidden
                if found is None:
                    found = (p, st)
                    if not stat.S_ISDIR(st.st_mode):
                        break                     # a non-directory hides whatever is below
                    merged.append(layer)
                    if is_opaque(p):
                        break
                elif stat.S_ISDIR(st.st_mode):
                    merged.append(layer)          # directories merge
                    if is_opaque(p):
                        break
                else:
                    break                         # a lower non-directory under a directory: hidden
            if found is None:
                return None
            node = Node(found[0], found[1], tuple(merged))
            if i < len(parts) - 1:
                if not node.is_dir:
                    return None                   # a file (or a link) where a directory would be
                layers = node.layers
        return node

    def _root(self) -> Node | None:
        merged: list[Path] = []
        for layer in self.layers:
            merged.append(layer)
            if is_opaque(layer):
                break
        if not merged:
            return None
        return Node(merged[0], os.lstat(merged[0]), tuple(merged))

    # -- symlinks --------------------------------------------------------------------------------
    def resolve(self, path: str, follow_last: bool = True) -> str:
        """`path` with every symlink on it resolved inside the image's root: an absolute path
        whose components are all directories but (maybe) the last. A path that doesn't exist
        resolves as far as it exists; the rest is appended as written."""
        todo = split(path)
        done: list[str] = []
        links = 0
        while todo:
            name = todo.pop(0)
            if name == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join(done + [name])
            node = self.node(candidate)
            if node is not None and node.is_symlink and (todo or follow_last):
                links += 1
                if links > MAX_SYMLINKS:
                    raise SymlinkLoop(f"{path}: too many levels of symbolic links in the image")
                target = os.readlink(node.path)
                if target.startswith("/"):
                    done = []
                todo = split(target) + todo
                continue
            done.append(name)
            if node is None:
                done.extend(p for p in todo if p != "..")   # what doesn't exist is taken as written
                break
        return "/" + "/".join(done)

    # -- reading ---------------------------------------------------------------------------------
    def lstat(self, path: str) -> os.stat_result | None:
        node = self.node(path)
        return node.st if node is not None else None

    def exists(self, path: str) -> bool:
        return self.node(path) is not None

    def read_file(self, path: str, limit: int = 16 << 20) -> bytes | None:
        """A regular file's content (symlinks followed inside the image), or None."""
        node = self.node(self.resolve(path))
        if node is None or not stat.S_ISREG(node.st.st_mode):
            return None
        with open(node.path, "rb") as f:
            return f.read(limit)

    def listdir(self, path: str) -> dict[str, Node]:
        """The merged entries of a directory (no symlinks followed on `path`'s last part)."""
        directory = self.node(path)
        if directory is None or not directory.is_dir:
            return {}
        out: dict[str, Node] = {}
        hidden: set[str] = set()
        for layer_dir in (layer.joinpath(*split(path)) for layer in directory.layers):
            try:
                names = os.listdir(layer_dir)
            except OSError:
                continue
            for name in names:
                if name in out or name in hidden:
                    continue
                child = self.node(f"{path.rstrip('/')}/{name}")
                if child is None:
                    hidden.add(name)
                else:
                    out[name] = child
        return dict(sorted(out.items()))

    def walk(self, path: str = "/"):
        """(path, Node) for `path` and everything below it, parents first, names sorted;
        symlinks are listed, not followed."""
        top = self.node(path)
        if top is None:
            return
        yield ("/" + "/".join(split(path))), top
        if top.is_dir:
            stack = [("/" + "/".join(split(path))).rstrip("/")]
            while stack:
                current = stack.pop()
                children = self.listdir(current or "/")
                below = []
                for name, child in children.items():
                    p = f"{current}/{name}"
                    yield p, child
                    if child.is_dir:
                        below.append(p)
                stack.extend(reversed(below))
