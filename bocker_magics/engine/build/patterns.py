"""Path patterns as Docker matches them: Go's filepath.Match (COPY sources), and .dockerignore's
patterns (moby/patternmatcher: filepath.Match plus `**`, `!` exceptions, the last match wins).

    match("*.go", "main.go")                          -> True ("*" never crosses a "/")
    m = IgnoreMatcher(["**/*.log", "!keep.log"]); m.matches("a/b/x.log") -> True
    read_ignore_file("# comment\\n/build/\\n!build/keep\\n") -> ["build", "!build/keep"]
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


class PatternError(ValueError):
    """A malformed pattern: an unclosed [, a trailing backslash, an empty class."""


def clean(path: str) -> str:
    """Go's path.Clean: no ., no .. that can be resolved, no double or trailing slashes."""
    if not path:
        return "."
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


# --- Go's filepath.Match, rune for rune

def match(pattern: str, name: str) -> bool:
    """Go's filepath.Match: * and ? never match "/", [a-z] [^a-z] classes, \\ escapes."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name                  # a trailing * takes the rest of a part
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star and _star_skip(chunk, pattern, name) is not None:
            name = _star_skip(chunk, pattern, name)  # type: ignore[assignment]
            continue
        check(pattern)                              # no match; still refuse a malformed rest
        return False
    return not name


def _star_skip(chunk: str, pattern: str, name: str) -> str | None:
    """After a *, the chunk tried at each later position of the same part."""
    for i in range(len(name)):
        if name[i] == "/":
            break
        rest = _match_chunk(chunk, name[i + 1:])
        if rest is not None and (pattern or not rest):
            return rest
    return None


def check(pattern: str) -> None:
    """Raise PatternError when Go would call the pattern malformed."""
    while pattern:
        _, chunk, pattern = _scan_chunk(pattern)
        _match_chunk(chunk, "")


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> str | None:
    """What is left of s after chunk matches its start, or None; PatternError if malformed.
    Like Go it goes through the whole chunk even after a mismatch, to find malformed syntax."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        ch = chunk[0]
        if ch == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk.startswith("-"):
                    hi, chunk = _get_esc(chunk[1:])
                if not failed and lo <= r <= hi:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif ch == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if ch == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise PatternError("syntax error in pattern: a trailing backslash")
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise PatternError("syntax error in pattern: a bad [ ] class")
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise PatternError("syntax error in pattern: a trailing backslash")
    r, rest = chunk[0], chunk[1:]
    if not rest:
        raise PatternError("syntax error in pattern: an unclosed [")
    return r, rest


def has_wildcards(part: str) -> bool:
    i = 0
    while i < len(part):
        if part[i] == "\\":
            i += 2
            continue
        if part[i] in "*?[":
            return True
        i += 1
    return False


# --- .dockerignore patterns

@dataclass(frozen=True)
class IgnorePattern:
    text: str              # cleaned, without the "!"
    exclusion: bool        # a "!" line: an exception that brings paths back
    kind: str              # exact, prefix, suffix or regex: how it is matched
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, pattern: str) -> IgnorePattern:
        exclusion = pattern.startswith("!")
        if exclusion:
            pattern = pattern[1:]
            if not pattern:
                raise PatternError('illegal exclusion pattern: "!"')
        pattern = clean(pattern)
        check(pattern)
        kind, out = "exact", ["^"]
        i, first = 0, True
        while i < len(pattern):
            ch = pattern[i]
            i += 1
            if ch == "*" and pattern[i:i + 1] == "*":
                i += 1
                if pattern[i:i + 1] == "/":
                    i += 1
                if i >= len(pattern):            # a trailing ** takes everything below
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regex"
                else:                            # **/ is any number of directories, none too
                    out.append("(.*/)?")
                    kind = "regex"
                if first:
                    kind = "suffix"
            elif ch == "*":
                out.append("[^/]*")
                kind = "regex"
            elif ch == "?":
                out.append("[^/]")
                kind = "regex"
            elif ch == "\\" and i < len(pattern):
                out.append(re.escape(pattern[i]))
                i += 1
                kind = "regex"
            elif ch == "[":
                j = _class_end(pattern, i)
                body = pattern[i:j]
                negate = body.startswith("^")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + _class_body(body) + "]")
                i = j + 1
                kind = "regex"
            else:
                out.append(re.escape(ch))
            first = False
        regex = re.compile("".join(out) + "$") if kind == "regex" else None
        return cls(pattern, exclusion, kind, regex)

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return bool(self.regex.match(path))  # type: ignore[union-attr]


def _class_end(pattern: str, i: int) -> int:
    j = i
    if pattern[j:j + 1] == "^":
        j += 1
    if pattern[j:j + 1] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j


def _class_body(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        elif ch == "-" and out and i + 1 < len(body):
            out.append("-")
            i += 1
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


class IgnoreMatcher:
    """A list of .dockerignore patterns; the last that matches a path decides."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [IgnorePattern.compile(p) for p in (p.strip() for p in patterns) if p]
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def step(self, path: str, parent: tuple[bool, ...] = ()) -> tuple[bool, tuple[bool, ...]]:
        """Whether `path` is excluded, given its parent directory's step() state (a pattern that
        matched a directory matches everything in it). Walk top-down and pass the state on."""
        excluded = False
        state = []
        for i, pattern in enumerate(self.patterns):
            hit = bool(parent) and parent[i]
            # only a pattern that could change the answer so far is tried
            if not hit and pattern.exclusion == excluded:
                hit = pattern.match(path)
            state.append(hit)
            if hit:
                excluded = not pattern.exclusion
        return excluded, tuple(state)

    def matches(self, path: str) -> bool:
        """Whether the context-relative `path` is excluded (it, or a directory above it)."""
        path = clean(path)
        if path in (".", "/") or not self.patterns:
            return False
        state: tuple[bool, ...] = ()
        excluded = False
        parts = path.split("/")
        for n in range(1, len(parts) + 1):
            excluded, state = self.step("/".join(parts[:n]), state)
        return excluded


def read_ignore_file(text: str) -> list[str]:
    """The patterns of a .dockerignore: # lines are comments, blank lines skipped, each pattern
    cleaned (./a -> a, a/ -> a, /a -> a), `!` kept in front."""
    out = []
    for n, line in enumerate(text.split("\n")):
        if n == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        if line:
            line = clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        out.append("!" + line if exception else line)
    return out
