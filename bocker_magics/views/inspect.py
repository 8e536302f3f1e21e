"""Inspect: a container's or an image's whole record, as a tree to read and as JSON.

    info = %bocker inspect web
    info["State"]["Pid"]     # the record itself (raw values: times are epoch seconds)
    info.to_json()           # what `bocker inspect` prints
    info.to_frame()          # one row per leaf, keys joined with '.'

The tree (HTML, text, Markdown) is left-aligned, times are local date-times and sizes are
in KiB/MiB/GiB; a list of plain values is one line.
"""

from __future__ import annotations

import html
import json
from typing import Any

from .. import format
from ._render import View
from .hints import limit_size

# keys whose numbers are seconds since the epoch, and keys whose numbers are bytes
TIME_KEYS = {"created", "startedat", "finishedat", "started_at", "finished_at"}
SIZE_KEYS = {"memory", "size", "memory_limit", "memory_current", "memory_peak"}


def readable(key: str, value: Any) -> str:
    """A leaf as a person reads it."""
    k = key.lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if k in TIME_KEYS and value > 1e8:
            return format.local_time(value)
        if k in SIZE_KEYS or k.endswith("_bytes"):
            return f"{limit_size(value)} ({value})" if value >= 1024 else format.size(value)
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _plain_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def _html(key: str, value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "<code>{}</code>"
        items = "".join(f"<li><b>{html.escape(str(k))}</b>: {_html(str(k), v)}</li>" for k, v in value.items())
        return f'<ul style="text-align:left">{items}</ul>'
    if isinstance(value, list):
        if not value:
            return "<code>[]</code>"
        if _plain_list(value):
            return html.escape(", ".join(readable(key, v) for v in value))
        return '<ol start="0" style="text-align:left">' + "".join(f"<li>{_html(key, v)}</li>" for v in value) + "</ol>"
    return f"<code>{html.escape(readable(key, value))}</code>"


def _lines(key: str, value: Any, indent: str, bullet: str) -> list[str]:
    """The text tree: `key: value`, children indented under their key."""
    if isinstance(value, dict) and value:
        out = [f"{indent}{bullet}{key}:"]
        for k, v in value.items():
            out += _lines(str(k), v, indent + "  ", bullet)
        return out
    if isinstance(value, list) and value and not _plain_list(value):
        out = [f"{indent}{bullet}{key}:"]
        for i, v in enumerate(value):
            out += _lines(f"[{i}]", v, indent + "  ", bullet)
        return out
    if isinstance(value, list):
        shown = ", ".join(readable(key, v) for v in value) if value else "[]"
    else:
        shown = "{}" if value == {} else readable(key, value)
    return [f"{indent}{bullet}{key}: {shown}"]


class Inspect(View):
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    def _ipython_key_completions_(self) -> list[str]:
        return list(self.record)

    @property
    def title(self) -> str:
        r = self.record
        ident = r.get("Id") or r.get("id") or ""
        name = r.get("Name") or ", ".join(r.get("names") or [])
        return f"{name} ({ident})" if name else str(ident)

    def to_json(self) -> str:
        return json.dumps(self.record, indent=2, sort_keys=True)

    def _text(self) -> str:
        lines = [self.title]
        for k, v in self.record.items():
            lines += _lines(str(k), v, "  ", "")
        return "\n".join(lines)

    def _html(self) -> str:
        # each top-level entry that holds more than a value folds (<details>): the page stays short
        parts = []
        for k, v in self.record.items():
            if isinstance(v, (dict, list)) and v and not _plain_list(v):
                parts.append(f"<details><summary><b>{html.escape(str(k))}</b></summary>{_html(str(k), v)}</details>")
            else:
                parts.append(f"<div><b>{html.escape(str(k))}</b>: {_html(str(k), v)}</div>")
        return f'<section style="text-align:left"><h4>{html.escape(self.title)}</h4>{"".join(parts)}</section>'

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """JupyterLab shows application/json as a collapsible tree; exported HTML (reports) and
        GitHub take the HTML tree; a terminal the text."""
        bundle = super()._repr_mimebundle_(include, exclude)
        bundle["application/json"] = json.loads(json.dumps(self.record, default=str))
        return bundle

    def _markdown(self) -> str:
        lines = [f"**{self.title}**", ""]
        for k, v in self.record.items():
            lines += _lines(str(k), v, "", "- ")
        return "\n".join(lines)

    def to_frame(self):
        """The record flattened: one row per leaf, keys joined with '.'."""
        import pandas as pd

        return pd.json_normalize(self.record, sep=".").T.rename(columns={0: "value"})
