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
import json
import re
from dataclasses import dataclass, field, replace

from bocker_magics.errors import InvalidArgument

from .instructions import (
    ALL_INSTRUCTIONS,
    NETWORK_MODES,
    SECURITY_MODES,
    Add,
    Arg,
    Cmd,
    Command,
    Copy,
    DockerfileError,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Heredoc,
    InlineFile,
    Instruction,
    Label,
    Location,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    check_chmod,
    check_signal,
    expose_ports,
    parse_duration,
    parse_heredoc_word,
    parse_mount,
)
from .lexer import Lexer, LexError

DIRECTIVES = ("syntax", "escape", "check")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
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


class _Fail(Exception):
    """A parse mistake in the instruction being read; the parser adds the location."""


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


class _Parser:
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
        except (_Fail, LexError) as e:
            raise self.error(lineno, str(e)) from None

    def _split(self, line: str) -> tuple[str, tuple[str, ...], str]:
        parts = _WHITESPACE.split(line.strip(), maxsplit=1)
        if len(parts) == 1:
            return parts[0], (), ""
        rest, flags = _extract_flags(parts[1], self.escape)
        return parts[0], tuple(flags), rest.strip()

    def _instruction(self, logical: str, lineno: int) -> Instruction:
        keyword, flags, rest = self._split(logical)
        inner_keyword, inner_rest = keyword.upper(), rest
        if inner_keyword == "ONBUILD" and rest:
            inner, _, inner_rest = self._split(rest)
            inner_keyword = inner.upper()
        heredocs: list[Heredoc] = []
        if inner_keyword in _HEREDOC_KEYWORDS and "<<" in logical and _json_array(inner_rest) is None:
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

    # -- instructions
    def _make(self, keyword: str, flags: tuple[str, ...], rest: str, heredocs: tuple[Heredoc, ...],
              location: Location, original: str) -> Instruction:
        kw = keyword.upper()
        make = getattr(self, f"_make_{kw.lower()}", None) if kw in ALL_INSTRUCTIONS else None
        if make is None:
            hint = difflib.get_close_matches(kw, ALL_INSTRUCTIONS, n=1)
            raise _Fail(f"unknown instruction: {keyword}" + (f" (did you mean {hint[0]}?)" if hint else ""))
        common = {"location": location, "original": original, "flags": flags}
        return make(kw, _Flags(flags), rest, heredocs, common)

    def _make_from(self, kw, flags, rest, heredocs, common) -> From:
        args = _WHITESPACE.split(rest) if rest else []
        name = None
        if len(args) == 3 and args[1].lower() == "as":
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise _Fail(f'invalid name for build stage: "{args[2]}", name can\'t start with a number '
                            f"or contain symbols")
        elif len(args) != 1:
            raise _Fail("FROM requires either one or three arguments (FROM image [AS name])")
        values = flags.parse({"platform": "string"})
        return From(image=args[0], name=name, platform=values.get("platform"), **common)

    def _make_arg(self, kw, flags, rest, heredocs, common) -> Arg:
        flags.parse({})
        words = _parse_words(rest, self.escape)
        if not words:
            raise _Fail("ARG requires at least one argument")
        args: list[tuple[str, str | None]] = []
        for word in words:
            if "=" in word:
                key, value = word.split("=", 1)
                if not key:
                    raise _Fail("ARG names can not be blank")
                args.append((key, value))
            else:
                args.append((word, None))
        return Arg(args=tuple(args), **common)

    def _pairs(self, kw: str, rest: str) -> tuple[tuple[tuple[str, str], ...], bool]:
        words = _parse_words(rest, self.escape)
        if not words:
            raise _Fail(f"{kw} requires at least one argument")
        if "=" not in words[0]:
            # the old form: KEY and the rest of the line as its value
            parts = _WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise _Fail(f"{kw} must have two arguments ({kw} KEY=value, or the old {kw} KEY value)")
            return ((parts[0], parts[1]),), True
        pairs = []
        for word in words:
            if "=" not in word:
                raise _Fail(f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value')
            key, value = word.split("=", 1)
            if not key:
                raise _Fail(f"{kw} names can not be blank")
            pairs.append((key, value))
        return tuple(pairs), False

    def _make_env(self, kw, flags, rest, heredocs, common) -> Env:
        flags.parse({})
        pairs, legacy = self._pairs(kw, rest)
        return Env(pairs=pairs, legacy=legacy, **common)

    def _make_label(self, kw, flags, rest, heredocs, common) -> Label:
        flags.parse({})
        pairs, legacy = self._pairs(kw, rest)
        return Label(pairs=pairs, legacy=legacy, **common)

    def _one(self, kw: str, flags: _Flags, rest: str) -> str:
        flags.parse({})
        if not rest:
            raise _Fail(f"{kw} requires exactly one argument")
        return rest

    def _make_maintainer(self, kw, flags, rest, heredocs, common) -> Maintainer:
        return Maintainer(name=self._one(kw, flags, rest), **common)

    def _make_workdir(self, kw, flags, rest, heredocs, common) -> Workdir:
        return Workdir(path=self._one(kw, flags, rest), **common)

    def _make_user(self, kw, flags, rest, heredocs, common) -> User:
        return User(user=self._one(kw, flags, rest), **common)

    def _make_stopsignal(self, kw, flags, rest, heredocs, common) -> StopSignal:
        value = self._one(kw, flags, rest)
        if "$" not in value:
            check_signal(value)
        return StopSignal(signal=value, **common)

    def _command(self, kw: str, rest: str, *, empty_ok: bool) -> Command:
        args = _json_array(rest)
        if args is not None:
            if not args and not empty_ok:
                raise _Fail(f"{kw} requires at least one argument")
            return Command(tuple(args), shell_form=False)
        if not rest:
            raise _Fail(f"{kw} requires at least one argument")
        return Command((rest,), shell_form=True)

    def _make_run(self, kw, flags, rest, heredocs, common) -> Run:
        values = flags.parse({"mount": "strings", "network": "string", "security": "string"})
        network = values.get("network", "default")
        if network not in NETWORK_MODES:
            raise _Fail(f'invalid network mode "{network}" (one of {", ".join(NETWORK_MODES)})')
        security = values.get("security", "sandbox")
        if security not in SECURITY_MODES:
            raise _Fail(f'security "{security}" is not valid (one of {", ".join(SECURITY_MODES)})')
        raw_mounts = tuple(values.get("mount", ()))
        # a mount without $ is checked whole now; one with $ once the builder substitutes it
        mounts = tuple(parse_mount(m, None if "$" in m else (lambda v: v)) for m in raw_mounts)
        command = self._command(kw, rest, empty_ok=False)
        return Run(command=command, heredocs=heredocs if command.shell_form else (), mounts=mounts,
                   network=network, security=security, raw_mounts=raw_mounts, **common)

    def _make_cmd(self, kw, flags, rest, heredocs, common) -> Cmd:
        flags.parse({})
        return Cmd(command=self._command(kw, rest, empty_ok=True), **common)

    def _make_entrypoint(self, kw, flags, rest, heredocs, common) -> Entrypoint:
        flags.parse({})
        return Entrypoint(command=self._command(kw, rest, empty_ok=True), **common)

    def _make_shell(self, kw, flags, rest, heredocs, common) -> Shell:
        flags.parse({})
        args = _json_array(rest)
        if args is None:
            raise _Fail('SHELL requires the arguments to be in JSON form: SHELL ["executable", "parameters"]')
        if not args:
            raise _Fail("SHELL requires at least one argument")
        return Shell(shell=tuple(args), **common)

    def _make_copy(self, kw, flags, rest, heredocs, common) -> Copy:
        spec = {"chown": "string", "chmod": "string", "link": "bool", "exclude": "strings"}
        if kw == "COPY":
            spec |= {"from": "string", "parents": "bool"}
        else:
            spec |= {"keep-git-dir": "bool", "checksum": "string", "unpack": "bool"}
        values = flags.parse(spec)
        args = _json_array(rest)
        json_form = args is not None
        if args is None:
            args = _WHITESPACE.split(rest) if rest else []
        if not args:
            raise _Fail(f"{kw} requires at least two arguments: a source and a destination")
        if len(args) < 2:
            raise _Fail(f"{kw} requires at least two arguments, but only one was provided. "
                        f"Destination could not be determined")
        *sources, dest = args
        if not json_form and parse_heredoc_word(dest) is not None:
            raise _Fail(f"{kw} cannot accept a heredoc as a destination")
        docs = {h.name: h for h in heredocs}
        paths: list[str] = []
        inline: list[InlineFile] = []
        for src in sources:
            header = None if json_form else parse_heredoc_word(src)
            if header is None:
                paths.append(src)
            else:
                doc = docs.get(header.name, header)
                inline.append(InlineFile(path=header.name, content=doc.data, expand=header.expand))
        chmod = values.get("chmod")
        if chmod is not None and "$" not in chmod:
            check_chmod(chmod)
        common |= {"sources": tuple(paths), "dest": dest, "inline": tuple(inline), "chown": values.get("chown"),
                   "chmod": chmod, "link": values.get("link", False), "excludes": tuple(values.get("exclude", ())),
                   "json_form": json_form}
        if kw == "ADD":
            return Add(checksum=values.get("checksum"), keep_git_dir=values.get("keep-git-dir"),
                       unpack=values.get("unpack"), **common)
        origin = values.get("from")
        if origin is not None:
            if not origin:
                raise _Fail("COPY --from needs a stage name, a stage index or an image")
            if Lexer(self.escape).word(origin, {}) != origin:
                raise _Fail("variable expansion is not supported for --from, define a new stage with FROM "
                            "using ARG from global scope as a workaround")
        return Copy(from_=origin, parents=values.get("parents", False), **common)

    _make_add = _make_copy

    def _make_expose(self, kw, flags, rest, heredocs, common) -> Expose:
        flags.parse({})
        ports = _WHITESPACE.split(rest) if rest else []
        if not ports:
            raise _Fail("EXPOSE requires at least one argument")
        for port in ports:
            if "$" not in port and "'" not in port and '"' not in port:
                expose_ports(port)
        return Expose(ports=tuple(ports), **common)

    def _make_volume(self, kw, flags, rest, heredocs, common) -> Volume:
        flags.parse({})
        paths = _json_array(rest)
        if paths is None:
            paths = _WHITESPACE.split(rest) if rest else []
        if not paths:
            raise _Fail("VOLUME requires at least one argument")
        if any(not p.strip() for p in paths):
            raise _Fail("VOLUME specified can not be an empty string")
        return Volume(paths=tuple(p.strip() for p in paths), **common)

    def _make_healthcheck(self, kw, flags, rest, heredocs, common) -> Healthcheck:
        if not rest:
            raise _Fail("HEALTHCHECK requires at least one argument")
        parts = rest.split(None, 1)
        kind, command = parts[0].upper(), (parts[1].strip() if len(parts) > 1 else "")
        if kind == "NONE":
            if command:
                raise _Fail("HEALTHCHECK NONE takes no arguments")
            if flags.raw:
                raise _Fail("HEALTHCHECK NONE takes no options")
            return Healthcheck(test=("NONE",), **common)
        names = ("interval", "timeout", "start-period", "start-interval")
        values = flags.parse({**{n: "string" for n in names}, "retries": "string"})
        if kind != "CMD":
            raise _Fail(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
        args = _json_array(command)
        if args is None:
            if not command:
                raise _Fail("Missing command after HEALTHCHECK CMD")
            test: tuple[str, ...] = ("CMD-SHELL", command)
        else:
            if not args:
                raise _Fail("Missing command after HEALTHCHECK CMD")
            test = ("CMD", *args)
        durations = {}
        for name in names:
            try:
                ns = parse_duration(values.get(name, ""))
            except ValueError as e:
                raise _Fail(f"--{name}: {e}") from None
            if 0 < ns < 1_000_000:
                raise _Fail(f'Interval "{name}" cannot be less than 1ms')
            durations[name.replace("-", "_")] = ns
        retries = 0
        if values.get("retries"):
            try:
                retries = int(values["retries"], 10)
            except ValueError:
                raise _Fail(f"--retries: {values['retries']!r} is not a number") from None
            if retries < 0:
                raise _Fail(f"--retries cannot be negative ({retries})")
        return Healthcheck(test=test, retries=retries, **durations, **common)

    def _make_onbuild(self, kw, flags, rest, heredocs, common) -> Onbuild:
        if not rest:
            raise _Fail("ONBUILD requires at least one argument")
        flags.parse({})
        inner, inner_flags, inner_rest = self._split(rest)
        upper = inner.upper()
        if upper == "ONBUILD":
            raise _Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if upper in ("FROM", "MAINTAINER"):
            raise _Fail(f"{upper} isn't allowed as an ONBUILD trigger")
        trigger = self._make(inner, inner_flags, inner_rest, heredocs, common["location"], rest)
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", common["original"])
        expression += "".join(f"\n{doc.content}{doc.name}" for doc in heredocs)
        return Onbuild(trigger=trigger, expression=expression, **common)

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


class _Flags:
    """The --flags of one instruction, checked against what it accepts (BuildKit's BFlags)."""

    def __init__(self, raw: tuple[str, ...]) -> None:
        self.raw = raw

    def parse(self, spec: dict[str, str]) -> dict:
        values: dict[str, object] = {}
        for arg in self.raw:
            if arg == "--":
                break
            if not arg.startswith("--"):
                raise _Fail(f"arg should start with -- : {arg}")
            name, eq, value = arg[2:].partition("=")
            kind = spec.get(name)
            if kind is None:
                hint = difflib.get_close_matches(name, spec, n=1)
                raise _Fail(f"unknown flag: --{name}" + (f" (did you mean --{hint[0]}?)" if hint else ""))
            if name in values and kind != "strings":
                raise _Fail(f"duplicate flag specified: --{name}")
            if kind == "bool":
                if eq and not value:
                    raise _Fail(f"missing a value on flag: --{name}")
                if value.lower() in ("", "true"):
                    values[name] = True
                elif value.lower() == "false":
                    values[name] = False
                else:
                    raise _Fail(f"expecting boolean value for flag --{name}, not: {value}")
            elif not eq:
                raise _Fail(f"missing a value on flag: --{name}")
            elif kind == "string":
                values[name] = value
            else:
                values.setdefault(name, []).append(value)  # type: ignore[union-attr]
        return values


def _json_array(rest: str) -> list[str] | None:
    """The exec form's JSON string array, or None when `rest` isn't a JSON array at all (then
    it is the shell form, as in Docker). A JSON array of anything but strings is an error."""
    text = rest.lstrip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Fail("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """The leading --flag words of an instruction's arguments (quotes and escapes removed) and
    the rest of the line; `--` ends the flags."""
    words: list[str] = []
    buf: list[str] = []
    phase, quote, blank_ok = "space", "", False
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = "word"
        if pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if ch.isspace():
                word = "".join(buf)
                phase = "space"
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
                pos += 1
                continue
        elif ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == n:
                if phase == "quote":
                    phase = "word"
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        buf.append(ch)
        pos += 1
    return "", words


def _parse_words(rest: str, escape: str) -> list[str]:
    """ENV/LABEL/ARG words: split at unquoted whitespace, quotes and escapes kept (they are
    removed when the builder substitutes)."""
    words: list[str] = []
    buf: list[str] = []
    phase, quote, blank_ok = "space", "", False
    pos, n = 0, len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == "word":
            if ch.isspace():
                phase = "space"
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
            elif ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
        else:
            if ch == quote:
                phase = "word"
            elif ch == escape and quote != "'":
                if pos + 1 == n:
                    phase = "word"
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words
