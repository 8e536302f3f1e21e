"""The sleeper (bocker_magics/engine/runtime/sleeper.c), on its own: built by the system's C
compiler (as the engine builds it), run with a pipe for pid 1's output and a plain child
process for pid 1. It must write the log exactly as the Python monitor's LogWriter does,
and exec the resume command, with the fds it was given, on each of its wake-ups: pid 1's
end, a wake fd, the deadline. No root: the container's part is played by `sleep`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bocker_magics.engine.runtime import logfile, sleeper

# the resume command: writes what it was given (argv, and whether each fd is still open) to a file
# (pid 1, its child now, is ended and reaped, as the monitor would)
RESUME = """
import os, sys, json
out, fds = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
open(out, "w").write(json.dumps({"argv": sys.argv[3:], "open": [os.path.exists(f"/proc/self/fd/{fd}") for fd in fds]}))
for pid in open(f"/proc/self/task/{os.getpid()}/children").read().split():
    os.kill(int(pid), 9)
    os.waitpid(int(pid), 0)
"""


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> str:
    """sleeper.c built as sleeper.py builds it (cc -O2), in a directory of this test."""
    place = tmp_path_factory.mktemp("sleeper")
    built = sleeper._build(str(place), "bocker-sleeper-test")
    assert built, "cc could not build sleeper.c (the set-up installs gcc)"
    return built


def start(binary: str, tmp: Path, *, pid1: str = "sleep 30", deadline: float = 0.0, wake: bool = False,
          log_full: bool = False):
    """The sleeper, with pid 1 its child (a shell's background job, then the shell execs it)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    wake_r, wake_w = os.pipe()
    log = os.open(tmp / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    resumed = tmp / "resumed.json"
    (tmp / "resume.py").write_text(RESUME)
    fds = [out_r, err_r, log, wake_r]
    deadline_ns = str(int(deadline * 1e9)) if deadline else "0"
    script = (f'{pid1} >&{out_w} 2>&{err_w} {out_w}>&- {err_w}>&- & exec "$0" {log} $! {deadline_ns} '
              f'{int(log_full)} {out_r}:o,{err_r}:e {wake_r if wake else "-"} '
              f'{sys.executable} {tmp / "resume.py"} {resumed} {",".join(map(str, fds))}')
    proc = subprocess.Popen(["bash", "-c", script, binary], pass_fds=fds + [out_w, err_w, wake_w])
    for fd in (out_r, err_r, log, wake_r):
        os.close(fd)
    return proc, out_w, err_w, wake_w, resumed


def wait_resumed(proc: subprocess.Popen, resumed: Path) -> dict:
    import json
    assert proc.wait(timeout=30) == 0
    return json.loads(resumed.read_text())


def close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def logged(path: Path, records: int) -> None:
    """Wait until the log has this many records (each write read before the next)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= records:
            return
        time.sleep(0.01)
    raise AssertionError(f"the sleeper did not log {records} records")


def test_the_log_is_written_as_the_python_monitor_writes_it(binary, tmp_path):
    proc, out_w, err_w, wake_w, resumed = start(binary, tmp_path, pid1="sleep 2")
    pieces = [("stdout", b"one\ntwo\n"), ("stderr", b"to stderr\n"), ("stdout", b"a part"),
              ("stdout", b" and its end\n\n"), ("stdout", b"\n"), ("stderr", b"no newline")]
    count = 0
    for stream, data in pieces:  # each under PIPE_BUF, written at once, read before the next
        os.write(out_w if stream == "stdout" else err_w, data)
        count += len([x for x in data.split(b"\n")[:-1]]) + (0 if data.endswith(b"\n") else 1)
        logged(tmp_path / "log", count)
    # the same reads through the Python monitor's writer give the same records, times aside
    expect = tmp_path / "expect"
    w = logfile.LogWriter(str(expect))
    for stream, data in pieces:
        w.write(stream, data)
    w.close()
    written = (tmp_path / "log").read_bytes()
    assert [line.split(b" ", 1)[1] for line in written.splitlines()] == \
        [line.split(b" ", 1)[1] for line in expect.read_bytes().splitlines()]
    assert all(len(line.split(b" ", 1)[0]) == 30 and line.split(b" ", 1)[0].endswith(b"Z")
               for line in written.splitlines())  # RFC 3339 with nanoseconds, as timestamp() writes
    assert logfile.timestamp()[:4] == written[:4]
    # a line longer than a read: parts, then its end, the whole line as it was written
    os.write(err_w, b"y" * 100000 + b"\n")
    close(out_w, err_w)
    got = wait_resumed(proc, resumed)
    assert got["argv"][-1] == "logfull=0"
    assert got["open"] == [True, True, True, True], "every fd given reaches the resumed monitor"
    records, _ = logfile.read(tmp_path / "log")
    tail = [r for r in records if r.data.startswith(b"y")]
    assert all(r.partial for r in tail[:-1]) and not tail[-1].partial
    assert b"".join(r.data for r in tail) == b"y" * 100000
    close(wake_w)


def test_it_resumes_when_pid_1_exits_with_its_output_open(binary, tmp_path):
    proc, out_w, err_w, wake_w, resumed = start(binary, tmp_path, pid1="sleep 0.3")
    got = wait_resumed(proc, resumed)  # our copies of the pipes' write ends keep the output open
    assert got["open"] == [True, True, True, True]
    close(out_w, err_w, wake_w)


def test_it_resumes_when_a_wake_fd_is_readable(binary, tmp_path):
    proc, out_w, err_w, wake_w, resumed = start(binary, tmp_path, wake=True)
    time.sleep(0.3)
    assert proc.poll() is None, "asleep while nothing happens"
    os.write(wake_w, b"!")
    got = wait_resumed(proc, resumed)
    assert got["argv"][-1] == "logfull=0"
    close(out_w, err_w, wake_w)


def test_it_resumes_at_the_deadline(binary, tmp_path):
    proc, out_w, err_w, wake_w, resumed = start(binary, tmp_path, deadline=time.monotonic() + 0.5)
    time.sleep(0.2)
    assert proc.poll() is None
    wait_resumed(proc, resumed)
    close(out_w, err_w, wake_w)


def test_a_full_log_stays_full_and_is_said_on_resume(binary, tmp_path):
    proc, out_w, err_w, wake_w, resumed = start(binary, tmp_path, pid1="sleep 0.5", log_full=True)
    os.write(out_w, b"not kept\n")
    close(out_w, err_w)
    got = wait_resumed(proc, resumed)
    assert got["argv"][-1] == "logfull=1"
    assert (tmp_path / "log").read_bytes() == b""
    close(wake_w)


def test_bad_arguments_are_one_line_and_status_2(binary):
    r = subprocess.run([binary, "x"], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "usage" in r.stderr


def test_python_monitors_when_asked(monkeypatch):
    monkeypatch.setenv("BOCKER_HOLDER", "python")
    assert sleeper.binary() is None


def test_a_sleeper_that_cannot_run_leaves_the_monitor_in_python(monkeypatch, tmp_path, capfd):
    """The exec fails (the binary went): sleep() returns, the fds it made inheritable are not
    any more, and this monitor does not try again."""
    monkeypatch.setattr(sleeper, "path", str(tmp_path / "gone"))
    r, w = os.pipe()
    sleeper.sleep({}, log_fd=w, pid=os.getpid(), deadline=None, log_full=False, sources={r: "stdout"},
                  wakes=[], keep=[])
    assert sleeper.path is None
    assert not os.get_inheritable(r) and not os.get_inheritable(w)
    assert "the monitor stays in Python" in capfd.readouterr().err
    os.close(r)
    os.close(w)


def _modules_after(statement: str) -> set[str]:
    """The modules a fresh `python -I -S` (as the sleeper and the engine start them) has
    loaded after `statement`."""
    root = str(Path(sleeper.__file__).resolve().parents[3])
    code = f"import sys; sys.path.insert(0, {root!r}); {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


START = {"bocker_magics.engine.runtime.starter", "bocker_magics.engine.runtime.init",
         "bocker_magics.engine.runtime.pid1", "bocker_magics.engine.runtime.execmon",
         "bocker_magics.engine.runtime.rehearsal", "bocker_magics.engine.kernel.rootfs",
         "bocker_magics.engine.kernel.seccomp"}


def test_a_resumed_monitor_imports_what_holding_and_ending_take():
    """Each wake-up starts an interpreter: what sleeper.resume imports is what holding the
    container and ending it take, not a start's, an exec's or json's (re)."""
    loaded = _modules_after("from bocker_magics.engine.runtime.sleeper import resume; "
                            "from bocker_magics.engine.runtime.monitor import resume_monitor")
    assert "bocker_magics.engine.runtime.stdio" in loaded
    assert not loaded & START, sorted(loaded & START)
    assert not loaded & {"json", "re"}, sorted(loaded & {"json", "re"})


def test_the_shim_loads_a_starts_modules_before_it_forks():
    """What monitor.py imports only when needed, the shim has loaded: a forked monitor shares
    those pages (issue 22's memory) instead of importing them at its first start."""
    loaded = _modules_after("import bocker_magics.engine.runtime.shim")
    assert START <= loaded, sorted(START - loaded)
