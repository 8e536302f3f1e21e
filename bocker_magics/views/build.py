"""BuildReport: what `%%bocker build` returns: the image it made and one row per step.

    report = %bocker build -t app ctx/          # (or %%bocker build -t app with the Dockerfile as the cell)
    report.image                                # the stored Image
    report.steps                                # build.StepResult: instruction, layer, size, time, cached
    report.diff(3)                              # step 3's layer as a LayerDiff (A/C/D over the layers below)
    report.to_frame()

The HTML is a table of the steps, then each layer's diff in a <details> element: closed
until the reader opens it (a diff on demand, with no JavaScript, so it stays in an exported
report). The widget is the table and a step picker that shows the picked layer's diff.
"""

from __future__ import annotations

import html
from typing import Any

from .. import format
from ._render import Table, html_table, md_table, no_math, text_table
from .diff import LayerDiff


class BuildReport(Table):
    caption = "build steps"
    headers = ("step", "stage", "instruction", "layer", "size", "time", "cache")
    widths = {"instruction": 60}

    def __init__(self, result: Any, layer_dir: Any = None) -> None:
        self.result = result               # build.BuildResult
        self.layer_dir = layer_dir         # digest -> its directory (engine.store.layer_dir)

    image = property(lambda self: self.result.image)
    steps = property(lambda self: self.result.steps)
    id = property(lambda self: self.result.image.id)
    seconds = property(lambda self: self.result.seconds)

    @property
    def cached(self) -> list[int]:
        """The numbers of the steps that came from the cache (FROM lines not counted)."""
        return [s.number for s in self.steps if s.cached and s.keyword != "FROM"]

    @property
    def built(self) -> list[int]:
        return [s.number for s in self.steps if not s.cached and s.keyword != "FROM"]

    @property
    def layers(self) -> list[int]:
        """The numbers of the steps that made a layer."""
        return [s.number for s in self.steps if s.layer]

    def step(self, number: int):
        """The step with this number that did the work (a FROM shares its number with the
        ONBUILD triggers of its base image; the last of them)."""
        found = [s for s in self.steps if s.number == number]
        if not found:
            raise KeyError(f"no step {number} (steps 1-{self.steps[-1].number if self.steps else 0})")
        return found[-1]

    def diff(self, number: int) -> LayerDiff:
        """What step `number`'s layer changes over the layers below it: A, C, D."""
        s = self.step(number)
        if not s.layer:
            return LayerDiff([], title=f"step {number}: {s.instruction} (no layer: config only)")
        if self.layer_dir is None:
            raise ValueError("the report knows no layer store: make it with BuildReport(result, store.layer_dir)")
        upper = self.layer_dir(s.layer)
        lowers = [self.layer_dir(d) for d in reversed(s.lowers)]
        return LayerDiff.of_dirs(upper, lowers, title=f"step {number}: {s.instruction}")

    # -- the table ----------------------------------------------------------------------------------
    def rows(self) -> list[list[Any]]:
        out = []
        for s in self.steps:
            layer = s.layer.split(":", 1)[1][:12] if s.layer else ("" if s.keyword == "FROM" else "config only")
            size = format.size(s.size) if s.layer else ""
            cache = "" if s.keyword == "FROM" else ("cached" if s.cached else "built")
            out.append([s.number, s.stage, s.instruction, layer, size, format.duration(s.seconds), cache])
        return out

    def frame_rows(self) -> list[list[Any]]:
        return [[s.number, s.stage, s.instruction, s.layer, s.size if s.layer else None, s.seconds,
                 None if s.keyword == "FROM" else s.cached] for s in self.steps]

    def _summary(self) -> str:
        built = len(self.built)
        names = ", ".join(self.image.names) or "(no name)"
        return (f"{self.image.id} {names}: {format.count(len(self.layers), 'layer')} made by the build's steps, "
                f"{len(self.cached)} step{'s' if len(self.cached) != 1 else ''} from the cache, {built} built, "
                f"in {format.duration(self.seconds)}")

    def _text(self) -> str:
        return self._summary() + "\n" + text_table(self.headers, self.rows(), widths=self.widths)

    def _markdown(self) -> str:
        return self._summary() + "\n\n" + md_table(self.headers, self.rows(), widths=self.widths)

    def _html(self) -> str:
        out = [f"<p>{html.escape(self._summary())}</p>",
               html_table(self.headers, self.rows(), caption=self.caption, widths=self.widths)]
        if self.layer_dir is not None:
            for s in self.steps:
                if not s.layer:
                    continue
                try:
                    d = self.diff(s.number)
                except (OSError, KeyError, ValueError):
                    continue
                out.append(f"<details><summary>step {s.number}: {html.escape(s.instruction)} — "
                           f"{html.escape(format.count(len(d.changes), 'change'))}</summary>{d._html()}</details>")
        return "".join(out)

    def widget(self):
        import ipywidgets

        table = ipywidgets.HTML(no_math(f"<p>{html.escape(self._summary())}</p>"
                                + html_table(self.headers, self.rows(), caption=self.caption, widths=self.widths)))
        choices = [(f"{s.number}: {s.instruction}", s.number) for s in self.steps if s.layer]
        if not choices or self.layer_dir is None:
            return table
        pick = ipywidgets.Dropdown(options=choices, description="layer of")
        shown = ipywidgets.Output()

        def show(change: Any = None) -> None:
            shown.clear_output()
            with shown:
                from IPython.display import display
                display(self.diff(pick.value))

        pick.observe(show, names="value")
        show()
        return ipywidgets.VBox([table, pick, shown])
