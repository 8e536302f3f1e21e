"""docker-compose 1.29 (Debian's) driving bocker through the API service: a stack of two
services on a user network with a named volume; up -d twice (nothing recreated), ps, logs,
exec, the services reaching each other by service name (the resolver of user networks), down -v."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from tests.support.api_helpers import service_fixture

service = service_fixture()

pytestmark = pytest.mark.skipif(shutil.which("docker-compose") is None,
                                reason="needs docker-compose (quickstart.sh test installs it)")

COMPOSE = """\
version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web-up; echo from-web > /data/f; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    volumes: ["data:/data"]
    networks: ["back"]
    labels: {tier: web}
  worker:
    image: busybox
    command: ["sh", "-c", "echo worker-up; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    depends_on: ["web"]
    volumes: ["data:/shared:ro"]
    networks: ["back"]
networks:
  back:
    ipam:
      config: [{subnet: "10.231.11.0/24"}]
volumes:
  data: {}
"""


def compose(service, tmp_path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**service.env, "PATH": "/usr/bin:" + service.env.get("PATH", ""), "COMPOSE_PROJECT_NAME": "apistack"}
    t0 = time.monotonic()
    r = subprocess.run(["docker-compose", "-f", str(tmp_path / "docker-compose.yml"), *args], capture_output=True,
                       text=True, timeout=120, env=env)
    print(f'compose {args}: {time.monotonic() - t0:.1f}s', file=sys.stderr)
    if check and r.returncode != 0:
        raise AssertionError(f"docker-compose {' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def test_a_stack_up_twice_ps_logs_exec_down(service, tmp_path):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    try:
        r = compose(service, tmp_path, "up", "-d")
        assert "Creating apistack_web_1" in r.stderr and "Creating apistack_worker_1" in r.stderr
        ids = service.docker("ps", "-q", "--no-trunc", "--filter", "label=com.docker.compose.project=apistack")
        first = sorted(ids.stdout.decode().split())
        assert len(first) == 2
        r = compose(service, tmp_path, "up", "-d")
        assert "is up-to-date" in r.stderr and "Recreating" not in r.stderr and "Creating apistack_" not in r.stderr
        again = sorted(service.docker("ps", "-q", "--no-trunc", "--filter",
                                      "label=com.docker.compose.project=apistack").stdout.decode().split())
        assert again == first
        ps = compose(service, tmp_path, "ps").stdout
        assert "apistack_web_1" in ps and "apistack_worker_1" in ps and ps.count(" Up ") == 2
        logs = compose(service, tmp_path, "logs", "--no-color").stdout
        assert "web-up" in logs and "worker-up" in logs
        assert compose(service, tmp_path, "exec", "-T", "worker", "cat", "/shared/f").stdout == "from-web\n"
        # docker-compose gives the service's name as an alias on the network: the resolver answers it
        r = compose(service, tmp_path, "exec", "-T", "worker", "nslookup", "web", check=False)
        assert r.returncode == 0 and "10.231.11." in r.stdout.split("Name:")[-1], r.stdout + r.stderr
        net = service.docker("network", "inspect", "apistack_back").stdout.decode()
        assert "10.231.11.0/24" in net
        assert "apistack_data" in service.docker("volume", "ls", "-q").stdout.decode()
        r = compose(service, tmp_path, "down", "-v")
        assert "Removing apistack_web_1" in r.stderr and "Removing network apistack_back" in r.stderr
        assert "Removing volume apistack_data" in r.stderr
        assert service.docker("ps", "-aq", "--filter", "label=com.docker.compose.project=apistack").stdout == b""
        assert "apistack_back" not in service.docker("network", "ls").stdout.decode()
        assert "apistack_data" not in service.docker("volume", "ls", "-q").stdout.decode()
    finally:
        compose(service, tmp_path, "down", "-v", check=False)


TWO_NETWORKS = """\
version: "3.8"
services:
  hub:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks:
      front: {aliases: ["hub-front"]}
      back: {ipv4_address: "10.231.13.40"}
  fronty:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks: ["front"]
    dns: ["127.0.0.1"]  # names not in the stack: the tests' own upstream, never a real lookup
  backy:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    networks: ["back"]
networks:
  front:
    ipam: {config: [{subnet: "10.231.12.0/24"}]}
  back:
    internal: true
    ipam: {config: [{subnet: "10.231.13.0/24"}]}
"""


def test_a_service_on_two_networks_one_internal(service, tmp_path):
    """docker-compose creates the container on one network and connects it to the other before
    it starts: the service has an interface on each, its name answers on each with its address
    there (the alias and the static address where the file gives them), the internal network
    has no way out, and up again recreates nothing."""
    from tests.support.upstream_dns import Upstream
    (tmp_path / "docker-compose.yml").write_text(TWO_NETWORKS)
    upstream = Upstream({})

    def lookup(svc: str, name: str) -> str:
        r = compose(service, tmp_path, "exec", "-T", svc, "nslookup", name, check=False)
        return r.stdout.split(name, 1)[-1] if name in r.stdout else ""

    try:
        compose(service, tmp_path, "up", "-d")
        addrs = compose(service, tmp_path, "exec", "-T", "hub", "ip", "-o", "-4", "addr").stdout
        assert "10.231.13.40/24" in addrs and "10.231.12." in addrs, addrs
        assert "eth1" in addrs
        assert "10.231.12." in lookup("fronty", "hub") and "10.231.12." in lookup("fronty", "hub-front")
        assert "10.231.13.40" in lookup("backy", "hub")
        assert "10.231.13." not in lookup("fronty", "hub") and lookup("fronty", "backy").count("10.231.13.") == 0
        route = compose(service, tmp_path, "exec", "-T", "backy", "ip", "route").stdout
        assert "default" not in route, route
        back = service.docker("network", "inspect", "-f", "{{.Internal}}", "apistack_back").stdout.decode()
        assert back.strip() == "true"
        r = compose(service, tmp_path, "up", "-d")
        assert "Recreating" not in r.stderr and "Creating apistack_" not in r.stderr, r.stderr
        compose(service, tmp_path, "down", "-v")
        assert "apistack_back" not in service.docker("network", "ls").stdout.decode()
    finally:
        compose(service, tmp_path, "down", "-v", check=False)
        upstream.close()
