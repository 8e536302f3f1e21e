"""%bocker and %%bocker in an in-process IPython shell: every verb's form, errors, --out,
expansion, interrupt, %config and unload. Containers really run (the built-in busybox)."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from tests.support.session import CGROUP_PARENT

IPython = pytest.importorskip("IPython")
from IPython.core.error import UsageError  # noqa: E402


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
    streamed = capsys.readouterr()
    assert streamed.out == "hello\n" and streamed.err == "oops\n"  # streamed as it ran, each stream as itself
    assert r.exit_code == 0 and r.text == "hello\noops\n" and r.id.startswith("ps_")
    assert r.duration > 0
    bundle = r._repr_mimebundle_()
    assert r.id in bundle["text/plain"] and r.id in bundle["text/html"] and r.id in bundle["text/markdown"]
    assert "hello" not in bundle["text/html"], "the output was streamed: the report does not repeat it"
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
    assert list(frame.columns) == ["id", "name", "image", "command", "status", "exit_code", "restarts", "pid",
                                   "ports", "created"]
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
    assert f"<h4>life ({r.id})</h4>" in info._repr_mimebundle_()["text/html"]
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
    frame = ip.run_line_magic("bocker", "stats --no-stream busy")
    assert list(frame.index) == [r.id]
    assert frame.loc[r.id, "memory_limit"] == 64 << 20
    assert frame.loc[r.id, "pids_limit"] == 20
    assert frame.loc[r.id, "pids_current"] >= 1
    every = ip.run_line_magic("bocker", "stats --no-stream")
    assert r.id in every.index
    table = ip.run_line_magic("bocker", f"ns busy {os.getpid()}")
    pid = ip.magics_manager.registry["BockerMagics"].engine.container("busy").pid
    net = int(os.readlink(f"/proc/{pid}/ns/net").split("[")[1].rstrip("]"))
    assert table.to_frame().loc["net", "busy"] == net
    assert f"<mark>{net}</mark>" in table._repr_mimebundle_()["text/html"]
    m = ip.run_line_magic("bocker", "top --interval 0.1 --duration 0.6 busy")
    assert len(m.samples) >= 3
    assert m.to_frame()["cpu_percent"].dropna().max() > 20  # the busy loop shows
    bundle = m._repr_mimebundle_()
    assert bundle["text/html"].count("data:image/png;base64,") == 1 and "image/png" not in bundle
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
    with pytest.raises(UsageError, match="only run, exec and build take a cell"):
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
    with pytest.raises(KeyboardInterrupt) as info:
        ip.run_cell_magic("bocker", "run --name intr busybox", "echo started\nsleep 30\n")
    timer.join()
    assert time.monotonic() - t0 < 10
    c = magics.engine.container("intr")
    assert c.status == "exited" and c.exit_code == 137
    # one line, and nothing of our code's frames shown
    assert info.value._render_traceback_() == [f"interrupted: container intr ({c.id}) stopped, exit 137"]
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
    ours = [m for m in ip.Completer.custom_matchers if hasattr(m, "bocker_completer")]
    assert len(ours) == 1, "one completer after a reload"
    ip.run_line_magic("unload_ext", "bocker_magics")
    assert "bocker" not in ip.magics_manager.magics["line"]
    assert not [m for m in ip.Completer.custom_matchers if hasattr(m, "bocker_completer")]
    with pytest.raises(UsageError):
        ip.run_line_magic("bocker", "ps")
    ip.run_line_magic("load_ext", "bocker_magics")
    ip.run_line_magic("config", f"BockerMagics.cgroup_parent = {CGROUP_PARENT!r}")
    assert ip.run_line_magic("bocker", "ps") is not None


def test_interrupted_cell_is_one_line_and_fails(ip, magics, capsys, cleanup):
    timer = _interrupt_after(0.8)
    result = ip.run_cell("%%bocker run --rm --name intr3 busybox\necho looping\nsleep 30\n")
    timer.join()
    out = capsys.readouterr()
    assert not result.success and isinstance(result.error_in_exec, KeyboardInterrupt)
    lines = [line for line in (out.out + out.err).splitlines() if line.strip()]
    assert lines[0] == "looping"
    assert re.fullmatch(r"interrupted: container intr3 \(ps_[0-9a-f]+\) stopped, exit 137", lines[-1]), lines
    assert "Traceback" not in out.out + out.err and "KeyboardInterrupt" not in out.out + out.err


# -- completion -------------------------------------------------------------------------------
def _complete(ip, text: str) -> list[str]:
    """What the shell's completer offers at the end of `text` (the API ipykernel uses)."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = list(ip.Completer.completions(text, len(text)))
    return [text[:c.start] + c.text for c in found]


def test_completion_of_verbs_and_options(ip):
    verbs = _complete(ip, "%bocker ")
    assert {"%bocker run", "%bocker ps", "%bocker logs", "%bocker top", "%bocker cleanup"} <= set(verbs)
    assert all(v.startswith("%bocker ") for v in verbs), "only ours: nothing of Python or the files"
    assert set(_complete(ip, "%bocker lo")) == {"%bocker logs", "%bocker login", "%bocker logout", "%bocker load"}
    options = _complete(ip, "%bocker run --c")
    assert {"%bocker run --cpus", "%bocker run --cpu-shares", "%bocker run --cap-add"} <= set(options)
    assert "%bocker run --no-raise-error" in _complete(ip, "%bocker run --no")  # the magic's own too
    assert set(_complete(ip, "%bocker logs -")) == {"%bocker logs -f", "%bocker logs --follow", "%bocker logs --out",
                                                    "%bocker logs --tail", "%bocker logs -t", "%bocker logs --timestamps",
                                                    "%bocker logs --since"}
    assert set(_complete(ip, "%bocker network ")) >= {"%bocker network ls", "%bocker network inspect"}
    assert "%%bocker run --monitor" in _complete(ip, "%%bocker run --mon")
    # the words of the line itself are never offered (JupyterLab's context completer adds
    # them to its menu; the kernel's reply, which these are, holds only verbs and options)
    for line in ("%bocker ", "%bocker logs -", "%bocker run --", "%bocker network "):
        words = {c[len(line):] for c in _complete(ip, line)}
        assert not words & {"%", "bocker", "%bocker", ""}, (line, words)
        assert all(c.startswith(line) for c in _complete(ip, line)), line
    from bocker_magics.magics import verbs
    assert {c[len("%bocker "):] for c in _complete(ip, "%bocker ")} == set(verbs()), "the verbs, only"
    assert all(c[len("%bocker run "):].startswith("--") for c in _complete(ip, "%bocker run --")), "options only"


def test_completion_of_containers_images_and_networks(ip, magics, busybox, cleanup):
    r = ip.run_line_magic("bocker", "run -d --name compl-web busybox sleep 30")
    ip.run_line_magic("bocker", "run --name compl-done busybox true")
    logs = _complete(ip, "%bocker logs ")
    assert "%bocker logs compl-web" in logs and "%bocker logs compl-done" in logs and f"%bocker logs {r.id}" in logs
    assert all(t.startswith("%bocker logs ") for t in logs)
    assert _complete(ip, "%bocker logs compl-w") == ["%bocker logs compl-web"]
    running = _complete(ip, "%bocker exec compl-")  # exec needs a running one
    assert running == ["%bocker exec compl-web"]
    assert "%bocker exec -w /tmp compl-web" in _complete(ip, "%bocker exec -w /tmp compl-")
    images = _complete(ip, "%bocker run -m 64m ")
    assert "%bocker run -m 64m busybox:latest" in images and f"%bocker run -m 64m {busybox}" in images
    assert "%bocker run busybox:latest" in _complete(ip, "%bocker run busybox:la")  # ':' in a name
    in_command = _complete(ip, "%bocker run busybox ")  # the container's command: not ours
    assert "%bocker run busybox compl-web" not in in_command and "%bocker run busybox busybox:latest" not in in_command
    assert {"%bocker rm compl-web", "%bocker rm busybox:latest"} <= set(_complete(ip, "%bocker rm "))
    assert "%bocker run --network bridge" in _complete(ip, "%bocker run --network ")
    assert "%bocker run --network=none" in _complete(ip, "%bocker run --network=n")
    assert "%%bocker run --name x busybox:latest" in _complete(ip, "%%bocker run --name x busybox:")
    assert "x = %bocker logs compl-web" in _complete(ip, "x = %bocker logs compl-w")
    # right after a change: a new container is offered, a removed one no more
    ip.run_line_magic("bocker", "rm -f compl-web")
    ip.run_line_magic("bocker", "run --name compl-new busybox true")
    logs = _complete(ip, "%bocker logs compl-")
    assert "%bocker logs compl-new" in logs and "%bocker logs compl-web" not in logs


def _children() -> set[int]:
    """This process's child processes (the engine's shim is one)."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            found |= {int(p) for p in f.read().split()}
    return found


def test_completion_is_fast_and_starts_nothing(ip, magics, cleanup):
    ip.run_line_magic("bocker", "ps")  # the engine exists
    before = _children()
    t0 = time.perf_counter()
    for _ in range(20):
        _complete(ip, "%bocker logs ")
        _complete(ip, "%bocker run ")
    elapsed = (time.perf_counter() - t0) / 40
    assert _children() <= before, "a completion started a process"
    print(f"completion: {elapsed * 1000:.1f} ms each")  # reported, not asserted


def test_key_completions_of_results(ip, busybox, cleanup):
    r = ip.run_line_magic("bocker", "run -d --name keyed busybox sleep 30")
    ip.run_line_magic("bocker", "ps --out table")
    assert "keyed" in ip.user_ns["table"]._ipython_key_completions_()
    assert ip.user_ns["table"]["keyed"].id == r.id
    assert any("keyed" in c for c in _complete(ip, 'table["ke'))
    ip.run_line_magic("bocker", "inspect --out info keyed")
    assert {"Id", "State", "Limits"} <= set(ip.user_ns["info"]._ipython_key_completions_())
    assert any("State" in c for c in _complete(ip, 'info["St'))
    ip.run_line_magic("bocker", "stats --out st keyed")
    assert "memory_limit" in ip.user_ns["st"]._ipython_key_completions_()
    ip.run_line_magic("bocker", "images --out imgs")
    assert ip.user_ns["imgs"]["busybox"].id == busybox


# -- results that read well -----------------------------------------------------------------------
def test_exec_reports_its_exit_and_does_not_repeat_the_output(ip, capsys, cleanup):
    ip.run_line_magic("bocker", "run -d --name ex2 busybox sleep 30")
    capsys.readouterr()
    r = ip.run_line_magic("bocker", "exec ex2 echo streamed-once")
    assert capsys.readouterr().out == "streamed-once\n"
    bundle = r._repr_mimebundle_()
    assert re.fullmatch(r"exec in ex2: exit 0", bundle["text/plain"])
    assert "exec in ex2: exit 0" in bundle["text/html"] and "streamed-once" not in bundle["text/html"]
    assert r.text == "streamed-once\n"


def test_quiet_with_out_streams_nothing(ip, capsys, cleanup):
    capsys.readouterr()
    assert ip.run_line_magic("bocker", "run --quiet --out q busybox echo kept") is None
    ip.run_line_magic("bocker", "run -d --name qx busybox sleep 30")
    ip.run_line_magic("bocker", "exec --quiet --out qe qx echo kept too")
    assert capsys.readouterr().out == ""
    assert ip.user_ns["q"].text == "kept\n" and ip.user_ns["qe"].text == "kept too\n"
    # shown, a quiet run's report carries the output it did not stream
    shown = ip.run_line_magic("bocker", "run --quiet busybox echo in-the-report")
    assert "in-the-report" in shown._repr_mimebundle_()["text/html"]


def test_a_long_stream_is_capped_with_a_line_to_see_all(ip, magics, capsys, cleanup):
    magics.stream_lines = 50
    try:
        capsys.readouterr()
        r = ip.run_line_magic("bocker", "run --name longout busybox seq 1 5000")
        out = capsys.readouterr().out.splitlines()
    finally:
        magics.stream_lines = 1000
    assert out[:50] == [str(i) for i in range(1, 51)] and len(out) == 51
    assert "%bocker logs " in out[-1] and ("longout" in out[-1] or r.id in out[-1])
    assert r.text.splitlines()[-1] == "5000"  # the result keeps it all
    html = r._repr_mimebundle_()["text/html"]
    assert "4999" not in html and len(html) < 5000


def test_stderr_is_shown_as_stderr():
    import io

    from bocker_magics.cell_output import CellOutput

    out, err = io.StringIO(), io.StringIO()
    cell = CellOutput(10, stdout=out, stderr=err)
    cell.write(b"to out\n")                        # today's engine: one argument
    cell.write(b"to err\n", stream="stderr")       # an engine that keeps the streams apart
    cell.write("é".encode()[:1], "stdout")          # a character split between chunks
    cell.write("é".encode()[1:] + b"\n", "stdout")
    cell.close()
    assert out.getvalue() == "to out\né\n" and err.getvalue() == "to err\n"


def test_usage_errors_point_to_the_verbs_help(ip):
    with pytest.raises(UsageError, match=re.escape("(see %bocker run?)")):
        ip.run_line_magic("bocker", "run")
    with pytest.raises(UsageError, match=re.escape("%bocker init: give a directory, or --busybox (see %bocker init?)")):
        ip.run_line_magic("bocker", "init")
    from bocker_magics import commands

    with pytest.raises(commands.InvalidArgument, match=re.escape("(see 'bocker help')")):
        commands.parser("run").parse_args([])


def test_a_missing_image_says_how_to_get_one(ip):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("bocker", "run no-such-image true")
    message = str(info.value)
    assert message.startswith("No image named 'no-such-image' exists")
    assert "%bocker pull no-such-image" in message and "%bocker init --busybox" in message
    assert "\n" not in message


def test_an_oom_kill_of_a_child_is_not_a_contradiction(ip, cleanup):
    # the shell survives; dd fills a 64 MiB buffer in a 16 MiB group and is OOM-killed
    r = ip.run_line_magic("bocker", "run --no-raise-error -m 16m busybox 'dd if=/dev/zero of=/dev/null bs=64M count=1; true'")
    assert r.exit_code == 0 and not r.killed_by_oom
    status = r._repr_mimebundle_()["text/plain"]
    assert "exited (0); 1 process killed by the OOM killer" in status, status
    assert "killed by the OOM killer (exit" not in status
    ps = ip.run_line_magic("bocker", "ps").to_frame().set_index("id")
    assert ps.loc[r.id, "status"] == "exited (0); 1 process killed by the OOM killer"


def test_live_widgets_without_a_widget_frontend_still_read(ip, magics, cleanup):
    magics.live_widgets = True
    try:
        table = ip.run_line_magic("bocker", "ps")
        bundle = table._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert "<table" in bundle["text/html"] or "No containers" in bundle["text/html"]
        assert not bundle["text/plain"].startswith("HTML(")
        assert table.to_frame() is not None  # still the view underneath
        ip.run_line_magic("bocker", "run -d --name wid busybox 'while :; do :; done'")
        m = ip.run_line_magic("bocker", "top --interval 0.1 --duration 0.4 wid")
        bundle = m._repr_mimebundle_()
        assert bundle["text/html"].count("data:image/png;base64,") == 1 and "image/png" not in bundle
        assert "application/vnd.jupyter.widget-view+json" in bundle and len(m.samples) >= 2
    finally:
        magics.live_widgets = False


def test_top_reports_the_sample_not_the_lifetime(ip, magics, cleanup):
    ip.run_line_magic("bocker", "run -d --name toploop busybox 'while :; do :; done'")
    time.sleep(1.5)  # cpu time before the sample: not the sample's
    m = ip.run_line_magic("bocker", "top --interval 0.1 --duration 0.5 toploop")
    sampled = m.sampled_cpu_seconds()
    lifetime = m.last.cpu_seconds
    assert sampled is not None and 0 < sampled < lifetime
    summary = dict(m._summary())
    assert summary["cpu (sampled)"].startswith(f"{sampled:.3f} s")


def test_logs_follow_streams_until_the_container_exits(ip, capsys, cleanup):
    ip.run_line_magic("bocker", "run -d --name follower busybox 'for i in 1 2 3 4; do echo line $i; sleep 0.3; done'")
    capsys.readouterr()
    t0 = time.monotonic()
    assert ip.run_line_magic("bocker", "logs -f follower") is None
    out = capsys.readouterr().out
    assert time.monotonic() - t0 < 20
    assert out.startswith("line 1\nline 2\nline 3\nline 4\n") and "exited (0)" in out.splitlines()[-1]


def test_logs_follow_ends_at_an_interrupt(ip, capsys, cleanup):
    ip.run_line_magic("bocker", "run -d --name follower2 busybox 'echo up; sleep 30'")
    capsys.readouterr()
    timer = _interrupt_after(1.0)
    ip.run_line_magic("bocker", "logs -f follower2")
    timer.join()
    assert capsys.readouterr().out == "up\n(stopped following follower2)\n"


def test_cleanup_removes_what_this_kernel_made(ip, magics, tmp_path, capsys, busybox):
    (tmp_path / "f").write_text("x")
    ip.run_line_magic("bocker", "cleanup --out before")  # what earlier tests left
    kept = magics.engine.run(busybox, "sleep 30", detach=True, name="not-ours")  # not made by the magics
    try:
        web = ip.run_line_magic("bocker", "run -d --name made-web busybox sleep 30")
        done = ip.run_line_magic("bocker", "run --name made-done busybox true")
        img = ip.run_line_magic("bocker", f"init {tmp_path} --name made-img:1")
        capsys.readouterr()
        listed = ip.run_line_magic("bocker", "cleanup --dry-run --out listed")
        assert listed is None and set(ip.user_ns["listed"]) == {
            f"made-web ({web.id})", f"made-done ({done.id})", f"made-img:1 ({img.id})"}
        assert magics.engine.container("made-web").running  # a dry run removes nothing
        ip.run_line_magic("bocker", "cleanup")
        out = capsys.readouterr().out
        assert f"Removed: made-web ({web.id})" in out and f"Removed: made-img:1 ({img.id})" in out
        names = {c.name for c in magics.engine.ps()}
        assert not {"made-web", "made-done"} & names and "not-ours" in names
        assert img.id not in {i.id for i in magics.engine.images()} and busybox in {i.id for i in magics.engine.images()}
        ip.run_line_magic("bocker", "cleanup")
        assert "Nothing to remove" in capsys.readouterr().out
    finally:
        magics.engine.rm(kept.id, force=True)


def test_terminal_ipython_gets_the_terminal_progress_bar(magics):
    from bocker_magics.progress import TerminalProgress

    assert isinstance(magics._progress("pull x").target, TerminalProgress)


def test_a_failed_pull_is_one_line(ip, capsys):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("bocker", "pull --insecure 127.0.0.1:9/nothing:latest")
    assert "\n" not in str(info.value)


def test_follow_logs_switches_to_the_engines_own_follow():
    """logs -f reads the engine in one place: an engine that follows by itself is used as is."""
    from bocker_magics.cell_output import follow_logs

    class Following:  # the engine API to come: logs(ref, follow=True) yields chunks
        def logs(self, ref, follow=False):
            assert follow
            yield from (b"a\n", b"b\n")

    class Native:
        def logs(self, ref):
            raise AssertionError("not polled")

        def logs_follow(self, ref):
            yield b"c\n"

    assert list(follow_logs(Following(), "x")) == [b"a\n", b"b\n"]
    assert list(follow_logs(Native(), "x")) == [b"c\n"]
