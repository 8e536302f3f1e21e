"""The magics in JupyterLab 4, in headless Chromium, as a user sees them: one JupyterLab and
one browser for the module (tests/support/browser.py), a notebook whose kernel is this interpreter
with the session's BOCKER_ROOT and cgroup parent, and a screenshot for every check (the
directory is printed at the end of the module)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.session import CGROUP_PARENT, SESSION_ROOT

pytest.importorskip("jupyterlab")
pytest.importorskip("playwright")
from tests.support.browser import CHROMIUM, Chromium, JupyterLab, Notebook  # noqa: E402

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"{CHROMIUM} is not installed (apt-get install chromium)")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
WEB = "browser-web"          # a detached container the checks look at
LOOPER = "browser-looper"    # the container the interrupt check stops


@dataclass
class Lab:
    notebook: Notebook
    engine: object  # the test's own Engine on the session's root (the kernel has its own)
    web_id: str


@pytest.fixture(scope="module")
def lab(request, session_root):
    from bocker_magics.engine.engine import Engine

    # under the session's root: the last test sees any process of ours still holding it
    home = SESSION_ROOT / "browser"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    engine = Engine(session_root, cgroup_parent=CGROUP_PARENT)
    server = browser = None
    try:
        engine.busybox()
        web = engine.run("busybox", ["sleep", "600"], name=WEB, detach=True)
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        server = JupyterLab.start(home / "lab", env={"PYTHONPATH": path})
        server.write_notebook("checks.ipynb")
        browser = Chromium.start(home / "chromium")
        nb = browser.open_notebook(server, "checks.ipynb", ARTIFACTS)
        nb.run_cell("%load_ext bocker_magics")
        yield Lab(nb, engine, web.id)
    finally:
        if browser is not None:
            browser.stop()
        if server is not None:
            server.stop()
            left = server.processes()
            assert not left, f"jupyterlab processes left: {left}"
        for name in (WEB, LOOPER):
            try:
                engine.rm(name, force=True)
            except Exception:
                pass  # not made, or already gone
        engine.close()
        shutil.rmtree(home, ignore_errors=True)
        _say(request.config, f"browser screenshots ({len(list(ARTIFACTS.glob('*.png')))}): {ARTIFACTS}")


def _say(config, line: str) -> None:
    """A line on the terminal, past pytest's capture (a module fixture's teardown is captured)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")  # after the progress dots
        reporter.write_line(line)


def test_ps_is_a_rendered_html_table(lab):
    cell = lab.notebook.run_cell("%bocker ps")
    table = cell.locator.locator(".jp-RenderedHTMLCommon table")
    table.first.wait_for()
    headers = table.first.locator("th").all_inner_texts()
    assert [h.strip() for h in headers[:3]] == ["id", "name", "image"]
    assert WEB in table.first.inner_text() and lab.web_id in table.first.inner_text()
    cell.screenshot("ps-table")


def test_run_output_streams_while_the_cell_is_busy(lab):
    nb = lab.notebook
    cell = nb.run_cell("%%bocker run --rm busybox\necho first line\nsleep 3\necho second line", wait=False)
    cell.wait_for_output("first line", timeout=30)
    busy, text = cell.busy, cell.output_text()
    cell.screenshot("stream-first-line")
    assert busy, "the cell had ended when the first line showed"
    assert "second line" not in text
    cell.wait_done(timeout=60)
    text = cell.output_text()
    cell.screenshot("stream-done")
    assert text.index("first line") < text.index("second line")


def test_widgets_render_as_widgets(lab):
    nb = lab.notebook
    slider = nb.run_cell("import ipywidgets\nipywidgets.IntSlider(value=7, description='seven')")
    slider.locator.locator(".jp-OutputArea-output .widget-slider").first.wait_for()
    slider.screenshot("widget-slider")
    assert "IntSlider(" not in slider.output_text()
    nb.run_cell("%config BockerMagics.live_widgets = True")
    try:
        # ours: `%bocker top` as a live widget (a box with the plot image and the summary)
        top = nb.run_cell(f"%bocker top --interval 0.2 --duration 1 {WEB}", timeout=60)
        box = top.locator.locator(".jp-OutputArea-output .jupyter-widgets.widget-vbox").first
        box.wait_for()
        box.locator(".widget-image").first.wait_for()
        text = top.output_text()
        top.screenshot("widget-top")
        assert "VBox(" not in text and "Monitor(" not in text, text
        # and a table view as a widget: the ps table inside an HTML widget
        ps = nb.run_cell("%bocker ps")
        ps.locator.locator(".jp-OutputArea-output .widget-html table").first.wait_for()
        ps.screenshot("widget-ps")
        assert "HTML(value=" not in ps.output_text()
    finally:
        nb.run_cell("%config BockerMagics.live_widgets = False")


@dataclass
class Interrupted:
    text: str            # the output area as the page shows it
    names_after: set     # container names in `ps` afterwards


@pytest.fixture(scope="module")
def interrupted(lab) -> Interrupted:
    """A long `%%bocker run` cell stopped with the toolbar's interrupt button."""
    nb = lab.notebook
    cell = nb.run_cell(f"%%bocker run --rm --name {LOOPER} busybox\necho looping\nsleep 600", wait=False)
    cell.wait_for_output("looping", timeout=30)
    assert cell.busy
    cell.screenshot("interrupt-before")
    nb.interrupt()
    cell.wait_done(timeout=60)
    text = cell.output_text()
    cell.screenshot("interrupt-after")
    print(f"the page after the interrupt ({len(text.splitlines())} lines):\n{text}")
    return Interrupted(text, {c.name for c in lab.engine.ps()})


def test_interrupt_button_stops_the_container(interrupted):
    assert "looping" in interrupted.text
    assert LOOPER not in interrupted.names_after


def test_interrupt_prints_one_line(interrupted):
    lines = [line for line in interrupted.text.splitlines() if line.strip()]
    assert "Traceback" not in interrupted.text and "KeyboardInterrupt" not in interrupted.text
    assert re.fullmatch(rf"interrupted: container {LOOPER} \(ps_[0-9a-f]+\) stopped, exit 137", lines[-1])


def test_completion_lists_a_container_name(lab):
    nb = lab.notebook
    done = nb.complete("%bocker logs ")
    nb.screenshot("complete-logs")
    nb.close_completion()
    print(f"Tab after '%bocker logs ': {len(done.items)} items {done.items[:20]}, the line: {done.line!r}")
    assert WEB in done.items or done.line.strip() == f"%bocker logs {WEB}"




def test_completion_without_the_extension_adds_the_cells_words(lab):
    # The control for test_browser_face's completion checks: this JupyterLab loads no
    # bocker-magics extension, and after a space its context completer adds every word of the
    # cell (`%`, `bocker`, `logs`) to the kernel's container names. The kernel's reply holds
    # the names only (test_magics.py).
    nb = lab.notebook
    done = nb.complete("%bocker logs ")
    nb.screenshot("complete-logs-no-extension")
    nb.close_completion()
    print(f"Tab after '%bocker logs ' without the extension: {done.items}")
    assert WEB in done.items and {"%", "bocker", "logs"} <= set(done.items), done.items
