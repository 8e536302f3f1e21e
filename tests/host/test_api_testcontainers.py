"""testcontainers-python (throwaway services for tests) on bocker through the API service:
a log wait strategy, an exposed port reached on 127.0.0.1, exec, copy in and out."""

from __future__ import annotations

import os
import urllib.request

import pytest

from tests.support.api_helpers import service_fixture

service = service_fixture()

pytest.importorskip("testcontainers")


@pytest.fixture
def tc_env(service, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", service.host)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")   # no reaper container
    monkeypatch.setenv("DOCKER_CONFIG", str(service.config))
    # on a host that is itself a container (/.dockerenv), testcontainers would reach the
    # ports through the bridge's gateway: the docker host (localhost) is where bocker publishes them
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    from testcontainers.core.config import ConnectionMode, testcontainers_config
    monkeypatch.setattr(testcontainers_config, "connection_mode_override", ConnectionMode.docker_host)
    yield service


def test_a_container_with_a_log_wait_an_exposed_port_exec_and_copies(tc_env, tmp_path):
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    command = ["sh", "-c", "mkdir -p /www && echo served-by-bocker > /www/index.html && "
                           "echo server ready && exec httpd -f -p 8080 -h /www"]
    container = (DockerContainer("busybox").with_command(command).with_exposed_ports(8080)
                 .waiting_for(LogMessageWaitStrategy("server ready")))
    with container:
        host = container.get_container_host_ip()
        port = int(container.get_exposed_port(8080))
        assert host in ("localhost", "127.0.0.1")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as resp:
            assert resp.read() == b"served-by-bocker\n"
        code, output = container.exec(["sh", "-c", "echo from-exec"])
        assert (code, output) == (0, b"from-exec\n")
        container.copy_into_container(b"copied in\n", "/tmp/in.txt")
        assert container.exec(["cat", "/tmp/in.txt"]).output == b"copied in\n"
        container.copy_from_container("/www/index.html", tmp_path / "out.html")
        assert (tmp_path / "out.html").read_bytes() == b"served-by-bocker\n"
        cid = container.get_container_id()
        labels = container.get_wrapped_container().labels
        assert labels.get("org.testcontainers") == "true"
    assert tc_env.docker("ps", "-aq", "--no-trunc").stdout.decode().split().count(cid) == 0
    assert os.environ["TESTCONTAINERS_RYUK_DISABLED"] == "true"
