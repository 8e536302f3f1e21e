"""Issue 21's notebook face in JupyterLab 4, in headless Chromium (tests/browser.py): a view
holding shell text with `$` is not typeset as MathJax math (while plain HTML with `$x$` is, the
control), options after the container name end a `top` when they say, `inspect` is JupyterLab's
JSON tree, `%bocker?` opens with examples, the dashboard updates, and the package's prebuilt
extension highlights %%bocker cells and keeps a magic line's Tab menu to the kernel's words (the
context completer still serves Python). One JupyterLab and one browser for the module, a
screenshot per check."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.session import CGROUP_PARENT, SESSION_ROOT

pytest.importorskip("jupyterlab")
pytest.importorskip("playwright")
from tests.support.browser import CHROMIUM, Chromium, JupyterLab  # noqa: E402

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"{CHROMIUM} is not installed (apt-get install chromium)")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "browser-face"
MATHY = "browser-mathy"   # a container whose command holds $HOME and $PATH


@pytest.fixture(scope="module")
def nb(session_root):
    from bocker_magics.engine.engine import Engine

    home = SESSION_ROOT / "browser-face"
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    engine = Engine(session_root, cgroup_parent=CGROUP_PARENT)
    server = browser = None
    try:
        engine.busybox()
        engine.run("busybox", 'x="home=$HOME path=$PATH"; y="$x$x."; while :; do sleep 1; done', name=MATHY, detach=True)
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        # the prebuilt highlighting extension, where pip puts it: <data dir>/labextensions/NAME
        extensions = home / "lab" / "data" / "labextensions"
        extensions.mkdir(parents=True)
        (extensions / "bocker-magics-highlight").symlink_to(REPO / "bocker_magics" / "labextension" / "prebuilt")
        server = JupyterLab.start(home / "lab", env={"PYTHONPATH": path})
        server.write_notebook("face.ipynb")
        browser = Chromium.start(home / "chromium")
        notebook = browser.open_notebook(server, "face.ipynb", ARTIFACTS)
        notebook.run_cell("%load_ext bocker_magics")
        yield notebook
    finally:
        if browser is not None:
            browser.stop()
        if server is not None:
            server.stop()
            left = server.processes()
            assert not left, f"jupyterlab processes left: {left}"
        try:
            engine.rm(MATHY, force=True)
        except Exception:
            pass
        engine.close()
        shutil.rmtree(home, ignore_errors=True)


def test_no_math_in_a_view_holding_dollars(nb):
    # the control: JupyterLab's MathJax does typeset $...$ in an HTML output that is not marked
    control = nb.run_cell("from IPython.display import HTML\nHTML('<p>inline $x^2$ math</p>')")
    control.locator.locator("mjx-container").first.wait_for(timeout=30_000)
    control.screenshot("math-control")
    ps = nb.run_cell("%bocker ps")
    table = ps.locator.locator(".jp-RenderedHTMLCommon table").first
    table.wait_for()
    nb.run_cell("1")   # give MathJax a moment on the page: it typesets asynchronously
    text = table.inner_text()
    ps.screenshot("ps-with-dollars")
    assert "$HOME" in text and "$PATH" in text, text
    assert ps.locator.locator("mjx-container").count() == 0, "no math in the ps view"
    top = nb.run_cell(f"%bocker top {MATHY}")
    top.locator.locator(".jp-RenderedHTMLCommon table").first.wait_for()
    nb.run_cell("2")
    top.screenshot("top-with-dollars")
    assert '$x$x.' in top.output_text() and top.locator.locator("mjx-container").count() == 0


def test_options_after_the_container_name_end_the_sampling(nb):
    cell = nb.run_cell(f"%bocker top {MATHY} --interval 0.2 --duration 1 --out sampled", timeout=60)
    cell.screenshot("top-options-after-name")
    done = nb.run_cell("print(len(sampled.samples))")
    assert 2 <= int(done.output_text().strip().splitlines()[-1]) <= 10


def test_inspect_is_a_json_tree(nb):
    cell = nb.run_cell(f"%bocker inspect {MATHY}")
    tree = cell.locator.locator(".jp-RenderedJSON").first
    tree.wait_for(timeout=30_000)
    cell.screenshot("inspect-json")
    assert "State" in tree.inner_text()


def test_help_opens_with_examples(nb):
    cell = nb.run_cell("%bocker?")
    nb.screenshot("help")
    page = nb.page.inner_text("body") if hasattr(nb, "page") else cell.output_text()
    assert "Examples:" in page and "%bocker run busybox echo hello" in page


def test_dashboard_updates_live(nb):
    nb.run_cell("%bocker run -d --name browser-dash busybox sleep 600", timeout=60)
    cell = nb.run_cell("%bocker dashboard --interval 0.5 --duration 60")
    table = cell.locator.locator(".widget-html table").first
    table.wait_for(timeout=30_000)
    assert "browser-dash" in table.inner_text() and "running" in table.inner_text()
    cell.locator.locator("button:has-text('stop')").first.wait_for()
    cell.screenshot("dashboard-running")
    nb.run_cell("%bocker kill browser-dash", timeout=60)
    try:
        nb.page.wait_for_function(
            # the output area: the widget replaces its <table> on every refresh
            "(el) => /exited|killed/.test(el.innerText)", arg=cell.locator.locator(".jp-OutputArea").first.element_handle(),
            timeout=30_000)
    finally:
        cell.screenshot("dashboard-after-kill")
    nb.run_cell("%bocker rm -f browser-dash", timeout=60)


@pytest.mark.parametrize("line, language", [("%%bocker build -t x .", "dockerfile"),
                                            ("%%bocker compose up", "yaml"),
                                            ("%%bocker run busybox", "shell")])
def test_cells_are_highlighted_as_what_they_hold(nb, line, language):
    body = {"dockerfile": "FROM busybox\nRUN echo hi", "yaml": "services:\n  web:\n    image: busybox",
            "shell": "echo $HOME | tr a-z A-Z"}[language]
    cell = nb.new_cell(f"{line}\n{body}")
    content = cell.locator.locator(".cm-content").first
    nb.page.wait_for_function("(el) => el.getAttribute('data-language') !== 'python'",
                              arg=content.element_handle(), timeout=15_000)
    cell.screenshot(f"highlight-{language}")
    if language == "dockerfile":
        # CodeMirror's legacy Dockerfile mode names no language (no data-language): its tokens
        # show it, the instruction a keyword as in a Dockerfile
        token = content.locator("span", has_text="FROM").first
        assert token.count() == 1 and token.get_attribute("class")
        assert content.locator("span", has_text="RUN").first.get_attribute("class") == token.get_attribute("class")
        python = nb.new_cell("import os")   # a Python keyword, for its token class
        keyword = python.locator.locator(".cm-content span", has_text="import").first
        keyword.wait_for()
        assert keyword.get_attribute("class") == token.get_attribute("class"), "FROM is a keyword here"
    else:
        assert content.get_attribute("data-language") == language


def test_a_plain_cell_stays_python(nb):
    cell = nb.new_cell("print('%%bocker build is only special on the first line')")
    content = cell.locator.locator(".cm-content").first
    content.wait_for()
    assert content.get_attribute("data-language") == "python"



# -- completion: the kernel's words only in a magic's arguments ---------------------------------
# (test_browser.py's JupyterLab, without the extension, is the control: its menu after
# `%bocker logs ` ends with `%`, `bocker`, `logs`, from JupyterLab's context completer)
def _menu(nb, text, name):
    done = nb.complete(text)
    nb.screenshot(name)
    nb.close_completion()
    print(f"Tab after {text!r}: {done.items}, the line: {done.line!r}")
    return done


def _kernel_offers(nb, text) -> set[str]:
    """What the kernel's completer answers at the end of `text` (what ipykernel replies)."""
    cell = nb.run_cell("import json\nfrom IPython.core.completer import provisionalcompleter\n"
                       f"with provisionalcompleter():\n    found = list(get_ipython().Completer.completions({text!r}, {len(text)}))\n"
                       "print(json.dumps(sorted({c.text for c in found})))")
    return set(json.loads(cell.output_text().strip().splitlines()[-1]))


@pytest.mark.parametrize("text", ["%bocker ", "%bocker lo", "%bocker logs ", "%bocker logs --t", "%%bocker run "])
def test_a_magic_line_completes_with_the_kernels_words_only(nb, text):
    kernel = _kernel_offers(nb, text)
    assert len(kernel) > 1, f"a menu, not one match inserted: {kernel}"
    done = _menu(nb, text, "complete-" + re.sub(r"[^a-z]+", "-", text).strip("-"))
    assert set(done.items) == kernel, sorted(set(done.items) ^ kernel)
    assert not {"%", "%%", "bocker", "logs", "run"} & (set(done.items) - kernel)
    if text == "%bocker ":
        from bocker_magics.magics import verbs
        assert kernel == set(verbs())
    if text == "%bocker logs ":
        assert MATHY in done.items


def test_python_cells_keep_the_context_completer(nb):
    # words of the cell that the kernel does not know (never run): only the context completer
    # offers them, in a Python line and in the body of a %%bocker cell alike
    done = _menu(nb, "quokka_one = 1\nquokka_two = 2\nquokka_", "complete-python-context")
    assert {"quokka_one", "quokka_two"} <= set(done.items), done.items
    done = _menu(nb, "%%bocker compose up\nservices:\n  wombat_one:\n  wombat_two:\n  wombat_",
                 "complete-body-context")
    assert {"wombat_one", "wombat_two"} <= set(done.items), done.items
