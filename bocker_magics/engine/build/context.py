"""The build context: which of its files a COPY or ADD takes, and a digest of them for the cache.

    ctx = BuildContext("app/", dockerfile="app/Dockerfile")
    srcs = ctx.sources(["src/", "*.toml"], excludes=["**/*.pyc"])   # a COPY's sources
    for s in srcs: s.path, s.type, [e.path for e in s.entries]         # "." is the source itself
    ctx.digest(srcs, chown="1000:1000")                                 # "sha256:..."

Rules (Docker's): .dockerignore (or `<Dockerfile>.dockerignore` beside the Dockerfile, which
wins) hides paths from COPY as if they weren't there, its `!` lines bring some back; the
Dockerfile and .dockerignore can always be read by the builder, ignored or not. A source is a
path relative to the context root (a leading / too: it never means the host's /) and may use
Go's filepath.Match wildcards in any part; a directory copies its contents. A source that
leaves the context — `../x`, or through a symlink that points out — is refused with one
line; a symlink inside a copied directory is copied as a link, not followed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bocker_magics.errors import ContextError

from .patterns import IgnoreMatcher, PatternError, clean, has_wildcards, match, read_ignore_file

if TYPE_CHECKING:
    from .instructions import InlineFile  # not imported: a cached rebuild reads no Dockerfile

DOCKERIGNORE = ".dockerignore"


@dataclass(frozen=True)
class Ignore:
    """The .dockerignore patterns in force, and where they came from."""
    patterns: tuple[str, ...] = ()
    file: str | None = None
    matcher: IgnoreMatcher = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.matcher is None:
            try:
                object.__setattr__(self, "matcher", IgnoreMatcher(list(self.patterns)))
            except PatternError as e:
                raise ContextError(f"{self.file or DOCKERIGNORE}: {e}") from None

    def excluded(self, path: str) -> bool:
        """Whether the context-relative path is hidden from COPY."""
        return self.matcher.matches(path)


def read_ignore(context_dir: str | os.PathLike[str], dockerfile: str | os.PathLike[str] | None = None) -> Ignore:
    """The ignore file of a build: `<Dockerfile>.dockerignore` next to the Dockerfile if there
    is one, else the context's .dockerignore, else nothing is ignored."""
    candidates = [Path(f"{os.fspath(dockerfile)}.dockerignore")] if dockerfile is not None else []
    candidates.append(Path(context_dir) / DOCKERIGNORE)
    for candidate in candidates:
        try:
            text = candidate.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            continue
        except OSError as e:
            raise ContextError(f"{candidate}: can't read it: {e.strerror}") from None
        return Ignore(tuple(read_ignore_file(text)), str(candidate))
    return Ignore()


@dataclass(frozen=True)
class Entry:
    """One file system object a COPY takes."""
    path: str                 # relative to the source: "." is the source itself, "sub/x.txt"
    type: str                 # file, dir, symlink, fifo, char, block
    mode: int                 # permission bits, setuid/setgid/sticky included
    uid: int
    gid: int
    size: int = 0
    link: str | None = None   # a symlink's target, as written
    rdev: int = 0             # a device's number
    abspath: str = field(default="", compare=False)


@dataclass(frozen=True)
class Source:
    """One thing a COPY source names: a file, or a directory and what's in it."""
    path: str                 # relative to the context root, as matched ("src/app.py", "." for the root)
    type: str                 # what it is after symlinks: file, dir, ...
    entries: tuple[Entry, ...]  # "." first, then a walk with names sorted; with --parents, the kept paths
    parents: bool = False     # entries' paths are the ones --parents keeps under the destination

    @property
    def name(self) -> str:
        """What a file source is called under a destination directory."""
        return os.path.basename(self.path) if self.path != "." else "."


class BuildContext:
    """A directory the build takes files from, with its ignore file."""

    def __init__(self, directory: str | os.PathLike[str], dockerfile: str | os.PathLike[str] | None = None) -> None:
        root = os.path.realpath(directory)
        if not os.path.isdir(root):
            raise ContextError(f"build context {os.fspath(directory)!r} is not a directory")
        self.root = root
        self.dockerfile = os.path.join(root, "Dockerfile") if dockerfile is None else os.fspath(dockerfile)
        self.ignore = read_ignore(root, self.dockerfile)

    def read_dockerfile(self) -> str:
        """The Dockerfile's text: always readable, even when .dockerignore names it (Docker sends
        it and the ignore file to the builder in any case; COPY still can't take them)."""
        try:
            with open(self.dockerfile, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            raise ContextError(f"no Dockerfile at {self.dockerfile}: give one with -f") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ContextError(f"can't read {self.dockerfile}: {e}") from None

    def sources(self, patterns: Sequence[str], *, excludes: Sequence[str] = (), parents: bool = False) -> list[Source]:
        return sources(self.root, patterns, self.ignore, excludes=excludes, parents=parents)

    def digest(self, srcs: Sequence[Source], **kwargs) -> str:
        return content_digest(srcs, **kwargs)


def sources(context_dir: str | os.PathLike[str], patterns: Sequence[str], ignore: Ignore | Sequence[str] | None = None,
            *, excludes: Sequence[str] = (), parents: bool = False) -> list[Source]:
    """What COPY/ADD `patterns` take from the context, in order (the later ones win at the
    destination). A pattern without wildcards must exist; one with wildcards may match nothing
    (as in BuildKit). `excludes` are --exclude patterns, relative to each source."""
    if ignore is None:
        ignore = Ignore()
    elif not isinstance(ignore, Ignore):
        ignore = Ignore(tuple(ignore))
    try:
        exclude = IgnoreMatcher(list(excludes))
    except PatternError as e:
        raise ContextError(f"--exclude: {e}") from None
    reader = _Reader(os.path.realpath(context_dir), ignore, exclude)
    out: list[Source] = []
    for pattern in patterns:
        out.extend(reader.parents(pattern) if parents else reader.sources(pattern))
    return out


def content_digest(srcs: Iterable[Source], *, inline: Iterable[InlineFile] = (), chown: str | None = None,
                   chmod: str | None = None, owners: bool = False) -> str:
    """A sha256 over what a COPY/ADD takes, for the build cache: each source's path and type,
    then each entry's relative path, type, mode, size, link target and content (owners too
    when `owners`, for sources whose owners are copied, like another stage's files; a context's
    files are copied as root or as --chown says), in a fixed order. Same files -> same digest;
    a changed content, mode or link, a new, removed or renamed file -> another."""
    h = hashlib.sha256()

    def put(*fields: object) -> None:
        h.update(json.dumps(fields, separators=(",", ":")).encode() + b"\n")

    put("copy", chown, chmod, owners)
    for src in srcs:
        put("source", src.path, src.type, src.parents)
        for e in src.entries:
            put("entry", e.path, e.type, e.mode, e.size, e.link, e.rdev, *((e.uid, e.gid) if owners else ()))
            if e.type == "file":
                h.update(_file_digest(e.abspath))
    for f in inline:
        put("inline", f.path, f.mode, hashlib.sha256(f.content.encode("utf-8", "surrogateescape")).hexdigest())
    return "sha256:" + h.hexdigest()


def _file_digest(path: str) -> bytes:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError as e:
        raise ContextError(f"can't read {path}: {e.strerror}") from None
    return h.digest()


_TYPES = ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"), (stat.S_ISFIFO, "fifo"),
          (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"))


def _type(st: os.stat_result) -> str | None:
    return next((name for test, name in _TYPES if test(st.st_mode)), None)   # a socket: None


def _entry(rel: str, path: str, st: os.stat_result) -> Entry:
    kind = _type(st) or "socket"
    return Entry(path=rel, type=kind, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                 size=st.st_size if kind == "file" else 0,
                 link=os.readlink(path) if kind == "symlink" else None,
                 rdev=st.st_rdev if kind in ("char", "block") else 0, abspath=path)


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p and p != ".") or "."


class _Reader:
    def __init__(self, root: str, ignore: Ignore, exclude: IgnoreMatcher) -> None:
        self.root = root
        self.ignore = ignore
        self.exclude = exclude

    # -- paths
    def relative(self, pattern: str) -> str:
        """The pattern as a context-relative path: a leading / is the context root, a `..`
        that climbs above it is refused."""
        cleaned = clean(pattern)
        if cleaned == ".." or cleaned.startswith("../"):
            raise ContextError(f"{pattern}: outside the build context: COPY takes files from inside "
                               f"{self.root} only")
        return cleaned.lstrip("/") or "."

    def inside(self, real: str) -> str | None:
        """A real path's context-relative path, or None when it is outside the context."""
        if real == self.root:
            return "."
        if real.startswith(self.root.rstrip("/") + "/"):
            return real[len(self.root.rstrip("/")) + 1:]
        return None

    def resolve(self, rel: str, written: str) -> tuple[str, str]:
        """Follow symlinks (all of them, the last part's too, as COPY does) inside the context:
        the real path and its context-relative path. Refused if they lead out."""
        real = os.path.realpath(os.path.join(self.root, rel))
        inner = self.inside(real)
        if inner is None:
            raise ContextError(f"{written}: a symlink that leads out of the build context (to {real}); "
                               f"COPY takes files from inside {self.root} only")
        return real, inner

    def hidden(self, rel: str) -> bool:
        return self.ignore.excluded(rel)

    def not_found(self, written: str, rel: str) -> ContextError:
        if rel != "." and self.hidden(rel):
            return ContextError(f"{written}: excluded from the build context by {self.ignore.file or DOCKERIGNORE}")
        return ContextError(f"{written}: no such file or directory in the build context {self.root}")

    def ignore_state(self, rel: str) -> tuple[bool, tuple[bool, ...]]:
        """The ignore matcher's state at a context-relative path (for walking below it)."""
        excluded, state = False, ()
        if rel != ".":
            parts = rel.split("/")
            for n in range(1, len(parts) + 1):
                excluded, state = self.ignore.matcher.step("/".join(parts[:n]), state)
        return excluded, state

    # -- COPY src...
    def sources(self, pattern: str) -> list[Source]:
        rel = self.relative(pattern)
        parts = rel.split("/")
        first = next((i for i, p in enumerate(parts) if has_wildcards(p)), None)
        if first is None:
            return [self.source(rel, pattern)]
        base = _join(*parts[:first])
        rest = "/".join(parts[first:])
        base_real, base_inner = self.resolve(base, pattern)
        hidden = self.hidden(base) or self.hidden(base_inner)
        if (hidden and not self.ignore.matcher.has_exceptions) or not os.path.isdir(base_real):
            return []                              # a wildcard may match nothing
        found = []
        for match_rel in self.glob(base_real, base_inner, rest):
            written = _join(base, match_rel)
            if self.exclude and self.exclude.matches(match_rel):
                continue
            found.append(self.source(written, written))
        return found

    def glob(self, base_real: str, base_inner: str, pattern: str) -> list[str]:
        """Paths under base that match pattern part for part (Go's filepath.Match on the relative
        path), visible through the ignore file; a matching directory isn't searched further."""
        depth = pattern.count("/") + 1
        out: list[str] = []

        def visit(dir_real: str, rel: str, state: tuple[bool, ...], level: int) -> None:
            for name in sorted(self.listdir(dir_real)):
                path = os.path.join(dir_real, name)
                child = _join(rel, name)
                excluded, child_state = self.ignore.matcher.step(_join(base_inner, child), state)
                st = os.lstat(path)
                if excluded and not (stat.S_ISDIR(st.st_mode) and self.ignore.matcher.has_exceptions
                                     and self.walk(path, child_state, exclude=False)):
                    continue
                if match(pattern, child):
                    out.append(child)
                elif stat.S_ISDIR(st.st_mode) and level + 1 < depth:
                    visit(path, child, child_state, level + 1)

        visit(base_real, "", self.ignore_state(base_inner)[1], 0)
        return out

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except OSError as e:
            raise ContextError(f"can't read {path}: {e.strerror}") from None

    def source(self, rel: str, written: str) -> Source:
        real, inner = self.resolve(rel, written)
        try:
            st = os.lstat(real)
        except FileNotFoundError:
            raise self.not_found(written, rel) from None
        root = _entry(".", real, st)
        hidden, state = self.ignore_state(inner)
        hidden = hidden or self.hidden(rel)           # through a symlink: both names count
        if root.type != "dir":
            if hidden:
                raise self.not_found(written, inner)
            return Source(rel, root.type, (root,))
        below = self.walk(real, state)
        if hidden and not (self.ignore.matcher.has_exceptions and below):
            raise self.not_found(written, inner)       # an ignored dir is there only for its exceptions
        return Source(rel, "dir", (root, *below))

    def walk(self, top: str, state: tuple[bool, ...], *, exclude: bool = True,
             prefix: str = "", xstate: tuple[bool, ...] = ()) -> list[Entry]:
        """Everything below the directory `top` that the ignore file (and --exclude) lets through,
        sorted, symlinks not followed. An ignored directory still shows when one of its files is
        brought back by a `!` line."""
        inner = self.inside(top) or "."
        out: list[Entry] = []
        for name in sorted(self.listdir(top)):
            path = os.path.join(top, name)
            rel = _join(prefix, name)
            hidden, child_state = self.ignore.matcher.step(_join(inner, name), state) if self.ignore.matcher \
                else (False, ())
            excluded, child_x = (self.exclude.step(rel, xstate) if exclude and self.exclude else (False, ()))
            st = os.lstat(path)
            if _type(st) is None:
                continue                           # a socket can't be copied
            if stat.S_ISDIR(st.st_mode):
                exceptions = self.ignore.matcher.has_exceptions or (exclude and self.exclude.has_exceptions)
                if (hidden or excluded) and not exceptions:
                    continue
                below = self.walk(path, child_state, exclude=exclude, prefix=rel, xstate=child_x)
                if (hidden or excluded) and not below:
                    continue
                out.append(_entry(rel, path, st))
                out.extend(below)
            elif not (hidden or excluded):
                out.append(_entry(rel, path, st))
        return out

    # -- COPY --parents src...
    def parents(self, pattern: str) -> list[Source]:
        """--parents: the files matching the pattern, with their directories, below the root
        (or below the `/./` pivot in the pattern); their paths are what is kept."""
        pivot, sep, rest = pattern.partition("/./")
        if not sep:
            pivot, rest = ".", pattern
        root_rel = self.relative(pivot)
        include_rel = self.relative(rest)
        real, inner = self.resolve(root_rel, pattern)
        if not os.path.isdir(real) or self.hidden(inner):
            raise self.not_found(pattern, root_rel)
        try:
            include = IgnoreMatcher([include_rel])
        except PatternError as e:
            raise ContextError(f"{pattern}: {e}") from None
        everything = self.walk(real, self.ignore_state(inner)[1])
        by_path = {e.path: e for e in everything}
        chosen: dict[str, Entry] = {}
        state: dict[str, tuple[bool, ...]] = {".": ()}
        for e in everything:
            parent = os.path.dirname(e.path) or "."
            hit, state[e.path] = include.step(e.path, state.get(parent, ()))
            if hit:
                chosen[e.path] = e
                up = parent
                while up != ".":                   # its directories come along
                    chosen.setdefault(up, by_path[up])
                    up = os.path.dirname(up) or "."
        if not chosen and not has_wildcards(include_rel) and not has_wildcards(root_rel):
            raise self.not_found(pattern, _join(root_rel, include_rel))
        root = _entry(".", real, os.lstat(real))
        return [Source(root_rel, "dir", (root, *(e for e in everything if e.path in chosen)), parents=True)]
