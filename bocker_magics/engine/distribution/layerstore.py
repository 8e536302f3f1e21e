"""The layer store: one directory per layer, layers/sha256/<hex>/, shared by every image
that has it. A layer comes in from a directory (init, commit, build: keyed by a digest of
the tree) or from a tar stream (pull, load: keyed by its diff_id, the digest of the
uncompressed tar); it goes when no image needs it. What push needs to upload a layer again
without re-making it (its compressed blob's digest, size, media type, source) is kept in
layers/meta/<hex>.json.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import DigestMismatch, InvalidArgument, LayerError
from ..store import Store, read_json, write_json
from .oci import OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD
from .reference import check_digest


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def tree_digest(root: Path) -> str:
    """A digest of a directory tree's content: names, types, modes, owners, data, link targets.

    Two trees with the same files get the same digest, so their layer is stored once.
    Times are left out so that the same content made twice is the same layer.
    """
    h = hashlib.sha256()

    def entry(path: str, rel: str) -> bool:
        st = os.lstat(path)
        h.update(f"{rel}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode("utf-8", "surrogateescape"))
        # xattrs too: an opaque directory (trusted.overlay.opaque) is not a plain one
        for name in sorted(os.listxattr(path, follow_symlinks=False)):
            h.update(f"{name}=".encode() + os.getxattr(path, name, follow_symlinks=False) + b"\0")
        if stat.S_ISREG(st.st_mode):
            h.update(f"{st.st_size}\0".encode())
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        elif stat.S_ISLNK(st.st_mode):
            h.update(os.fsencode(os.readlink(path)))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            h.update(f"{st.st_rdev}".encode())
        h.update(b"\n")
        return stat.S_ISDIR(st.st_mode)

    def walk(path: str, rel: str) -> None:
        if entry(path, rel):
            for name in sorted(os.listdir(path)):
                walk(os.path.join(path, name), f"{rel}/{name}")

    walk(str(root), ".")
    return "sha256:" + h.hexdigest()


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a tree exactly (owners, modes, links, devices, xattrs); reflinks where the fs can."""
    dst.mkdir(parents=True, exist_ok=True)
    import subprocess  # only here: `bocker images` and a cached build never copy a tree
    result = subprocess.run(
        ["cp", "-a", "--reflink=auto", "--", f"{src}/.", str(dst)],
        capture_output=True, text=True,
    )
    if result.returncode:
        raise InvalidArgument(f"Could not copy '{src}': {result.stderr.strip().splitlines()[-1]}")


class LayerStore:
    """The layers of one BOCKER_ROOT."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.meta_dir = store.layer_meta

    def has(self, diff_id: str) -> bool:
        return self.store.layer_dir(diff_id).is_dir()

    def meta(self, key: str) -> dict[str, Any]:
        try:
            return read_json(self.meta_dir / f"{key.split(':', 1)[1]}.json")
        except (FileNotFoundError, ValueError):
            return {}

    def add_blob_meta(self, key: str, blob: dict[str, Any]) -> None:
        """Remember a compressed form of layer `key` (for push to reuse)."""
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        with self.store.lock():
            meta = self.meta(key)
            blobs = [b for b in meta.get("blobs", []) if b.get("digest") != blob["digest"]
                     or b.get("source") != blob.get("source")]
            meta["blobs"] = ([blob] + blobs)[:8]
            write_json(self.meta_dir / f"{key.split(':', 1)[1]}.json", meta, fsync=False)

    def add_from_stream(self, blob: BinaryIO, diff_id: str | None, verify: Callable[[], None] | None = None,
                        on_extract: Callable[[], None] | None = None) -> str:
        """Extract a layer blob (any compression) into the store. `diff_id`, when known, is
        checked (and a layer already stored is not extracted again by the caller); `verify`
        is called once the blob was read to its end (its digest and size). Returns the
        layer's key (its diff_id)."""
        if diff_id is not None:
            check_digest(diff_id)
        tmp = self.store.mkdtemp("layer-")
        try:
            dest = tmp / "layer"
            dest.mkdir(mode=0o755)
            from . import layers as layerfmt  # tarfile, zlib: only when a layer comes in
            dec = layerfmt.Decompressed(blob)
            if on_extract:
                on_extract()
            try:
                layerfmt.extract(dec, dest)
                dec.drain()
            except LayerError:
                # a blob that is not what its digest says is reported as that, not as the
                # broken tar or gzip it unpacks to
                if verify:
                    while blob.read(1 << 20):
                        pass
                    verify()
                raise
            if verify:
                verify()
            got = dec.digest
            if diff_id is not None and got != diff_id:
                raise DigestMismatch(f"The layer {short(diff_id)} unpacks to a tar with the digest "
                                     f"{short(got)}, not the {short(diff_id)} its image config says: refused")
            final = self.store.layer_dir(got)
            try:
                os.rename(dest, final)
            except OSError:
                if not final.is_dir():
                    raise  # else: another engine stored the same layer meanwhile: share it
            return got
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def blob_for(self, key: str, gzip: bool = True, compression: str | None = None) -> tuple[Path, dict[str, Any]]:
        """The layer `key` made into a tar blob in a scratch dir (gzip, or `compression`: gzip |
        zstd | none): (path of the blob, descriptor with digest, size, mediaType and diff_id).
        The caller removes path.parent."""
        compression = compression or ("gzip" if gzip else "none")
        tmp = self.store.mkdtemp("blob-")
        try:
            path = tmp / "blob"
            from . import layers as layerfmt
            with open(path, "wb") as f:
                diff_id, digest, size = layerfmt.write_blob(self.store.layer_dir(key), f, compression=compression)
            media = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, "none": OCI_LAYER}[compression]
            return path, {"mediaType": media, "digest": digest, "size": size, "diff_id": diff_id}
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def add_from_dir(self, tree: Path) -> str:
        """Move a finished tree (under store.tmp) into the layer store; returns its digest."""
        digest = tree_digest(tree)
        final = self.store.layer_dir(digest)
        try:
            os.rename(tree, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tree)  # the same layer is already stored: share it
        return digest

    def drop_unused(self, layers: list[str], used: set[str]) -> None:
        """Remove the layers of `layers` that no image in `used` needs (call it under the
        store lock)."""
        for digest in set(layers) - used:
            path = self.store.layer_dir(digest)
            # rename first: a half-deleted layer must never be used as a lowerdir
            trash = self.store.mkdtemp("rm-layer-")
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, trash / "layer")
            shutil.rmtree(trash, ignore_errors=True)
            # what push knew of its compressed forms
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.meta_dir / f"{path.name}.json")
