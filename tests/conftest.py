"""Shared fixtures. Every test runs real containers as root against the real kernel.

The session uses its own BOCKER_ROOT and its own cgroup parent (`bocker-test-PID`), and the
last test file (test_zzz_host_clean.py) checks that nothing of ours is left on the host.
"""

from __future__ import annotations

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
BOCKER = str(Path(sys.executable).parent / "bocker")

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


@pytest.fixture(scope="session")
def schema():
    """validate(schema file name, obj) -> the schema's error messages (none: valid)."""
    from oci_schema import schema_validator
    return schema_validator()


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
    for version in ("v1", "v2"):
        os.environ["BOCKER_CGROUP_DRIVER"] = version
        try:
            detect(parent=CGROUP_PARENT).remove_parent()
        except Exception:
            pass  # no such hierarchy on this host
        finally:
            os.environ.pop("BOCKER_CGROUP_DRIVER", None)
    shutil.rmtree(SESSION_ROOT, ignore_errors=True)


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
