"""The host test session: its root, its cgroup parent, its network namespace, the `bocker` command.

Importing this module is what makes a process a host test session: it enters a network namespace
of its own (bridges, addresses, NAT rules, published ports and the registry all live there, never
on the host's network) and points BOCKER_ROOT and BOCKER_CGROUP_PARENT at the session's own. Only
tests/host (its conftest.py and its test modules) imports it; tests/unit never does, and needs no
root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.support.hostcheck import leftovers, network_leftovers

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
# check at the end of the session can see that nothing of ours is there either.
def _enter_session_netns() -> int:
    from bocker_magics.engine.kernel import linux
    if os.geteuid() != 0:
        return -1  # not root: tests/host/conftest.py says so in one line (pytest_configure)
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


def bocker(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
           check: bool = False, input: str | None = None) -> subprocess.CompletedProcess:
    """The `bocker` command, as a user runs it."""
    result = subprocess.run([BOCKER, *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})}, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"bocker {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}")
    return result


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


def session_resolvers() -> list[int]:
    """The resolver daemons (engine/network/dnsd.py) this session's engines started."""
    mark = f"BOCKER_TEST_NETNS={os.environ.get('BOCKER_TEST_NETNS')}".encode()
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"bocker_magics.engine.network.dnsd" in Path(f"/proc/{pid}/cmdline").read_bytes() and \
                    mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                out.append(int(pid))
        except OSError:
            pass
    return out


def stop_session_resolvers() -> None:
    import signal

    for pid in session_resolvers():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while session_resolvers() and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_session_servers() -> None:
    """Told to leave through their socket (or killed, where that is gone or does not answer)."""
    stop_session_resolvers()
    import signal

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


def finish_session() -> list[str]:
    """At the end of the host session: what of ours the host still holds, then the session's
    state removed. Everything the suite made must be gone by now (each test removes its own):
    the containers and cgroups under the session's parent, the bocker servers the CLI tests
    started, the mounts and processes under the session's root, and (in the host's network
    namespace, not the session's) any veth, bridge or rule of ours. An empty list: clean."""
    found = []
    stop_session_servers()  # the bocker servers the CLI tests started, whatever their root
    found += [f"bocker server {pid} still running" for pid in session_servers()]
    deadline = time.monotonic() + 5
    while leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True) and time.monotonic() < deadline:
        time.sleep(0.1)
    found += leftovers(str(SESSION_ROOT), CGROUP_PARENT, only_children=True)
    remove_session_state()
    found += [f for f in leftovers(str(SESSION_ROOT), CGROUP_PARENT) if f not in found]
    # the session's bridges and rules live in its own network namespace; the host's has none
    found += [f"in the host's network namespace: {f}" for f in network_leftovers(HOST_NETNS)]
    return found
