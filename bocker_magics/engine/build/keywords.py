"""Each keyword's arguments -> its typed Instruction: a dispatch table of makers (`_make_from`,
`_make_run`, ...), one per keyword, as moby's instructions/parse.go. The Dockerfile parser
(dockerfile.py) reads the lines, directives and here-documents, and hands each instruction's
keyword, flags and arguments here."""

from __future__ import annotations

import difflib
import re

from .instructions import (
    ALL_INSTRUCTIONS,
    NETWORK_MODES,
    SECURITY_MODES,
    Add,
    Arg,
    Cmd,
    Command,
    Copy,
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
from .lexer import Lexer
from .words import WHITESPACE, Fail, Flags, json_array, parse_words


_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


class Keywords:
    """The makers; the parser that mixes this in gives `escape` (the escape character) and
    `_split` (a line -> keyword, flags, rest: ONBUILD's trigger)."""

    def _make(self, keyword: str, flags: tuple[str, ...], rest: str, heredocs: tuple[Heredoc, ...],
              location: Location, original: str) -> Instruction:
        kw = keyword.upper()
        make = getattr(self, f"_make_{kw.lower()}", None) if kw in ALL_INSTRUCTIONS else None
        if make is None:
            hint = difflib.get_close_matches(kw, ALL_INSTRUCTIONS, n=1)
            raise Fail(f"unknown instruction: {keyword}" + (f" (did you mean {hint[0]}?)" if hint else ""))
        common = {"location": location, "original": original, "flags": flags}
        return make(kw, Flags(flags), rest, heredocs, common)

    def _make_from(self, kw, flags, rest, heredocs, common) -> From:
        args = WHITESPACE.split(rest) if rest else []
        name = None
        if len(args) == 3 and args[1].lower() == "as":
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise Fail(f'invalid name for build stage: "{args[2]}", name can\'t start with a number '
                           f"or contain symbols")
        elif len(args) != 1:
            raise Fail("FROM requires either one or three arguments (FROM image [AS name])")
        values = flags.parse({"platform": "string"})
        return From(image=args[0], name=name, platform=values.get("platform"), **common)

    def _make_arg(self, kw, flags, rest, heredocs, common) -> Arg:
        flags.parse({})
        words = parse_words(rest, self.escape)
        if not words:
            raise Fail("ARG requires at least one argument")
        args: list[tuple[str, str | None]] = []
        for word in words:
            if "=" in word:
                key, value = word.split("=", 1)
                if not key:
                    raise Fail("ARG names can not be blank")
                args.append((key, value))
            else:
                args.append((word, None))
        return Arg(args=tuple(args), **common)

    def _pairs(self, kw: str, rest: str) -> tuple[tuple[tuple[str, str], ...], bool]:
        words = parse_words(rest, self.escape)
        if not words:
            raise Fail(f"{kw} requires at least one argument")
        if "=" not in words[0]:
            # the old form: KEY and the rest of the line as its value
            parts = WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise Fail(f"{kw} must have two arguments ({kw} KEY=value, or the old {kw} KEY value)")
            return ((parts[0], parts[1]),), True
        pairs = []
        for word in words:
            if "=" not in word:
                raise Fail(f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value')
            key, value = word.split("=", 1)
            if not key:
                raise Fail(f"{kw} names can not be blank")
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

    def _one(self, kw: str, flags: Flags, rest: str) -> str:
        flags.parse({})
        if not rest:
            raise Fail(f"{kw} requires exactly one argument")
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
        args = json_array(rest)
        if args is not None:
            if not args and not empty_ok:
                raise Fail(f"{kw} requires at least one argument")
            return Command(tuple(args), shell_form=False)
        if not rest:
            raise Fail(f"{kw} requires at least one argument")
        return Command((rest,), shell_form=True)

    def _make_run(self, kw, flags, rest, heredocs, common) -> Run:
        values = flags.parse({"mount": "strings", "network": "string", "security": "string"})
        network = values.get("network", "default")
        if network not in NETWORK_MODES:
            raise Fail(f'invalid network mode "{network}" (one of {", ".join(NETWORK_MODES)})')
        security = values.get("security", "sandbox")
        if security not in SECURITY_MODES:
            raise Fail(f'security "{security}" is not valid (one of {", ".join(SECURITY_MODES)})')
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
        args = json_array(rest)
        if args is None:
            raise Fail('SHELL requires the arguments to be in JSON form: SHELL ["executable", "parameters"]')
        if not args:
            raise Fail("SHELL requires at least one argument")
        return Shell(shell=tuple(args), **common)

    def _make_copy(self, kw, flags, rest, heredocs, common) -> Copy:
        spec = {"chown": "string", "chmod": "string", "link": "bool", "exclude": "strings"}
        if kw == "COPY":
            spec |= {"from": "string", "parents": "bool"}
        else:
            spec |= {"keep-git-dir": "bool", "checksum": "string", "unpack": "bool"}
        values = flags.parse(spec)
        args = json_array(rest)
        json_form = args is not None
        if args is None:
            args = WHITESPACE.split(rest) if rest else []
        if not args:
            raise Fail(f"{kw} requires at least two arguments: a source and a destination")
        if len(args) < 2:
            raise Fail(f"{kw} requires at least two arguments, but only one was provided. "
                       f"Destination could not be determined")
        *sources, dest = args
        if not json_form and parse_heredoc_word(dest) is not None:
            raise Fail(f"{kw} cannot accept a heredoc as a destination")
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
                raise Fail("COPY --from needs a stage name, a stage index or an image")
            if Lexer(self.escape).word(origin, {}) != origin:
                raise Fail("variable expansion is not supported for --from, define a new stage with FROM "
                           "using ARG from global scope as a workaround")
        return Copy(from_=origin, parents=values.get("parents", False), **common)

    _make_add = _make_copy

    def _make_expose(self, kw, flags, rest, heredocs, common) -> Expose:
        flags.parse({})
        ports = WHITESPACE.split(rest) if rest else []
        if not ports:
            raise Fail("EXPOSE requires at least one argument")
        for port in ports:
            if "$" not in port and "'" not in port and '"' not in port:
                expose_ports(port)
        return Expose(ports=tuple(ports), **common)

    def _make_volume(self, kw, flags, rest, heredocs, common) -> Volume:
        flags.parse({})
        paths = json_array(rest)
        if paths is None:
            paths = WHITESPACE.split(rest) if rest else []
        if not paths:
            raise Fail("VOLUME requires at least one argument")
        if any(not p.strip() for p in paths):
            raise Fail("VOLUME specified can not be an empty string")
        return Volume(paths=tuple(p.strip() for p in paths), **common)

    def _make_healthcheck(self, kw, flags, rest, heredocs, common) -> Healthcheck:
        if not rest:
            raise Fail("HEALTHCHECK requires at least one argument")
        parts = rest.split(None, 1)
        kind, command = parts[0].upper(), (parts[1].strip() if len(parts) > 1 else "")
        if kind == "NONE":
            if command:
                raise Fail("HEALTHCHECK NONE takes no arguments")
            if flags.raw:
                raise Fail("HEALTHCHECK NONE takes no options")
            return Healthcheck(test=("NONE",), **common)
        names = ("interval", "timeout", "start-period", "start-interval")
        values = flags.parse({**{n: "string" for n in names}, "retries": "string"})
        if kind != "CMD":
            raise Fail(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
        args = json_array(command)
        if args is None:
            if not command:
                raise Fail("Missing command after HEALTHCHECK CMD")
            test: tuple[str, ...] = ("CMD-SHELL", command)
        else:
            if not args:
                raise Fail("Missing command after HEALTHCHECK CMD")
            test = ("CMD", *args)
        durations = {}
        for name in names:
            try:
                ns = parse_duration(values.get(name, ""))
            except ValueError as e:
                raise Fail(f"--{name}: {e}") from None
            if 0 < ns < 1_000_000:
                raise Fail(f'Interval "{name}" cannot be less than 1ms')
            durations[name.replace("-", "_")] = ns
        retries = 0
        if values.get("retries"):
            try:
                retries = int(values["retries"], 10)
            except ValueError:
                raise Fail(f"--retries: {values['retries']!r} is not a number") from None
            if retries < 0:
                raise Fail(f"--retries cannot be negative ({retries})")
        return Healthcheck(test=test, retries=retries, **durations, **common)

    def _make_onbuild(self, kw, flags, rest, heredocs, common) -> Onbuild:
        if not rest:
            raise Fail("ONBUILD requires at least one argument")
        flags.parse({})
        inner, inner_flags, inner_rest = self._split(rest)
        upper = inner.upper()
        if upper == "ONBUILD":
            raise Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if upper in ("FROM", "MAINTAINER"):
            raise Fail(f"{upper} isn't allowed as an ONBUILD trigger")
        trigger = self._make(inner, inner_flags, inner_rest, heredocs, common["location"], rest)
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", common["original"])
        expression += "".join(f"\n{doc.content}{doc.name}" for doc in heredocs)
        return Onbuild(trigger=trigger, expression=expression, **common)
