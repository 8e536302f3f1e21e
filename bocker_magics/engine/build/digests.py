"""What a COPY or ADD reads, and the digest its cache key holds, from plain data: the builder
computes it from the step, and a cached rebuild (record.py) from what the last build
recorded, with this one code, so both get the same digest for the same files.

    spec = CopySpec.of(step)                       # the expanded COPY/ADD's fields that choose files
    srcs, archives, digest = context_inputs(spec, ctx)
    srcs, archives, digest = view_inputs(spec, view, scratch)   # COPY --from: a stage's or image's files

ADD unpacks a local tar archive (plain, gzip, bzip2, xz, zstd; told by its bytes, not its
name); which sources are archives is part of the digest.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .context import BuildContext, Source, content_digest, sources
from .patterns import clean, has_wildcards


@dataclass(frozen=True)
class InlineData:
    """A here-document source (COPY <<EOF), as content_digest reads it."""
    path: str
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class CopySpec:
    sources: tuple[str, ...]
    excludes: tuple[str, ...] = ()
    parents: bool = False
    chown: str | None = None
    chmod: str | None = None
    inline: tuple[InlineData, ...] = ()
    unpack: bool = False            # ADD: local archives are unpacked
    from_: str | None = None        # COPY --from

    @classmethod
    def of(cls, step) -> CopySpec:
        unpack = step.keyword == "ADD" and getattr(step, "unpack", None) is not False
        return cls(tuple(step.sources), tuple(step.excludes), step.parents, step.chown, step.chmod,
                   tuple(InlineData(f.path, f.content, f.mode) for f in step.inline), unpack, step.from_)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CopySpec:
        data = dict(data)
        data["inline"] = tuple(InlineData(**f) for f in data.get("inline") or ())
        for key in ("sources", "excludes"):
            data[key] = tuple(data.get(key) or ())
        return cls(**data)


def context_inputs(spec: CopySpec, ctx: BuildContext) -> tuple[list[Source], set[int], str]:
    srcs = ctx.sources(list(spec.sources), excludes=list(spec.excludes), parents=spec.parents)
    archives = archive_sources(spec, srcs)
    digest = content_digest(srcs, inline=spec.inline, chown=spec.chown, chmod=spec.chmod)
    return srcs, archives, digest + _archive_mark(archives)


def view_inputs(spec: CopySpec, view, scratch: Path) -> tuple[list[Source], set[int], str]:
    """COPY --from: the named paths of a stage's or an image's files, materialized under
    `scratch` (hard links to the layers' files, which nothing writes to), then read with the
    build context's rules; their owners are part of the digest (they are copied)."""
    scratch.mkdir(parents=True, exist_ok=True)
    for pattern in spec.sources:
        materialize(view, pattern, scratch)
    srcs = sources(scratch, list(spec.sources), excludes=list(spec.excludes), parents=spec.parents)
    archives = archive_sources(spec, srcs)
    digest = content_digest(srcs, inline=spec.inline, chown=spec.chown, chmod=spec.chmod, owners=True)
    return srcs, archives, digest + _archive_mark(archives)


# -- archives (ADD) ---------------------------------------------------------------------------------
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


def archive_sources(spec: CopySpec, srcs: list[Source]) -> set[int]:
    if not spec.unpack:
        return set()
    return {i for i, s in enumerate(srcs) if s.type == "file" and is_archive(s.entries[0].abspath)}


def _archive_mark(archives: set[int]) -> str:
    return f"+unpack{sorted(archives)}" if archives else ""


def compression(head: bytes) -> str | None:
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(6)
            f.seek(0)
            block = f.read(512) if compression(head) is None else decompressed(f).read(512)
    except (OSError, EOFError, ValueError):
        return False
    if len(block) < 512:
        return False
    if block[257:262] == b"ustar":
        return True
    import tarfile
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")   # a v7 tar: its checksum holds
        return True
    except tarfile.HeaderError:
        return False


def decompressed(f) -> io.RawIOBase:
    head = f.read(6)
    f.seek(0)
    kind = compression(head)
    if kind == "bzip2":
        import bz2
        return bz2.BZ2File(f)
    if kind == "xz":
        import lzma
        return lzma.LZMAFile(f)
    if kind in ("gzip", "zstd"):
        from ..distribution.layers import Decompressed
        return Decompressed(f)
    return f


# -- COPY --from: a stage's or an image's files as a directory ------------------------------------
def materialize(view, pattern: str, scratch: Path) -> None:
    """The part of the image a source pattern can reach, under `scratch` at the path as
    written: the pattern's directory part up to its first wildcard (symlinks on it followed
    inside the image), and everything below."""
    rel = clean("/" + pattern).lstrip("/")
    parts = [p for p in rel.split("/") if p]
    first = next((i for i, p in enumerate(parts) if has_wildcards(p)), len(parts))
    written = parts[:first]
    target = scratch.joinpath(*written) if written else scratch
    real = view.resolve("/" + "/".join(written))
    if view.node(real) is None:
        return                                 # sources() then says it isn't there
    if target != scratch and os.path.lexists(target):
        return                                 # another pattern brought it already
    target.parent.mkdir(parents=True, exist_ok=True)
    for path, n in view.walk(real):
        rel_path = path[len(real.rstrip("/")):].lstrip("/")
        out = target / rel_path if rel_path else target
        st = n.st
        if n.is_dir:
            out.mkdir(exist_ok=True)
            os.chown(out, st.st_uid, st.st_gid)
            os.chmod(out, stat.S_IMODE(st.st_mode))
        elif stat.S_ISREG(st.st_mode):
            try:
                os.link(n.path, out)
            except OSError:
                shutil.copy2(n.path, out)
                os.chown(out, st.st_uid, st.st_gid)
        elif n.is_symlink:
            os.symlink(os.readlink(n.path), out)
            os.chown(out, st.st_uid, st.st_gid, follow_symlinks=False)
        elif stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(out, st.st_mode, st.st_rdev)
            os.chown(out, st.st_uid, st.st_gid)
