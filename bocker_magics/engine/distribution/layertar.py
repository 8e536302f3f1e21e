"""A layer dir (overlay form: whiteouts as 0/0 devices, opaque dirs by xattr) back to a tar
in registry form, and as a compressed blob with its digests (commit, push, save)."""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .compression import _GzipWriter, _HashingWriter, _ZstdWriter
from .layers import _FORBIDDEN_XATTR, _XATTR_PAX, OPAQUE, OPAQUE_XATTR, WHITEOUT


def _tarinfo(path: str, rel: str, st: os.stat_result) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(rel)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.mtime = int(st.st_mtime)
    xattrs = {}
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        if not name.startswith(_FORBIDDEN_XATTR):
            value = os.getxattr(path, name, follow_symlinks=False)
            xattrs[_XATTR_PAX + name] = value.decode("utf-8", "surrogateescape")
    ti.pax_headers = xattrs
    return ti


def _entries(root: str) -> Iterator[tuple[str, str, os.stat_result]]:
    def rec(path: str, rel: str) -> Iterator[tuple[str, str, os.stat_result]]:
        for name in sorted(os.listdir(path)):
            p, r = os.path.join(path, name), f"{rel}{name}"
            st = os.lstat(p)
            yield p, r, st
            if stat.S_ISDIR(st.st_mode):
                yield from rec(p, r + "/")
    yield from rec(root, "")


def write_tar(layer_dir: Path, out: BinaryIO) -> None:
    """A layer dir (overlay form, as commit and pull make them) as a layer tar: char 0/0
    becomes `.wh.NAME`, an opaque directory gets a `.wh..wh..opq` entry, hard links stay links.
    The same dir gives the same bytes (sorted names, no user names, PAX format)."""
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:
        for path, rel, st in _entries(str(layer_dir)):
            mode = st.st_mode
            if stat.S_ISCHR(mode) and st.st_rdev == 0:
                head, _, name = rel.rpartition("/")
                ti = tarfile.TarInfo(f"{head}/{WHITEOUT}{name}" if head else f"{WHITEOUT}{name}")
                ti.mtime, ti.mode, ti.uname, ti.gname = int(st.st_mtime), 0o644, "", ""
                tf.addfile(ti)
                continue
            ti = _tarinfo(path, rel, st)
            if stat.S_ISDIR(mode):
                ti.type = tarfile.DIRTYPE
                opaque = False
                try:
                    opaque = os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
                except OSError:
                    pass
                tf.addfile(ti)
                if opaque:
                    marker = tarfile.TarInfo(f"{rel}/{OPAQUE}")
                    marker.mtime, marker.mode, marker.uname, marker.gname = int(st.st_mtime), 0o644, "", ""
                    tf.addfile(marker)
            elif stat.S_ISREG(mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    ti.type, ti.linkname = tarfile.LNKTYPE, links[key]
                    tf.addfile(ti)
                    continue
                if st.st_nlink > 1:
                    links[key] = rel
                ti.size = st.st_size
                with open(path, "rb") as f:
                    tf.addfile(ti, f)
            elif stat.S_ISLNK(mode):
                ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
                tf.addfile(ti)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                tf.addfile(ti)
            elif stat.S_ISFIFO(mode):
                ti.type = tarfile.FIFOTYPE
                tf.addfile(ti)
            # sockets have no tar form: left out, as Docker does


def write_blob(layer_dir: Path, out: BinaryIO, gzip: bool = True, compression: str | None = None
               ) -> tuple[str, str, int]:
    """The layer as a tar blob into `out`, compressed with `compression` (gzip | zstd | none;
    None: gzip when `gzip`). Returns (diff_id, blob digest, blob size)."""
    hw = _HashingWriter(out)
    if compression is None:
        compression = "gzip" if gzip else "none"
    if compression == "zstd":
        zw = _ZstdWriter(hw)
        write_tar(layer_dir, zw)  # type: ignore[arg-type]
        zw.close()
        return "sha256:" + zw.raw.sha.hexdigest(), "sha256:" + hw.sha.hexdigest(), hw.size
    if compression == "gzip":
        gz = _GzipWriter(hw, level=1)
        write_tar(layer_dir, gz)  # type: ignore[arg-type]
        gz.close()
        return "sha256:" + gz.raw.sha.hexdigest(), "sha256:" + hw.sha.hexdigest(), hw.size
    write_tar(layer_dir, hw)  # type: ignore[arg-type]
    digest = "sha256:" + hw.sha.hexdigest()
    return digest, digest, hw.size
