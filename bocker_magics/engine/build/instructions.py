"""The typed instructions of a Dockerfile, and the substitution a builder applies to each.

The parser (dockerfile.py) makes these with their words as written: quotes and `$VAR` are
still in them. A builder calls `scope.expand(instruction)` (variables.py) when it reaches the
instruction, with the ARG/ENV state of that moment, and gets a copy with the words
substituted in exactly the fields Docker substitutes: ADD COPY ENV EXPOSE FROM LABEL
STOPSIGNAL USER VOLUME WORKDIR, plus RUN's --mount values. RUN, CMD, ENTRYPOINT, SHELL and
HEALTHCHECK commands are left to the container's shell; ONBUILD's trigger is substituted in
the downstream build that runs it.

The parts instructions are made of (here-documents, commands, RUN --mount) and the checks of
their values are parts.py's; every name is reachable from here too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from bocker_magics.errors import DockerfileError

from .lexer import Lexer, LexError
from .parts import (  # noqa: F401  (the parts' names, from here as before)
    MOUNT_SHARING,
    MOUNT_TYPES,
    NETWORK_MODES,
    SECURITY_MODES,
    Command,
    Heredoc,
    InlineFile,
    Mount,
    RunProcess,
    check_chmod,
    check_signal,
    expose_ports,
    parse_duration,
    parse_heredoc_word,
    parse_mount,
    strip_leading_tabs,
)

# The instructions whose arguments the builder substitutes (the reference's list).
SUBSTITUTING = frozenset({"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER",
                          "VOLUME", "WORKDIR"})


@dataclass(frozen=True)
class Location:
    file: str        # the name the Dockerfile was given as ("Dockerfile", "app/Dockerfile", "-")
    line: int        # first line, 1-based
    end_line: int    # last line, here-document bodies included

    def error(self, message: str) -> DockerfileError:
        return DockerfileError(self.file, self.line, message)


class Expander:
    """Substitution with one fixed set of variable values (the state before an instruction)."""

    def __init__(self, values: Mapping[str, str], escape: str = "\\") -> None:
        self.values = dict(values)
        self._lexer = Lexer(escape)
        # a here-document body: quotes are plain text, backslash is its escape (as in BuildKit)
        self._body = Lexer("\\", skip_quotes=True)

    def word(self, text: str) -> str:
        return self._lexer.word(text, self.values)

    def words(self, text: str) -> list[str]:
        return self._lexer.words(text, self.values)

    def body(self, text: str) -> str:
        return self._body.word(text, self.values)


# --- the instructions

@dataclass(frozen=True, kw_only=True)
class Instruction:
    keyword: ClassVar[str] = ""
    location: Location
    original: str                  # as written, continuation lines joined
    flags: tuple[str, ...] = ()    # as written: ("--from=build", "--chown=1:1")

    @property
    def line(self) -> int:
        return self.location.line

    def expand(self, ex: Expander) -> Instruction:
        """A copy with variables substituted where Docker substitutes them."""
        try:
            return self._expand(ex)
        except LexError as e:
            raise self.location.error(str(e)) from None

    def _expand(self, ex: Expander) -> Instruction:
        return self

    def cache_key(self) -> str:
        """The instruction's meaning, for the build cache: its keyword and parsed fields, not
        where it is or how it was spaced. Call it on the expanded instruction."""
        data = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("location", "original", "flags")}
        return json.dumps([self.keyword, _plain(data)], sort_keys=True, separators=(",", ":"))


def _plain(value: object) -> object:
    if isinstance(value, Instruction):
        return json.loads(value.cache_key())
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value))  # type: ignore[arg-type]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str                      # an image reference, "scratch", or an earlier stage's name
    name: str | None = None         # AS name (lower-cased, as Docker does)
    platform: str | None = None     # --platform

    def _expand(self, ex: Expander) -> From:
        image = ex.word(self.image)
        if not image:
            raise LexError(f"base name ({self.image}) should not be blank")
        platform = None
        if self.platform is not None:
            platform = ex.word(self.platform)
            if not platform:
                raise LexError(f"empty platform value from expression {self.platform}")
        return replace(self, image=image, platform=platform)


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    """ARG NAME[=default] ...; defaults are substituted when the ARG is reached (variables.py)."""
    keyword: ClassVar[str] = "ARG"
    args: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    pairs: tuple[tuple[str, str], ...]
    legacy: bool = False            # the old `ENV KEY value with spaces` form

    def _expand(self, ex: Expander) -> Env:
        return replace(self, pairs=tuple((ex.word(k), ex.word(v)) for k, v in self.pairs))


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    pairs: tuple[tuple[str, str], ...]
    legacy: bool = False

    def _expand(self, ex: Expander) -> Label:
        return replace(self, pairs=tuple((ex.word(k), ex.word(v)) for k, v in self.pairs))


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    """Deprecated; Docker puts it in the image config's `author` field (and suggests the label
    org.opencontainers.image.authors instead)."""
    keyword: ClassVar[str] = "MAINTAINER"
    name: str


@dataclass(frozen=True, kw_only=True)
class Run(Instruction):
    keyword: ClassVar[str] = "RUN"
    command: Command
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: str = "default"        # default | none | host
    security: str = "sandbox"       # sandbox | insecure
    raw_mounts: tuple[str, ...] = ()  # the --mount values as written, substituted on expand

    def _expand(self, ex: Expander) -> Run:
        if not self.raw_mounts:
            return self
        mounts = tuple(parse_mount(text, ex.word) for text in self.raw_mounts)
        return replace(self, mounts=mounts)

    def process(self, shell: Sequence[str]) -> RunProcess:
        """What to execute, with `shell` the stage's SHELL (["/bin/sh", "-c"] by default).

        A RUN whose whole command is one here-document runs its body as the script (a body
        starting with #! as an executable file, so its interpreter runs it); a command line
        that uses here-documents (`python3 <<EOF`, several of them) goes to the shell with the
        bodies after it, and the shell feeds them."""
        if not self.heredocs:
            return RunProcess(tuple(self.command.argv(shell)))
        cmdline = self.command.args[0]
        whole = parse_heredoc_word(cmdline)
        if whole is not None:
            doc = self.heredocs[0]
            if doc.data.startswith("#!"):
                script = InlineFile(f"/dev/pipes/{doc.name}", doc.data, mode=0o755)
                return RunProcess((script.path,), (script,))
            return RunProcess((*shell, doc.data))
        full = cmdline + "".join(f"\n{doc.content}{doc.name}" for doc in self.heredocs)
        return RunProcess((*shell, full))


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    keyword: ClassVar[str] = "CMD"
    command: Command


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    keyword: ClassVar[str] = "ENTRYPOINT"
    command: Command                # exec form [] clears the base image's entrypoint


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    keyword: ClassVar[str] = "COPY"
    sources: tuple[str, ...]        # paths or wildcards (context, or the --from stage/image)
    dest: str
    inline: tuple[InlineFile, ...] = ()   # here-documents used as sources
    from_: str | None = None        # --from: a stage name or index, or an image
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()
    json_form: bool = False

    def _expand(self, ex: Expander) -> Copy:
        chmod = ex.word(self.chmod) if self.chmod is not None else None
        if chmod is not None:
            check_chmod(chmod)
        return replace(
            self,
            sources=tuple(ex.word(s) for s in self.sources),
            dest=ex.word(self.dest),
            chown=ex.word(self.chown) if self.chown is not None else None,
            chmod=chmod,
            inline=tuple(replace(f, content=ex.body(f.content), expand=False) if f.expand else f
                         for f in self.inline),
            **self._expand_more(ex))

    def _expand_more(self, ex: Expander) -> dict[str, object]:
        return {}


@dataclass(frozen=True, kw_only=True)
class Add(Copy):
    keyword: ClassVar[str] = "ADD"
    checksum: str | None = None
    keep_git_dir: bool | None = None
    unpack: bool | None = None      # None: a local tar is unpacked, as ADD always did

    def _expand_more(self, ex: Expander) -> dict[str, object]:
        return {"checksum": ex.word(self.checksum) if self.checksum is not None else None}


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    path: str

    def _expand(self, ex: Expander) -> Workdir:
        return replace(self, path=ex.word(self.path))


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    user: str

    def _expand(self, ex: Expander) -> User:
        return replace(self, user=ex.word(self.user))


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    """EXPOSE 80 443/tcp 53/udp 8000-8010; expanded, `ports` are "PORT/PROTO", one per port."""
    keyword: ClassVar[str] = "EXPOSE"
    ports: tuple[str, ...]

    def _expand(self, ex: Expander) -> Expose:
        out: list[str] = []
        for word in self.ports:
            for spec in ex.words(word):
                out.extend(expose_ports(spec))
        return replace(self, ports=tuple(out))


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    paths: tuple[str, ...]

    def _expand(self, ex: Expander) -> Volume:
        paths = tuple(ex.word(p) for p in self.paths)
        if any(not p.strip() for p in paths):
            raise LexError("VOLUME specified can not be an empty string")
        return replace(self, paths=paths)


@dataclass(frozen=True, kw_only=True)
class StopSignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str

    def _expand(self, ex: Expander) -> StopSignal:
        value = ex.word(self.signal)
        check_signal(value)
        return replace(self, signal=value)


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """HEALTHCHECK NONE (test == ("NONE",)) or CMD: test is ("CMD", argv...) for the exec form,
    ("CMD-SHELL", line) for the shell form, as in the image config. Durations in nanoseconds;
    0 means the default."""
    keyword: ClassVar[str] = "HEALTHCHECK"
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    """ONBUILD INSTRUCTION: kept in the image config (`expression`) and run by a build that uses
    the image as its base; `trigger` is it parsed, so a mistake shows here and now."""
    keyword: ClassVar[str] = "ONBUILD"
    trigger: Instruction
    expression: str


# --- values checked as Docker checks them


ALL_INSTRUCTIONS: dict[str, type[Instruction]] = {
    cls.keyword: cls for cls in (From, Arg, Env, Label, Maintainer, Run, Cmd, Entrypoint, Shell, Copy,
                                 Add, Workdir, User, Expose, Volume, StopSignal, Healthcheck, Onbuild)
}
