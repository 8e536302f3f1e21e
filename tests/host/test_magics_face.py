"""The magics as a new user meets them (issue 21): options after the container name, the
nearest verb, names as typed, hints that point at what exists, each hint once, a build failure
labelled as one, no Python repr after printed lines, stats with docker's columns, help that
starts with examples. Real containers, as root."""

from __future__ import annotations

import pytest

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["BockerMagics"]


@pytest.fixture
def cleanup(magics):
    before = {c.id for c in magics.engine.ps()}
    yield
    for c in magics.engine.ps():
        if c.id not in before:
            magics.engine.rm(c.id, force=True)


def test_options_after_the_container_name_count(ip, busybox, cleanup):
    ip.run_line_magic("bocker", "run -d --name late-opts busybox sleep 30")
    ip.run_line_magic("bocker", "top late-opts --interval 0.1 --duration 0.5 --out sampled")
    m = ip.user_ns["sampled"]
    assert 2 <= len(m.samples) <= 10, "sampled for the duration given after the name, not until stopped"
    with pytest.raises(UsageError, match="no ps options"):
        ip.run_line_magic("bocker", "top late-opts aux")   # Docker's ps options: refused in one line


def test_an_unknown_verb_gets_the_nearest_one(ip):
    with pytest.raises(UsageError, match=r"^Unknown command 'pss' \(did you mean ps\?\): see %bocker\? for the verbs$"):
        ip.run_line_magic("bocker", "pss")


def test_rm_answers_with_the_name_typed(ip, busybox, capsys, cleanup):
    r = ip.run_line_magic("bocker", "run -d --name typed-name busybox sleep 30")
    capsys.readouterr()
    assert ip.run_line_magic("bocker", "rm -f typed-name") is None
    assert capsys.readouterr().out in ("Removed: typed-name\n", f"Removed: typed-name ({r.id})\n")


def test_a_missing_image_says_its_hint_once(ip):
    with pytest.raises(UsageError) as e:
        ip.run_line_magic("bocker", "run no-such-image-21 true")
    message = str(e.value)
    assert message == ("No image named 'no-such-image-21' exists: `%bocker pull no-such-image-21` fetches it, "
                       "or `%bocker init --busybox` makes the built-in busybox")
    assert message.count("pull") == 1


def test_an_rm_run_that_outgrows_the_cell_points_at_its_text(ip, busybox, capsys, magics, cleanup):
    ip.run_line_magic("config", "BockerMagics.stream_lines = 5")
    try:
        r = ip.run_line_magic("bocker", "run --rm --network none busybox seq 1 50")
    finally:
        ip.run_line_magic("config", "BockerMagics.stream_lines = 1000")
    out = capsys.readouterr().out
    assert "_.text" in out and "%bocker logs" not in out
    assert r.text.splitlines()[-1] == "50"


def test_cleanup_prints_its_lines_and_returns_nothing_to_show(ip, busybox, capsys, cleanup):
    ip.run_line_magic("bocker", "run -d --name dry busybox sleep 30")
    capsys.readouterr()
    assert ip.run_line_magic("bocker", "cleanup --dry-run") is None
    out = capsys.readouterr().out
    assert "Would remove: dry (" in out and "[" not in out
    ip.run_line_magic("bocker", "cleanup --dry-run --out would")
    assert any(w.startswith("dry (") for w in ip.user_ns["would"])


def test_a_failing_build_step_is_a_build_failure(ip, busybox, tmp_path):
    from bocker_magics.magics import BuildFailed

    with pytest.raises(BuildFailed) as e:
        ip.run_cell_magic("bocker", f"build --network none {tmp_path}", "FROM busybox\nRUN exit 3\n")
    assert not isinstance(e.value, UsageError)
    assert e.value._render_traceback_() == [f"BuildFailed: {e.value}"]


def test_stats_has_dockers_columns_and_cpu_percent(ip, busybox, cleanup):
    ip.run_line_magic("bocker", "run -d --name spin -m 64m busybox 'while :; do :; done'")
    table = ip.run_line_magic("bocker", "stats --no-stream spin")
    assert list(table.headers) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                                   "BLOCK I/O", "PIDS"]
    row = table.rows()[0]
    assert row[1] == "spin" and row[2].endswith("%") and float(row[2][:-1]) > 5, "the loop shows as CPU %"
    assert row[3].endswith("/ 64 MiB"), "the limit as given"
    assert table.to_frame()["cpu_percent"].iloc[0] > 5
    ip.run_line_magic("bocker", "kill spin")


def test_help_starts_with_five_examples(ip):
    doc = ip.find_line_magic("bocker").__doc__
    lines = doc.splitlines()
    assert lines[0] == "Examples:"
    examples = [l for l in lines[1:6] if l.strip().startswith("%")]
    assert len(examples) == 5


def test_dashboard_is_a_static_table_without_a_widget_frontend(ip, busybox, cleanup):
    r = ip.run_line_magic("bocker", "run -d --name dash-one -p 127.0.0.1:18721:80 busybox sleep 30")
    d = ip.run_line_magic("bocker", "dashboard")
    from bocker_magics.views import Dashboard

    assert isinstance(d, Dashboard), "no Jupyter frontend here: the table itself"
    row = next(row for row in d.rows() if row[1] == r.id)
    assert row[0] == "dash-one" and row[2] == "running" and row[3] == "127.0.0.1:18721->80/tcp"
    assert row[5].endswith("/ 512 MB") or "/" in row[5]
    html = d._repr_mimebundle_()["text/html"]
    assert "dash-one" in html and "tex2jax_ignore" in html
    ip.run_line_magic("bocker", "kill dash-one")


def test_dashboard_widget_stops_a_container(ip, busybox, magics, cleanup):
    pytest.importorskip("ipywidgets")
    from bocker_magics.views import Dashboard

    r = ip.run_line_magic("bocker", "run -d --name dash-two busybox sleep 60")
    d = Dashboard(magics.engine, lambda: [r.id], interval=0.2, duration=2)
    box = d.widget()
    try:
        table, buttons = box.children[0], box.children[1]
        assert "dash-two" in table.value
        stop = buttons.children[0].children[1]
        assert stop.description == "stop" and not stop.disabled
        stop.click()
        assert not magics.engine.container(r.id).running
        assert "exited" in table.value or "killed" in table.value
    finally:
        d.stop()


def test_stats_stream_samples_until_told(ip, busybox, magics, cleanup):
    from bocker_magics.views import StatsTable

    ip.run_line_magic("bocker", "run -d --name streamy busybox 'while :; do :; done'")
    t0 = __import__("time").monotonic()
    table = StatsTable.stream(magics.engine, ["streamy"], interval=0.2, duration=0.6)
    assert __import__("time").monotonic() - t0 < 10
    assert table.rows()[0][1] == "streamy" and table.rows()[0][2].endswith("%")
    ip.run_line_magic("bocker", "kill streamy")


def test_stats_streams_by_default_and_no_stream_or_out_take_one_sample(ip, busybox, cleanup):
    import os
    import signal
    import threading
    import time

    from bocker_magics.views import StatsTable

    ip.run_line_magic("bocker", "run -d --name streamy2 busybox 'while :; do :; done'")
    t0 = time.monotonic()
    one = ip.run_line_magic("bocker", "stats --no-stream streamy2")  # as docker stats --no-stream
    assert isinstance(one, StatsTable) and one.rows()[0][1] == "streamy2"
    ip.run_line_magic("bocker", "stats --out st2 streamy2")  # --out: one sample, no streaming
    assert ip.user_ns["st2"].rows()[0][1] == "streamy2"
    assert time.monotonic() - t0 < 20, "neither waited for an interrupt"
    with pytest.raises(UsageError, match="--stream and --no-stream"):
        ip.run_line_magic("bocker", "stats --stream --no-stream streamy2")
    timer = threading.Timer(2.5, os.kill, (os.getpid(), signal.SIGINT))  # the cell's stop button
    t0 = time.monotonic()
    timer.start()
    live = ip.run_line_magic("bocker", "stats --interval 0.2 streamy2")  # the default: until interrupted
    timer.join()
    assert time.monotonic() - t0 >= 2.4, "it kept redrawing until interrupted"
    assert live.rows()[0][1] == "streamy2" and live.rows()[0][2].endswith("%"), "the last table stays"
    ip.run_line_magic("bocker", "kill streamy2")


def test_a_mistyped_option_gets_the_nearest_one(ip):
    with pytest.raises(UsageError, match=r"unrecognized arguments: --memry \(did you mean --memory\?\)"):
        ip.run_line_magic("bocker", "run --memry 1m busybox true")
