"""The host tests' fixtures. Every test here runs real containers as root against the real kernel.

The session (tests/support/session.py) uses its own BOCKER_ROOT, its own cgroup parent
(`bocker-test-PID`) and its own network namespace; when it ends, the host is checked: anything of
ours left (a mount, a cgroup, a process, a server, a veth or rule in the host's namespace) fails
the run, whatever tests were selected and in whatever order they ran.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.support.hostcheck import leftovers
from tests.support.session import (  # entering the session's netns and root (see session.py)
    CGROUP_PARENT,
    SESSION_ROOT,
    bocker,
    finish_session,
    remove_session_state,
)


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("tests/host runs real containers: run it as root (sudo ./quickstart.sh test); "
                                "tests/unit runs as any user (python -m pytest tests/unit)")
    # Started in the background of a non-interactive shell (`cmd &`, nohup, some CI runners),
    # Python inherits SIGINT ignored and never raises KeyboardInterrupt: the interrupt tests
    # (a Ctrl-C as a user sends it) need Python's own handler.
    import signal
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def schema():
    """validate(schema file name, obj) -> the schema's error messages (none: valid)."""
    from tests.support.oci_schema import schema_validator
    return schema_validator()


@pytest.fixture(scope="module")
def ip(session_root):
    """An IPython shell with the magics loaded on the session's root (one test shell per
    process: every module reuses it); the containers a module made go at its end."""
    from IPython.testing.globalipapp import get_ipython, start_ipython

    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "bocker_magics")
    shell.run_line_magic("config", f"BockerMagics.root = {str(session_root)!r}")
    shell.run_line_magic("config", f"BockerMagics.cgroup_parent = {CGROUP_PARENT!r}")
    magics = shell.magics_manager.registry.get("BockerMagics")
    before = {c.id for c in magics.engine.ps()}
    yield shell
    magics = shell.magics_manager.registry.get("BockerMagics")
    if magics is not None:
        for c in magics.engine.ps():
            if c.id not in before:
                magics.engine.rm(c.id, force=True)
    if "bocker" in shell.magics_manager.magics["line"]:
        shell.run_line_magic("unload_ext", "bocker_magics")


@pytest.fixture(scope="session")
def session_root() -> Path:
    return SESSION_ROOT / "root"


@pytest.fixture(scope="session", autouse=True)
def _host_is_clean_after_the_session(request: pytest.FixtureRequest):
    """However the run ends (a -k selection, a failure), the session's state goes; first the
    host is checked for anything of ours the tests left. Done here, before the session's state
    is removed (which would hide a container a test forgot), and reported by
    pytest_sessionfinish below: a leftover fails the run."""
    yield
    try:
        request.config.stash[_LEFTOVERS] = finish_session()
    except BaseException:
        remove_session_state()
        raise


_LEFTOVERS = pytest.StashKey[list]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = session.config.stash.get(_LEFTOVERS, [])
    if not found:
        return
    lines = ["the host still holds what the test session made (each test must remove its own):",
             *(f"  {f}" for f in found)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.section("host not clean", sep="=", red=True, bold=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines), file=sys.stderr)
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def engine(session_root: Path):
    from bocker_magics.engine.engine import Engine

    e = Engine(session_root, cgroup_parent=CGROUP_PARENT)
    yield e
    e.close()


@pytest.fixture
def busybox(engine) -> str:
    return engine.busybox().id


@pytest.fixture
def fresh_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root of its own, for tests that count images or containers."""
    root = SESSION_ROOT / f"fresh-{tmp_path.name}"
    monkeypatch.setenv("BOCKER_ROOT", str(root))
    yield root
    # a test that failed midway leaves no container running (its monitor, its cgroup) behind
    if (root / "containers").is_dir() and any((root / "containers").iterdir()):
        ids = bocker("ps", "-q").stdout.split()
        if ids:
            bocker("rm", "-f", *ids)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def assert_nothing_left():
    """Call it after a failing command: no container state, cgroup, mount or process of
    the session's may be left beyond what existed before the test."""
    before = set(_state_entries())

    def check() -> None:
        new = set(_state_entries()) - before
        assert not new, f"state left behind: {sorted(new)}"
        assert leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True) == []

    return check


def _state_entries() -> list[str]:
    root = Path(os.environ["BOCKER_ROOT"])
    out = []
    for sub in ("containers", "images", "tmp", "layers/sha256"):
        d = root / sub
        if d.is_dir():
            out += [f"{sub}/{p.name}" for p in d.iterdir()]
    return out
