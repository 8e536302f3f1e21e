"""A stack as Compose runs one: services reach each other by service name and alias through
the embedded resolver, a service waits for its dependency to be healthy (depends_on
condition: service_healthy), `up --wait` waits for every healthcheck, and a failing one makes
`up --wait` fail naming the service."""

from __future__ import annotations

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
