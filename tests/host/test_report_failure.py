"""A notebook that fails: the terminal gets one line (the notebook, the cell, the error and
where the whole report is), the traceback lives in the report only."""

from __future__ import annotations

import json
import subprocess
import sys


def _notebook(path, cells):
    path.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}))


def test_a_failing_notebook_is_one_line_on_the_terminal(tmp_path):
    nb = tmp_path / "99-broken.ipynb"
    _notebook(nb, ["x = 1", "def check():\n    assert x == 2, 'x should be 2'\ncheck()", "print('never')"])
    out = tmp_path / "reports"
    r = subprocess.run([sys.executable, "-m", "bocker_magics.report", "--no-netns", "--out", str(out), str(nb)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    failed = [line for line in lines if "FAILED" in line]
    assert len(failed) == 1, lines
    assert "99-broken" in failed[0] and "cell 1: AssertionError: x should be 2" in failed[0]
    assert f"see {out}/99-broken.html" in failed[0]
    text = r.stdout + r.stderr
    assert "Traceback" not in text and "\x1b[" not in text and "check()" not in text
    assert len(lines) <= 4, lines  # running, FAILED, wrote index (and nothing else)
    report = (out / "99-broken.html").read_text()
    assert "x should be 2" in report and "check()" in report  # the whole story is in the report
    index = (out / "index.html").read_text()
    assert "cell 1: AssertionError: x should be 2" in index
