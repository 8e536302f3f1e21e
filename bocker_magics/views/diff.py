"""LayerDiff: `docker diff` of an overlay upper dir over its lower dirs.

    LayerDiff.of_dirs(upper, [lower_top, ...])   # any pair of directories
    engine.diff(ref) -> LayerDiff(changes, upper, lowers)   (via the magic)

Rows are A(dded), C(hanged) or D(eleted) paths; opaque directories are marked. The HTML
uses <ins> and <del>, which show without CSS; the widget is a coloured tree, and a changed
text file shows a unified diff against the lower dir's copy.
"""

from __future__ import annotations

import difflib
import html
import os
from pathlib import Path
from typing import Any

from ..engine.changes import Change, changes, lower_path
from ._render import Table, human_bytes, md_table, no_math

COLOURS = {"A": "#1a7f37", "C": "#9a6700", "D": "#cf222e"}


class LayerDiff(Table):
    caption = "changes (A added, C changed, D deleted)"
    headers = ("kind", "path", "type", "size", "opaque")

    def __init__(self, changes: list[Change], upper: str | os.PathLike[str] | None = None,
                 lowers: list[str | os.PathLike[str]] | None = None, title: str = "") -> None:
        self.changes = list(changes)
        self.upper = Path(upper) if upper is not None else None
        self.lowers = [Path(p) for p in lowers or []]
        self.title = title

    @classmethod
    def of_dirs(cls, upper: str | os.PathLike[str], lowers: list[str | os.PathLike[str]] | str | os.PathLike[str],
                title: str = "") -> LayerDiff:
        lowers = [lowers] if isinstance(lowers, (str, os.PathLike)) else list(lowers)
        return cls(changes(upper, lowers), upper, lowers, title)

    def rows(self) -> list[list[Any]]:
        return [[c.kind, c.path, c.type, c.size, "opaque" if c.opaque else ""] for c in self.changes]

    def frame_rows(self) -> list[list[Any]]:
        return [[c.kind, c.path, c.type, c.size, c.opaque] for c in self.changes]

    def paths(self, kind: str | None = None) -> list[str]:
        return [c.path for c in self.changes if kind is None or c.kind == kind]

    def __iter__(self):
        return iter(self.changes)

    # -- file content -------------------------------------------------------------------------
    def unified(self, path: str, context: int = 3) -> str:
        """A unified diff of a changed (or added) text file against the lower dir's copy."""
        if self.upper is None:
            raise ValueError("no upper dir known: make the diff with LayerDiff.of_dirs or engine.diff")
        rel = path.lstrip("/")
        new_file = self.upper / rel
        old_file = lower_path(rel, self.lowers)

        def lines(p: Path | None) -> list[str]:
            if p is None or not p.is_file() or p.is_symlink():
                return []
            data = p.read_bytes()
            if b"\0" in data[:8192]:
                raise ValueError(f"{path} is not a text file")
            return data.decode(errors="replace").splitlines(keepends=True)

        return "".join(difflib.unified_diff(lines(old_file), lines(new_file), f"a{path}", f"b{path}", n=context))

    def text_changes(self) -> list[str]:
        """Changed or added regular files whose content is text (what `unified` can show)."""
        out = []
        for c in self.changes:
            if c.kind in "AC" and c.type == "file" and self.upper is not None:
                try:
                    head = (self.upper / c.path.lstrip("/")).read_bytes()[:8192]
                except OSError:
                    continue
                if b"\0" not in head:
                    out.append(c.path)
        return out

    # -- rendering --------------------------------------------------------------------------------
    def _text(self) -> str:
        lines = [f"{c.kind} {c.path}" + ("  (opaque)" if c.opaque else "") for c in self.changes]
        return "\n".join(lines) if lines else "(no changes)"

    def _html(self) -> str:
        rows = []
        for c in self.changes:
            path = html.escape(c.path)
            path = f"<ins>{path}</ins>" if c.kind == "A" else f"<del>{path}</del>" if c.kind == "D" else path
            rows.append([c.kind, path, c.type, human_bytes(c.size) if c.size is not None else "",
                         "opaque" if c.opaque else ""])
        from ._render import html_table

        cap = f"{self.title}: {self.caption}" if self.title else self.caption
        return html_table(self.headers, rows, caption=cap, raw={1})

    def _markdown(self) -> str:
        return md_table(self.headers, self.rows()) if self.changes else "(no changes)"

    def tree_html(self) -> str:
        """Nested lists, one per directory, each path coloured by its kind."""
        tree: dict[str, Any] = {}
        kinds: dict[str, Change] = {c.path: c for c in self.changes}
        for c in self.changes:
            node = tree
            for part in c.path.strip("/").split("/"):
                node = node.setdefault(part, {})

        def render(node: dict[str, Any], prefix: str) -> str:
            items = []
            for name in sorted(node):
                path = f"{prefix}/{name}"
                c = kinds.get(path)
                label = html.escape(name) + ("/" if node[name] or (c and c.type == "dir") else "")
                if c is not None:
                    extra = " (opaque)" if c.opaque else ""
                    label = f'<span style="color:{COLOURS[c.kind]}"><b>{c.kind}</b> {label}{extra}</span>'
                sub = render(node[name], path) if node[name] else ""
                items.append(f"<li>{label}{sub}</li>")
            return "<ul>" + "".join(items) + "</ul>"

        return render(tree, "")

    def widget(self):
        import ipywidgets

        tree = ipywidgets.HTML(no_math(self.tree_html()))
        files = self.text_changes()
        if not files:
            return tree
        pick = ipywidgets.Dropdown(options=files, description="diff of")
        shown = ipywidgets.HTML()

        def show(change: Any = None) -> None:
            try:
                text = self.unified(pick.value)
            except (OSError, ValueError) as e:
                text = str(e)
            shown.value = no_math(f"<pre>{html.escape(text)}</pre>")

        pick.observe(show, names="value")
        show()
        return ipywidgets.HBox([tree, ipywidgets.VBox([pick, shown])])
