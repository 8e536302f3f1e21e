"""Dockerfile text -> stages of typed instructions, following the Dockerfile reference.

    df = parse(text, "Dockerfile")
    df.global_args          # the ARGs before the first FROM
    df.stages[1].name, df.stages[1].from_.image, df.stages[1].instructions

What is read here: parser directives at the top (`# syntax=`, `# escape=` with \\ or `,
`# check=`), comments, blank lines, leading whitespace, line continuations with the escape
character (comment and blank lines inside a continuation dropped), flags (`--name=value`),
JSON (exec) and shell forms, and here-documents after RUN, COPY and ADD lines. Words keep their
quotes and `$VAR`s: substitution is the builder's step (variables.Scope.expand), done with the
ARG/ENV values of the moment. A mistake is a DockerfileError, `FILE:LINE: message`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

from bocker_magics.errors import InvalidArgument

from .instructions import (
    Arg,
    Copy,
    DockerfileError,
    From,
    Heredoc,
    Instruction,
    Location,
    Maintainer,
    Onbuild,
    Run,
    parse_heredoc_word,
)
from .keywords import Keywords
from .lexer import Lexer, LexError
from .words import WHITESPACE, Fail, extract_flags, json_array

DIRECTIVES = ("syntax", "escape", "check")
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None               # lower-cased AS name
    from_: From
    instructions: tuple[Instruction, ...]

    @property
    def location(self) -> Location:
        return self.from_.location

    @property
    def label(self) -> str:
        """How a user names it: its name, or its index."""
        return self.name or str(self.index)


@dataclass(frozen=True)
class Dockerfile:
    file: str
    stages: tuple[Stage, ...]
    global_args: tuple[Arg, ...] = ()     # before the first FROM: usable in FROM lines
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def syntax(self) -> str | None:
        return self.directives.get("syntax")

    def stage(self, ref: str | int) -> Stage:
        """A stage by name (case-insensitive) or index."""
        index = self.stage_index(str(ref))
        if index is None or not 0 <= index < len(self.stages):
            names = [s.label for s in self.stages]
            hint = difflib.get_close_matches(str(ref).lower(), names, n=1)
            raise InvalidStage(f'target stage "{ref}" could not be found (stages: {", ".join(names)})'
                               + (f'; did you mean "{hint[0]}"?' if hint else ""))
        return self.stages[index]

    def stage_index(self, ref: str) -> int | None:
        """The index of the stage `ref` names (a name, or an index), or None (an image then)."""
        if ref.isascii() and ref.isdigit():
            return int(ref)
        low = ref.lower()
        return next((s.index for s in self.stages if s.name == low), None)


class InvalidStage(InvalidArgument):
    """--target names no stage."""


def parse(text: str | bytes, file: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text; `file` is the name errors show ("Dockerfile", "app/Dockerfile")."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DockerfileError(file, text[:e.start].count(b"\n") + 1, "the Dockerfile is not UTF-8 text") from None
    return _Parser(text, file).parse()


def parse_trigger(expression: str, location: Location) -> Instruction:
    """An ONBUILD trigger from a base image's config (`COPY . /app`), parsed at `location` (the
    FROM that triggers it)."""
    parser = _Parser(expression, location.file)
    found: list[Instruction] = []
    try:
        while parser.pos < len(parser.lines):
            instruction = parser._next()
            if instruction is not None:
                found.append(instruction)
    except DockerfileError as e:
        raise location.error(f"the base image's ONBUILD trigger {expression!r}: {e.reason}") from None
    if len(found) != 1:
        raise location.error(f"the base image's ONBUILD trigger {expression!r} is not one instruction")
    if isinstance(found[0], (From, Maintainer, Onbuild)):
        raise location.error(f"{found[0].keyword} isn't allowed as an ONBUILD trigger")
    return replace(found[0], location=location)


def _split_lines(text: str) -> list[str]:
    """Lines with their endings; only \\n ends a line (as in Docker), \\r\\n's \\r is trimmed later."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


class _Parser(Keywords):
    """The lines: directives, comments, continuations, here-documents; each instruction's
    keyword, flags and arguments go to its maker (keywords.py)."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = _split_lines(text.removeprefix("\ufeff"))
        self.pos = 0
        self.escape = "\\"
        self.directives: dict[str, str] = {}
        self.directives_done = False
        self.warnings: list[str] = []
        self._set_continuation()

    def error(self, line: int, message: str) -> DockerfileError:
        return DockerfileError(self.file, line, message)

    def _set_continuation(self) -> None:
        e = re.escape(self.escape)
        # the escape character last on a line (trailing blanks allowed) continues it, unless it
        # is itself escaped; a line of only the escape character continues too
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        m = self.continuation.search(line)
        if m:
            return line[:m.start()] + (m.group(1) or ""), False
        return line, True

    # -- lines
    def parse(self) -> Dockerfile:
        found: list[Instruction] = []
        while self.pos < len(self.lines):
            instruction = self._next()
            if instruction is not None:
                found.append(instruction)
        return self._stages(found)

    def _directive(self, line: str, lineno: int) -> None:
        """Directives are comments at the very top; the first other line ends them."""
        if self.directives_done:
            return
        m = _DIRECTIVE.match(line[1:].lstrip()) if line.startswith("#") else None
        if not m or m.group(1).lower() not in DIRECTIVES:
            self.directives_done = True
            return
        key, value = m.group(1).lower(), m.group(2)
        if key in self.directives:
            raise self.error(lineno, f"only one {key} parser directive can be used")
        self.directives[key] = value
        if key == "escape":
            if value not in ("`", "\\"):
                raise self.error(lineno, f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self._set_continuation()

    def _next(self) -> Instruction | None:
        self.pos += 1
        lineno = self.pos
        line = _trim_newline(self.lines[lineno - 1]).lstrip()
        self._directive(line, lineno)
        if _is_comment(line):
            return None
        line, done = self.trim_continuation(line)
        if done and not line:
            return None
        parts = [line]
        blank_inside = False
        while not done and self.pos < len(self.lines):
            raw = _trim_newline(self.lines[self.pos])
            self.pos += 1
            if _is_comment(raw):
                continue             # a comment inside a continuation is dropped
            if not raw.strip():
                blank_inside = True  # so is a blank line (Docker warns about it)
                continue
            raw, done = self.trim_continuation(raw)
            parts.append(raw)
        logical = "".join(parts)
        if blank_inside:
            self.warnings.append(f"{self.file}:{lineno}: empty continuation line in: {logical.strip()}")
        try:
            return self._instruction(logical, lineno)
        except (Fail, LexError) as e:
            raise self.error(lineno, str(e)) from None

    def _split(self, line: str) -> tuple[str, tuple[str, ...], str]:
        parts = WHITESPACE.split(line.strip(), maxsplit=1)
        if len(parts) == 1:
            return parts[0], (), ""
        rest, flags = extract_flags(parts[1], self.escape)
        return parts[0], tuple(flags), rest.strip()

    def _instruction(self, logical: str, lineno: int) -> Instruction:
        keyword, flags, rest = self._split(logical)
        inner_keyword, inner_rest = keyword.upper(), rest
        if inner_keyword == "ONBUILD" and rest:
            inner, _, inner_rest = self._split(rest)
            inner_keyword = inner.upper()
        heredocs: list[Heredoc] = []
        if inner_keyword in _HEREDOC_KEYWORDS and "<<" in logical and json_array(inner_rest) is None:
            heredocs = self._read_heredocs(logical, lineno)
        location = Location(self.file, lineno, self.pos)
        return self._make(keyword, flags, rest, tuple(heredocs), location, logical.strip())

    def _read_heredocs(self, logical: str, lineno: int) -> list[Heredoc]:
        # the words are found as BuildKit does: backslash escapes, quotes kept, $ left alone
        try:
            words = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset=True).words(logical, {})
        except LexError:
            # BuildKit then finds no here-document and reads its body as instructions; the
            # words as they stand show a broken one (<<'EOF) on its own line instead
            words = logical.split()
        out = []
        for header in filter(None, (parse_heredoc_word(w) for w in words)):
            body: list[str] = []
            while self.pos < len(self.lines):
                raw = self.lines[self.pos]
                self.pos += 1
                candidate = _trim_newline(raw)
                if header.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == header.name:
                    break
                body.append(raw)
            else:
                raise self.error(lineno, f"unterminated heredoc: no line {header.name} ends the here-document "
                                         f"that starts here")
            out.append(replace(header, content="".join(body)))
        return out

    # -- stages
    def _stages(self, found: list[Instruction]) -> Dockerfile:
        last_line = max(len(self.lines), 1)
        if not found:
            raise self.error(last_line, "the Dockerfile has no instructions (it needs at least a FROM)")
        global_args: list[Arg] = []
        stages: list[tuple[From, list[Instruction]]] = []
        names: dict[str, int] = {}
        for instruction in found:
            if isinstance(instruction, From):
                if instruction.name in names:
                    raise instruction.location.error(
                        f'duplicate stage name "{instruction.name}" (first at line {names[instruction.name]}): '
                        f"stage names must be unique")
                if instruction.name:
                    names[instruction.name] = instruction.line
                stages.append((instruction, []))
            elif stages:
                stages[-1][1].append(instruction)
            elif isinstance(instruction, Arg):
                global_args.append(instruction)
            else:
                raise instruction.location.error(
                    f"{instruction.keyword} before the first FROM: a Dockerfile starts with FROM "
                    f"(only ARG may come before it)")
        if not stages:
            raise self.error(last_line, "the Dockerfile has no FROM: it needs at least one stage to build")
        df = Dockerfile(
            file=self.file, escape=self.escape, directives=dict(self.directives),
            global_args=tuple(global_args), warnings=tuple(self.warnings),
            stages=tuple(Stage(i, f.name, f, tuple(body)) for i, (f, body) in enumerate(stages)))
        for stage in df.stages:
            for instruction in stage.instructions:
                _check_stage_refs(df, stage, instruction)
        return df


def _check_stage_refs(df: Dockerfile, stage: Stage, instruction: Instruction) -> None:
    """COPY --from and RUN --mount from= name a stage before this one, or an image."""
    refs: list[tuple[str, str]] = []
    if isinstance(instruction, Copy) and instruction.from_:
        refs.append((f"COPY --from={instruction.from_}", instruction.from_))
    if isinstance(instruction, Run):
        refs += [(f"RUN --mount from={m.from_}", m.from_) for m in instruction.mounts if m.from_]
    for what, ref in refs:
        index = df.stage_index(ref)
        if index is None:
            continue                     # an image
        if index >= len(df.stages):
            raise instruction.location.error(f"{what}: there is no stage {index} (stages 0-{len(df.stages) - 1})")
        if index >= stage.index:
            other = df.stages[index]
            raise instruction.location.error(
                f"{what}: stage {other.label} is this stage or comes after it (line {other.location.line}); "
                f"a stage can use only the stages before it")
