"""The typed instructions of a Dockerfile, and the substitution a builder applies to each.

The parser (dockerfile.py) makes these with their words as written: quotes and `$VAR` are
still in them. A builder calls `scope.expand(instruction)` (variables.py) when it reaches the
instruction, with the ARG/ENV state of that moment, and gets a copy with the words
substituted in exactly the fields Docker substitutes: ADD COPY ENV EXPOSE FROM LABEL
STOPSIGNAL USER VOLUME WORKDIR, plus RUN's --mount values. RUN, CMD, ENTRYPOINT, SHELL and
HEALTHCHECK commands are left to the container's shell; ONBUILD's trigger is substituted in
the downstream build that runs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from bocker_magics.errors import DockerfileError

from ..units import parse_size, signal_number
from .lexer import Lexer, LexError

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


# --- the parts of instructions

@dataclass(frozen=True)
class Heredoc:
    """A here-document: `<<EOF` and the lines up to `EOF`."""
    name: str                 # the delimiter, quotes removed
    content: str              # the body as written, each line with its newline
    expand: bool = True       # False when any part of the delimiter was quoted (<<"EOF", <<'EOF')
    chomp: bool = False       # <<-EOF: leading tabs are stripped from the body's lines
    fd: int | None = None     # 3<<EOF

    @property
    def data(self) -> str:
        return strip_leading_tabs(self.content) if self.chomp else self.content


def strip_leading_tabs(text: str) -> str:
    return re.sub(r"(?m)^\t+", "", text)


@dataclass(frozen=True)
class InlineFile:
    """A file whose content is in the Dockerfile: a COPY/ADD here-document, or a RUN script."""
    path: str                 # COPY: the name under the destination; RUN: where the script is
    content: str
    expand: bool = False      # the builder substitutes variables into the content (COPY <<EOF)
    mode: int = 0o644


@dataclass(frozen=True)
class Command:
    """A command line in shell form (one string, run by SHELL) or exec form (an argv)."""
    args: tuple[str, ...]
    shell_form: bool

    def argv(self, shell: Sequence[str]) -> list[str]:
        return [*shell, *self.args] if self.shell_form else list(self.args)


@dataclass(frozen=True)
class RunProcess:
    """What a RUN step executes: an argv, and files it needs in the container (a here-document
    script with a shebang is run as a file)."""
    argv: tuple[str, ...]
    files: tuple[InlineFile, ...] = ()


MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
MOUNT_SHARING = ("shared", "private", "locked")
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")


@dataclass(frozen=True)
class Mount:
    """One RUN --mount=type=...,target=... (BuildKit's fields)."""
    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""           # a stage (name or index) or an image; the build context if empty
    readonly: bool = True     # bind/secret/ssh are read-only unless rw; cache/tmpfs read-write
    id: str = ""
    sharing: str = ""         # cache: shared (default), private, locked
    required: bool = False    # secret/ssh
    size: int | None = None   # tmpfs, bytes
    mode: int | None = None   # cache/secret/ssh
    uid: int | None = None
    gid: int | None = None
    env: str | None = None    # secret: expose it as this environment variable


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

def parse_heredoc_word(word: str) -> Heredoc | None:
    """The here-document a word like `<<EOF`, `<<-"EOF"`, `3<<EOF` opens, or None.
    A word with an unterminated quote (`<<"EOF`) raises LexError."""
    m = re.match(r"^(\d*)<<(-?)\s*([^<]*)$", word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    plain = Lexer("\\", skip_unset=True).words(rest, {})
    if len(plain) != 1:
        return None
    raw = Lexer("\\", raw_quotes=True, skip_unset=True).words(rest, {})
    quotes = lambda s: s.count("'") + s.count('"')  # noqa: E731
    return Heredoc(name=plain[0], content="", expand=quotes(plain[0]) == quotes(raw[0]),
                   chomp=m.group(2) == "-", fd=int(m.group(1)) if m.group(1) else None)


def _bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in ("1", "t", "true"):
        return True
    if low in ("0", "f", "false"):
        return False
    raise LexError(f"invalid value for {key}: {value}")


def _csv_fields(text: str) -> list[str]:
    """Comma-separated fields; a field may be double-quoted (with "" for a quote)."""
    out: list[str] = []
    buf: list[str] = []
    i, quoted = 0, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text[i + 1:i + 2] == '"':
                buf.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                buf.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ",":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quoted:
        raise LexError(f"failed to parse csv mounts: unterminated quote in {text!r}")
    out.append("".join(buf))
    return out


def parse_mount(text: str, expand=None) -> Mount:
    """One --mount value. With expand (the builder's substitution) every value is substituted
    and checked; without it (parse time) values that hold a `$` are checked later."""
    m: dict[str, object] = {"type": "bind"}  # "readonly" absent: not given, the type's default
    for fld in _csv_fields(text):
        key, eq, value = fld.partition("=")
        key = key.lower()
        if not eq:
            _mount_flag(m, key, fld)
            continue
        if key == "from" and "$" in value[:-1]:
            raise LexError("'from' doesn't support variable expansion, define alias stage instead")
        if expand is not None:
            value = expand(value)
        elif "$" in value:
            continue                      # checked when the builder substitutes it
        _mount_field(m, key, value, fld)
    _check_mount(m, substituted=expand is not None)
    return Mount(**m)  # type: ignore[arg-type]


def _mount_flag(m: dict[str, object], key: str, fld: str) -> None:
    """A key without a value: ro, rw, required."""
    if key in ("readonly", "ro"):
        m["readonly"] = True
    elif key in ("readwrite", "rw"):
        m["readonly"] = False
    elif key == "required":
        if m["type"] not in ("secret", "ssh"):
            raise LexError(f"unexpected key '{key}' for mount type '{m['type']}'")
        m["required"] = True
    else:
        raise LexError(f"invalid field '{fld}' must be a key=value pair")


def _mount_field(m: dict[str, object], key: str, value: str, fld: str) -> None:  # noqa: C901 - one flat table of keys
    """A key=value of --mount, its value substituted."""
    if key == "type":
        if value.lower() not in MOUNT_TYPES:
            raise LexError(f"unsupported mount type {value!r} (one of {', '.join(MOUNT_TYPES)})")
        m["type"] = value.lower()
    elif key == "from":
        m["from_"] = value
    elif key in ("source", "src"):
        m["source"] = value
    elif key in ("target", "dst", "destination"):
        m["target"] = value
    elif key in ("readonly", "ro"):
        m["readonly"] = _bool(key, value)
    elif key in ("readwrite", "rw"):
        m["readonly"] = not _bool(key, value)
    elif key == "required":
        if m["type"] not in ("secret", "ssh"):
            raise LexError(f"unexpected key '{key}' for mount type '{m['type']}'")
        m["required"] = _bool(key, value)
    elif key == "size":
        if m["type"] != "tmpfs":
            raise LexError(f"unexpected key '{key}' for mount type '{m['type']}'")
        try:
            m["size"] = parse_size(value)
        except ValueError:
            raise LexError(f"invalid value for {key}: {value}") from None
    elif key == "id":
        m["id"] = value
    elif key == "sharing":
        if value.lower() not in MOUNT_SHARING:
            raise LexError(f"unsupported sharing value {value!r} (one of {', '.join(MOUNT_SHARING)})")
        m["sharing"] = value.lower()
    elif key in ("mode", "uid", "gid"):
        try:
            number = int(value, 8 if key == "mode" else 10)
            if number < 0:
                raise ValueError(value)
        except ValueError:
            raise LexError(f"invalid value {value} for {key}") from None
        m[key] = number
    elif key == "env":
        m["env"] = value
    else:
        raise LexError(f"unexpected key '{key}' in '{fld}'")


def _check_mount(m: dict[str, object], substituted: bool) -> None:
    """What the keys say together; a readonly not given becomes the type's default."""
    kind = m["type"]
    if kind not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if key in m:
                raise LexError(f"{key} not allowed for {kind!r} type mounts")
    if "readonly" not in m:
        m["readonly"] = kind not in ("cache", "tmpfs")
    if kind == "secret":
        if m.get("from_"):
            raise LexError("secret mount should not have a from")
        if m.get("sharing"):
            raise LexError("secret mount should not define sharing")
        if substituted and not (m.get("source") or m.get("target") or m.get("id")):
            raise LexError("invalid secret mount. one of source, target required")
        if m.get("source") and m.get("id"):
            raise LexError("both source and id can't be set")
    if m.get("sharing") and kind != "cache":
        raise LexError(f"invalid cache sharing set for {kind} mount")
    if substituted and kind in ("bind", "cache", "tmpfs") and not m.get("target"):
        raise LexError(f"a {kind} mount needs target=PATH")


def expose_ports(spec: str) -> list[str]:
    """"80" -> ["80/tcp"]; "53/udp"; "8000-8002/tcp" -> one entry per port."""
    if ":" in spec:
        raise LexError(f"EXPOSE {spec}: EXPOSE takes container ports only (80, 53/udp, 8000-8010); "
                       f"publish host ports with run -p")
    port, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise LexError(f"invalid port: {spec!r}: invalid proto: {proto}")
    first, dash, last = port.partition("-")

    def number(text: str) -> int:
        if not text.isascii() or not text.isdigit() or int(text) > 65535:
            raise LexError(f"invalid port: {spec!r}: a port is a number 0-65535 or a range 8000-8010")
        return int(text)

    lo = number(first)
    hi = number(last) if dash else lo
    if hi < lo:
        raise LexError(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(lo, hi + 1)]


def check_signal(value: str) -> None:
    """SIGKILL, KILL, 9 and SIGRTMIN+3 are signals (units.signal_number); anything else is refused."""
    try:
        signal_number(value)
    except ValueError:
        raise LexError(f"invalid signal: {value} (a name like SIGTERM or a number like 15)") from None


_SYMBOLIC_MODE = re.compile(r"^[ugoa]*([-+=]([rwxXst]*|[ugo]))+(,[ugoa]*([-+=]([rwxXst]*|[ugo]))+)*$")


def check_chmod(value: str) -> None:
    """Octal up to 07777, or chmod(1)'s symbolic notation (u=rwX,go=rX)."""
    if re.fullmatch(r"[0-7]+", value):
        if int(value, 8) <= 0o7777:
            return
    elif _SYMBOLIC_MODE.match(value):
        return
    raise LexError(f"invalid chmod parameter: '{value}'. it should be octal string and between 0 and 07777, "
                   f"or symbolic like u=rwX,go=rX")


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration ("1h30m", "5s", "300ms", "1.5h"), in nanoseconds."""
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return int(total)


ALL_INSTRUCTIONS: dict[str, type[Instruction]] = {
    cls.keyword: cls for cls in (From, Arg, Env, Label, Maintainer, Run, Cmd, Entrypoint, Shell, Copy,
                                 Add, Workdir, User, Expose, Volume, StopSignal, Healthcheck, Onbuild)
}
