"""The notebook face's rough edges, without a kernel or root: report pages (title, banner,
link back), views that MathJax leaves alone, inspect as JSON, stats with docker's columns, ps
with ports, sizes as given, hints (nearest verb, options after a name, names as typed)."""

from __future__ import annotations

import json

import pytest

from bocker_magics.engine import CgroupStats
from bocker_magics.report import Outcome, page_html
from bocker_magics.views import ContainerTable, Inspect, LayerDiff, NamespaceTable, StatsTable
from bocker_magics.views._render import NO_MATH, View
from bocker_magics.views.hints import did_you_mean, limit_size, name_last, removed_lines

NBCONVERT_LIKE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Notebook</title></head>"
                  "<body class=\"jp-Notebook\"><main>cells</main></body></html>")


def test_a_report_page_is_titled_by_its_notebook_with_a_banner_and_a_way_back():
    ok = page_html(NBCONVERT_LIKE, Outcome("04-cgroups", "04 · cgroups: limits (article 2.2)", True, 12.34))
    assert "<title>04-cgroups · 04 · cgroups: limits (article 2.2)</title>" in ok and "<title>Notebook" not in ok
    banner = ok.split('<body class="jp-Notebook">', 1)[1].split("<main>")[0]
    assert 'href="index.html"' in banner and ">passed<" in banner and "12.3 s" in banner
    assert "article 2.2" in banner
    bad = page_html(NBCONVERT_LIKE, Outcome("02-ipc-uts", "02 · IPC", False, 3.0, "CellExecutionError: boom\nmore"))
    assert ">failed<" in bad and "CellExecutionError: boom" in bad and "more" not in bad.split("<main>")[0]


class Shell(View):
    def _text(self) -> str:
        return 'echo "home=$HOME path=$PATH"'

    def _html(self) -> str:
        return '<pre>echo "home=$HOME path=$PATH"</pre>'


def test_every_view_is_marked_for_mathjax_to_skip():
    # a view of any subclass, however it makes its HTML
    bundle = Shell()._repr_mimebundle_()
    assert bundle["text/html"].startswith(f'<div class="{NO_MATH}">') and "$HOME" in bundle["text/html"]
    assert bundle["text/html"].count(NO_MATH) == 1, "marked once"
    for view in (ContainerTable([]), StatsTable({}), NamespaceTable({"a": {"uts": 1}}),
                 LayerDiff([], None, [], title="x"), Inspect({"Id": "ps_1", "Cmd": "echo $HOME"})):
        assert f'class="{NO_MATH}"' in view._repr_mimebundle_()["text/html"], type(view).__name__
    assert "tex2jax_ignore" in NO_MATH and "mathjax_ignore" in NO_MATH


def test_inspect_is_json_for_jupyterlab_and_a_folded_tree_for_reports():
    record = {"Id": "ps_1", "Name": "web", "Created": 1.7e9, "State": {"Pid": 42, "Status": "running"},
              "Limits": {"memory": 64 << 20}}
    bundle = Inspect(record)._repr_mimebundle_()
    assert bundle["application/json"]["State"] == {"Pid": 42, "Status": "running"}
    json.dumps(bundle["application/json"])  # serialisable as it is
    assert "<details><summary><b>State</b></summary>" in bundle["text/html"]
    assert "64 MiB (67108864)" in bundle["text/html"]


def test_stats_has_dockers_columns():
    s = CgroupStats(cpu_seconds=2.0, memory_current=3 << 20, memory_limit=512 * 10**6, pids_current=4)
    table = StatsTable({"ps_a": s}, {"ps_a": "web"},
                       {"ps_a": {"cpu_percent": 49.5, "net_rx": 2048, "net_tx": 1024, "block_read": 0,
                                 "block_write": 4096}})
    assert list(table.headers) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                                   "BLOCK I/O", "PIDS"]
    row = table.rows()[0]
    assert row == ["ps_a", "web", "49.50%", "3.0 MiB / 512 MB", f"{100 * (3 << 20) / (512 * 10**6):.2f}%",
                   "2.0 KiB / 1.0 KiB", "0 B / 4.0 KiB", 4]
    frame = table.to_frame()
    assert frame.loc["ps_a", "cpu_percent"] == 49.5 and frame.loc["ps_a", "memory_limit"] == 512 * 10**6


class _Publish:
    host_ip, host_port, container_port, proto = "0.0.0.0", 8080, 80, "tcp"


class _Net:
    publish = [_Publish()]


class _Record:
    network = _Net()


class _Container:
    id, name, image_name, command, status, exit_code, pid, created = ("ps_1", "web", "busybox", "httpd",
                                                                       "running", None, 42, 1.7e9)
    oom_killed, restart_count, status_text, running, record, state = False, 0, "running", True, _Record(), None


def test_ps_shows_ports():
    table = ContainerTable([_Container()])
    assert "ports" in table.headers
    assert "0.0.0.0:8080-&gt;80/tcp" in table._repr_mimebundle_()["text/html"]


@pytest.mark.parametrize("n, shown", [(512 * 10**6, "512 MB"), (64 << 20, "64 MiB"), (2 << 30, "2 GiB"),
                                      (10**9, "1 GB"), (1536, "1.5 KiB"), (None, "-")])
def test_sizes_as_given(n, shown):
    assert limit_size(n) == shown


def test_hints():
    assert did_you_mean("pss", ["ps", "pull", "images"]) == " (did you mean ps?)"
    assert did_you_mean("zzzz", ["ps", "pull"]) == ""
    assert name_last(["web", "--monitor", "--duration", "8"], "web") == ["--monitor", "--duration", "8", "web"]
    assert removed_lines(["web", "ps_2"], ["ps_1", "ps_2"]) == "Removed: web (ps_1)\nRemoved: ps_2"


def test_a_run_report_and_its_monitor_show_one_memory_peak():
    from bocker_magics.views import Monitor, RunReport

    class Result:
        id, exit_code, output, text, duration, oom_killed = "ps_1", 0, b"", "", 0.3, False

    class Sample:
        def __init__(self, cpu, mem):
            self.cpu_seconds, self.memory_current, self.pids_current = cpu, mem, 1

    m = Monitor(engine=None, interval=0.1, container_id="ps_1")
    m.samples = [(0.0, Sample(0.0, 1 << 20)), (0.1, Sample(0.05, 2 << 20))]
    report = RunReport(Result(), CgroupStats(cpu_seconds=0.1, memory_current=1 << 20, memory_peak=7 << 20), m)
    summary = dict(m._summary())
    assert summary["memory peak"] == "7.0 MiB" and "memory peak (sampled)" not in summary
    assert dict(report._fields())["memory peak"] == "7.0 MiB"
    alone = Monitor(engine=None, interval=0.1, container_id="ps_2")
    alone.samples = m.samples
    assert dict(alone._summary())["memory peak (sampled)"] == "2.0 MiB", "without a report: the samples' peak"


def test_option_hint():
    from bocker_magics.views.hints import option_hint

    message = "%bocker run: unrecognized arguments: --memry (see %bocker run?)"
    assert option_hint(message, ["--memory", "-m", "--name"]) == \
        "%bocker run: unrecognized arguments: --memry (did you mean --memory?) (see %bocker run?)"
    assert option_hint("%bocker ps: bad thing", ["--all"]) == "%bocker ps: bad thing"
