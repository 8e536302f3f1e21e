"""The resolver daemon: started on demand, serving every running container of a root that is on
a user network, adopting them again after a kill -9, dropping a container that stops, and
leaving when idle. The containers here are processes in network namespaces of their own with
the files a container's directory holds (the engine's part is tested with real containers in
the stacks' tests)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bocker_magics.engine.kernel.procfs import start_time
from bocker_magics.engine.network.dnsd import sync, write_container_dns

BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def fake_container(root: Path, cid: str, net: str, address: str, names: list[str]) -> subprocess.Popen:
    holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up; echo ready; exec sleep 600"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    cdir = root / "containers" / cid
    cdir.mkdir(parents=True)
    (cdir / "state.json").write_text(json.dumps({"status": "running", "pid": holder.pid,
                                                 "pid_start": start_time(holder.pid)}))
    write_container_dns(cdir, {net: {"address": address, "names": names}}, [])
    return holder


def lookup(holder: subprocess.Popen, name: str) -> str:
    r = subprocess.run(["nsenter", f"--net=/proc/{holder.pid}/ns/net", BUSYBOX, "nslookup", name, "127.0.0.11"],
                       capture_output=True, text=True, timeout=20)
    return r.stdout + r.stderr


def daemon_pid(root: Path) -> int | None:
    """The daemon serving `root` (it holds no file there: found by its command line)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"bocker_magics.engine.network.dnsd" in cmd and str(root).encode() in cmd:
            from bocker_magics.engine.kernel.procfs import alive
            if alive(int(pid)):
                return int(pid)
    return None


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("BOCKER_DNSD_IDLE", "2")
    yield tmp_path
    pid = daemon_pid(tmp_path)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_names_served_adopted_after_a_kill_and_dropped_on_stop(root):
    db = fake_container(root, "c1", "app", "10.30.0.2", ["db", "database"])
    web = fake_container(root, "c2", "app", "10.30.0.3", ["web"])
    other = fake_container(root, "c3", "elsewhere", "10.31.0.2", ["lonely"])
    try:
        assert sync(root)
        assert "10.30.0.2" in lookup(web, "db") and "10.30.0.2" in lookup(web, "database")
        assert "10.30.0.3" in lookup(db, "web")
        assert "10.30.0.2" not in lookup(other, "db")  # another network's names are not its
        first = daemon_pid(root)
        os.kill(first, signal.SIGKILL)  # a killed daemon: the next sync starts one that adopts them
        deadline = time.monotonic() + 5
        while Path(f"/proc/{first}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sync(root) and daemon_pid(root) != first
        assert "10.30.0.2" in lookup(web, "db")
        db.kill()  # db stops: its name goes
        db.wait()
        assert sync(root)
        assert "10.30.0.2" not in lookup(web, "db")
    finally:
        for p in (db, web, other):
            p.kill()
            p.wait()
    # stop() ends it at once (a session's end); sync starts it again; then, with nothing to serve,
    # it leaves by itself
    from bocker_magics.engine.network.dnsd import stop
    pid = daemon_pid(root)
    assert stop(root)
    deadline = time.monotonic() + 5
    while daemon_pid(root) == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert daemon_pid(root) is None
    assert sync(root) and daemon_pid(root) not in (None, pid)
    # it holds no file under the root (a test's check of what a command left sees none)
    # (what it holds open, not a file it reads in passing while it scans: seen in two looks)
    def open_files(pid: int) -> set[str]:
        found = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(FileNotFoundError):  # closed between the two calls
                found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        return found
    first_look = open_files(daemon_pid(root))
    time.sleep(0.3)
    held = first_look & open_files(daemon_pid(root))
    assert not [f for f in held if f.startswith(str(root))], held
    pid = daemon_pid(root)
    deadline = time.monotonic() + 10
    while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid or not Path(f"/proc/{pid}").exists()
