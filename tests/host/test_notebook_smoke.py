"""One notebook, executed by nbclient in a real kernel: it loads the extension and uses each
magic. The kernel is this venv's python (a kernelspec in a temporary JUPYTER_PATH: nothing
is registered globally), and it inherits the session's BOCKER_ROOT and cgroup parent."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "support" / "notebooks" / "magics_smoke.ipynb"


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    spec = tmp_path / "jupyter" / "kernels" / "bocker-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bocker tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return "bocker-test"


def _execute(nb, kernel: str, **options):
    client = nbclient.NotebookClient(nb, kernel_name=kernel, **{"timeout": 120, "startup_timeout": 60, **options})
    return client.execute()


def _outputs(cell) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in cell.outputs:
        if o.output_type == "stream":
            out[o.name] = out.get(o.name, "") + o.text
        for mime, value in o.get("data", {}).items():
            out[mime] = out.get(mime, "") + (value if isinstance(value, str) else json.dumps(value))
    return out


def test_notebook_uses_every_magic(kernel, busybox, assert_nothing_left):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb = _execute(nb, kernel)
    cells = {c.source.splitlines()[0]: _outputs(c) for c in nb.cells if c.cell_type == "code"}
    assert "hello from ps_" in cells["%%bocker run --out first busybox"]["stdout"]
    assert "<table>" in cells["%bocker images"]["text/html"]
    assert "nb-detached" in cells["%bocker ps"]["text/html"]
    assert "<mark>" in cells["%bocker ns $name"]["text/html"]
    stats_html = cells["frame = %bocker stats --no-stream $name"]["text/html"]   # docker stats' columns; the limit as given
    assert "MEM USAGE / LIMIT" in stats_html and "/ 64 MiB" in stats_html
    top = cells["%bocker top --interval 0.1 --duration 0.5 $name"]
    assert top["text/html"].count("data:image/png;base64,") == 1 and "image/png" not in top  # once
    top_cell = next(c for c in nb.cells if c.source.startswith("%bocker top"))
    assert top_cell.outputs[-1].output_type == "execute_result"  # the final picture is the result
    assert "Traceback" not in json.dumps([c.get("outputs", []) for c in nb.cells])
    assert "A /etc/motd" in cells["%bocker diff $name"]["text/plain"]
    assert "ready" in cells["%bocker logs $name"]["stdout"]
    assert "exited (3)" in cells["%bocker run --monitor --rm --no-raise-error busybox 'exit 3'"]["text/plain"]
    assert_nothing_left()


@pytest.mark.parametrize("source, error", [
    ("%%bocker run busybox\nexit 3\n", "ContainerExitError"),
    ("%bocker run -m lots busybox true", "UsageError"),
])
def test_a_failing_magic_fails_the_notebook_run(kernel, busybox, source, error, assert_nothing_left):
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("%load_ext bocker_magics"), new_code_cell(source),
                             new_code_cell("print('not reached')")])
    with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
        _execute(nb, kernel)
    assert error in str(info.value)
    assert "not reached" not in str(info.value)


def test_an_interrupt_is_one_line_and_fails_the_run(kernel, busybox, assert_nothing_left):
    """nbclient interrupts the kernel when a cell runs past its timeout (papermill does the
    same): the container stops, the cell shows one line, and the run fails there."""
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("%load_ext bocker_magics"),
                             new_code_cell("%%bocker run --name nb-looper busybox\necho looping\nsleep 600"),
                             new_code_cell("print('not reached')")])
    with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
        _execute(nb, kernel, timeout=6, interrupt_on_timeout=True)
    assert "not reached" not in str(info.value)
    error = next(o for o in nb.cells[1].outputs if o.output_type == "error")
    assert len(error.traceback) == 1, error.traceback
    assert re.fullmatch(r"interrupted: container nb-looper \(ps_[0-9a-f]+\) stopped, exit 137", error.traceback[0])
    assert "looping" in _outputs(nb.cells[1])["stdout"]
    from bocker_magics.engine.engine import Engine

    with Engine() as engine:
        c = engine.container("nb-looper")
        assert c.exit_code == 137 and not c.running
        engine.rm(c.id)
    assert_nothing_left()


def test_live_outputs_end_as_one_result(kernel, busybox, assert_nothing_left):
    """top and --monitor update one display in place while they sample; when they end it is
    left empty and the result is the final picture: one PNG in the cell, not one per update."""
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[
        new_code_cell("%load_ext bocker_magics"),
        new_code_cell("%bocker run --monitor --rm busybox 'echo start; t=$(($(date +%s)+2)); "
                      "while [ $(date +%s) -lt $t ]; do :; done; echo end'"),
        new_code_cell("%config BockerMagics.live_widgets = True"),
        new_code_cell("%bocker run -d --name nb-live busybox sleep 30\n%bocker top --interval 0.2 --duration 1.2 nb-live"),
        new_code_cell("%bocker cleanup"),
    ])
    nb = _execute(nb, kernel)
    for cell in (nb.cells[1], nb.cells[3]):
        pngs = json.dumps(cell.outputs).count("iVBORw0KGgo")
        assert pngs == 1, (pngs, [o.output_type for o in cell.outputs])
        assert cell.outputs[-1].output_type == "execute_result"
    run = _outputs(nb.cells[1])
    assert run["stdout"].startswith("start\n") and "end" in run["stdout"]
    # (looked for outside the embedded plot: its base64 may spell "end" by chance)
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", run["text/html"])
    assert "end" not in html, "the streamed output is not repeated in the result"
    # with widgets on and no widget frontend (nbclient), the result still reads: HTML and text
    top = nb.cells[3].outputs[-1].data
    assert "application/vnd.jupyter.widget-view+json" in top and "<img" in top["text/html"]
    assert top["text/plain"].startswith("Monitor:")
    assert "Removed: nb-live" in _outputs(nb.cells[4])["stdout"]
    assert_nothing_left()
