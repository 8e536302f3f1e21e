"""The `--format` of ps, images, history and volume ls, as Docker's CLI takes it, for both
faces (the CLI prints it; a notebook prints it too, or shows its table view without it).

    --format table         the wide table (`\\t\\t` between columns, as the seed's lines)
    --format json          one JSON object a line, Docker's field names
    --format '{{.ID}}\\t{{.Status}}'        a Go-template line per row; `\\t` and `\\n` are a tab
    --format 'table {{.ID}}\\t{{.Names}}'   and a newline; `table` adds a header, columns aligned

The templates understand fields (`.ID`, `.Names`...), `.` (the whole row), `.Label "KEY"`,
and the functions json, upper, lower, title, truncate X N, join X SEP, pad X N, also in a
pipeline (`{{.Names | upper}}`). Anything else is one line that says what is understood.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import format as human
from .errors import InvalidArgument

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+)|(?P<pipe>\|)|(?P<word>[^\s|"]+))')
FUNCTIONS = ("json", "upper", "lower", "title", "truncate", "join", "pad")


@dataclass
class Kind:
    """What a listing's rows are: their fields (Docker's names), the headers a `table`
    template shows for them, and which field holds labels (for `.Label "KEY"`)."""
    what: str                         # "ps", "images", ...
    fields: Sequence[str]
    headers: Mapping[str, str]
    labels_field: str | None = None


def _escape_format(text: str) -> str:
    # Docker's CLI turns the two characters \t and \n of a --format into a tab and a newline
    return text.replace("\\t", "\t").replace("\\n", "\n")


class Template:
    def __init__(self, text: str, kind: Kind) -> None:
        self.kind = kind
        self.source = text
        self.table = False
        body = text
        if body.startswith("table"):
            self.table, body = True, body[len("table"):].lstrip(" ")
        body = _escape_format(body)
        self.pieces: list[str | list] = []
        pos = 0
        for m in _ACTION.finditer(body):
            literal = body[pos:m.start()]
            if m.group(1):
                literal = literal.rstrip()
            self.pieces.append(literal)
            self.pieces.append(self._parse(m.group(2).strip()))
            pos = m.end()
            if m.group(3):
                rest = body[pos:]
                pos += len(rest) - len(rest.lstrip())
        tail = body[pos:]
        if "{{" in tail or "}}" in tail:
            raise self._error("an unclosed {{ … }}")
        self.pieces.append(tail)

    def _error(self, why: str) -> InvalidArgument:
        fields = ", ".join(f".{f}" for f in self.kind.fields)
        return InvalidArgument(f"Invalid --format '{self.source}': {why} ({self.kind.what} fields: {fields}; "
                               f"functions: {', '.join(FUNCTIONS)})")

    def _term(self, token: tuple[str, str]) -> tuple[str, Any]:
        kind, value = token
        if kind == "str":
            return ("lit", json.loads(value))
        if kind == "num":
            return ("lit", int(value))
        if value == ".":
            return ("dot", None)
        if value.startswith("."):
            name = value[1:]
            if name not in self.kind.fields:
                raise self._error(f"no field {value}")
            return ("field", name)
        raise self._error(f"'{value}' is not a field (.Name) nor a \"string\"")

    def _parse(self, action: str) -> list:
        if not action:
            raise self._error("an empty {{ }}")
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(action):
            m = _TOKEN.match(action, pos)
            if not m or m.end() == pos:
                raise self._error(f"can't read '{action}'")
            pos = m.end()
            kind = m.lastgroup
            if kind is None:
                break
            tokens.append((kind, m.group(kind)))
        commands: list[list[tuple[str, str]]] = [[]]
        for t in tokens:
            if t[0] == "pipe":
                commands.append([])
            else:
                commands[-1].append(t)
        if any(not c for c in commands):
            raise self._error(f"an empty command in '{action}'")
        parsed = []
        for i, cmd in enumerate(commands):
            head_kind, head = cmd[0]
            if head_kind == "word" and head == ".Label":
                if len(cmd) != 2 or cmd[1][0] != "str" or i:
                    raise self._error('use .Label "KEY"')
                if self.kind.labels_field is None:
                    raise self._error(".Label: these rows have no labels")
                parsed.append(("label", json.loads(cmd[1][1])))
            elif head_kind == "word" and not head.startswith("."):
                if head not in FUNCTIONS:
                    raise self._error(f"no function '{head}'")
                parsed.append(("call", head, [self._term(t) for t in cmd[1:]]))
            else:
                if len(cmd) != 1 or i:
                    raise self._error(f"'{action}': a field takes no arguments")
                parsed.append(("value", self._term(cmd[0])))
        return parsed

    # -- running it ---------------------------------------------------------------------------
    @staticmethod
    def _value(term: tuple[str, Any], row: Mapping[str, Any]) -> Any:
        kind, value = term
        if kind == "lit":
            return value
        if kind == "dot":
            return {k: _resolved(row, k) for k in row}
        return _resolved(row, value)

    def _call(self, name: str, args: list[Any]) -> Any:
        try:
            if name == "json":
                (x,) = args
                return json.dumps(x, sort_keys=True, default=str)
            if name in ("upper", "lower", "title"):
                (x,) = args
                return getattr(_text(x), name)()
            if name == "truncate":
                x, n = args
                return _text(x)[:int(n)]
            if name == "join":
                x, sep = args
                return str(sep).join(map(str, x if isinstance(x, (list, tuple)) else [x]))
            if name == "pad":
                x, n = args[0], args[1]
                return " " * int(n) + _text(x) + " " * int(args[2] if len(args) > 2 else n)
        except (ValueError, TypeError):
            raise self._error(f"wrong arguments for {name}") from None
        raise self._error(f"no function '{name}'")

    def _run(self, action: list, row: Mapping[str, Any]) -> str:
        value: Any = None
        for i, step in enumerate(action):
            if step[0] == "value":
                value = self._value(step[1], row)
            elif step[0] == "label":
                labels = _resolved(row, self.kind.labels_field) or {}
                value = labels.get(step[1], "") if isinstance(labels, dict) else ""
            else:
                args = [self._value(t, row) for t in step[2]]
                if i:
                    args.append(value)
                value = self._call(step[1], args)
        return _text(value)

    def line(self, row: Mapping[str, Any]) -> str:
        return "".join(p if isinstance(p, str) else self._run(p, row) for p in self.pieces)

    def header(self) -> str:
        out = []
        for p in self.pieces:
            if isinstance(p, str):
                out.append(p)
                continue
            first = p[0]
            if first[0] == "value" and first[1][0] == "field":
                out.append(self.kind.headers.get(first[1][1], first[1][1].upper()))
            elif first[0] == "label":
                out.append(first[1].upper())
            elif first[0] == "call" and first[2] and first[2][0][0] == "field":
                out.append(self.kind.headers.get(first[2][0][1], first[2][0][1].upper()))
            else:
                out.append("")
        return "".join(out)

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        lines = [self.line(r) for r in rows]
        if not self.table:
            return lines
        return aligned([self.header(), *lines])


def aligned(lines: list[str]) -> list[str]:
    """Tab-separated cells in aligned columns (Docker's tabwriter: 3 spaces of padding)."""
    rows = [line.split("\t") for line in lines]
    width: dict[int, int] = {}
    for r in rows:
        for j, cell in enumerate(r[:-1]):
            width[j] = max(width.get(j, 0), len(cell))
    return ["".join(cell.ljust(width[j] + 3) if j < len(r) - 1 else cell for j, cell in enumerate(r)).rstrip()
            for r in rows]


def _resolved(row: Mapping[str, Any], key: str) -> Any:
    value = row.get(key)
    return value() if callable(value) else value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def render(format: str, rows: Sequence[Mapping[str, Any]], kind: Kind,
           wide: Callable[[], list[str]]) -> list[str]:
    """The lines of `--format`: `table` (the wide table `wide` makes), `json`, or a template."""
    if format == "table":
        return wide()
    if format == "json":
        return [json.dumps({k: _resolved(r, k) for k in r}, sort_keys=True, default=str) for r in rows]
    return Template(format, kind).render(rows)


def check(format: str | None, kind: Kind) -> None:
    """A bad --format is a usage mistake found before anything is done."""
    if format not in (None, "table", "json"):
        Template(format, kind)


# -- the rows ---------------------------------------------------------------------------------
def human_duration(seconds: float) -> str:
    """Docker's words for a while: 'Less than a second', '5 seconds', '3 minutes', '2 hours'."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    for limit, unit, size in ((60, "second", 1), (3600, "minute", 60), (48 * 3600, "hour", 3600),
                              (14 * 86400, "day", 86400), (60 * 86400, "week", 7 * 86400),
                              (730 * 86400, "month", 30 * 86400)):
        if s < limit:
            n = s // size
            return f"About a{'n' if unit == 'hour' else ''} {unit}" if n == 1 and unit != "second" else f"{n} {unit}s"
    return f"{s // (365 * 86400)} years"


def _since(t: float | None) -> str:
    if not t:
        return ""
    return human_duration(max(0.0, time.time() - t)) + " ago"


def _rfc3339(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(t)) if t else ""


def shorten(text: str, no_trunc: bool, width: int = 40) -> str:
    return text if no_trunc or len(text) <= width else text[:width - 1] + "…"


CONTAINERS = Kind("ps", ("ID", "Names", "Image", "Command", "CreatedAt", "RunningFor", "Status", "State",
                         "ExitCode", "Ports", "Labels", "RestartCount", "Mounts", "Networks", "Size"),
                  {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
                   "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE",
                   "ExitCode": "EXIT CODE", "Ports": "PORTS", "Labels": "LABELS", "RestartCount": "RESTARTS",
                   "Mounts": "MOUNTS", "Networks": "NETWORKS", "Size": "SIZE"}, labels_field="Labels")

IMAGES = Kind("images", ("ID", "Repository", "Tag", "Names", "Digest", "Source", "Layers", "CreatedAt",
                         "CreatedSince", "Size", "Labels"),
              {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Names": "NAMES", "Digest": "DIGEST",
               "Source": "SOURCE", "Layers": "LAYERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED",
               "Size": "SIZE", "Labels": "LABELS"}, labels_field="Labels")

HISTORY = Kind("history", ("ID", "CreatedAt", "CreatedSince", "CreatedBy", "Size", "Comment"),
               {"ID": "IMAGE", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY",
                "Size": "SIZE", "Comment": "COMMENT"})

VOLUMES = Kind("volume ls", ("Name", "Driver", "Mountpoint", "Labels", "Scope", "CreatedAt"),
               {"Name": "VOLUME NAME", "Driver": "DRIVER", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
                "Scope": "SCOPE", "CreatedAt": "CREATED AT"}, labels_field="Labels")


def ports_text(c: Any) -> str:
    publish = c.record.network.publish if c.record is not None and c.running else []
    return ", ".join(f"{p.host_ip}:{p.host_port}->{p.container_port}/{p.proto}" for p in publish)


def container_row(c: Any, no_trunc: bool = False) -> dict[str, Any]:
    record = c.record
    return {
        "ID": c.id, "Names": c.name or "", "Image": c.image_name, "Command": shorten(c.command, no_trunc),
        "CreatedAt": _rfc3339(c.created), "RunningFor": _since(c.created), "Status": c.status_text,
        "State": c.status, "ExitCode": c.exit_code, "Ports": ports_text(c),
        "Labels": dict(record.labels) if record else {}, "RestartCount": c.restart_count,
        "Mounts": ",".join(record.volumes) if record else "",
        "Networks": (",".join(record.network.networks) or record.network.name) if record else "",
        "Size": lambda: human.size(_upper_size(c)),
    }


def _upper_size(c: Any) -> int:
    from .engine import container_size
    return container_size(c)


def image_row(img: Any, size: Callable[[], int], no_trunc: bool = False) -> dict[str, Any]:
    first = img.names[0] if img.names else ""
    repo, _, tag = first.rpartition(":") if first else ("<none>", "", "<none>")
    return {
        "ID": img.id, "Repository": repo, "Tag": tag, "Names": list(img.names),
        "Digest": img.digest or "<none>", "Source": shorten(img.source, no_trunc, 60), "Layers": len(img.layers),
        "CreatedAt": _rfc3339(img.created), "CreatedSince": _since(img.created), "Size": lambda: human.size(size()),
        "Labels": dict((img.config or {}).get("Labels") or {}),
    }


def history_row(h: Any, no_trunc: bool = False) -> dict[str, Any]:
    return {"ID": h.image, "CreatedAt": _rfc3339(h.created), "CreatedSince": _since(h.created) or "<unknown>",
            "CreatedBy": shorten(h.created_by, no_trunc, 45), "Size": human.size(h.size), "Comment": h.comment}


def volume_row(v: Any) -> dict[str, Any]:
    return {"Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "Labels": dict(v.labels),
            "Scope": "local", "CreatedAt": _rfc3339(v.created)}
