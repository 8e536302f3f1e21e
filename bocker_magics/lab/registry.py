"""A registry on 127.0.0.1 for notebooks on machines that do not reach Docker Hub:
Debian's docker-registry (distribution 2.x) with its own config and storage in a scratch
dir, on a free loopback port. Nothing leaves the machine.

    with LocalRegistry() as reg:
        reg.host        # "127.0.0.1:PORT": push to and pull from f"{reg.host}/lab/busybox"
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def available() -> bool:
    return shutil.which("docker-registry") is not None


class LocalRegistry:
    def __init__(self, workdir: Path | None = None, delete: bool = False, *, address: str = "127.0.0.1",
                 tls: tuple[Path, Path] | None = None, client_ca: Path | None = None,
                 htpasswd: Path | None = None, proxy_remote: str | None = None) -> None:
        """Start it: in `workdir` (made; default a scratch dir), with blob deletion on if
        `delete` (the tests remove what they pushed). `tls`: (certificate, key) to serve
        https with; `client_ca`: client certificates signed by it are required (mutual TLS);
        `htpasswd`: Basic auth with that file (bcrypt); `proxy_remote`: a pull-through mirror
        of that registry URL."""
        if not available():
            raise RuntimeError("docker-registry is not installed: apt-get install docker-registry")
        if workdir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="bocker-lab-registry-"))
        else:
            self.dir = workdir
            self.dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind((address, 0))
            self.port = s.getsockname()[1]
        self.address = address
        self.host = f"{address}:{self.port}"
        self.scheme = "https" if tls else "http"
        http = f"http:\n  addr: {self.host}\n"
        if tls:
            http += f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n"
            if client_ca:
                http += f"    clientcas:\n      - {client_ca}\n"
        config = self.dir / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'storage'}\n"
            + ("  delete:\n    enabled: true\n" if delete else "")
            + http
            + (f"auth:\n  htpasswd:\n    realm: bocker-lab\n    path: {htpasswd}\n" if htpasswd else "")
            + (f"proxy:\n  remoteurl: {proxy_remote}\n" if proxy_remote else ""))
        self._log = open(self.dir / "log", "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            if self._ready(plain=not tls and not htpasswd):
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "log").read_text()
                self.close()
                raise RuntimeError(f"docker-registry did not start: {log}")
            time.sleep(0.05)

    def _ready(self, plain: bool) -> bool:
        if not plain:  # https or auth: listening is enough (the caller's client checks the rest)
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return True
            except OSError:
                return False
        try:
            with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    @property
    def storage(self) -> Path:
        return self.dir / "storage"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
