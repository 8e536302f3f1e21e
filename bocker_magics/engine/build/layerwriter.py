"""A new layer written file by file over an image, as an overlay upper dir would hold it.

    w = LayerWriter(scratch / "layer", LayerView(lower_dirs_top_first))
    w.ensure_dir("/app", uid=1000, gid=1000)                 # made, or copied up from the image
    w.put(Entry(...), "/app/a.txt", uid=0, gid=0)            # a file, link, fifo, device or dir
    w.size, w.empty

This is what COPY, ADD and WORKDIR make: the same form a container's upper dir has after a
RUN (and `commit` keeps), so every layer of a build is alike. A directory on the way that the
image already has is "copied up": made in the layer with the image's mode, owner, times and
extended attributes, exactly as the kernel's overlay does before it writes below it, so the
merged view keeps the image's metadata. A directory the image lacks is made 0755, owned by
the step's --chown user (root otherwise), as BuildKit and buildah make it.

Only what the caller names is written: nothing is ever deleted here (a COPY never deletes;
RUN's deletions are the container's whiteouts).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from bocker_magics.errors import ContextError

from ..layerview import LayerView, split

_SKIP_XATTRS = ("trusted.overlay.",)


def copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith(_SKIP_XATTRS):
            continue
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass   # a file system without that namespace: the data is what matters


class LayerWriter:
    def __init__(self, root: Path, below: LayerView) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o755, exist_ok=True)
        self.below = below
        self.size = 0
        self.count = 0

    @property
    def empty(self) -> bool:
        return self.count == 0

    def _here(self, path: str) -> Path:
        return self.root.joinpath(*split(path))

    # -- directories -------------------------------------------------------------------------
    def ensure_dir(self, path: str, uid: int = 0, gid: int = 0, mode: int = 0o755) -> None:
        """`path` and its parents as directories in the layer: copied up where the image has
        them, made with (uid, gid, mode) where it doesn't. `path` has its symlinks resolved."""
        parts = split(path)
        for n in range(1, len(parts) + 1):
            self._dir("/" + "/".join(parts[:n]), uid, gid, mode)

    def _dir(self, path: str, uid: int, gid: int, mode: int) -> None:
        here = self._here(path)
        st = _lstat(here)
        if st is not None:
            if not stat.S_ISDIR(st.st_mode):
                raise ContextError(f"{path}: this step made it a file, and now copies into it as a directory")
            return
        node = self.below.node(path)
        if node is not None and not node.is_dir:
            raise ContextError(f"{path} is a file in the image (not a directory): can't copy into it")
        os.mkdir(here, 0o700)
        self.count += 1
        if node is not None:                 # copy-up: the image's directory, as it is
            src = node.st
            os.chown(here, src.st_uid, src.st_gid)
            os.chmod(here, stat.S_IMODE(src.st_mode))
            copy_xattrs(str(node.path), str(here))
            os.utime(here, ns=(src.st_atime_ns, src.st_mtime_ns))
        else:
            os.chown(here, uid, gid)
            os.chmod(here, mode)

    # -- entries -------------------------------------------------------------------------------
    def put(self, kind: str, path: str, *, source: str | None = None, mode: int = 0o644, uid: int = 0,
            gid: int = 0, link: str | None = None, rdev: int = 0, mtime_ns: int | None = None,
            parents_uid: int = 0, parents_gid: int = 0) -> None:
        """Write one entry at `path` (its parent directories made first, with parents_uid/gid
        where the image lacks them): kind file (data from `source`), dir, symlink (to `link`),
        fifo, char or block (rdev)."""
        parent, name = os.path.split("/" + "/".join(split(path)))
        if not name:
            raise ContextError("can't copy over the image's root directory itself")
        self.ensure_dir(parent, parents_uid, parents_gid)
        here = self._here(path)
        existing = _lstat(here)
        below = self.below.node(path) if existing is None else None
        if kind == "dir":
            if below is not None and not below.is_dir:
                raise ContextError(f"{path} is a file in the image: can't replace it with a directory")
            if existing is not None and not stat.S_ISDIR(existing.st_mode):
                os.unlink(here)
                existing = None
            if existing is None:
                os.mkdir(here, 0o700)
                self.count += 1
            os.chown(here, uid, gid)
            os.chmod(here, mode)
            if mtime_ns is not None:
                os.utime(here, ns=(mtime_ns, mtime_ns))
            return
        if below is not None and below.is_dir:
            raise ContextError(f"{path} is a directory in the image: can't replace it with a {kind}")
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                shutil.rmtree(here)
            else:
                os.unlink(here)
        if kind == "file":
            shutil.copyfile(source, here, follow_symlinks=False)
            self.size += os.lstat(here).st_size
        elif kind == "symlink":
            os.symlink(link, here)
        elif kind == "fifo":
            os.mkfifo(here, 0o600)
        elif kind in ("char", "block"):
            os.mknod(here, (stat.S_IFCHR if kind == "char" else stat.S_IFBLK) | 0o600, rdev)
        else:
            raise ContextError(f"{path}: a {kind} can't be copied into an image")
        self.count += 1
        os.chown(here, uid, gid, follow_symlinks=False)
        if kind != "symlink":
            os.chmod(here, mode)   # after chown, which clears setuid and setgid
        if source is not None and kind == "file":
            copy_xattrs(source, str(here))
        if mtime_ns is not None:
            os.utime(here, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def apply_chmod(spec: str | None, mode: int, is_dir: bool) -> int:
    """--chmod: octal ("0755") or chmod(1)'s symbolic form ("u=rwX,go=rX"), over `mode`."""
    if spec is None:
        return mode
    if all(c in "01234567" for c in spec):
        return int(spec, 8) & 0o7777
    out = mode & 0o7777
    for clause in spec.split(","):
        i = 0
        who = ""
        while i < len(clause) and clause[i] in "ugoa":
            who += clause[i]
            i += 1
        if not who or "a" in who:
            who = "ugo"
        while i < len(clause):
            op = clause[i]
            i += 1
            perms = ""
            while i < len(clause) and clause[i] not in "+-=":
                perms += clause[i]
                i += 1
            bits = 0
            for target in who:
                shift = {"u": 6, "g": 3, "o": 0}[target]
                for p in perms:
                    if p == "r":
                        bits |= 4 << shift
                    elif p == "w":
                        bits |= 2 << shift
                    elif p == "x" or (p == "X" and (is_dir or out & 0o111)):
                        bits |= 1 << shift
                    elif p == "s" and target in "ug":
                        bits |= 0o4000 if target == "u" else 0o2000
                    elif p == "t" and target == "o":
                        bits |= 0o1000
                    elif p in "ugo":
                        src = {"u": 6, "g": 3, "o": 0}[p]
                        bits |= ((out >> src) & 7) << shift
            if op == "+":
                out |= bits
            elif op == "-":
                out &= ~bits
            else:
                mask = 0
                for target in who:
                    mask |= 7 << {"u": 6, "g": 3, "o": 0}[target]
                out = (out & ~mask) | bits
    return out
