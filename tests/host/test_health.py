"""Healthchecks as Docker runs them: the image's HEALTHCHECK or --health-*, run by the
container's monitor in its namespaces, shown by ps and inspect, filtered by health=, stopped
with the container."""

from __future__ import annotations

import json
import time

from tests.support.session import bocker


def wait_for(predicate, timeout: float = 30.0, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def status_of(cid: str) -> str:
    return bocker("ps", "--filter", f"id={cid}", "--format", "{{.Status}}", check=True).stdout.strip()


def health_of(cid: str) -> dict:
    return json.loads(bocker("inspect", cid, check=True).stdout)["State"].get("Health") or {}


def test_a_check_goes_starting_then_healthy_then_unhealthy():
    cid = bocker("run", "-d", "--health-cmd", "cat /ok", "--health-interval", "1s", "--health-retries", "2",
                 "busybox", "sh -c 'sleep 2; echo fine > /ok; sleep 4; rm /ok; sleep 60'", check=True).stdout.strip()
    try:
        assert status_of(cid) == "running (health: starting)"
        assert wait_for(lambda: status_of(cid) == "running (healthy)"), status_of(cid)
        health = health_of(cid)
        assert health["Status"] == "healthy" and health["FailingStreak"] == 0
        assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "fine\n"
        ids = bocker("ps", "-q", "--filter", "health=healthy", check=True).stdout.split()
        assert cid in ids
        # the file goes: two failures in a row make it unhealthy, with the check's own output
        assert wait_for(lambda: status_of(cid) == "running (unhealthy)"), status_of(cid)
        health = health_of(cid)
        assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
        assert "No such file" in health["Log"][-1]["Output"]
        assert cid in bocker("ps", "-q", "--filter", "health=unhealthy", check=True).stdout.split()
        assert len(health["Log"]) <= 5
    finally:
        bocker("rm", "-f", cid)


def test_a_check_past_its_timeout_fails_and_a_stopped_container_runs_none():
    cid = bocker("run", "-d", "--health-cmd", "sleep 30", "--health-interval", "1s", "--health-timeout", "1s",
                 "--health-retries", "1", "busybox", "sleep 60", check=True).stdout.strip()
    try:
        assert wait_for(lambda: status_of(cid) == "running (unhealthy)", timeout=40), status_of(cid)
        last = health_of(cid)["Log"][-1]
        assert last["ExitCode"] == -1 and "exceeded timeout" in last["Output"]
        bocker("stop", "-t", "1", cid, check=True)
        before = health_of(cid)["Log"]
        time.sleep(2.5)
        assert health_of(cid)["Log"] == before  # nothing checks a stopped container
        assert status_of(cid).startswith("exited")
        # and no check process was left behind in it or anywhere
        assert bocker("ps", "-q", "--filter", "health=unhealthy", check=True).stdout.split() == []
    finally:
        bocker("rm", "-f", cid)


def test_the_images_healthcheck_and_no_healthcheck(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nHEALTHCHECK --interval=1s CMD test -d /proc/1\n")
    bocker("build", "-q", "-t", "healthy:1", str(tmp_path), check=True)
    cid = bocker("run", "-d", "healthy:1", "sleep 60", check=True).stdout.strip()
    plain = bocker("run", "-d", "--no-healthcheck", "healthy:1", "sleep 60", check=True).stdout.strip()
    try:
        assert wait_for(lambda: status_of(cid) == "running (healthy)"), status_of(cid)
        assert status_of(plain) == "running" and health_of(plain) == {}
        r = bocker("run", "-d", "--health-interval", "1s", "busybox", "true")
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and "--health-cmd" in r.stderr
        r = bocker("run", "-d", "--health-cmd", "true", "--health-interval", "soon", "busybox", "true")
        assert r.returncode != 0 and "Invalid --health-interval 'soon'" in r.stderr
    finally:
        bocker("rm", "-f", cid, plain)
        bocker("rmi", "healthy:1")
