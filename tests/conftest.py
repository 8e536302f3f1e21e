"""Shared fixtures. Every test runs real containers as root against the real kernel.

The session uses its own BOCKER_ROOT and its own cgroup parent (`bocker-test-PID`), and the
last test file (test_zzz_host_clean.py) checks that nothing of ours is left on the host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostcheck import leftovers

SESSION_TAG = f"bocker-test-{os.getpid()}"
SESSION_ROOT = Path(f"/tmp/{SESSION_TAG}")
CGROUP_PARENT = SESSION_TAG
# The command line goes through the bocker server (client.py, server.py) unless
# BOCKER_NO_SERVER=1: the whole suite runs either way.
SERVER = os.environ.get("BOCKER_NO_SERVER") != "1"


def _bocker_command() -> str:
    """The `bocker` command: the venv's, when it is the client (client.main); an install
    made before the client existed runs cli.main, so the session writes the entry point as
    pip now would."""
    installed = Path(sys.executable).parent / "bocker"
    try:
        if "bocker_magics.client" in installed.read_text():
            return str(installed)
    except OSError:
        pass
    script = SESSION_ROOT / "bin" / "bocker"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom bocker_magics.client import main\n"
                      "if __name__ == '__main__':\n    sys.exit(main())\n")
    script.chmod(0o755)
    return str(script)


BOCKER = _bocker_command()
# What a `bocker` command killed with the engine (kill -9) returns: in process, it is the
# one killed; through the server, the client says so and exits 137.
ENGINE_KILLED = 137 if SERVER else -9

# The whole session runs in a network namespace of its own: bridges, addresses, NAT rules,
# published ports and the registry all live there, never on the host's network; when the
# session's processes are gone, so is the namespace. HOST_NETNS keeps the host's, so the
# last test can check nothing of ours is there either.
def _enter_session_netns() -> int:
    from bocker_magics.engine.kernel import linux
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    if os.environ.get("BOCKER_TEST_NETNS") != str(os.getpid()):
        linux.unshare(linux.CLONE_NEWNET)
        linux.loopback_up()
        os.environ["BOCKER_TEST_NETNS"] = str(os.getpid())
    return host


HOST_NETNS = _enter_session_netns()

# Everything started from here (the CLI in subprocesses too) uses the session's root.
os.environ["BOCKER_ROOT"] = str(SESSION_ROOT / "root")
os.environ["BOCKER_CGROUP_PARENT"] = CGROUP_PARENT
os.environ.pop("BOCKER_CGROUP_DRIVER", None)


def pytest_configure(config: pytest.Config) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("the tests run real containers: run them as root (sudo ./quickstart.sh test)")
    # Started in the background of a non-interactive shell (`cmd &`, nohup, some CI runners),
    # Python inherits SIGINT ignored and never raises KeyboardInterrupt: the interrupt tests
    # (a Ctrl-C as a user sends it) need Python's own handler.
    import signal
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def schema():
    """validate(schema file name, obj) -> the schema's error messages (none: valid)."""
    from oci_schema import schema_validator
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
def _remove_session_state():
    """However the run ends (a -k selection, a failure), the session's state goes."""
    yield
    remove_session_state()


def remove_session_state() -> None:
    import gc

    from bocker_magics.engine.kernel.cgroups import detect

    gc.collect()  # closes engines left unreferenced: their shims exit
    stop_session_servers()
    for version in ("v1", "v2"):
        os.environ["BOCKER_CGROUP_DRIVER"] = version
        try:
            detect(parent=CGROUP_PARENT).remove_parent()
        except Exception:
            pass  # no such hierarchy on this host
        finally:
            os.environ.pop("BOCKER_CGROUP_DRIVER", None)
    shutil.rmtree(SESSION_ROOT, ignore_errors=True)


def session_servers() -> list[int]:
    """The bocker servers this session's commands started, wherever their root is (their
    environment carries the session's BOCKER_TEST_NETNS)."""
    from bocker_magics.server import server_processes
    mark = f"BOCKER_TEST_NETNS={os.environ.get('BOCKER_TEST_NETNS')}".encode()
    out = []
    for pid in server_processes():
        try:
            if mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                out.append(pid)
        except OSError:
            pass
    return out


def stop_session_servers() -> None:
    """Told to leave through their socket (or killed, where that is gone or does not answer)."""
    import signal
    import time

    from bocker_magics.server import stop_servers
    for pid in session_servers():
        try:
            root = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2].decode()
        except (OSError, IndexError):
            continue
        stop_servers(root)
    deadline = time.monotonic() + 5
    while session_servers() and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in session_servers():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


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


def bocker(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
           check: bool = False, input: str | None = None) -> subprocess.CompletedProcess:
    """The `bocker` command, as a user runs it."""
    result = subprocess.run([BOCKER, *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})}, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"bocker {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}")
    return result


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
