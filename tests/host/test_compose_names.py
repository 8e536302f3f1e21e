"""A stack as Compose runs one: services reach each other by service name and alias through
the embedded resolver, a service waits for its dependency to be healthy (depends_on
condition: service_healthy), `up --wait` waits for every healthcheck, and a failing one makes
`up --wait` fail naming the service."""

from __future__ import annotations

import json
import os

from tests.support.session import bocker

PROJECT = f"bkn{os.getpid()}"

STACK = """\
services:
  db:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www; echo hello-from-db > /www/index.html; httpd -p 80 -h /www; sleep 2; touch /ready; exec sleep 300"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 30
    networks:
      back:
        aliases: [database]
  web:
    image: busybox
    depends_on:
      db: {condition: service_healthy}
    command: ["sh", "-c", "wget -q -O /fetched http://db/ 2>/wget.err; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks: [back]
networks:
  back: {}
"""


def compose(tmp_path, *args, **kw):
    return bocker("compose", "-f", str(tmp_path / "compose.yaml"), "-p", PROJECT, *args, **kw)


def test_services_by_name_after_their_dependency_is_healthy(tmp_path):
    (tmp_path / "compose.yaml").write_text(STACK)
    try:
        r = compose(tmp_path, "up", "-d", "--wait", timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Healthy" in r.stdout + r.stderr  # web started once db was healthy (progress on stderr, as Compose)
        r = compose(tmp_path, "ps", check=True)
        assert "healthy" in r.stdout
        # web fetched db's page by its service name as it started
        r = compose(tmp_path, "exec", "-T", "web", "sh", "-c",
                    "for i in $(seq 100); do [ -s /fetched ] && break; sleep 0.1; done; cat /fetched /wget.err")
        assert r.returncode == 0 and r.stdout == "hello-from-db\n", r.stdout + r.stderr
        for name in ("db", "database", f"{PROJECT}-db-1"):
            r = compose(tmp_path, "exec", "-T", "web", "nslookup", name)
            assert r.returncode == 0 and "Address" in r.stdout.split("Name:")[-1], (name, r.stdout, r.stderr)
    finally:
        r = compose(tmp_path, "down", "-v")
        assert r.returncode == 0, r.stdout + r.stderr


def test_up_wait_fails_on_an_unhealthy_service(tmp_path):
    (tmp_path / "compose.yaml").write_text("""\
services:
  sick:
    image: busybox
    command: ["sleep", "300"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1
""")
    try:
        r = compose(tmp_path, "up", "-d", "--wait", timeout=120)
        assert r.returncode != 0
        line = r.stderr.strip().splitlines()[-1]  # after the progress lines, one line says why
        assert "sick" in line and "unhealthy" in line and "Traceback" not in r.stderr, r.stdout + r.stderr
        # what up started stays consistent: ps shows it, down removes it
        assert f"{PROJECT}-sick-1" in compose(tmp_path, "ps", "-a", check=True).stdout
    finally:
        assert compose(tmp_path, "down").returncode == 0


TWO_NETWORKS = """\
services:
  hub:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks:
      front: {aliases: [hub-front]}
      back: {ipv4_address: 10.231.15.40}
  fronty:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks: [front]
    dns: [127.0.0.1]
  backy:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks: [back]
networks:
  front:
    ipam: {config: [{subnet: 10.231.14.0/24}]}
  back:
    internal: true
    ipam: {config: [{subnet: 10.231.15.0/24}]}
"""


def test_a_service_on_two_networks_one_of_them_internal(tmp_path):
    """The service has an interface on each of its networks; its name answers on each with its
    address there (the alias on front only, the static address on back); the internal
    network gives its services no way out; up again recreates nothing; down removes both."""
    from tests.support.upstream_dns import Upstream
    (tmp_path / "compose.yaml").write_text(TWO_NETWORKS)
    upstream = Upstream({})

    def lookup(svc: str, name: str) -> str:
        r = compose(tmp_path, "exec", "-T", svc, "nslookup", name)
        return r.stdout.split(name, 1)[-1] if name in r.stdout else ""

    try:
        r = compose(tmp_path, "up", "-d", timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        addrs = compose(tmp_path, "exec", "-T", "hub", "ip", "-o", "-4", "addr", check=True).stdout
        assert "eth0" in addrs and "eth1" in addrs and "10.231.15.40/24" in addrs and "10.231.14." in addrs
        assert "default via 10.231.14.1" in compose(tmp_path, "exec", "-T", "hub", "ip", "route").stdout
        assert "10.231.14." in lookup("fronty", "hub") and "10.231.14." in lookup("fronty", "hub-front")
        assert "10.231.15.40" in lookup("backy", "hub")
        assert "10.231.15." not in lookup("fronty", "backy")  # not on front: its upstream's NXDOMAIN
        assert "default" not in compose(tmp_path, "exec", "-T", "backy", "ip", "route").stdout
        assert json.loads(bocker("network", "inspect", f"{PROJECT}_back", check=True).stdout)["internal"] is True
        r = compose(tmp_path, "up", "-d", timeout=120)
        assert r.returncode == 0 and "Recreate" not in r.stdout + r.stderr, r.stdout + r.stderr
    finally:
        r = compose(tmp_path, "down", "-v")
        upstream.close()
        assert r.returncode == 0, r.stdout + r.stderr
    assert f"{PROJECT}_back" not in bocker("network", "ls").stdout
