"""The parts of Dockerfile instructions and their values, checked: here-documents, commands,
RUN --mount (BuildKit's fields), ports, signals, chmod modes, durations. The instructions
themselves (instructions.py) are made of these."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..units import parse_size, signal_number
from .lexer import Lexer, LexError


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
