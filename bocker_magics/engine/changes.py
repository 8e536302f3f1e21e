"""What an overlay upper dir changes over its lower dirs, as `docker diff` shows it.

    changes(upper, [lower_top, …, lower_bottom]) -> [Change("C", "/etc"), Change("A", "/etc/x"), …]

The upper dir is in overlayfs form: a deleted path is a whiteout (a character device 0/0),
and a directory that hides everything below it is opaque (xattr trusted.overlay.opaque=y).
A path is A(dded) when no lower dir shows it, C(hanged) when one does, D(eleted) for a
whiteout. Stdlib only: the views and the CLI both use it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NotFound

if TYPE_CHECKING:
    from .container import Containers
    from .images import ImageStore
    from .store import Store

OPAQUE_XATTR = "trusted.overlay.opaque"


@dataclass(frozen=True)
class Change:
    kind: str            # "A", "C" or "D"
    path: str            # absolute, as seen in the container: /etc/hostname
    type: str            # file, dir, symlink, whiteout, fifo, socket, char, block
    size: int | None = None
    opaque: bool = False  # a directory that hides the lower dirs' content


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str | os.PathLike[str] | int) -> bool:
    """A directory (a path, never followed if a link, or an open fd) overlayfs marked opaque."""
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=isinstance(path, int)) == b"y"
    except OSError:
        return False


def _type(st: os.stat_result) -> str:
    mode = st.st_mode
    if is_whiteout(st):
        return "whiteout"
    for test, name in ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "char"),
                       (stat.S_ISBLK, "block")):
        if test(mode):
            return name
    return "other"


def lower_path(rel: str, lowers: list[Path]) -> Path | None:
    """The lower dir's copy of `rel` that the overlay shows under the upper dir, or None:
    the top-most lower that has it, unless a whiteout or an opaque dir above hides it."""
    parts = rel.split("/")
    for lower in lowers:
        hidden_below = False
        for i in range(1, len(parts)):
            anc = lower.joinpath(*parts[:i])
            if is_opaque(anc):
                hidden_below = True
        p = lower / rel
        try:
            st = p.lstat()
        except (FileNotFoundError, NotADirectoryError):
            if hidden_below:
                return None
            continue
        return None if is_whiteout(st) else p
    return None


def changes(upper: str | os.PathLike[str], lowers: list[str | os.PathLike[str]]) -> list[Change]:
    """Every change of `upper` over `lowers` (top-most first), sorted by path."""
    upper, lower_dirs = Path(upper), [Path(p) for p in lowers]
    out: list[Change] = []
    for dirpath, dirnames, filenames in os.walk(upper):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, upper)
            st = os.lstat(full)
            kind_of = _type(st)
            if kind_of == "whiteout":
                out.append(Change("D", "/" + rel, "whiteout"))
                continue
            below = lower_path(rel, lower_dirs)
            opaque = kind_of == "dir" and is_opaque(full)
            size = st.st_size if kind_of == "file" else None
            out.append(Change("C" if below is not None else "A", "/" + rel, kind_of, size, opaque))
    return sorted(out, key=lambda c: c.path)


def diff_dirs(store: Store, containers: Containers, images: ImageStore, ref: str) -> tuple[Path, list[Path]]:
    """The upper dir and the lower dirs (top-most first) that `diff` compares: a container's
    upper dir over its image's layers, or an image's top layer over the layers below it."""
    c = containers.find(ref) if not ref.startswith("img_") else None
    if c is not None and c.record is not None:
        lowers = [store.layer_dir(d) for d in reversed(c.record.layers)]
        return store.container_dir(c.id) / "upper", lowers
    img = images.find(ref)
    if img is None:
        raise NotFound(f"No container or image named '{ref}' exists")
    top_first = [store.layer_dir(d) for d in reversed(img.layers)]
    return top_first[0], top_first[1:]
