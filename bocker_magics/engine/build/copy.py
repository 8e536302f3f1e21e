"""COPY and ADD: what a step takes (and the digest the cache keys it by), and the layer it makes.

    plan = CopyPlan.from_context(step, ctx)             # sources from the build context
    plan = CopyPlan.from_view(step, view, scratch)      # COPY --from=STAGE|IMAGE: from its files
    plan.digest                                         # "sha256:..." of what is copied
    plan.write(writer, workdir, owner)                  # into a LayerWriter; owner: --chown ids or None

Docker's rules: a relative destination is under WORKDIR; with several sources, or a
wildcard, the destination is a directory (and must end with /); a directory source copies
its contents, not itself; a file source lands at the destination, or under it when it ends
with / or is a directory in the image. Files from the context are root's unless --chown;
files from a stage or an image keep their owners. --chmod sets the mode of what is copied.
ADD also unpacks a local tar archive (plain, gzip, bzip2, xz, zstd) into the destination
directory, keeping its owners and modes; ADD of a URL is refused (a build never reaches the
network by surprise: download the file, then COPY it).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bocker_magics.errors import ContextError

from ..layerview import LayerView
from .context import BuildContext, Entry, Source, sources
from .digests import CopySpec, context_inputs, decompressed, view_inputs
from .instructions import Add, Copy
from .layerwriter import LayerWriter, apply_chmod
from .patterns import clean, has_wildcards

URL_PREFIXES = ("http://", "https://", "git://", "git@", "ssh://")


def is_url(src: str) -> bool:
    return src.startswith(URL_PREFIXES)


@dataclass
class CopyPlan:
    step: Copy
    srcs: list[Source]
    digest: str
    owners_kept: bool = False          # files keep their owners (another stage's, an image's)
    archives: set[int] = field(default_factory=set)   # indexes of srcs ADD unpacks

    # -- what is copied ------------------------------------------------------------------------
    @classmethod
    def from_context(cls, step: Copy, ctx: BuildContext) -> CopyPlan:
        for src in step.sources:
            if is_url(src):
                raise ContextError(f"ADD {src}: ADD from a URL is refused (a build does not reach the "
                                   f"network by surprise): download it, then COPY the file")
        if isinstance(step, Add) and step.checksum:
            raise ContextError("ADD --checksum is for URLs, and ADD from a URL is refused: COPY the file instead")
        srcs, archives, digest = context_inputs(CopySpec.of(step), ctx)
        return cls(step, srcs, digest, archives=archives)

    @classmethod
    def from_view(cls, step: Copy, view: LayerView, scratch: Path) -> CopyPlan:
        """COPY --from: the files of a stage or an image (digests.view_inputs)."""
        srcs, archives, digest = view_inputs(CopySpec.of(step), view, scratch)
        return cls(step, srcs, digest, owners_kept=True, archives=archives)

    # -- the layer --------------------------------------------------------------------------------
    def write(self, writer: LayerWriter, workdir: str, owner: tuple[int, int] | None) -> None:
        step = self.step
        dest = step.dest if step.dest.startswith("/") else f"{workdir.rstrip('/')}/{step.dest}"
        wildcard = any(has_wildcards(s) for s in step.sources)
        as_dir = step.dest.endswith("/") or step.dest in (".", "./") or step.dest.endswith("/.")
        if len(step.sources) + len(step.inline) > 1 and not as_dir:
            raise ContextError(f"{step.keyword} {' '.join(step.sources)} {step.dest}: with more than one source "
                               f"the destination must be a directory ending with /")
        if wildcard and len(self.srcs) > 1:
            as_dir = True
        view = writer.below
        resolved = view.resolve(clean(dest)) if clean(dest) != "/" else "/"
        node = view.node(resolved)
        if node is not None and node.is_dir:
            as_dir = True
        p_uid, p_gid = owner if owner is not None else (0, 0)
        for i, src in enumerate(self.srcs):
            if i in self.archives:
                self._unpack(writer, src, resolved, owner, p_uid, p_gid)
            elif src.type == "dir" or src.parents:
                writer.ensure_dir(resolved, p_uid, p_gid)
                for e in src.entries[1:]:
                    self._entry(writer, e, f"{resolved.rstrip('/')}/{e.path}", owner, p_uid, p_gid)
            else:
                target = f"{resolved.rstrip('/')}/{src.name}" if as_dir else resolved
                self._entry(writer, src.entries[0], target, owner, p_uid, p_gid)
        for f in step.inline:
            target = f"{resolved.rstrip('/')}/{f.path}" if as_dir else resolved
            scratch = writer.root.parent / f".inline-{os.getpid()}"
            scratch.write_bytes(f.content.encode("utf-8", "surrogateescape"))
            try:
                uid, gid = owner if owner is not None else (0, 0)
                writer.put("file", _resolve_parent(view, target), source=str(scratch),
                           mode=apply_chmod(step.chmod, f.mode, False), uid=uid, gid=gid,
                           parents_uid=p_uid, parents_gid=p_gid)
            finally:
                scratch.unlink(missing_ok=True)

    def _entry(self, writer: LayerWriter, e: Entry, target: str, owner: tuple[int, int] | None,
               p_uid: int, p_gid: int, keep_owner: bool = False) -> None:
        if owner is not None:
            uid, gid = owner
        elif self.owners_kept or keep_owner:
            uid, gid = e.uid, e.gid
        else:
            uid, gid = 0, 0
        mode = apply_chmod(self.step.chmod, e.mode, e.type == "dir")
        path = writer.below.resolve(target) if e.type == "dir" else _resolve_parent(writer.below, target)
        mtime = os.lstat(e.abspath).st_mtime_ns if e.abspath else None
        writer.put(e.type, path, source=e.abspath or None, mode=mode, uid=uid, gid=gid, link=e.link,
                   rdev=e.rdev, mtime_ns=mtime, parents_uid=p_uid, parents_gid=p_gid)

    def _unpack(self, writer: LayerWriter, src: Source, dest: str, owner, p_uid: int, p_gid: int) -> None:
        """ADD of a local archive: extracted (safely: nothing outside its root) into a scratch
        dir, then merged into the destination with the archive's own owners and modes."""
        from bocker_magics.errors import LayerError

        from ..distribution import layers as layerfmt
        scratch = writer.root.parent / f".unpack-{os.getpid()}"
        scratch.mkdir()
        try:
            with open(src.entries[0].abspath, "rb") as f:
                try:
                    layerfmt.extract(decompressed(f), scratch, whiteouts=False)
                except LayerError as e:
                    raise ContextError(f"ADD {src.path}: {e}") from None
            writer.ensure_dir(dest, p_uid, p_gid)
            tree = sources(scratch, ["."])[0]
            for e in tree.entries[1:]:
                self._entry(writer, e, f"{dest.rstrip('/')}/{e.path}", owner, p_uid, p_gid, keep_owner=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _resolve_parent(view: LayerView, path: str) -> str:
    parent, name = os.path.split(clean(path))
    return f"{view.resolve(parent).rstrip('/')}/{name}"
