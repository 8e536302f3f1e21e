"""docker-compose 1.29 (Debian's /usr/bin/docker-compose) on a dockerd 20.10 of its own, for the
tests and the benchmarks that hold `bocker compose` against the real thing.

The dockerd is peers.Dockerd: its own data root, exec root and socket, `--bridge none
--iptables=false`, in a sandbox (a mount + network namespace of its own), here with docker-proxy
on so that published ports answer on 127.0.0.1 in that namespace (with --iptables=false nothing
else can make them answer). docker-compose and the docker CLI only talk to its socket, so they
run outside the sandbox; what must happen in its network namespace (a client of a published
port) runs there through `nsenter --net`.

With --iptables=false, dockerd's embedded DNS still works on user networks: its 127.0.0.11 rules
(a DNAT of 127.0.0.11:53 to the port the resolver listens on) are made inside each container's
own network namespace, whatever the daemon's iptables setting (checked 2026-12-07: nslookup of
a container name, an alias and the other services answers from 127.0.0.11; `iptables-save` in
the container's netns shows DOCKER_OUTPUT / DOCKER_POSTROUTING).

    with ComposePeer(tmp) as peer:
        peer.load(busybox_tar)                     # busybox:latest, as `bocker save` wrote it
        peer.compose(project, compose_file, "up", "-d")
        peer.in_netns(["python3", "-c", "..."])    # 127.0.0.1 is dockerd's (the sandbox's)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.peers import Dockerd, PeerError, PeerUnavailable

DOCKER_COMPOSE = "/usr/bin/docker-compose"


def docker_compose_binary() -> str:
    path = DOCKER_COMPOSE if os.access(DOCKER_COMPOSE, os.X_OK) else shutil.which("docker-compose")
    if path is None:
        raise PeerUnavailable("docker-compose is not installed (apt-get install docker-compose)")
    return path


class ComposePeer:
    """A dockerd (peers.Dockerd with docker-proxy) and docker-compose aimed at it."""

    def __init__(self, tmp: str | os.PathLike) -> None:
        self.binary = docker_compose_binary()
        self.dockerd = Dockerd(Path(tmp), userland_proxy=True)

    def __enter__(self) -> ComposePeer:
        self.dockerd.__enter__()
        self.env = {**self.dockerd.env, "COMPOSE_INTERACTIVE_NO_CLI": "1",
                    "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
        self.env.pop("COMPOSE_PROJECT_NAME", None)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> list[str]:
        """Stop dockerd and remove everything (peers.Peer.close): what had to go by force."""
        return self.dockerd.close()

    @property
    def netns_pid(self) -> int:
        return self.dockerd.sandbox.pid

    def load(self, tarball: str | os.PathLike) -> str:
        return self.dockerd.load(tarball)

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.dockerd.docker(*args, **kw)

    def compose_argv(self, project: str, files: Sequence[str | os.PathLike], *args: str) -> list[str]:
        return [self.binary, "--no-ansi", "-p", project, *[x for f in files for x in ("-f", str(f))], *args]

    def compose(self, project: str, files: Sequence[str | os.PathLike] | str | os.PathLike, *args: str,
                check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        if isinstance(files, (str, os.PathLike)):
            files = [files]
        argv = self.compose_argv(project, files, *args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env,
                           stdin=subprocess.DEVNULL, cwd=str(Path(files[0]).parent))
        if check and r.returncode != 0:
            raise PeerError(f"docker-compose {' '.join(args)} -> exit {r.returncode}\n{r.stdout}{r.stderr}".strip())
        return r

    def in_netns(self, argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
        """Run argv in dockerd's network namespace (only: the host's files and binaries)."""
        return subprocess.run(["nsenter", f"--net=/proc/{self.netns_pid}/ns/net", "--", *map(str, argv)],
                              capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw)


HTTP_GET = ("import sys, urllib.request\n"
            "try:\n"
            "    print(urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/', timeout=5).read().decode(), end='')\n"
            "except Exception as e:\n"
            "    print(f'ERROR {type(e).__name__}: {e}'); sys.exit(1)\n")


def http_get_argv(port: int) -> list[str]:
    """A client of 127.0.0.1:PORT (prints the body), to run in a network namespace with nsenter."""
    return [sys.executable, "-I", "-c", HTTP_GET, str(port)]
