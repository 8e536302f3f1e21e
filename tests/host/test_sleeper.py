"""A detached container's monitor sleeps (runtime/sleeper.py): once its container is idle,
the monitor's process is the small C sleeper, which logs what pid 1 prints and wakes the
Python monitor for everything else. Each case here goes through a sleep and checks that the
work the Python monitor does is still done: the exit status, the restart policy, attach,
healthchecks, published ports, and a killed sleeper left to gc."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from tests.host.test_network import free_port
from tests.support.hostcheck import wait_until
from tests.support.session import BOCKER, bocker


def wait_for(predicate, timeout: float = 30.0) -> bool:
    return wait_until(predicate, timeout=timeout)


def monitor_pid(cid: str) -> int:
    state = json.loads((Path(os.environ["BOCKER_ROOT"]) / "containers" / cid / "state.json").read_text())
    return state["monitorPid"]


def held_by(cid: str) -> str:
    """'sleeper' or 'python': what the container's monitor process runs now."""
    try:
        exe = os.readlink(f"/proc/{monitor_pid(cid)}/exe")
    except OSError:
        return "gone"
    return "sleeper" if "bocker-sleeper-" in exe else "python" if "python" in exe else exe


def state_of(cid: str) -> dict:
    return json.loads(bocker("inspect", cid, check=True).stdout)["State"]


def detached(*args: str) -> str:
    return bocker("run", "-d", *args, check=True).stdout.strip()


def test_an_idle_container_is_held_by_the_sleeper_which_keeps_its_log():
    cid = detached("--network", "none", "busybox", "sh -c 'sleep 1; printf \"one\\ntwo\\npart\"; sleep 60'")
    try:
        pid = monitor_pid(cid)
        assert wait_for(lambda: held_by(cid) == "sleeper"), held_by(cid)
        assert wait_for(lambda: bocker("logs", cid).stdout == "one\ntwo\npart"), bocker("logs", cid).stdout
        assert monitor_pid(cid) == pid, "the same process: the state's monitor pid stays true"
        assert held_by(cid) == "sleeper"
    finally:
        bocker("rm", "-f", cid)


def test_the_exit_status_and_a_stop_are_recorded_after_a_sleep():
    cid = detached("--network", "none", "busybox", "sh -c 'sleep 1.5; exit 7'")
    try:
        assert wait_for(lambda: held_by(cid) == "sleeper")
        assert bocker("wait", cid, check=True).stdout.strip() == "7"
        assert state_of(cid)["ExitCode"] == 7
    finally:
        bocker("rm", "-f", cid)
    cid = detached("--network", "none", "busybox", "sleep 60")
    try:
        assert wait_for(lambda: held_by(cid) == "sleeper")
        bocker("stop", "-t", "1", cid, check=True)
        state = state_of(cid)
        assert state["Status"] == "exited" and state["ExitCode"] == 137, state  # pid 1 ignores SIGTERM
    finally:
        bocker("rm", "-f", cid)


def test_the_restart_policy_runs_through_sleeps():
    cid = detached("--network", "none", "--restart", "on-failure:2", "busybox", "sh -c 'echo ran; sleep 1; exit 3'")
    try:
        assert bocker("wait", cid, timeout=60, check=True).stdout.strip() == "3"
        info = json.loads(bocker("inspect", cid, check=True).stdout)
        assert info["State"]["RestartCount"] == 2, info["State"]
        assert bocker("logs", cid).stdout == "ran\nran\nran\n"
    finally:
        bocker("rm", "-f", cid)


def test_attach_wakes_the_monitor_and_a_detach_lets_it_sleep_again():
    cid = detached("-i", "--network", "none", "busybox", "sh -c 'while read l; do echo got-$l; done'")
    try:
        assert wait_for(lambda: held_by(cid) == "sleeper")
        # a client through the attach socket: the monitor wakes (Python) and serves it
        p = subprocess.Popen([BOCKER, "attach", cid], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        p.stdin.write("hello\n")
        p.stdin.flush()
        assert p.stdout.readline() == "got-hello\n"
        assert held_by(cid) == "python"
        p.kill()  # the client goes: the monitor sleeps again
        p.wait(timeout=20)
        assert wait_for(lambda: held_by(cid) == "sleeper")
        p = subprocess.Popen([BOCKER, "attach", cid], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        p.stdin.write("again\n")
        p.stdin.flush()
        assert p.stdout.readline() == "got-again\n"
        p.kill()
        p.wait(timeout=20)
        assert bocker("logs", cid).stdout == "got-hello\ngot-again\n"
    finally:
        bocker("rm", "-f", cid)


def test_a_healthcheck_wakes_the_monitor_when_it_is_due():
    cid = detached("--network", "none", "--health-cmd", "cat /ok", "--health-interval", "3s", "busybox",
                   "sh -c 'echo fine > /ok; sleep 60'")
    try:
        assert wait_for(lambda: held_by(cid) == "sleeper")
        health = wait_for(lambda: (state_of(cid).get("Health") or {}).get("Status") == "healthy", timeout=20)
        assert health, state_of(cid)
        assert wait_for(lambda: held_by(cid) == "sleeper"), "asleep again until the next check"
        log = state_of(cid)["Health"]["Log"]
        assert wait_for(lambda: len(state_of(cid)["Health"]["Log"]) > len(log), timeout=20), "the next check ran"
    finally:
        bocker("rm", "-f", cid)


def test_a_published_port_wakes_the_monitor_which_relays_it():
    port = free_port()
    cid = detached("-p", f"127.0.0.1:{port}:80", "busybox",
                   "echo served-after-a-sleep > /tmp/index.html; httpd -f -p 80 -h /tmp")
    try:
        assert wait_for(lambda: held_by(cid) == "sleeper")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        assert b"served-after-a-sleep" in data, data
        assert wait_for(lambda: held_by(cid) == "sleeper"), "the connection ended: asleep again"
    finally:
        bocker("rm", "-f", cid)


def test_a_killed_sleeper_leaves_the_container_to_gc():
    cid = detached("--network", "none", "busybox", "sleep 60")
    assert wait_for(lambda: held_by(cid) == "sleeper")
    os.kill(monitor_pid(cid), signal.SIGKILL)
    try:
        status = wait_for(lambda: bocker("ps", "-a", "--filter", f"id={cid}", "--format", "{{.Status}}").stdout.strip()
                          .startswith("dead"), timeout=20)
        assert status, bocker("ps", "-a").stdout
    finally:
        assert bocker("rm", "-f", cid).returncode == 0
    assert bocker("gc", check=True).returncode == 0
