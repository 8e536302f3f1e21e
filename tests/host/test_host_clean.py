"""The check at the end of every host session (tests/host/conftest.py): a leftover fails the run.

The check itself is no test: it runs when the session ends, whatever was selected and in
whatever order. Here a small session of its own (a subprocess with the host conftest as its
plugin, in a network namespace of its own) runs one test that leaves a process holding a file
under the session's root: that session must fail and name the process, and the same session
without the leftover must pass.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

INNER = textwrap.dedent('''
    import os, subprocess, time

    def test_{name}():
        root = os.environ["BOCKER_ROOT"]
        os.makedirs(root, exist_ok=True)
        if {leak}:
            p = subprocess.Popen(["sleep", "120"], cwd=root, start_new_session=True)
            open({pidfile!r}, "w").write(str(p.pid))
''')


def run_inner_session(tmp_path: Path, leak: bool) -> tuple[subprocess.CompletedProcess, int | None]:
    name = "leaks_a_process" if leak else "leaves_nothing"
    pidfile = tmp_path / f"{name}.pid"
    test = tmp_path / f"inner_{name}.py"
    test.write_text(INNER.format(name=name, leak=leak, pidfile=str(pidfile)))
    env = {k: v for k, v in os.environ.items() if k not in ("BOCKER_TEST_NETNS", "BOCKER_ROOT",
                                                            "BOCKER_CGROUP_PARENT", "PYTEST_ADDOPTS")}
    # unshare -n: the inner session's "host" network namespace is a fresh one, not this session's
    # (which holds this session's bridges and rules until it ends)
    result = subprocess.run(["unshare", "-n", sys.executable, "-m", "pytest", "-p", "tests.host.conftest",
                             "-p", "no:cacheprovider", "-q", str(test)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    pid = int(pidfile.read_text()) if pidfile.exists() else None
    return result, pid


def test_a_leftover_fails_the_session_and_is_named(tmp_path):
    result, pid = run_inner_session(tmp_path, leak=True)
    try:
        assert pid is not None, result.stdout + result.stderr
        out = result.stdout + result.stderr
        assert result.returncode == 1, out
        assert "1 passed" in out                                    # the test passed; the session did not
        assert "host not clean" in out and f"process {pid} (sleep) holds a file under /tmp/bocker-test-" in out
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)


def test_a_clean_session_passes(tmp_path):
    result, pid = run_inner_session(tmp_path, leak=False)
    out = result.stdout + result.stderr
    assert pid is None
    assert result.returncode == 0, out
    assert "host not clean" not in out
