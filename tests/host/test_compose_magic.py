"""%%bocker compose: the cell is the compose file; up (detached) shows the stack as a table and
a picture; %bocker compose ps|logs|down on one line work on the last stack the kernel brought up;
mistakes are one-line usage errors."""

from __future__ import annotations

import os

import pytest

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402

PROJECT = f"bkcm{os.getpid()}"

CELL = """\
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db-ready; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    volumes: ["data:/data"]
  web:
    image: busybox
    depends_on: [db]
    command: ["sh", "-c", "echo web-up; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
volumes:
  data: {}
"""


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["BockerMagics"]


def _names(magics) -> set[str]:
    return {c.name for c in magics.engine.ps([f"label=com.docker.compose.project={PROJECT}"])}


def test_a_cell_brings_a_stack_up_and_one_lines_work_on_it(ip, magics, capsys):
    try:
        view = ip.run_cell_magic("bocker", f"compose -p {PROJECT} up", CELL)
        assert type(view).__name__ == "StackView"
        frame = view.to_frame()
        assert sorted(frame["service"]) == ["db", "web"]
        assert "<svg" in view.svg()
        assert _names(magics) == {f"{PROJECT}-db-1", f"{PROJECT}-web-1"}

        # up by default; again: nothing recreated
        before = {c.name: c.id for c in magics.engine.ps([f"label=com.docker.compose.project={PROJECT}"])}
        ip.run_cell_magic("bocker", f"compose -p {PROJECT}", CELL)
        after = {c.name: c.id for c in magics.engine.ps([f"label=com.docker.compose.project={PROJECT}"])}
        assert before == after

        # one line: the last stack
        ps = ip.run_line_magic("bocker", "compose ps")
        assert type(ps).__name__ == "StackView" and len(ps.to_frame()) == 2
        capsys.readouterr()
        ip.run_line_magic("bocker", "compose logs db")
        out = capsys.readouterr().out
        assert "db-1  | db-ready" in out and "web-up" not in out
        ip.run_line_magic("bocker", "compose config --out cfg")
        assert set(ip.user_ns["cfg"].value["services"]) == {"db", "web"}

        with pytest.raises(UsageError, match="no such service: nope"):
            ip.run_line_magic("bocker", "compose up nope")
        with pytest.raises(UsageError, match="compose.yaml:"):
            ip.run_cell_magic("bocker", f"compose -p {PROJECT}x up", "services:\n  a:\n   image: [x\n")

        # a cell that is not up names its project after the notebook's directory, and is not
        # the stack the one-line verbs work on
        other = ip.run_cell_magic("bocker", "compose config --out other", "services:\n  solo:\n    image: busybox\n")
        assert other is None
        import re
        assert ip.user_ns["other"].value["name"] == re.sub(r"[^a-z0-9_-]", "", os.path.basename(os.getcwd()).lower())
        assert len(ip.run_line_magic("bocker", "compose ps").to_frame()) == 2

        ip.run_line_magic("bocker", "compose down -v")
        assert _names(magics) == set()
        assert f"{PROJECT}_data" not in {v.name for v in magics.engine.volume_ls()}
    finally:
        ip.run_cell_magic("bocker", f"compose -p {PROJECT} down -v", CELL)
