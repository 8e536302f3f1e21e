"""What every view shares: one mime bundle (text/plain, plain semantic HTML, Markdown) made
from headers and rows, so exported HTML, PDF and GitHub show it with no JS or CSS.

Third-party imports (pandas, ipywidgets) stay inside the functions that need them: the
package is imported by the container shim, which must stay fast.
"""

from __future__ import annotations

import base64
import html
import time
from typing import Any, Iterable, Sequence


def human_bytes(n: int | float | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def when(ts: float | None) -> str:
    return "-" if not ts else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def cell_text(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v).replace("\n", " ⏎ ")


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], marks: set[tuple[int, int]] = frozenset()) -> str:
    """Columns padded to width; a marked cell gets a trailing '*'."""
    cells = [[cell_text(v) + ("*" if (i, j) in marks else "") for j, v in enumerate(r)] for i, r in enumerate(rows)]
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None,
               marks: set[tuple[int, int]] = frozenset(), row_headers: bool = False,
               raw: set[int] = frozenset()) -> str:
    """A plain <table>: <th> headers, <mark> for marked cells; columns in `raw` are HTML already."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for i, r in enumerate(rows):
        tds = []
        for j, v in enumerate(r):
            text = cell_text(v) if j not in raw else str(v)
            text = text if j in raw else html.escape(text)
            if (i, j) in marks:
                text = f"<mark>{text}</mark>"
            tag = "th" if row_headers and j == 0 else "td"
            tds.append(f"<{tag}>{text}</{tag}>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], marks: set[tuple[int, int]] = frozenset()) -> str:
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for i, r in enumerate(rows):
        cells = [md_escape(cell_text(v)) for v in r]
        cells = [f"**{c}**" if (i, j) in marks else c for j, c in enumerate(cells)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class View:
    """A result that renders everywhere: `_repr_mimebundle_` (text, HTML, Markdown) and
    `.widget()` (ipywidgets, live where the view has something live to show)."""

    def _text(self) -> str:
        raise NotImplementedError

    def _html(self) -> str:
        raise NotImplementedError

    def _markdown(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self._text(), "text/html": self._html(), "text/markdown": self._markdown()}

    def __repr__(self) -> str:
        return self._text()

    def widget(self):
        import ipywidgets

        return ipywidgets.HTML(self._html())


class Table(View):
    """Rows under headers; `.to_frame()` is the pandas version (typed values, not text)."""

    caption = ""
    headers: Sequence[str] = ()

    def rows(self) -> list[list[Any]]:
        raise NotImplementedError

    def frame_rows(self) -> list[list[Any]]:
        return self.rows()

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.frame_rows(), columns=list(self.headers))

    def __len__(self) -> int:
        return len(self.rows())

    def _text(self) -> str:
        return text_table(self.headers, self.rows())

    def _html(self) -> str:
        return html_table(self.headers, self.rows(), caption=self.caption or None)

    def _markdown(self) -> str:
        return md_table(self.headers, self.rows())

    def widget(self):
        import ipywidgets

        return ipywidgets.HTML(self._html())
