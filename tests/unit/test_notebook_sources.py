"""The committed notebooks are notebooks/build.py's cells, and their outputs come from a run of
those cells (no root, no kernel: reads files only).

- every notebook build.py writes is committed with the same cells (type, source, tags), and
  no other numbered notebook is there;
- each committed notebook carries the stamp `bocker-report --write-notebooks` leaves (metadata
  "bocker"): the digest of the cells that ran equals the digest of its cells now, and every code
  cell was executed (outputs from a real run, not hand edits);
- whether that run used the package's current code is a release check, not a test (every code
  commit would fail it): `bocker-report --check` (README, "The notebooks").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

from bocker_magics.report import code_digest, source_digest, staleness  # noqa: E402
from bocker_magics.report import main as report_main  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOK_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells_of(cells) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in cells]


BUILD = load_build()


def test_build_writes_exactly_the_committed_notebooks():
    committed = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
    assert committed == sorted(BUILD.NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(BUILD.NOTEBOOKS))
def test_committed_sources_are_build_py(name):
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    want, have = cells_of(BUILD.NOTEBOOKS[name]), cells_of(nb.cells)
    for i, (w, h) in enumerate(zip(want, have)):
        assert w == h, f"{name} cell {i} differs from notebooks/build.py: run python notebooks/build.py, then " \
                       f"bocker-report --write-notebooks {name}"
    assert len(want) == len(have), f"{name}: {len(have)} cells committed, build.py has {len(want)}"


@pytest.mark.parametrize("name", sorted(BUILD.NOTEBOOKS))
def test_committed_outputs_come_from_a_run_of_these_cells(name):
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    info = nb.metadata.get("bocker")
    assert info, f"{name}: no bocker-report stamp: run bocker-report --write-notebooks {name}"
    assert info["source_digest"] == source_digest(nb), f"{name}: cells changed after the run that made the outputs"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{name}: a code cell was never executed"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "one run, top to bottom"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert staleness(NOTEBOOK_DIR / f"{name}.ipynb") in ("", staleness_code_only(info))


def staleness_code_only(info) -> str:
    # the one staleness a test accepts: the code moved on since the run (the release check's business)
    return f"the package's code changed since its outputs were made ({info.get('executed', '?')})"


def test_code_digest_is_by_content(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    first = code_digest(pkg)
    import os
    os.utime(pkg / "a.py", (1, 1))
    assert code_digest(pkg) == first, "mtimes do not matter"
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    assert code_digest(pkg) != first


def test_check_names_a_notebook_whose_cells_changed(tmp_path, monkeypatch, capsys):
    import bocker_magics.report as report

    nb = nbformat.read(NOTEBOOK_DIR / "01-namespaces.ipynb", as_version=4)
    nb.cells[0].source += "\nedited after the run"
    (tmp_path / "01-namespaces.ipynb").write_text(nbformat.writes(nb))
    monkeypatch.setattr(report, "NOTEBOOK_DIR", tmp_path)
    assert report_main(["--check"]) == 1
    out = capsys.readouterr().out
    assert out.strip() == ("01-namespaces: its cells changed since the run that made its outputs: "
                           "run bocker-report --write-notebooks 01-namespaces")
