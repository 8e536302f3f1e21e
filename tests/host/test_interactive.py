"""Interactive containers as a person types: tmux runs `bocker run -it busybox sh` in a pane,
send-keys types, capture-pane reads the screen. Then -i with pipes and files, attach and the
detach keys, exec -it/-i/-u/-d, stdout and stderr apart.

Each tmux server is private (its own socket, -S) and runs in the test session's network
namespace (it is started from it); the fixture kills it and checks nothing of it is left.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.session import BOCKER, bocker

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)")
PROMPT = r"^/ #$"  # capture-pane drops the trailing space


class Tmux:
    """One private tmux server with one pane."""

    def __init__(self, directory: Path) -> None:
        self.socket = str(directory / "tmux.sock")

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, check=check, timeout=20)

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        """`command` in a fresh pane; when it ends, its exit status is printed as EXIT=N and
        the pane stays to be read."""
        script = f"{command}; echo EXIT=$?; exec sleep 600"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "sh", "-c", script)

    def respawn(self, command: str) -> None:
        self.tmux("respawn-pane", "-k", "sh", "-c", f"clear; {command}; echo EXIT=$?; exec sleep 600")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-l", line)
        self.tmux("send-keys", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p").stdout

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            m = re.search(pattern, text, re.M)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on the screen:\n{text}")
            time.sleep(0.05)

    def count(self, text: str) -> int:
        return self.screen().count(text)

    def pane_pid(self) -> int:
        return int(self.tmux("display-message", "-p", "#{pane_pid}").stdout)

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def tmux():
    directory = Path(tempfile.mkdtemp(prefix="bk-tmux-", dir="/tmp"))  # short: a socket path has 108 bytes
    t = Tmux(directory)
    try:
        yield t
    finally:
        t.kill()
        deadline = time.monotonic() + 5
        while t.tmux("has-session", check=False).returncode == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        left = subprocess.run(["pgrep", "-f", t.socket], capture_output=True, text=True).stdout.split()
        shutil.rmtree(directory, ignore_errors=True)
        assert left == [], f"tmux left processes: {left}"


def cli(*args: str) -> str:
    """`bocker ARGS` as a shell word list, for a tmux pane."""
    return shlex.join([BOCKER, *args])


def status(name: str) -> str:
    return bocker("ps", "--filter", f"name=^{name}$", "--format", "{{.Status}}").stdout.strip()


# -- run -it --------------------------------------------------------------------------------------
def test_run_it_is_an_interactive_shell(tmux, fresh_root):
    name = f"it-{os.getpid()}"
    tmux.start(cli("run", "-it", "--name", name, "busybox", "sh"))
    tmux.wait_for(PROMPT)
    tmux.type("echo hel''lo")
    tmux.wait_for(r"^/ # echo hel''lo\nhello$")  # the echo of what was typed, then its output
    tmux.type("stty size")
    tmux.wait_for(r"^30 100$")
    tmux.tmux("resize-window", "-x", "120", "-y", "40")
    time.sleep(0.2)
    tmux.type("stty size")
    tmux.wait_for(r"^40 120$")  # the pty followed the terminal (SIGWINCH)
    tmux.type("tty; echo $TERM")
    tmux.wait_for(r"^/dev/pts/\d+\nxterm$")
    # Ctrl-C goes to the container's foreground process, not to bocker
    tmux.type("sleep 100")
    time.sleep(0.3)
    tmux.keys("C-c")
    tmux.wait_for(r"^\^C$")
    tmux.type("echo status=$?")
    tmux.wait_for(r"^status=130$")
    # job control: a background job, a stopped one brought back
    tmux.type("sleep 50 &")
    tmux.type("jobs")
    tmux.wait_for(r"^\[1\]\+ +Running +sleep 50$")
    tmux.type("sleep 60")
    time.sleep(0.3)
    tmux.keys("C-z")
    tmux.wait_for(r"\[2\]\+ +Stopped +sleep 60$")  # after the ^Z the terminal echoes
    tmux.type("kill %1 %2; fg 2>/dev/null; echo jobs-done")
    tmux.wait_for(r"^jobs-done$")
    assert status(name) == "running"
    tmux.type("exit 3")
    tmux.wait_for(r"^EXIT=3$")  # exiting the shell returns its status
    assert status(name) == "exited (3)"
    bocker("rm", name, check=True)


def test_run_t_without_a_terminal_is_one_line_and_leaves_nothing(fresh_root, assert_nothing_left):
    r = subprocess.run([BOCKER, "run", "-t", "busybox", "true"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, env=os.environ, timeout=60)
    assert r.returncode == 1 and r.stderr == "the input device is not a TTY: drop -t, or run bocker from a terminal\n"
    assert_nothing_left()
    r = subprocess.run([BOCKER, "run", "-d", "-t", "--name", "bg-tty", "busybox", "sh"], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, env=os.environ, timeout=60)
    assert r.returncode == 0, r.stderr  # detached, a pty needs no terminal here
    assert bocker("exec", "bg-tty", "tty").stdout == "not a tty\n"  # exec without -t has none
    assert bocker("rm", "-f", "bg-tty").returncode == 0


# -- attach, detach keys, start -a -i --------------------------------------------------------------
def test_run_d_it_then_attach_and_the_detach_keys(tmux, fresh_root):
    name = f"att-{os.getpid()}"
    bocker("run", "-d", "-it", "--name", name, "busybox", "sh", check=True)
    tmux.start(cli("attach", name))
    time.sleep(0.5)
    tmux.type("echo attached-$((6*7))")
    tmux.wait_for(r"^attached-42$")
    tmux.keys("C-p", "C-q")  # Docker's detach keys: bocker returns, the container runs on
    tmux.wait_for(r"^read escape sequence: ps_\w+ runs on \(bocker attach ps_\w+\)\nEXIT=0$")
    assert status(name) == "running"
    tmux.respawn(cli("attach", "--detach-keys", "ctrl-a,d", name))
    time.sleep(0.5)
    tmux.keys("C-p")  # not the detach keys now: it reaches the shell (its history: the last command)
    tmux.wait_for(r"^/ # echo attached-\$\(\(6\*7\)\)$")
    tmux.keys("Enter")
    tmux.wait_for(r"^attached-42$")
    tmux.keys("C-a", "d")
    tmux.wait_for(r"^EXIT=0$")
    assert status(name) == "running"
    tmux.respawn(cli("attach", name))
    time.sleep(0.5)
    tmux.type("exit 5")
    tmux.wait_for(r"^EXIT=5$")  # the shell's status, through attach
    assert status(name) == "exited (5)"
    r = bocker("attach", "--detach-keys", "ctrl-", name)
    assert r.returncode != 0 and r.stderr.count("\n") == 1
    r = bocker("attach", name)
    assert r.returncode == 1 and "is not running" in r.stderr
    bocker("rm", name, check=True)


def test_create_it_then_start_a_i(tmux, fresh_root):
    name = f"cs-{os.getpid()}"
    bocker("create", "-it", "--name", name, "busybox", "sh", check=True)
    assert status(name) == "created"
    tmux.start(cli("start", "-a", "-i", name))
    tmux.wait_for(PROMPT)
    tmux.type("echo started-$((1+1))")
    tmux.wait_for(r"^started-2$")
    tmux.type("exit 7")
    tmux.wait_for(r"^EXIT=7$")
    bocker("rm", name, check=True)


# -- exec -it, -i, -u, -d ----------------------------------------------------------------------------
def test_exec_it_i_u_and_d(tmux, fresh_root):
    name = f"ex-{os.getpid()}"
    bocker("run", "-d", "--name", name, "busybox", "sleep 120", check=True)
    tmux.start(cli("exec", "-it", name, "sh"))
    tmux.wait_for(PROMPT)
    tmux.type("tty; stty size; ps -o pid,comm | grep -c sleep")
    tmux.wait_for(r"^/dev/pts/\d+\n30 100\n1$")  # its own pty, in the container (its sleep is there)
    tmux.type("exit 4")
    tmux.wait_for(r"^EXIT=4$")
    r = subprocess.run([BOCKER, "exec", "-i", name, "sh", "-c", "cat; echo after-eof"], input="piped in\n",
                       capture_output=True, text=True, env=os.environ, timeout=60)
    assert r.stdout == "piped in\nafter-eof\n"  # stdin relayed, and its end is EOF in the container
    assert bocker("exec", "-u", "nobody", name, "id").stdout == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    assert bocker("exec", "-u", "1234", name, "id", "-u").stdout == "1234\n"
    t0 = time.monotonic()
    r = bocker("exec", "-d", name, "sh", "-c", "sleep 1; touch /done")
    assert (r.returncode, r.stdout) == (0, "") and time.monotonic() - t0 < 1
    deadline = time.monotonic() + 10
    while bocker("exec", name, "test", "-e", "/done").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = bocker("exec", "-u", "nosuchuser", name, "true")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "nosuchuser" in r.stderr
    bocker("rm", "-f", name, check=True)


# -- stdin, stdout and stderr ----------------------------------------------------------------------
def test_stdin_with_i_and_without(fresh_root):
    sh = lambda line: subprocess.run(line, shell=True, capture_output=True, text=True, env=os.environ,
                                     timeout=60, executable="/bin/bash")
    assert sh(f"echo hi | {BOCKER} run -i busybox cat").stdout == "hi\n"
    assert sh(f"echo hi | {BOCKER} run busybox cat").stdout == ""  # without -i: no stdin (/dev/null)
    r = sh(f"printf 'no newline' | {BOCKER} run -i busybox sh -c 'cat; echo; echo got-eof'")
    assert r.stdout == "no newline\ngot-eof\n"  # a closed stdin reaches the container as EOF
    assert sh(f"{BOCKER} run -i busybox sh -c 'cat; echo eof' < /dev/null").stdout == "eof\n"
    r = subprocess.run([BOCKER, "run", "-i", "busybox", "wc", "-c"], input=b"\x10\x11" * 1000, capture_output=True,
                       env=os.environ, timeout=60)
    assert r.stdout.strip() == b"2000"  # ctrl-p ctrl-q in piped input are data: detach keys are a terminal's
    big = Path(tempfile.mkdtemp(dir="/tmp")) / "big"
    big.write_bytes(os.urandom(3 << 20))
    try:
        r = subprocess.run(f"{BOCKER} run -i busybox md5sum < {big}", shell=True, capture_output=True,
                           env=os.environ, timeout=120)  # a regular file as stdin
        import hashlib
        assert r.stdout.split()[0].decode() == hashlib.md5(big.read_bytes()).hexdigest()
    finally:
        shutil.rmtree(big.parent)


def test_stdout_and_stderr_stay_apart_end_to_end(fresh_root):
    sh = lambda line: subprocess.run(line, shell=True, capture_output=True, text=True, env=os.environ, timeout=60)
    r = sh(f"{BOCKER} run --name apart busybox sh -c 'echo out; echo err >&2' 2>/dev/null")
    assert (r.stdout, r.stderr) == ("out\n", "")
    r = sh(f"{BOCKER} logs apart 2>/dev/null")
    assert r.stdout == "out\n"
    r = sh(f"{BOCKER} logs apart 2>&1 >/dev/null")
    assert r.stdout == "err\n"  # the log kept which stream each line came from
    r = sh(f"{BOCKER} logs -t apart")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z out\n", r.stdout) and re.fullmatch(r"\S+Z err\n", r.stderr)
