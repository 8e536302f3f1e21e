"""`bocker compose` through the real command: a stack of two busybox services with a named
volume and a published port; up twice (nothing recreated), a changed variable recreates only its
service, ps, logs, exec, run --rm, config, stop/start, down -v leaves nothing; up attached follows
the logs; mistakes are one line. (Names of services between them and healthchecks come with the
engine's resolver and health wiring: not tested here.)"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request

import pytest

from tests.support.session import bocker

PROJECT = f"bkc{os.getpid()}"

COMPOSE = """\
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo from-db > /data/f; echo db-ready; exec httpd -f -p 80 -h /data"]
    volumes: ["data:/data"]
    ports: ["127.0.0.1:{port}:80"]
  web:
    image: busybox
    depends_on: [db]
    environment:
      GREETING: ${{GREETING:-hi}}
    command: ["sh", "-c", "echo web-up $$GREETING; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
volumes:
  data: {{}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ids(project: str) -> dict[str, str]:
    """name -> id of the project's containers, as `bocker ps` finds them by Compose's label."""
    r = bocker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "--format", "json", check=True)
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return {row["Names"]: row["ID"] for row in rows}


def _wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """The file in a fresh directory, which is the cwd (as a user's would be); down -v after."""
    port = _free_port()
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(port=port))
    monkeypatch.chdir(tmp_path)
    yield port
    bocker("compose", "-p", PROJECT, "down", "-v", "--remove-orphans", timeout=120)


def test_a_stack_up_ps_logs_exec_run_config_stop_start_down(stack):
    port = stack
    up = bocker("compose", "-p", PROJECT, "up", "-d", timeout=120)
    assert up.returncode == 0, up.stderr
    ids = _ids(PROJECT)
    assert set(ids) == {f"{PROJECT}-db-1", f"{PROJECT}-web-1"}
    rows = [json.loads(line) for line in bocker("ps", "--filter", f"label=com.docker.compose.project={PROJECT}",
                                                 "--filter", "label=com.docker.compose.service=web", "--format",
                                                 "json", check=True).stdout.splitlines()]
    assert [r["Names"] for r in rows] == [f"{PROJECT}-web-1"]
    labels = rows[0]["Labels"]
    labels = labels if isinstance(labels, dict) else dict(kv.split("=", 1) for kv in labels.split(","))
    assert labels["com.docker.compose.container-number"] == "1" and labels["com.docker.compose.oneoff"] == "False"

    # the published port answers on 127.0.0.1, from the named volume the command wrote into
    body = _wait_for(lambda: _get(f"http://127.0.0.1:{port}/f"))
    assert body == "from-db\n"

    # up again: nothing recreated
    again = bocker("compose", "-p", PROJECT, "up", "-d", timeout=120)
    assert again.returncode == 0, again.stderr
    assert _ids(PROJECT) == ids
    assert "Recreate" not in again.stderr

    # a changed variable: only web is recreated
    changed = bocker("compose", "-p", PROJECT, "up", "-d", env={"GREETING": "bye"}, timeout=120)
    assert changed.returncode == 0, changed.stderr
    now = _ids(PROJECT)
    assert now[f"{PROJECT}-db-1"] == ids[f"{PROJECT}-db-1"]
    assert now[f"{PROJECT}-web-1"] != ids[f"{PROJECT}-web-1"]

    # ps: Compose's columns, a row per running container
    ps = bocker("compose", "-p", PROJECT, "ps", check=True)
    header, *rows = ps.stdout.splitlines()
    assert header.split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"]
    assert sorted(r.split()[0] for r in rows) == [f"{PROJECT}-db-1", f"{PROJECT}-web-1"]
    assert any(f"127.0.0.1:{port}->80/tcp" in r for r in rows)

    # logs: each line prefixed SERVICE-N  |
    logs = _wait_for(lambda: (lambda out: out if "web-up bye" in out else "")(
        bocker("compose", "-p", PROJECT, "logs", check=True).stdout))
    assert "db-1   | db-ready" in logs and "web-1  | web-up bye" in logs
    only_db = bocker("compose", "-p", PROJECT, "logs", "db", check=True).stdout
    assert "db-ready" in only_db and "web-up" not in only_db

    # exec: the command's output and exit status
    ex = bocker("compose", "-p", PROJECT, "exec", "-T", "db", "cat", "/data/f")
    assert ex.returncode == 0 and ex.stdout == "from-db\n"
    assert bocker("compose", "-p", PROJECT, "exec", "-T", "web", "sh", "-c", "exit 3").returncode == 3

    # run --rm: a one-off container of the service, gone after
    run = bocker("compose", "-p", PROJECT, "run", "--rm", "web", "sh", "-c", "echo one-off $GREETING", timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "one-off hi\n"
    assert set(_ids(PROJECT)) == {f"{PROJECT}-db-1", f"{PROJECT}-web-1"}
    kept = bocker("compose", "-p", PROJECT, "run", "web", "true", timeout=120)
    assert kept.returncode == 0, kept.stderr
    oneoff = [n for n in _ids(PROJECT) if "-web-run-" in n]
    assert len(oneoff) == 1
    r = bocker("ps", "-a", "--filter", "label=com.docker.compose.oneoff=True", "--filter",
               f"label=com.docker.compose.project={PROJECT}", "-q", check=True)
    assert len(r.stdout.split()) == 1

    # config: the resolved model as YAML
    import yaml
    config = yaml.safe_load(bocker("compose", "-p", PROJECT, "config", check=True).stdout)
    assert config["name"] == PROJECT and set(config["services"]) == {"db", "web"}
    assert config["services"]["web"]["environment"]["GREETING"] == "hi"

    # stop and start
    assert bocker("compose", "-p", PROJECT, "stop", timeout=120).returncode == 0
    assert bocker("compose", "-p", PROJECT, "ps", check=True).stdout.splitlines()[1:] == []
    assert len(bocker("compose", "-p", PROJECT, "ps", "-a", check=True).stdout.splitlines()[1:]) == 3
    assert bocker("compose", "-p", PROJECT, "start", "web", timeout=120).returncode == 0
    rows = bocker("compose", "-p", PROJECT, "ps", check=True).stdout.splitlines()[1:]
    assert sorted(r.split()[0] for r in rows) == [f"{PROJECT}-db-1", f"{PROJECT}-web-1"]  # db first, as web needs

    # top, images
    top = bocker("compose", "-p", PROJECT, "top", "db", check=True).stdout
    assert f"{PROJECT}-db-1" in top and "httpd" in top
    images = bocker("compose", "-p", PROJECT, "images", check=True).stdout
    assert images.splitlines()[0].split()[:3] == ["CONTAINER", "REPOSITORY", "TAG"]

    # down -v: no container, network or volume of the project is left
    down = bocker("compose", "-p", PROJECT, "down", "-v", timeout=120)
    assert down.returncode == 0, down.stderr
    assert _ids(PROJECT) == {}
    assert f"{PROJECT}_default" not in bocker("network", "ls", check=True).stdout
    assert f"{PROJECT}_data" not in bocker("volume", "ls", "-q", check=True).stdout


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


def test_up_attached_follows_every_service_until_they_exit(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  one:\n    image: busybox\n    command: [sh, -c, 'echo first; echo second']\n"
        "  two:\n    image: busybox\n    command: [sh, -c, 'sleep 0.5; echo later']\n")
    monkeypatch.chdir(tmp_path)
    project = f"{PROJECT}att"
    try:
        r = bocker("compose", "-p", project, "up", timeout=120)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert "one-1  | first" in lines and "one-1  | second" in lines and "two-1  | later" in lines
    finally:
        bocker("compose", "-p", project, "down", timeout=120)
    assert _ids(project) == {}


def test_the_default_file_and_relative_files_are_the_users(tmp_path, monkeypatch):
    sub = tmp_path / "deeper"
    sub.mkdir()
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n")
    (tmp_path / "other.yml").write_text("services:\n  b:\n    image: busybox\n")
    monkeypatch.chdir(sub)
    found = bocker("compose", "config", check=True).stdout  # compose.yaml above the cwd
    assert "  a:" in found and f"name: {tmp_path.name.lower()}" in found.replace("_", "_")
    monkeypatch.chdir(tmp_path)
    assert "  b:" in bocker("compose", "-f", "other.yml", "config", check=True).stdout


@pytest.mark.parametrize("files, args, message", [
    ({"compose.yaml": "services:\n  a:\n    image: busybox\n"}, ["up", "-d", "nope"], "no such service: nope"),
    ({"compose.yaml": "services:\n  a:\n    image: busybox\n   command: [x\n"}, ["config"], "compose.yaml:"),
    ({}, ["-f", "missing.yml", "config"], "missing.yml"),
    ({}, ["ps"], "no compose file"),
    ({"compose.yaml": "services:\n  a:\n    image: busybox\n"}, ["exec", "a", "true"], "not running"),
    ({"compose.yaml": "services:\n  a:\n    image: busybox\n"}, ["frobnicate"], "invalid choice"),
    ({"compose.yaml": "services:\n  a:\n    image: busybox\n"}, [], "give a verb"),
])
def test_mistakes_are_one_line(tmp_path, monkeypatch, files, args, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    r = bocker("compose", "-p", f"{PROJECT}bad", *args)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_a_yaml_mistake_names_the_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n    comand: [x]\n")
    monkeypatch.chdir(tmp_path)
    r = bocker("compose", "config")
    assert r.returncode != 0 and "compose.yaml:4" in r.stderr and "comand" in r.stderr, r.stderr


def test_ctrl_c_of_an_attached_up_stops_what_it_started(tmp_path, monkeypatch):
    import signal
    import subprocess

    from tests.support.session import BOCKER

    (tmp_path / "compose.yaml").write_text(
        "services:\n  loop:\n    image: busybox\n"
        "    command: [sh, -c, \"echo looping; trap 'exit 0' TERM; while :; do sleep 0.2; done\"]\n")
    monkeypatch.chdir(tmp_path)
    project = f"{PROJECT}int"
    p = subprocess.Popen([BOCKER, "compose", "-p", project, "up"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline() == "loop-1  | looping\n"
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
        assert p.returncode == 130
        rows = bocker("compose", "-p", project, "ps", "-a", check=True).stdout.splitlines()[1:]
        assert len(rows) == 1 and "exited" in rows[0].lower(), rows
        assert bocker("compose", "-p", project, "ps", check=True).stdout.splitlines()[1:] == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        bocker("compose", "-p", project, "down", timeout=120)
