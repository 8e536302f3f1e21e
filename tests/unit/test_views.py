"""The views on their own: mime bundles (text, HTML, Markdown), frames and widgets, from data.
Over real processes in namespaces, real overlay-form directories and real containers (root):
tests/host/test_views.py."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from bocker_magics.engine.kernel.cgroups.common import CgroupStats
from bocker_magics.views import (
    ContainerTable,
    ImageTable,
    Inspect,
    Monitor,
    NamespaceTable,
    Progress,
    stats_frame,
)

MIMES = ("text/plain", "text/html", "text/markdown")


def test_namespace_table_of_a_missing_pid():
    with pytest.raises(ProcessLookupError):
        NamespaceTable.of([2 ** 22 + 12345])


def test_stats_frame_has_the_same_columns_everywhere():
    s = CgroupStats(cpu_seconds=1.5, cpu_shares=512, cpu_weight=20, memory_current=1 << 20,
                    memory_peak=2 << 20, memory_limit=64 << 20, oom_kills=0, pids_current=3)
    frame = stats_frame({"ps_a": s, "ps_b": CgroupStats()}, {"ps_a": "web"})
    assert list(frame.columns) == ["name", "cpu_seconds", "cpu_shares", "cpu_weight", "cpu_quota_cpus",
                                   "memory_current", "memory_peak", "memory_limit", "oom_kills",
                                   "pids_current", "pids_limit"]
    assert frame.loc["ps_a", "memory_limit"] == 64 << 20 and frame.loc["ps_a", "name"] == "web"
    assert frame.loc["ps_b"].drop("name").isna().all()


def test_progress_bundle():
    p = Progress("pull demo")
    p(512, 1024)
    bundle = p._repr_mimebundle_()
    assert '<progress value="512" max="1024"></progress>' in bundle["text/html"]
    assert "512 B of 1.0 KiB" in bundle["text/plain"]
    p.close("pulled")
    assert "pulled" in p._repr_mimebundle_()["text/plain"]


def test_layer_progress_sums_the_layers():
    from dataclasses import dataclass

    from bocker_magics.views.progress import LayerProgress

    @dataclass
    class Event:  # the fields of registry.Progress
        layer: str
        status: str
        current: int = 0
        total: int = 0

    p = LayerProgress("pull demo", )
    p(Event("aaa", "downloading", 100, 400))
    p(Event("bbb", "exists", 600, 600))
    bundle = p.progress._repr_mimebundle_()
    assert '<progress value="700" max="1000"></progress>' in bundle["text/html"]
    assert "(1/2 layers, exists bbb)" in bundle["text/plain"]


# -- reading well: one formatter, tables that fit, a tree for inspect ----------------------------
def test_one_formatter_for_sizes_times_and_long_values():
    from bocker_magics import format

    assert [format.size(n) for n in (None, 512, 1536, 64 << 20, 3 << 30)] == \
        ["-", "512 B", "1.5 KiB", "64.0 MiB", "3.0 GiB"]
    assert format.local_time(0) == "-" and format.local_time(86400 * 365).startswith("1971-")
    digest = "registry.local:5000/lab/busybox@sha256:" + "ab" * 32
    short = format.shorten(digest, 60)
    assert short == "registry.local:5000/lab/busybox@sha256:abababababab…" and len(short) <= 60
    assert format.shorten("x" * 50, 10) == "x" * 9 + "…" and format.shorten("short", 10) == "short"
    assert format.count(1, "process") == "1 process" and format.count(3, "layer") == "3 layers"
    assert format.bar(0.5, 10) == "[====>     ]"


@dataclass
class FakeImage:
    id: str
    names: list
    source: str
    layers: list
    created: float


@dataclass
class FakeContainer:
    id: str
    name: str | None
    image_name: str
    command: str
    status: str
    status_text: str
    exit_code: int | None
    pid: int | None
    created: float
    oom_killed: bool = False
    state: dict = field(default_factory=dict)


def test_long_values_are_shortened_with_the_whole_value_on_hover():
    source = "127.0.0.1:5000/lab/busybox@sha256:" + "0123456789abcdef" * 4
    images = ImageTable([FakeImage("img_0123456789", ["busybox:latest"], source, ["l1"], 1.7e9)])
    html = images._repr_mimebundle_()["text/html"]
    assert f'title="{source}"' in html and ">127.0.0.1:5000/lab/busybox@sha256:0123456789ab…<" in html
    assert source not in images._repr_mimebundle_()["text/plain"]
    assert images.to_frame().loc[0, "source"] == source  # whole in the frame
    command = "while true; do echo a very long command line that goes on and on; sleep 1; done"
    ps = ContainerTable([FakeContainer("ps_0123456789", "web", "busybox:latest", command, "running",
                                       "running", None, 42, 1.7e9)])
    assert f'title="{command}"' in ps._repr_mimebundle_()["text/html"]
    assert ps.to_frame().loc[0, "command"] == command
    assert ps["web"].id == "ps_0123456789" and ps._ipython_key_completions_() == ["web", "ps_0123456789"]


def test_an_empty_ps_says_there_are_no_containers():
    bundle = ContainerTable([])._repr_mimebundle_()
    assert all("No containers" in bundle[m] for m in MIMES)
    assert "No images" in ImageTable([])._repr_mimebundle_()["text/html"]


def test_inspect_is_a_left_aligned_tree_with_local_times_and_sizes():
    record = {"Id": "ps_0123456789", "Name": "web", "Created": 1.7e9,
              "State": {"Running": False, "ExitCode": 0, "StartedAt": 1.7e9 + 1, "FinishedAt": None},
              "Limits": {"memory": 64 << 20, "pids": 9}, "Capabilities": ["CAP_CHOWN", "CAP_KILL"],
              "Mounts": [{"Type": "overlay", "Destination": "/"}]}
    info = Inspect(record)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1.7e9))
    html = info._repr_mimebundle_()["text/html"]
    assert "text-align:left" in html and "<table" not in html
    assert f"<code>{when}</code>" in html and "64 MiB (67108864)" in html and "CAP_CHOWN, CAP_KILL" in html
    text = info._repr_mimebundle_()["text/plain"]
    assert text.splitlines()[0] == "web (ps_0123456789)" and f"  Created: {when}" in text
    assert "    ExitCode: 0" in text and "      Type: overlay" in text
    assert info["Created"] == 1.7e9 and info.to_json().startswith("{")  # the record itself stays raw
    assert "State" in info._ipython_key_completions_()


def test_stats_table_shows_sizes_and_reads_like_its_frame():
    from bocker_magics.views import StatsTable

    s = CgroupStats(cpu_seconds=1.5, memory_current=3 << 20, memory_peak=5 << 20, memory_limit=64 << 20,
                    oom_kills=0, pids_current=2)
    table = StatsTable({"ps_a": s}, {"ps_a": "web"})
    html = table._repr_mimebundle_()["text/html"]
    assert "64 MiB" in html and "3.0 MiB" in html and str(64 << 20) not in html  # a limit as given: 64m
    assert table["memory_limit"].iloc[0] == 64 << 20 and table.loc["ps_a", "name"] == "web"
    assert list(table.index) == ["ps_a"] and "memory_peak" in table._ipython_key_completions_()


def test_run_status_never_contradicts():
    from bocker_magics.views.run import status_line

    assert status_line(0, False, 0) == "exited (0)"
    assert status_line(0, True, 1) == "exited (0); 1 process killed by the OOM killer"
    assert status_line(0, False, 2) == "exited (0); 2 processes killed by the OOM killer"
    assert status_line(137, True, 1) == "killed by the OOM killer (exit 137)"
    assert status_line(137, False, 0) == "exited (137)"


def test_a_run_report_reads_as_text_not_as_a_repr():
    from bocker_magics.engine.container.record import RunResult
    from bocker_magics.views import RunReport

    output = "".join(f"line {i}\n" for i in range(1, 51)).encode()
    stats = CgroupStats(cpu_seconds=0.25, memory_current=1 << 20, memory_peak=3 << 20, memory_limit=64 << 20,
                        pids_current=1)
    report = RunReport(RunResult("ps_0123", 3, output, 1.5), stats, label="web (ps_0123)", command="seq 1 50")
    text = report._repr_mimebundle_()["text/plain"]
    assert "RunReport(" not in text and text == report._text()
    lines = text.splitlines()
    assert lines[0] == "web (ps_0123): exited (3) after 1.500 s", lines
    assert lines[1] == "command: seq 1 50"
    assert "memory peak 3.0 MiB" in lines[2] and "memory limit 64 MiB" in lines[2] and "cpu seconds 0.250" in lines[2]
    assert lines[3:] == ["output: 50 lines, streamed above (.text has it)"], "streamed: not repeated"
    html = report._repr_mimebundle_()["text/html"]
    assert "exited (3)" in html and "memory peak" in html, "the text says what the HTML shows"
    assert "line 50" not in html, "streamed: the HTML does not repeat the output"
    quiet = RunReport(RunResult("ps_0123", 0, b"hi\n", 0.2), label="ps_0123", streamed=False)
    assert quiet._text().splitlines()[-2:] == ["output:", "hi"], "not streamed: the output itself"
    done = RunReport(RunResult("ps_0123", 0, b"", 0.2), label="ps_0123")
    assert done._text() == "ps_0123: exited (0) after 0.200 s", "no output: no output line"


# -- images once, widgets that still read -----------------------------------------------------
class _Stats:
    def __init__(self, cpu, mem):
        self.cpu_seconds, self.memory_current, self.pids_current = cpu, mem, 1


def _monitor_with_samples(n: int = 4) -> Monitor:
    m = Monitor(engine=None, interval=0.1, container_id="ps_0123456789")
    m.samples = [(0.1 * i, _Stats(10.0 + 0.05 * i, (1 + i) << 20)) for i in range(n)]
    return m


def test_a_plot_is_carried_once_per_output():
    m = _monitor_with_samples()
    bundle = m._repr_mimebundle_()
    blob = "".join(v for v in bundle.values() if isinstance(v, str))
    assert blob.count("iVBORw0KGgo") == 1, "the PNG once (in the HTML, where exported reports read it)"
    assert set(bundle) == {"text/plain", "text/html"}
    summary = dict(m._summary())
    assert summary["cpu (sampled)"].startswith("0.150 s")  # the sample's, not the 10 s before it
    assert summary["memory peak (sampled)"] == "4.0 MiB"


def test_a_widget_result_still_carries_html_and_text():
    pytest.importorskip("ipywidgets")
    from bocker_magics.views import WithWidget

    table = ContainerTable([])
    shown = WithWidget(table, table.widget())
    bundle = shown._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == table._text() and bundle["text/html"] == table._html()
    assert len(shown) == 0 and shown.to_frame().empty  # the view's own attributes


@pytest.fixture
def frontend(monkeypatch):
    """As in a Jupyter kernel: displays recorded, updatable by id."""
    shown: list[dict] = []

    class Handle:
        def __init__(self, index):
            self.index = index

        def update(self, obj, raw=False):
            shown[self.index] = obj if raw else obj._repr_mimebundle_()

    def display(obj, raw=False, display_id=False):
        shown.append(obj if raw else (obj._repr_mimebundle_() if hasattr(obj, "_repr_mimebundle_") else {"widget": obj}))
        return Handle(len(shown) - 1) if display_id else None

    import IPython.display

    from bocker_magics.views import live, progress

    monkeypatch.setattr(live, "updates_in_place", lambda: True)
    monkeypatch.setattr(progress, "updates_in_place", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    return shown


def test_progress_ends_done_or_failed_in_the_cell(frontend):
    p = Progress("pull demo", min_interval=0)
    p(100, 400)
    assert '<progress value="100" max="400">' in frontend[0]["text/html"]
    p.close("pulled")
    assert '<progress value="1" max="1"></progress> ✓' in frontend[0]["text/html"]
    q = Progress("pull broken", min_interval=0)
    q(0, None)
    assert "<progress></progress>" in frontend[1]["text/html"]  # working: indeterminate
    q.fail("connection refused")
    html = frontend[1]["text/html"]
    assert "<progress></progress>" not in html and "✗" in html and "failed" in html and "connection refused" in html


def test_widget_progress_ends_full_and_green_or_red(frontend):
    pytest.importorskip("ipywidgets")
    p = Progress("pull demo", widget=True, min_interval=0)
    p(10, None)  # no total known (a registry that does not say)
    p.close("pulled")
    assert p._widget.value == p._widget.max and p._widget.bar_style == "success"
    q = Progress("pull broken", widget=True, min_interval=0)
    q(5, 10)
    q.fail("refused")
    assert q._widget.bar_style == "danger" and q._widget.value == 5 and "failed" in q._label.value


def test_a_live_display_follows_and_leaves_the_final_picture_to_the_result(frontend):
    from bocker_magics.views import LiveDisplay

    m = _monitor_with_samples(2)
    live = LiveDisplay(m, min_interval=0)
    assert "2 over" in frontend[0]["text/plain"]
    m.samples.append((0.3, _Stats(10.2, 5 << 20)))
    live.refresh()
    assert "3 over" in frontend[0]["text/plain"] and "5.0 MiB" in frontend[0]["text/html"]
    live.close()
    assert frontend[0] == {"text/plain": ""}  # gone: the cell's result shows the end, once
