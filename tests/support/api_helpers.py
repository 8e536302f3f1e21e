"""The Docker API service for the tests: `bocker system service` on a socket in a temp dir
(the session's BOCKER_ROOT, network namespace and cgroup parent), the real docker CLI
pointed at it, and a plain HTTP client over the socket for the protocol's own checks."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

DOCKER = "/usr/bin/docker"   # Debian's docker.io 20.10 CLI (no dockerd is used)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Service:
    def __init__(self, directory: Path, group: str | None = None) -> None:
        self.dir = directory
        self.sock = str(directory / "docker.sock")
        self.host = "unix://" + self.sock
        self.log = directory / "service.log"
        self.config = directory / "docker-config"   # the CLI's own config dir: none of root's
        self.config.mkdir(exist_ok=True)
        args = [sys.executable, "-m", "bocker_magics.cli", "system", "service", "-H", self.host, "--time", "0"]
        if group:
            args += ["--group", group]
        self.proc = subprocess.Popen(args, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     env={**os.environ, "BOCKER_NO_SERVER": "1"})
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the service did not start: {self.log.read_text()}")
            time.sleep(0.05)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.config)}

    def docker(self, *args: str, input: bytes | str | None = None, timeout: float = 60,
               check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([DOCKER, *args], capture_output=True, timeout=timeout, env=self.env,
                           input=input.encode() if isinstance(input, str) else input)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} -> {r.returncode}\n{r.stdout.decode(errors='replace')}"
                                 f"{r.stderr.decode(errors='replace')}")
        return r

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = UnixHTTPConnection(self.sock)
        try:
            data = json.dumps(body).encode() if isinstance(body, dict) else body
            hdrs = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
            conn.request(method, path, body=data, headers={**hdrs, **(headers or {})})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def client(self):
        import docker
        return docker.DockerClient(base_url=self.host, timeout=60)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def running_service(group: str | None = None):
    d = Path(tempfile.mkdtemp(prefix="bocker-api-test-"))
    s = Service(d, group)
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


def remove_containers(s: Service, before: set[str]) -> None:
    """The containers a test module made go at its end (its images and networks stay for
    the session's removal)."""
    r = s.docker("ps", "-aq", "--no-trunc", check=False)
    ids = [i for i in r.stdout.decode().split() if i not in before]
    if ids:
        s.docker("rm", "-f", *ids, check=False)


def _service():
    with running_service() as s:
        before = set(s.docker("ps", "-aq", "--no-trunc").stdout.decode().split())
        yield s
        remove_containers(s, before)


def service_fixture():
    """A module's `service` fixture: `service = service_fixture()` in the test module."""
    return pytest.fixture(scope="module", name="service")(_service)
