"""%bocker and %%bocker in an in-process IPython shell: every verb's form, errors, --out,
expansion, interrupt, %config and unload. Containers really run (the built-in busybox)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import CGROUP_PARENT

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402


@pytest.fixture(scope="module")
def ip(session_root):
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "bocker_magics")
    shell.run_line_magic("config", f"BockerMagics.root = {str(session_root)!r}")
    shell.run_line_magic("config", f"BockerMagics.cgroup_parent = {CGROUP_PARENT!r}")
    yield shell
    magics = shell.magics_manager.registry.get("BockerMagics")
    if magics is not None:
        for c in magics.engine.ps():
            magics.engine.rm(c.id, force=True)
    if "bocker" in shell.magics_manager.magics["line"]:
        shell.run_line_magic("unload_ext", "bocker_magics")


@pytest.fixture
def magics(ip):
    return ip.magics_manager.registry["BockerMagics"]


@pytest.fixture
def cleanup(magics):
    """Remove the containers a test made."""
    before = {c.id for c in magics.engine.ps()}
    yield
    for c in magics.engine.ps():
        if c.id not in before:
            magics.engine.rm(c.id, force=True)


def test_line_run_streams_and_returns_a_report(ip, capsys, cleanup):
    r = ip.run_line_magic("bocker", "run busybox 'echo hello; echo oops >&2'")
    out = capsys.readouterr().out
    assert "hello\n" in out and "oops\n" in out        # streamed as it ran
    assert r.exit_code == 0 and r.text == "hello\noops\n" and r.id.startswith("ps_")
    assert r.duration > 0
    bundle = r._repr_mimebundle_()
    assert r.id in bundle["text/plain"] and r.id in bundle["text/html"] and r.id in bundle["text/markdown"]
    assert "<pre>hello\noops\n</pre>" in bundle["text/html"]
    frame = r.to_frame()
    assert frame.loc[r.id, "exit_code"] == 0


def test_cell_run_body_is_the_script_and_streams(ip, capsys, cleanup):
    chunks: list[tuple[float, str]] = []
    import sys

    real = sys.stdout

    class Stamp:
        def write(self, s):
            chunks.append((time.monotonic(), s))
            return real.write(s)

        def flush(self):
            real.flush()

    sys.stdout = Stamp()
    try:
        t0 = time.monotonic()
        r = ip.run_cell_magic("bocker", "run --name cellrun busybox",
                              "echo first\nsleep 1\necho second from $(hostname)\n")
    finally:
        sys.stdout = real
    first = next(t for t, s in chunks if "first" in s)
    assert first - t0 < 0.9, "the first line came only at the end: output is not streamed"
    assert r.exit_code == 0 and r.text == f"first\nsecond from {r.id}\n"


def test_cell_run_without_image_uses_the_default_image(ip, cleanup):
    r = ip.run_cell_magic("bocker", "run -m 64m", "cat /proc/self/cgroup >/dev/null; echo ok")
    assert r.text == "ok\n"


def test_nonzero_exit_raises_unless_no_raise_error(ip, cleanup):
    from bocker_magics.magics import ContainerExitError

    with pytest.raises(ContainerExitError, match="exited with code 3"):
        ip.run_cell_magic("bocker", "run busybox", "exit 3")
    r = ip.run_cell_magic("bocker", "run --no-raise-error busybox", "exit 3")
    assert r.exit_code == 3
    # in a cell the error is one line, no traceback
    ip.run_cell("%bocker run --out failed busybox exit 4")
    assert ip.user_ns["failed"].exit_code == 4


def test_cell_error_is_short(ip, capsys, cleanup):
    result = ip.run_cell("%%bocker run busybox\nexit 5\n")
    out = capsys.readouterr()
    assert not result.success
    text = out.out + out.err
    assert "ContainerExitError: Container ps_" in text and "Traceback" not in text


def test_out_stores_the_result_and_shows_nothing(ip, cleanup):
    ret = ip.run_cell_magic("bocker", "run --out res busybox", "echo stored")
    assert ret is None
    assert ip.user_ns["res"].text == "stored\n"
    assert ip.run_line_magic("bocker", "ps --out table") is None
    assert res_id_in(ip.user_ns["table"], ip.user_ns["res"].id)


def res_id_in(table, cid: str) -> bool:
    return cid in list(table.to_frame()["id"])


def test_line_expansion_of_braces_and_dollar(ip, cleanup):
    ip.user_ns["word"] = "expanded"
    ip.user_ns["n"] = 7
    r = ip.run_cell("%bocker run --out exp busybox echo {word} $n {n*6}")
    assert r.success
    assert ip.user_ns["exp"].text == "expanded 7 42\n"
    # the cell body is not expanded: the container's shell sees $HOSTNAME
    r = ip.run_cell("%%bocker run --out exp2 busybox\necho $HOSTNAME\n")
    assert ip.user_ns["exp2"].text.strip() == ip.user_ns["exp2"].id


def test_ps_and_images_are_tables_with_frames(ip, busybox, cleanup):
    r = ip.run_line_magic("bocker", "run --name pstest busybox true")
    table = ip.run_line_magic("bocker", "ps")
    frame = table.to_frame()
    assert list(frame.columns) == ["id", "name", "image", "command", "status", "exit_code", "pid", "created"]
    row = frame.set_index("id").loc[r.id]
    assert row["name"] == "pstest" and row["status"] == "exited (0)" and row["command"] == "true"
    html = table._repr_mimebundle_()["text/html"]
    assert "<table>" in html and r.id in html and "pstest" in html
    images = ip.run_line_magic("bocker", "images")
    iframe = images.to_frame()
    assert busybox in list(iframe["id"])
    assert "busybox:latest" in images._repr_mimebundle_()["text/markdown"]


def test_inspect_logs_stop_wait_rm(ip, capsys, cleanup):
    r = ip.run_line_magic("bocker", "run -d --name life busybox 'echo up; sleep 30'")
    assert r.detached
    info = ip.run_line_magic("bocker", "inspect life")
    assert info["Id"] == r.id and info["State"]["Running"]
    assert f"<h4>{r.id}</h4>" in info._repr_mimebundle_()["text/html"]
    ip.run_line_magic("bocker", "stop -t 0.2 life")
    assert ip.run_line_magic("bocker", "wait life") == 137
    capsys.readouterr()
    ip.run_line_magic("bocker", "logs life")
    assert capsys.readouterr().out == "up\n"
    ip.run_line_magic("bocker", "rm life")
    assert "Removed: life" in capsys.readouterr().out
    with pytest.raises(UsageError, match="named 'life' exists"):
        ip.run_line_magic("bocker", "inspect life")


def test_init_commit_and_diff(ip, tmp_path, cleanup):
    (tmp_path / "hello.txt").write_text("hi\n")
    img = ip.run_line_magic("bocker", f"init {tmp_path} --name tiny:1")
    assert img.id.startswith("img_")
    r = ip.run_line_magic("bocker", "run --name changer busybox 'echo x > /new; rm /bin/ls; echo more >> /etc/passwd'")
    d = ip.run_line_magic("bocker", "diff changer")
    rows = {(c.kind, c.path) for c in d}
    assert {("A", "/new"), ("D", "/bin/ls"), ("C", "/etc/passwd"), ("C", "/bin")} <= rows
    assert "-" not in d.unified("/etc/passwd").splitlines()[3:]  # only lines added
    assert "+more" in d.unified("/etc/passwd")
    committed = ip.run_line_magic("bocker", "commit changer changed:1")
    layer = ip.run_line_magic("bocker", "diff changed:1")
    assert {("A", "/new"), ("D", "/bin/ls")} <= {(c.kind, c.path) for c in layer}
    ip.run_line_magic("bocker", f"rm {r.id}")
    ip.run_line_magic("bocker", f"rmi {committed.id}")
    ip.run_line_magic("bocker", "rmi tiny:1")


def test_stats_ns_and_top(ip, cleanup):
    r = ip.run_line_magic("bocker", "run -d --name busy -m 64m --pids-limit 20 busybox "
                                    "'while :; do :; done'")
    frame = ip.run_line_magic("bocker", "stats busy")
    assert list(frame.index) == [r.id]
    assert frame.loc[r.id, "memory_limit"] == 64 << 20
    assert frame.loc[r.id, "pids_limit"] == 20
    assert frame.loc[r.id, "pids_current"] >= 1
    every = ip.run_line_magic("bocker", "stats")
    assert r.id in every.index
    table = ip.run_line_magic("bocker", f"ns busy {os.getpid()}")
    pid = ip.magics_manager.registry["BockerMagics"].engine.container("busy").pid
    net = int(os.readlink(f"/proc/{pid}/ns/net").split("[")[1].rstrip("]"))
    assert table.to_frame().loc["net", "busy"] == net
    assert f"<mark>{net}</mark>" in table._repr_mimebundle_()["text/html"]
    m = ip.run_line_magic("bocker", "top --interval 0.1 --duration 0.6 busy")
    assert len(m.samples) >= 3
    assert m.to_frame()["cpu_percent"].dropna().max() > 20  # the busy loop shows
    assert m._repr_mimebundle_()["image/png"]
    ip.run_line_magic("bocker", "kill busy")


def test_run_monitor_plots(ip, cleanup):
    r = ip.run_line_magic("bocker", "run --monitor busybox 't=$(($(date +%s)+2)); while [ $(date +%s) -lt $t ]; do :; done'")
    assert r.monitor is not None and len(r.monitor.samples) >= 2
    bundle = r._repr_mimebundle_()
    assert 'src="data:image/png;base64,' in bundle["text/html"]
    assert r.stats is not None and r.stats.cpu_seconds > 0


def test_user_mistakes_are_one_line_usage_errors(ip, capsys, cleanup):
    for line, message in [
        ("nosuch", "Unknown command 'nosuch'"),
        ("run", "the following arguments are required: image"),
        ("run -m lots busybox true", "Invalid memory size 'lots'"),
        ("run no-such-image true", "No image named 'no-such-image'"),
        ("logs no-such-container", "No container named"),
        ("run busybox 'unbalanced", "No closing quotation"),
    ]:
        with pytest.raises(UsageError, match=message):
            ip.run_line_magic("bocker", line)
    with pytest.raises(UsageError, match="the cell is the script"):
        ip.run_cell_magic("bocker", "run busybox echo words", "echo body")
    with pytest.raises(UsageError, match="only run and exec take a cell"):
        ip.run_cell_magic("bocker", "ps", "x")
    capsys.readouterr()
    ip.run_cell("%bocker run -m lots busybox true")
    out = capsys.readouterr()
    assert "UsageError: Invalid memory size 'lots'" in out.out + out.err
    assert "Traceback" not in out.out + out.err


def test_help(ip, capsys):
    ip.run_cell("%bocker run?")
    assert "--no-raise-error" in capsys.readouterr().out and True
    ip.run_line_magic("bocker", "stats --help")
    assert "usage: %bocker stats" in capsys.readouterr().out
    doc = ip.find_line_magic("bocker").__doc__
    assert all(f"%bocker {verb}" in doc for verb in ("run", "ps", "images", "ns", "top", "diff"))


def test_config_defaults(ip, magics, cleanup):
    ip.run_line_magic("config", "BockerMagics.memory = '32m'")
    ip.run_line_magic("config", "BockerMagics.pids_limit = 9")
    try:
        r = ip.run_cell_magic("bocker", "run --out cfg", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null "
                              "|| cat /sys/fs/cgroup/pids.max")
        assert ip.user_ns["cfg"].text.strip() == "9"
        limits = magics.engine.inspect(ip.user_ns["cfg"].id)["Limits"]
        assert limits["memory"] == 32 << 20 and limits["pids"] == 9
        # the line overrides the default
        ip.run_cell_magic("bocker", "run --out cfg2 -m 48m", "true")
        assert magics.engine.inspect(ip.user_ns["cfg2"].id)["Limits"]["memory"] == 48 << 20
    finally:
        ip.run_line_magic("config", "BockerMagics.memory = None")
        ip.run_line_magic("config", "BockerMagics.pids_limit = None")
    assert r is None


def test_exec_line_and_cell(ip, cleanup):
    ip.run_line_magic("bocker", "run -d --name ex busybox 'sleep 30'")
    r = ip.run_line_magic("bocker", "exec ex hostname")
    assert r.exit_code == 0 and r.text.strip().startswith("ps_")
    r = ip.run_cell_magic("bocker", "exec ex", "echo $((6*7))")
    assert r.text == "42\n"
    ip.run_line_magic("bocker", "rm -f ex")


def _interrupt_after(seconds: float) -> threading.Timer:
    t = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    t.start()
    return t


def test_interrupt_stops_the_container_and_cleans_up(ip, magics, assert_nothing_left):
    t0 = time.monotonic()
    timer = _interrupt_after(0.8)
    with pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("bocker", "run --name intr busybox", "echo started\nsleep 30\n")
    timer.join()
    assert time.monotonic() - t0 < 10
    c = magics.engine.container("intr")
    assert c.status == "exited" and c.exit_code == 137
    magics.engine.rm("intr")
    # --rm holds when interrupted
    timer = _interrupt_after(0.8)
    with pytest.raises(KeyboardInterrupt):
        ip.run_cell_magic("bocker", "run --rm --name intr2 busybox", "sleep 30")
    timer.join()
    assert [c for c in magics.engine.ps() if c.name == "intr2"] == []
    assert_nothing_left()


def test_unload_closes_the_engine_and_reload_works(ip, magics):
    engine = magics.engine
    ip.run_line_magic("bocker", "run --rm busybox true")  # the shim is running
    assert engine.launcher._proc is not None
    ip.run_line_magic("reload_ext", "bocker_magics")
    assert engine.launcher._proc is None  # closed: the shim exited
    new = ip.magics_manager.registry["BockerMagics"]
    assert new is not magics and magics._engine is None
    assert new in ip.configurables and magics not in ip.configurables
    ip.run_line_magic("unload_ext", "bocker_magics")
    assert "bocker" not in ip.magics_manager.magics["line"]
    with pytest.raises(UsageError):
        ip.run_line_magic("bocker", "ps")
    ip.run_line_magic("load_ext", "bocker_magics")
    ip.run_line_magic("config", f"BockerMagics.cgroup_parent = {CGROUP_PARENT!r}")
    assert ip.run_line_magic("bocker", "ps") is not None
