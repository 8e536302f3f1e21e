"""%%bocker build in an in-process IPython shell: the cell is the Dockerfile, each step streams,
then a BuildReport: one row per step, each layer's diff on demand; --out; errors; completion;
an interrupt in a RUN leaves no container and no image."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.support.build_helpers import make_context

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["BockerMagics"]


DOCKERFILE = """FROM busybox
RUN echo step output; echo made > /made
COPY a.txt /a.txt
RUN rm /etc/group
ENV GREETING=hi
CMD ["cat", "/a.txt"]
"""


def test_cell_build_streams_then_shows_the_steps(ip, magics, busybox, tmp_path, capsys, monkeypatch):
    ctx = make_context(tmp_path, None, {"a.txt": "a\n"})
    monkeypatch.chdir(ctx)                       # CONTEXT defaults to the current directory
    report = ip.run_cell_magic("bocker", "build -t magic-built:1 --network none --no-cache", DOCKERFILE)
    streamed = capsys.readouterr().out
    assert "Step 2/6 : RUN echo step output" in streamed and "step output\n" in streamed
    assert report.image.names == ["magic-built:1"]
    assert [r[0] for r in report.rows()] == [1, 2, 3, 4, 5, 6]
    assert report.built == [2, 3, 4, 5, 6] and report.cached == [] and report.layers == [2, 3, 4]
    assert report.diff(2).paths("A") == ["/made"]
    assert report.diff(3).paths("A") == ["/a.txt"]
    assert report.diff(4).paths("D") == ["/etc/group"] and report.diff(4).paths("C") == ["/etc"]
    assert report.diff(5).changes == [], "ENV makes no layer"
    bundle = report._repr_mimebundle_()
    assert "RUN rm /etc/group" in bundle["text/plain"] and "built" in bundle["text/plain"]
    assert bundle["text/html"].count("<details>") == 3 and "<del>/etc/group</del>" in bundle["text/html"]
    frame = report.to_frame()
    assert list(frame["cache"])[1:] == [False] * 5 and frame["size"].iloc[2] == 2

    again = ip.run_cell_magic("bocker", "build -t magic-built:1 --network none", DOCKERFILE)
    assert again.cached == [2, 3, 4, 5, 6] and again.id == report.id
    assert " ---> Using cache" in capsys.readouterr().out


def test_out_keeps_the_result_and_a_line_build_reads_the_context_s_dockerfile(ip, busybox, tmp_path, capsys):
    ctx = make_context(tmp_path, "FROM busybox\nRUN echo quiet > /q\n")
    assert ip.run_line_magic("bocker", f"build --network none --out built {ctx}") is None
    built = ip.user_ns["built"]
    assert built.steps[-1].keyword == "RUN" and built.image.layers


def test_build_mistakes_are_one_line(ip, busybox, tmp_path):
    with pytest.raises(UsageError, match=r"^Dockerfile:2: unknown instruction: XYZZY$"):
        ip.run_cell_magic("bocker", f"build --network none {tmp_path}", "FROM busybox\nXYZZY\n")
    from bocker_magics.magics import BuildFailed  # a step that ran and failed: labelled a build failure

    with pytest.raises(BuildFailed, match=r"^Dockerfile:2: RUN exit 4: the command returned exit status 4$"):
        ip.run_cell_magic("bocker", f"build --network none {tmp_path}", "FROM busybox\nRUN exit 4\n")
    with pytest.raises(UsageError, match="the cell is the Dockerfile"):
        ip.run_cell_magic("bocker", f"build -f x {tmp_path}", "FROM busybox\n")
    with pytest.raises(UsageError, match="only run, exec and build take a cell"):
        ip.run_cell_magic("bocker", "ps", "x")


def test_an_interrupted_build_leaves_no_container_and_no_image(ip, magics, busybox, tmp_path, assert_nothing_left):
    ctx = make_context(tmp_path, None)
    state = {d: set(os.listdir(magics.engine.store.root / d)) for d in ("containers", "images", "tmp")}
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt) as e:
            ip.run_cell_magic("bocker", f"build --network none --no-cache -t never-made {ctx}",
                              "FROM busybox\nRUN sleep 60\n")
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 30
    assert "interrupted: the build stopped" in str(e.value)
    assert {d: set(os.listdir(magics.engine.store.root / d)) for d in state} == state
    assert magics.engine.images_store.find("never-made") is None


def test_completion_knows_build(ip, busybox, tmp_path, monkeypatch):
    from bocker_magics.completion import BockerCompleter
    from bocker_magics.magics import magic_parser, verbs

    magics = ip.magics_manager.registry["BockerMagics"]
    c = BockerCompleter(lambda: magics.engine, verbs, magic_parser)
    assert "build" in [x.text for x in c.complete("%bocker bu")[1]]
    options = [x.text for x in c.complete("%bocker build --")[1]]
    assert {"--tag", "--file", "--build-arg", "--target", "--no-cache", "--pull", "--network", "--out"} <= set(options)
    (tmp_path / "ctx-one").mkdir()
    monkeypatch.chdir(tmp_path)
    assert [x.text for x in c.complete("%bocker build -t x ctx")[1]] == ["ctx-one/"]
    assert "none" in [x.text for x in c.complete("%bocker build --network ")[1]]
