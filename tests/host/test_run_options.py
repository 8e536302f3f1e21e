"""Docker's run options of issue 14 as a user types them: create/start/restart, logs
-f/--tail/-t/--since, named volumes and --mount/--tmpfs, -u, --read-only, --init,
--env-file and -e KEY, labels, shared namespaces (--pid/--ipc/--uts host|container:NAME,
--network container:NAME), -P, --stop-signal/--stop-timeout, --restart, --entrypoint,
--workdir. Bad input for each is one line, a non-zero status, and nothing changed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from tests.support.session import BOCKER, bocker


def detached(*args: str) -> str:
    r = bocker("run", "-d", *args, check=True)
    return r.stdout.strip()


def status(name: str) -> str:
    return bocker("ps", "--filter", f"name=^{name}$", "--format", "{{.Status}}").stdout.strip()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- create, start, restart ----------------------------------------------------------------------
def test_create_runs_nothing_until_start(fresh_root):
    r = bocker("create", "--name", "later", "busybox", "echo started; exit 2")
    assert r.returncode == 0 and re.fullmatch(r"ps_[0-9a-f]{10}\n", r.stdout)
    cid = r.stdout.strip()
    assert status("later") == "created" and bocker("logs", "later").stdout == ""
    r = bocker("start", "-a", "later")
    assert (r.returncode, r.stdout) == (2, "started\n")  # attached: its output and its status
    assert bocker("start", "later").stdout == "later\n"  # again, detached
    wait_for(lambda: status("later") == "exited (2)")
    assert bocker("logs", "later").stdout == "started\nstarted\n"
    assert json.loads(bocker("inspect", cid).stdout)["Id"] == cid
    r = bocker("start", "-a", "later", "nosuch")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "give one" in r.stderr
    bocker("rm", "later", check=True)


def test_restart_stops_and_starts_again(fresh_root):
    detached("--name", "rs", "busybox", "echo run; sleep 60")
    wait_for(lambda: bocker("logs", "rs").stdout == "run\n")
    t0 = time.monotonic()
    assert bocker("restart", "-t", "1", "rs").stdout == "rs\n"
    assert time.monotonic() - t0 < 8
    wait_for(lambda: bocker("logs", "rs").stdout == "run\nrun\n")
    assert status("rs") == "running"
    bocker("rm", "-f", "rs", check=True)


# -- logs ----------------------------------------------------------------------------------------
def test_logs_follow_tail_timestamps_since(fresh_root):
    detached("--name", "lg", "busybox", "for i in 1 2 3; do echo line$i; done; echo oops >&2; sleep 1; echo last")
    p = subprocess.Popen([BOCKER, "logs", "-f", "lg"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=os.environ)
    out, err = p.communicate(timeout=30)  # -f ends when the container does
    assert (p.returncode, out, err) == (0, "line1\nline2\nline3\nlast\n", "oops\n")
    assert bocker("logs", "--tail", "2", "lg").stdout == "last\n" and bocker("logs", "--tail", "2", "lg").stderr == "oops\n"
    assert bocker("logs", "--tail", "all", "lg").stdout.count("\n") == 4
    stamped = bocker("logs", "-t", "lg").stdout.splitlines()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line\d|\S+Z last", line) for line in stamped), stamped
    assert bocker("logs", "--since", "1h", "lg").stdout.count("\n") == 4
    assert bocker("logs", "--since", str(time.time() + 60), "lg").stdout == ""
    assert bocker("logs", "--since", "2000-01-01T00:00:00Z", "lg").stdout.count("\n") == 4
    for args, message in ((["--tail", "x"], "--tail"), (["--since", "yesterday"], "Invalid --since")):
        r = bocker("logs", *args, "lg")
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


# -- volumes, mounts, tmpfs, users, read-only ------------------------------------------------------
def test_named_volumes_mounts_and_tmpfs(fresh_root, tmp_path):
    bocker("run", "--rm", "-v", "rv:/data", "busybox", "echo kept > /data/f", check=True)
    assert bocker("run", "--rm", "-v", "rv:/d:ro", "busybox", "cat /d/f; touch /d/x").stderr.strip().endswith(
        "Read-only file system")
    assert bocker("run", "--rm", "--mount", "type=volume,source=rv,target=/m", "busybox", "cat /m/f").stdout == "kept\n"
    (tmp_path / "h").write_text("host\n")
    r = bocker("run", "--rm", "--mount", f"type=bind,source={tmp_path},target=/b,readonly", "busybox",
               "cat /b/h; touch /b/new")
    assert r.stdout == "host\n" and "Read-only" in r.stderr and not (tmp_path / "new").exists()
    r = bocker("run", "--rm", "--tmpfs", "/t:size=1m", "--mount", "type=tmpfs,target=/u", "busybox",
               "df -k /t | tail -1; grep -c ' /u tmpfs' /proc/mounts")
    assert r.stdout.split()[1] == "1024" and r.stdout.split()[-1] == "1"
    assert bocker("volume", "ls", "-q").stdout == "rv\n"  # made on first use, kept after --rm


def test_user_read_only_workdir_entrypoint(fresh_root):
    assert bocker("run", "--rm", "-u", "nobody", "busybox", "id").stdout == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    assert bocker("run", "--rm", "-u", "1000:1000", "busybox", "id -u; id -g").stdout == "1000\n1000\n"
    r = bocker("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "touch /scratch/ok && touch /x")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    assert bocker("run", "--rm", "-w", "/made/for/it", "busybox", "pwd").stdout == "/made/for/it\n"
    assert bocker("run", "--rm", "--entrypoint", "echo", "busybox", "-n", "two words").stdout == "two words"
    assert bocker("run", "--rm", "--entrypoint", "/bin/sh", "busybox", "-c", "echo $0").stdout == "/bin/sh\n"


def test_init_reaps_zombies_and_forwards_signals(fresh_root):
    if not os.path.exists("/usr/bin/tini-static"):
        pytest.skip("needs tini (apt-get install tini)")
    r = bocker("run", "--rm", "--init", "busybox", "ps -o pid,comm | sed -n 2p")
    assert r.stdout.split() == ["1", "docker-init"]
    detached("--name", "in", "--init", "busybox", "sleep 60")
    t0 = time.monotonic()
    bocker("stop", "-t", "10", "in", check=True)  # tini passes TERM on to sleep, which dies at once
    assert time.monotonic() - t0 < 5 and status("in") == "exited (143)"
    bocker("rm", "in", check=True)


# -- environment, labels -------------------------------------------------------------------------
def test_env_file_and_env_from_bockers_environment(fresh_root, tmp_path):
    f = tmp_path / "env"
    f.write_text("# a comment\nA=1\n\nB=two words\nFROM_HOST\n")
    r = bocker("run", "--rm", "--env-file", str(f), "-e", "C=3", "-e", "FROM_HOST", "-e", "UNSET_HERE", "busybox",
               "env", env={"FROM_HOST": "here", "UNSET_HERE": ""})
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert (env["A"], env["B"], env["C"], env["FROM_HOST"]) == ("1", "two words", "3", "here")
    r = bocker("run", "--rm", "-e", "NOT_SET_ANYWHERE", "busybox", "env")
    assert "NOT_SET_ANYWHERE" not in r.stdout  # a KEY unset here is dropped, as Docker does
    detached("--name", "lb", "-l", "a=b", "--label", "c=d", "busybox", "sleep 60")
    assert json.loads(bocker("ps", "-f", "name=lb", "--format", "{{json .Labels}}").stdout) == {"a": "b", "c": "d"}
    bocker("rm", "-f", "lb", check=True)


# -- shared namespaces -----------------------------------------------------------------------------
def test_shared_namespaces_host_and_container(fresh_root):
    try:
        detached("--name", "ns1", "--hostname", "first", "busybox", "sleep 60")
        wait_for(lambda: status("ns1") == "running")
        pid = json.loads(bocker("inspect", "ns1").stdout)["State"]["Pid"]
        r = bocker("run", "--rm", "--uts", "container:ns1", "--ipc", "container:ns1", "--network", "container:ns1",
                   "--pid", "container:ns1", "busybox", "hostname; cat /proc/1/cmdline | tr '\\0' ' '")
        assert r.stdout == "first\nsleep 60 ", r.stdout + r.stderr  # its hostname, its pid 1
        assert bocker("exec", "ns1", "hostname").stdout == "first\n"  # unchanged by the one that joined
        for kind, ns in (("uts", "uts"), ("ipc", "ipc"), ("network", "net"), ("pid", "pid")):
            inode = os.readlink(f"/proc/{pid}/ns/{ns}")
            out = bocker("run", "--rm", f"--{kind}", "container:ns1", "busybox", f"readlink /proc/self/ns/{ns}").stdout
            assert out.strip() == inode, kind
        host_pid_ns = os.readlink("/proc/self/ns/pid")  # ours: the host's
        assert bocker("run", "--rm", "--pid", "host", "busybox", "readlink /proc/self/ns/pid").stdout.strip() == host_pid_ns
        assert bocker("run", "--rm", "--uts", "host", "busybox", "hostname").stdout.strip() == os.uname().nodename
    finally:
        bocker("rm", "-f", "ns1")


def test_publish_all_publishes_the_images_exposed_ports(fresh_root, tmp_path):
    from bocker_magics.engine.engine import Engine
    with Engine() as e:
        img = e.busybox()
        path = e.store.image_file(img.id)
        record = json.loads(path.read_text())
        record["config"]["ExposedPorts"] = {"80/tcp": {}, "5353/udp": {}}
        path.write_text(json.dumps(record))
    detached("--name", "pub", "-P", "busybox", "sleep 60")
    lines = bocker("port", "pub").stdout.splitlines()
    assert len(lines) == 1 and re.fullmatch(r"80/tcp -> 0\.0\.0\.0:\d+", lines[0])  # tcp only
    bocker("rm", "-f", "pub", check=True)


# -- stop signal and timeout, restart --------------------------------------------------------------
def test_stop_signal_and_timeout(fresh_root):
    detached("--name", "sig", "--stop-signal", "USR1", "--stop-timeout", "30", "busybox",
             "trap 'echo got-usr1; exit 9' USR1; while true; do sleep 0.05; done")
    time.sleep(0.3)
    t0 = time.monotonic()
    bocker("stop", "sig", check=True)
    assert time.monotonic() - t0 < 10 and status("sig") == "exited (9)"
    assert bocker("logs", "sig").stdout == "got-usr1\n"
    detached("--name", "slow", "--stop-timeout", "1", "busybox", "sleep 60")  # pid 1 ignores TERM
    t0 = time.monotonic()
    bocker("stop", "slow", check=True)
    assert 0.9 < time.monotonic() - t0 < 8 and status("slow") == "exited (137)"
    bocker("rm", "sig", "slow", check=True)


def test_stop_of_several_stops_them_at_once(fresh_root, tmp_path):
    # as Docker's CLI (parallelOperation): each of the three exits on TERM only once all three
    # got theirs, so one after another the first would wait out its timeout and be killed (137)
    tmp_path.chmod(0o777)
    script = ("trap 'touch /s/$N; until [ -e /s/a ] && [ -e /s/b ] && [ -e /s/c ]; do sleep 0.05; done; exit 3' TERM; "
              "while true; do sleep 0.05; done")
    for n in ("a", "b", "c"):
        detached("--name", f"par-{n}", "-e", f"N={n}", "-v", f"{tmp_path}:/s", "--stop-timeout", "20", "busybox", script)
    wait_for(lambda: all(status(f"par-{n}") == "running" for n in "abc"))
    r = bocker("stop", "par-a", "par-b", "par-c", check=True)
    assert r.stdout == "par-a\npar-b\npar-c\n"  # in the order given, as each one ends
    assert [status(f"par-{n}") for n in "abc"] == ["exited (3)"] * 3
    assert bocker("rm", "par-a", "par-b", "par-c", "nothing-such").returncode != 0
    assert bocker("ps", "-a", "-q", "--filter", "name=par-").stdout == ""  # the rest were removed


def test_restart_policies(fresh_root):
    detached("--name", "onf", "--restart", "on-failure:3", "busybox", "exit 4")
    wait_for(lambda: status("onf") == "exited (4)", timeout=30)
    assert bocker("ps", "-f", "name=onf", "--format", "{{.RestartCount}}").stdout == "3\n"
    detached("--name", "ok", "--restart", "on-failure", "busybox", "true")
    wait_for(lambda: status("ok") == "exited (0)")
    assert bocker("ps", "-f", "name=ok", "--format", "{{.RestartCount}}").stdout == "0\n"  # success: not again
    detached("--name", "us", "--restart", "unless-stopped", "busybox", "echo x; sleep 0.1")
    wait_for(lambda: bocker("logs", "us").stdout.count("x") >= 3, timeout=30)
    bocker("stop", "us", check=True)
    assert status("us").startswith("exited")
    r = bocker("run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode != 0 and r.stderr == "Conflicting options: --restart and --rm (a removed container can't restart)\n"
    bocker("rm", "onf", "ok", "us", check=True)


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["--ipc", "shared"], ["--uts", "container:nosuch"], ["--network", "container:nosuch"], ["--pid", "sometimes"],
    ["--stop-signal", "NOPE"], ["--stop-timeout", "soon"], ["--restart", "on-failure:x"], ["--restart", "always:3"],
    ["--env-file", "/nonexistent/env"], ["-e", "BAD KEY"], ["--mount", "type=bind,target=/x"],
    ["--mount", "type=volume,source=bad/name,target=/x"], ["-v", "bad/name:/x"], ["--tmpfs", "/t:size=lots"],
    ["-u", "a:b:c"], ["--detach-keys", "ctrl-"], ["--hostname", "h", "--uts", "host"],
    ["-p", "80:80", "--network", "container:nosuch"], ["--workdir", "rel/dir"], ["--label", "=x"],
])
def test_bad_options_are_one_line_and_change_nothing(busybox, args, assert_nothing_left):
    volumes = bocker("volume", "ls", "-q").stdout
    r = bocker("run", *args, "busybox", "true")
    assert r.returncode != 0 and r.stderr.count("\n") == 1, (args, r.stderr)
    assert "Traceback" not in r.stderr
    assert bocker("volume", "ls", "-q").stdout == volumes
    assert_nothing_left()
