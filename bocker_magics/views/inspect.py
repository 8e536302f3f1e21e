"""Inspect: a container's or an image's whole record, as nested tables and as JSON."""

from __future__ import annotations

import html
import json
from typing import Any

from ._render import View


def _html(value: Any) -> str:
    if isinstance(value, dict):
        if not value:
            return "<code>{}</code>"
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{_html(v)}</td></tr>" for k, v in value.items())
        return f"<table><tbody>{rows}</tbody></table>"
    if isinstance(value, list):
        if not value:
            return "<code>[]</code>"
        return "<ol>" + "".join(f"<li>{_html(v)}</li>" for v in value) + "</ol>"
    return f"<code>{html.escape(json.dumps(value))}</code>"


class Inspect(View):
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record

    def __getitem__(self, key: str) -> Any:
        return self.record[key]

    def to_json(self) -> str:
        return json.dumps(self.record, indent=2, sort_keys=True)

    def _text(self) -> str:
        return self.to_json()

    def _html(self) -> str:
        title = self.record.get("Id") or self.record.get("id") or ""
        return f"<section><h4>{html.escape(str(title))}</h4>{_html(self.record)}</section>"

    def _markdown(self) -> str:
        return f"```json\n{self.to_json()}\n```"

    def to_frame(self):
        """The record flattened: one row per leaf, keys joined with '.'."""
        import pandas as pd

        return pd.json_normalize(self.record, sep=".").T.rename(columns={0: "value"})
