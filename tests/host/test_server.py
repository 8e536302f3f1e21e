"""The bocker server (server.py) behind the `bocker` command (client.py): started on first
use, reused, one per root and per namespaces and per version of the code, leaving when idle
or when its root goes; containers outlive it; only root, in its own namespaces, is served;
Ctrl-C, exit statuses, the streams, stdin, the client's cwd and environment; and the
fallback to running in process."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from bocker_magics import client
from bocker_magics.server import server_processes, stop_servers
from tests.support.hostcheck import leftovers, wait_until
from tests.support.session import BOCKER, CGROUP_PARENT, SERVER, bocker

pytestmark = pytest.mark.skipif(not SERVER, reason="BOCKER_NO_SERVER=1: the command runs in process")


def servers(root: Path) -> list[int]:
    return server_processes(str(root))


def sockets(root: Path) -> list[str]:
    d = root / client.SERVER_DIR
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".sock")) if d.is_dir() else []


def cid_of(root: Path) -> str:
    return next((root / "containers").iterdir()).name


@pytest.fixture
def root(fresh_root: Path):
    yield fresh_root
    stop_servers(str(fresh_root))


# -- the server's life ----------------------------------------------------------------------
def test_started_on_first_use_then_reused(root):
    assert servers(root) == []
    bocker("ps", check=True)
    first = servers(root)
    assert len(first) == 1
    bocker("images", check=True)
    bocker("ps", check=True)
    assert servers(root) == first
    assert len(sockets(root)) == 1
    st = (root / client.SERVER_DIR).stat()
    assert (st.st_mode & 0o777, st.st_uid) == (0o700, 0)
    assert ((root / client.SERVER_DIR) / sockets(root)[0]).stat().st_mode & 0o777 == 0o600


def test_two_roots_never_share_a_server(root, tmp_path):
    other = tmp_path / "other-root"
    bocker("ps", check=True)
    bocker("ps", env={"BOCKER_ROOT": str(other)}, check=True)
    try:
        mine, theirs = servers(root), servers(other)
        assert len(mine) == 1 and len(theirs) == 1 and mine != theirs
        environ = Path(f"/proc/{theirs[0]}/environ").read_bytes().split(b"\0")
        assert f"BOCKER_ROOT={other}".encode() in environ
    finally:
        stop_servers(str(other))


def test_a_relative_root_is_the_clients(tmp_path):
    env = {**os.environ, "BOCKER_ROOT": "relative-root"}
    try:
        for _ in range(2):
            r = subprocess.run([BOCKER, "ps"], capture_output=True, text=True, cwd=tmp_path, env=env)
            assert r.returncode == 0 and r.stdout.startswith("CONTAINER_ID"), r.stderr
        assert len(servers(tmp_path / "relative-root")) == 1
    finally:
        stop_servers(str(tmp_path / "relative-root"))


def test_other_variables_and_namespaces_get_their_own_server(root):
    bocker("ps", check=True)
    bocker("ps", env={"BOCKER_NETWORK": "none"}, check=True)
    assert len(servers(root)) == 2
    # a client in another network namespace: a server of its own, in that namespace
    r = subprocess.run(["unshare", "-n", BOCKER, "ps"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pids = servers(root)
    assert len(pids) == 3
    netns = {os.stat(f"/proc/{pid}/ns/net").st_ino for pid in pids}
    assert len(netns) == 2 and os.stat("/proc/self/ns/net").st_ino in netns


def test_a_changed_version_is_replaced(root, tmp_path):
    # a copy of the package, so that its code can change without touching the checkout's
    shutil.copytree(Path(client.__file__).parent, tmp_path / "bocker_magics", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {"PYTHONPATH": str(tmp_path)}
    bocker("ps", env=env, check=True)
    (old,) = servers(root)
    assert Path(f"/proc/{old}/cwd").resolve() == Path("/")
    bocker("ps", env=env, check=True)
    assert servers(root) == [old]
    time.sleep(0.01)
    (tmp_path / "bocker_magics" / "format.py").write_text((tmp_path / "bocker_magics" / "format.py").read_text()
                                                          + "\n# changed\n")
    r = bocker("ps", env=env, check=True)
    assert r.stdout.startswith("CONTAINER_ID")
    assert wait_until(lambda: old not in servers(root), timeout=10)  # told to leave by its successor
    (new,) = servers(root)
    assert new != old
    assert len(sockets(root)) == 1


def test_the_server_leaves_when_idle(root):
    bocker("ps", env={"BOCKER_SERVER_IDLE": "0.5"}, check=True)
    (pid,) = servers(root)
    assert wait_until(lambda: servers(root) == [], timeout=10)
    assert sockets(root) == []
    log = next((root / client.SERVER_DIR).glob("*.log")).read_text()
    assert f"{pid}" in log and "leaving: idle for 0.5 s" in log


def test_the_server_leaves_at_once_when_its_root_is_removed(root):
    bocker("ps", check=True)
    (pid,) = servers(root)
    shutil.rmtree(root)
    assert wait_until(lambda: servers(root) == [], timeout=5)


def test_kill_9_of_the_server_loses_no_container(root):
    r = bocker("run", "-d", "--name", "keeper", "busybox", "sleep 30", check=True)
    cid = r.stdout.strip()
    (pid,) = servers(root)
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: servers(root) == [], timeout=10)
    line = bocker("ps", "--format", "{{.ID}} {{.Status}}", check=True).stdout.splitlines()[0]
    assert line == f"{cid} running"
    assert servers(root) and servers(root) != [pid]  # a new one, started by ps
    assert bocker("gc", check=True).stdout == ""  # nothing is garbage
    assert bocker("exec", "keeper", "echo", "still here", check=True).stdout == "still here\n"
    bocker("rm", "-f", "keeper", check=True)
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []


def test_kill_9_of_the_server_during_a_foreground_run(root):
    p = subprocess.Popen([BOCKER, "run", "--name", "orphan", "busybox", "echo up; sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    (pid,) = servers(root)
    os.kill(pid, signal.SIGKILL)
    assert p.wait(10) == 137
    assert "the bocker server" in p.stderr.read() and p.stdout.read() == ""
    line = bocker("ps", "--format", "{{.Status}}", check=True).stdout.splitlines()[0]
    assert line == "running"  # the container was the monitor's, not the server's
    assert bocker("gc", check=True).stdout == ""
    bocker("rm", "-f", "orphan", check=True)
    assert bocker("gc", check=True).stdout == ""
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []


def test_kill_9_of_the_client_leaves_the_container_running(root):
    p = subprocess.Popen([BOCKER, "run", "--name", "survivor", "busybox", "echo up; sleep 30"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    p.kill()
    p.wait()
    assert wait_until(lambda: bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "running",
                      timeout=10)
    # the server served the hang-up and is free again
    assert bocker("rm", "-f", "survivor", check=True).stdout == "Removed: survivor\n"
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []


# -- who is served ---------------------------------------------------------------------------
PEER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(0)
s.send(sys.stdin.buffer.read() if sys.argv[2] == "-" else sys.argv[2].encode())
print("answer:", s.recv(200).decode(errors="replace"))
"""


def test_a_non_root_peer_is_refused(root):
    bocker("ps", check=True)
    (pid,) = servers(root)
    sdir = root / client.SERVER_DIR
    path = str(sdir / sockets(root)[0])
    # the system's python: the venv's interpreter may live where nobody can read
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-S", "-c", PEER,
                 path]
    # the first wall: the directory is root's, 0700
    r = subprocess.run(as_nobody + ["quit"], capture_output=True, text=True)
    assert r.stdout.strip() == "connect: Permission denied", r.stderr
    # with the walls opened, SO_PEERCRED still refuses a peer that is not root
    sdir.chmod(0o711)
    os.chmod(path, 0o666)
    try:
        for message in ("quit", "5\nhello"):
            r = subprocess.run(as_nobody + [message], capture_output=True, text=True)
            assert r.stdout.strip() == "answer: rthe bocker server serves root only", r.stdout + r.stderr
    finally:
        sdir.chmod(0o700)
        os.chmod(path, 0o600)
    assert servers(root) == [pid]  # nobody's quit was not obeyed
    assert bocker("ps", check=True).stdout.startswith("CONTAINER_ID")


def test_a_peer_in_another_network_namespace_is_refused(root):
    bocker("ps", check=True)
    path = str(root / client.SERVER_DIR / sockets(root)[0])
    request = client.encode_request("x", ["ps"], {}, "/", 0o22)
    message = f"{len(request)}\n".encode() + request
    r = subprocess.run(["unshare", "-n", sys.executable, "-S", "-c", PEER, path, "-"], input=message,
                       capture_output=True, check=True)
    r = subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())
    assert r.stdout.strip() == "answer: rthe client is in other namespaces than this server", r.stdout + r.stderr


# -- what a command sees -------------------------------------------------------------------------
def test_exit_statuses_and_streams_apart(root):
    r = bocker("run", "busybox", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    r = bocker("frobnicate")
    assert r.returncode == 2 and r.stdout == "" and "frobnicate" in r.stderr
    r = bocker("run", "--no-such-option", "busybox")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    r = bocker("rm", "ps_0123456789")
    assert r.returncode == 1 and r.stderr == "No container named 'ps_0123456789' exists\n"
    r = bocker("run", "--help")
    assert r.returncode == 0 and "usage: bocker run" in r.stdout
    assert bocker().returncode == 1
    assert len(servers(root)) == 1


def test_a_request_larger_than_a_packet(root):
    big = "x" * (3 * client.CHUNK // 2)
    r = bocker("run", "--rm", "-e", f"BIG={big}", "busybox", "echo ${#BIG}", env={"ALSO_BIG": big})
    assert (r.returncode, r.stdout) == (0, f"{len(big)}\n"), r.stderr
    assert len(servers(root)) == 1


def test_stdin_and_the_clients_cwd_and_environment(root, tmp_path):
    r = bocker("run", "-i", "--rm", "busybox", "cat; echo done", input="through the server\n")
    assert (r.returncode, r.stdout) == (0, "through the server\ndone\n"), r.stderr
    (tmp_path / "env.list").write_text("FROM_FILE=file\n")
    (tmp_path / "image" / "etc").mkdir(parents=True)
    (tmp_path / "image" / "hello.txt").write_text("hi\n")
    env = {**os.environ, "FROM_CLIENT": "client"}
    run = subprocess.run([BOCKER, "run", "--rm", "-e", "FROM_CLIENT", "--env-file", "env.list", "busybox",
                          "echo $FROM_CLIENT $FROM_FILE"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.stdout == "client file\n", run.stderr
    init = subprocess.run([BOCKER, "init", "image", "--name", "relative"], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert init.returncode == 0 and init.stdout.startswith("Created: img_"), init.stderr
    umask = subprocess.run(["sh", "-c", f"umask 077; exec {BOCKER} save --format oci relative layout/"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert umask.returncode == 0, umask.stderr
    assert (tmp_path / "layout").stat().st_mode & 0o777 == 0o700  # made with the client's umask
    (pid,) = servers(root)
    assert Path(f"/proc/{pid}/cwd").resolve() == Path("/")  # the server's own stays /


def test_a_build_takes_the_clients_environment_and_directory(root, tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\nARG GREETING\nRUN echo got-$GREETING\n")
    r = subprocess.run([BOCKER, "build", "--network", "none", "--build-arg", "GREETING", "-t", "greeted", "ctx"],
                       capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "GREETING": "hello"})
    assert r.returncode == 0, r.stderr
    assert "got-hello" in r.stdout + r.stderr


def test_ctrl_c_of_a_foreground_run_stops_it_and_leaves_nothing(root):
    p = subprocess.Popen([BOCKER, "run", "--name", "interrupted", "busybox", "echo up; sleep 30"],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    assert servers(root)
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    assert bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "exited (137)"
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []
    # --rm too: nothing stays
    p = subprocess.Popen([BOCKER, "run", "--rm", "-i", "busybox", "echo up; sleep 30"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "up\n"
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    assert len(bocker("ps").stdout.splitlines()) == 2
    assert leftovers(str(root), CGROUP_PARENT, only_children=True) == []


def test_ctrl_c_of_a_command_that_is_not_attached(root):
    bocker("run", "-d", "--name", "waited", "busybox", "sleep 30", check=True)
    p = subprocess.Popen([BOCKER, "wait", "waited"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    assert bocker("ps", "--format", "{{.Status}}").stdout.splitlines()[0] == "running"  # wait only waited
    bocker("rm", "-f", "waited", check=True)


def _set_size(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_a_terminal_through_the_server(root):
    """-t: the server makes the client's terminal raw through the fd it was passed, follows
    its size (SIGWINCH reaches the client, which tells the server), and puts it back."""
    main, tty = pty.openpty()
    try:
        _set_size(tty, 30, 100)
        before = termios.tcgetattr(tty)
        p = subprocess.Popen([BOCKER, "run", "--rm", "-t", "busybox", "tty; sleep 1; stty size; sleep 2; stty size"],
                             stdin=tty, stdout=tty, stderr=tty, start_new_session=True)
        out = b""
        resized = False
        deadline = time.monotonic() + 20
        while p.poll() is None and time.monotonic() < deadline:
            if select.select([main], [], [], 0.1)[0]:
                out += os.read(main, 4096)
            if not resized and b"30 100" in out:
                _set_size(tty, 40, 120)
                os.kill(p.pid, signal.SIGWINCH)
                resized = True
            if not resized:
                assert termios.tcgetattr(tty)[3] & termios.ECHO == 0 or b"/dev/pts/0" not in out  # raw meanwhile
        assert p.wait(5) == 0
        while select.select([main], [], [], 0.2)[0]:
            out += os.read(main, 4096)
        assert out.startswith(b"/dev/pts/0\r\n30 100\r\n40 120"), out
        assert termios.tcgetattr(tty) == before
    finally:
        os.close(main)
        os.close(tty)


def test_commands_at_once(root):
    long = subprocess.Popen([BOCKER, "run", "busybox", "echo started; sleep 30; echo slow"], stdout=subprocess.PIPE,
                            text=True)
    assert long.stdout.readline() == "started\n"
    # served while the run is: a thread per request
    assert bocker("ps", "--format", "{{.Status}}", check=True).stdout.splitlines()[0] == "running"
    bocker("kill", cid_of(root), check=True)
    assert long.communicate(timeout=10)[0] == ""
    assert long.returncode == 137
    assert len(servers(root)) == 1


# -- the fallback ---------------------------------------------------------------------------
def test_no_server_runs_in_process(root):
    r = bocker("run", "--rm", "busybox", "echo in process", env={"BOCKER_NO_SERVER": "1"})
    assert (r.returncode, r.stdout) == (0, "in process\n"), r.stderr
    assert servers(root) == [] and sockets(root) == []


def test_a_server_that_cannot_start_falls_back(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / client.SERVER_DIR).write_text("not a directory")
    r = bocker("run", "--rm", "busybox", "echo still works")
    assert (r.returncode, r.stdout) == (0, "still works\n"), r.stderr
    assert servers(root) == []
