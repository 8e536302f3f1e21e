"""One notebook, executed by nbclient in a real kernel: it loads the extension and uses each
magic. The kernel is this venv's python (a kernelspec in a temporary JUPYTER_PATH: nothing
is registered globally), and it inherits the session's BOCKER_ROOT and cgroup parent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).parent / "notebooks" / "magics_smoke.ipynb"


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


def _execute(nb, kernel: str):
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=120, startup_timeout=60)
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
    assert "memory_limit" in cells["frame = %bocker stats $name"]["text/html"]
    assert cells["%bocker top --interval 0.1 --duration 0.5 $name"]["image/png"]
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
