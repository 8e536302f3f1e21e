"""What every view shares: one mime bundle (text/plain, plain semantic HTML, Markdown) made
from headers and rows, so exported HTML, PDF and GitHub show it with no JS or CSS.

Third-party imports (pandas, ipywidgets) stay inside the functions that need them: the
package is imported by the container shim, which must stay fast.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import format

# one formatter for the whole toolkit (the CLI uses it too)
human_bytes = format.size
when = format.local_time


def cell_text(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    return str(v).replace("\n", " ⏎ ")


def short_cell(v: Any, width: int | None) -> tuple[str, str]:
    """(what the cell shows, the whole value): long values are shortened to `width`."""
    whole = cell_text(v)
    return (format.shorten(whole, width) if width else whole), whole


def _widths(headers: Sequence[str], widths: Mapping[str, int] | None) -> list[int | None]:
    return [(widths or {}).get(h) for h in headers]


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], marks: set[tuple[int, int]] = frozenset(),
               widths: Mapping[str, int] | None = None) -> str:
    """Columns padded to width (long values shortened); a marked cell gets a trailing '*'."""
    limit = _widths(headers, widths)
    cells = [[short_cell(v, limit[j])[0] + ("*" if (i, j) in marks else "") for j, v in enumerate(r)]
             for i, r in enumerate(rows)]
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str | None = None,
               marks: set[tuple[int, int]] = frozenset(), row_headers: bool = False,
               raw: set[int] = frozenset(), widths: Mapping[str, int] | None = None) -> str:
    """A plain <table>: <th> headers, <mark> for marked cells; columns in `raw` are HTML already.
    A value longer than its column's width (`widths`) is shortened, the whole of it on hover."""
    limit = _widths(headers, widths)
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for i, r in enumerate(rows):
        tds = []
        for j, v in enumerate(r):
            if j in raw:
                text = str(v)
            else:
                shown, whole = short_cell(v, limit[j])
                text = html.escape(shown)
                if shown != whole:
                    text = f'<span title="{html.escape(whole)}">{text}</span>'
            if (i, j) in marks:
                text = f"<mark>{text}</mark>"
            tag = "th" if row_headers and j == 0 else "td"
            tds.append(f"<{tag}>{text}</{tag}>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], marks: set[tuple[int, int]] = frozenset(),
             widths: Mapping[str, int] | None = None) -> str:
    limit = _widths(headers, widths)
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for i, r in enumerate(rows):
        cells = [md_escape(short_cell(v, limit[j])[0]) for j, v in enumerate(r)]
        cells = [f"**{c}**" if (i, j) in marks else c for j, c in enumerate(cells)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# JupyterLab and classic Notebook typeset `$...$` in HTML outputs as MathJax math: shell text
# ($HOME, x="$x$x.") would turn into italics. MathJax skips elements of these classes (the
# first: Notebook's and MathJax 2's name; the second: MathJax 3's default).
NO_MATH = "tex2jax_ignore mathjax_ignore"


def no_math(fragment: str) -> str:
    """An HTML fragment that MathJax leaves alone (marked once)."""
    if fragment.startswith(f'<div class="{NO_MATH}">'):
        return fragment
    return f'<div class="{NO_MATH}">{fragment}</div>'


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class View:
    """A result that renders everywhere: `_repr_mimebundle_` (text, HTML, Markdown) and
    `.widget()` (ipywidgets, live where the view has something live to show). A view that
    carries an image has no Markdown: the PNG is carried once per output, in the HTML."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # every view's HTML is marked for MathJax to skip, however a subclass makes it
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("_html")
        if own is not None and not getattr(own, "_no_math", False):
            def _html(self: Any, _own: Any = own) -> str:
                return no_math(_own(self))
            _html._no_math = True  # type: ignore[attr-defined]
            _html.__doc__ = own.__doc__
            cls._html = _html  # type: ignore[method-assign]

    def _text(self) -> str:
        raise NotImplementedError

    def _html(self) -> str:
        raise NotImplementedError

    def _markdown(self) -> str | None:
        return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": self._text(), "text/html": no_math(self._html())}
        markdown = self._markdown()
        if markdown is not None:
            bundle["text/markdown"] = markdown
        return bundle

    def __repr__(self) -> str:
        return self._text()

    def widget(self):
        import ipywidgets

        return ipywidgets.HTML(no_math(self._html()))


class Table(View):
    """Rows under headers; `.to_frame()` is the pandas version (typed values, not text, and
    long values whole). The text, HTML and Markdown shorten a column's long values to its
    `widths` entry (the HTML keeps the whole value on hover); an empty table says `empty`."""

    caption = ""
    headers: Sequence[str] = ()
    widths: Mapping[str, int] = {}
    empty = "(none)"

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
        rows = self.rows()
        return text_table(self.headers, rows, widths=self.widths) if rows else self.empty

    def _html(self) -> str:
        rows = self.rows()
        if not rows:
            return f"<p>{html.escape(self.empty)}</p>"
        return html_table(self.headers, rows, caption=self.caption or None, widths=self.widths)

    def _markdown(self) -> str:
        rows = self.rows()
        return md_table(self.headers, rows, widths=self.widths) if rows else self.empty
