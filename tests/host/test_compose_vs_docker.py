"""The same compose file brought up by `bocker compose` and by docker-compose 1.29 (Debian's) on a
dockerd 20.10 this test starts (tests/support/compose_peer.py: its own data root and network
namespace, `--bridge none --iptables=false`, docker-proxy for the published port), both on the busybox
image of this session's `bocker save`. What each gives is observed the same way on both sides and
compared:

- the containers: one per service, named PROJECT?SERVICE?1, with Compose's labels
  (com.docker.compose.project / service / container-number / oneoff);
- each container's environment as its program sees it (`env` inside);
- who resolves whom, from inside each container with busybox nslookup: the service names, the
  aliases, the container names and short ids of the others, on their shared network and not across
  networks; a page fetched by alias (wget) and a ping by container name;
- the published port answering on 127.0.0.1 (bocker: the session's netns; dockerd: its own);
- a named volume shared by two services (each reads what the other wrote);
- `up -d` a second time recreating nothing (the same container ids);
- `down -v` leaving no container, network or volume of the project.

What differs on purpose (README, "A stack of services"), and so is normalized here:
- container names: Compose v2's and the Compose Specification's PROJECT-SERVICE-N; docker-compose
  1.29 writes PROJECT_SERVICE_N. The comparison takes `_` for `-` in the name of docker's.
- the labels com.docker.compose.version, .config-hash (each tool hashes its own model) and
  .project.* (paths) are not compared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.compose_peer import ComposePeer, http_get_argv
from tests.support.peers import PeerUnavailable
from tests.support.session import bocker

PROJECT = f"cmp{os.getpid()}"
PORT = 18000 + os.getpid() % 1000
LABELS = ("com.docker.compose.project", "com.docker.compose.service", "com.docker.compose.container-number",
          "com.docker.compose.oneoff")

STACK = f"""\
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo \\"web says $$GREETING\\" > /www/index.html && echo from-web > /shared/from-web && httpd -p 80 -h /www && trap 'exit 0' TERM && while :; do sleep 0.2; done"]
    environment:
      GREETING: hello
      EMPTY: ""
    ports: ["{PORT}:80"]
    volumes: ["shared:/shared"]
    networks:
      front:
        aliases: [www]
  api:
    image: busybox
    command: ["sh", "-c", "echo from-api > /data/from-api; trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    environment: ["MODE=test", "FROM_FILE=${{COMPARE_UNSET:-fallback}}"]
    depends_on: [web]
    volumes: ["shared:/data"]
    networks: [front]
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    working_dir: /tmp
    networks:
      back:
        aliases: [database]
networks:
  front: {{}}
  back: {{}}
volumes:
  shared: {{}}
"""
SERVICES = ("web", "api", "db")
ALIASES = {"web": ["www"], "db": ["database"]}


class BockerSide:
    """`bocker compose` and the `bocker` command, in the session's root and network namespace."""

    name = "bocker"

    def __init__(self, file: Path) -> None:
        self.file = file

    def compose(self, *args: str) -> None:
        r = bocker("compose", "-f", str(self.file), "-p", PROJECT, *args, timeout=180)
        assert r.returncode == 0, f"bocker compose {' '.join(args)}: {r.stdout}{r.stderr}"

    def ids(self) -> list[str]:
        r = bocker("ps", "-a", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={PROJECT}",
                   check=True)
        return sorted(r.stdout.split())

    def container(self, cid: str) -> dict:
        d = json.loads(bocker("inspect", cid, check=True).stdout)
        return {"id": d["Id"], "name": d["Name"].lstrip("/"), "labels": d["Config"]["labels"],
                "created": d["Created"]}

    def exec(self, cid: str, script: str) -> str:
        return bocker("exec", cid, "sh", "-c", script, timeout=120).stdout

    def http(self, port: int) -> str:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
        except OSError as e:
            return f"ERROR {type(e).__name__}: {e}"

    def networks(self) -> list[str]:
        out = bocker("network", "ls", check=True).stdout.splitlines()[1:]
        return sorted(n for n in (line.split()[0] for line in out if line.strip()) if n.startswith(PROJECT))

    def volumes(self) -> list[str]:
        return sorted(v for v in bocker("volume", "ls", "-q", check=True).stdout.split() if v.startswith(PROJECT))


class DockerSide:
    """docker-compose 1.29 and the docker CLI on the test's dockerd."""

    name = "docker-compose"

    def __init__(self, peer: ComposePeer, file: Path) -> None:
        self.peer, self.file = peer, file

    def compose(self, *args: str) -> None:
        self.peer.compose(PROJECT, self.file, *args)

    def ids(self) -> list[str]:
        r = self.peer.docker("ps", "-a", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={PROJECT}")
        return sorted(r.stdout.split())

    def container(self, cid: str) -> dict:
        d = json.loads(self.peer.docker("inspect", cid).stdout)[0]
        return {"id": d["Id"], "name": d["Name"].lstrip("/"), "labels": d["Config"]["Labels"],
                "created": d["Created"]}

    def exec(self, cid: str, script: str) -> str:
        return self.peer.docker("exec", cid, "sh", "-c", script, check=False, timeout=120).stdout

    def http(self, port: int) -> str:
        r = self.peer.in_netns(http_get_argv(port))
        return r.stdout

    def networks(self) -> list[str]:
        out = self.peer.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        return sorted(n for n in out if n.startswith(PROJECT))

    def volumes(self) -> list[str]:
        return sorted(v for v in self.peer.docker("volume", "ls", "-q").stdout.split() if v.startswith(PROJECT))


def wait_ready(side, by_service: dict[str, dict]) -> None:
    """web serves its page and both services wrote into the shared volume (or 30 s pass)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if side.http(PORT).startswith("web says") and side.exec(
                by_service["api"]["id"], "cat /data/from-web /data/from-api 2>/dev/null") == "from-web\nfrom-api\n":
            return
        time.sleep(0.3)


def parse_nslookup(out: str) -> dict[str, list[str]]:
    """`== NAME` then busybox nslookup's output, per name: the addresses answered for it."""
    found: dict[str, list[str]] = {}
    for block in out.split("== ")[1:]:
        name, _, rest = block.partition("\n")
        answer = rest.split("Name:", 1)[1] if "Name:" in rest else ""
        found[name.strip()] = sorted(set(re.findall(r"Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$", answer, re.M)))
    return found


def observe(side) -> dict:
    """Everything compared, in terms both sides share (services, not names or addresses)."""
    ids = side.ids()
    assert len(ids) == 3, f"{side.name}: {ids}"
    by_service = {}
    for cid in ids:
        c = side.container(cid)
        by_service[c["labels"]["com.docker.compose.service"]] = c
    assert sorted(by_service) == sorted(SERVICES)
    wait_ready(side, by_service)
    seen: dict = {"containers": {}, "resolves": {}}
    addresses: dict[str, str] = {}  # an address -> the service whose container has it
    for service, c in by_service.items():
        for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", side.exec(c["id"], "ip -4 -o addr show")):
            if not a.startswith("127."):
                addresses[a] = service
        env = dict(line.split("=", 1) for line in side.exec(c["id"], "env").splitlines() if "=" in line)
        c["hostname"] = side.exec(c["id"], "hostname").strip()  # Docker: the short id; bocker: the id
        if env.get("HOSTNAME") == c["hostname"]:
            env["HOSTNAME"] = "<its hostname>"
        seen["containers"][service] = {
            "name": c["name"].replace("_", "-"),
            "labels": {k: c["labels"].get(k) for k in LABELS},
            "env": env,
        }
    # who resolves whom: every name of every service, asked from inside every container
    names = {}
    for service, c in by_service.items():
        names[f"{service}"] = ("service", service)
        names[c["name"]] = ("container name", service)
        names[c["hostname"]] = ("hostname (its id)", service)
        for alias in ALIASES.get(service, []):
            names[alias] = ("alias", service)
    script = "; ".join(f"echo '== {n}'; nslookup {n} 2>&1" for n in names)
    for asker, c in by_service.items():
        answers = parse_nslookup(side.exec(c["id"], script))
        for name, (kind, target) in names.items():
            got = sorted({addresses.get(a, f"unknown {a}") for a in answers.get(name, [])})
            seen["resolves"][(asker, kind, target)] = got
    api = by_service["api"]["id"]
    seen["wget www from api"] = side.exec(api, "wget -q -O - http://www/ 2>&1")
    seen["wget web from db"] = side.exec(by_service["db"]["id"], "wget -q -O - http://web/ >/dev/null 2>&1 && echo reached || echo unreachable")
    # (busybox's wget with -T crashes resolving a name, in both: its static glibc's timeout path)
    web_name = by_service["web"]["name"]
    seen["ping web's container name from api"] = side.exec(
        api, f"ping -c 1 -W 5 {web_name} >/dev/null 2>&1 && echo answered || echo no answer")
    seen["published port"] = side.http(PORT)
    seen["volume: api reads web's file"] = side.exec(api, "cat /data/from-web")
    seen["volume: web reads api's file"] = side.exec(by_service["web"]["id"], "cat /shared/from-api")
    seen["networks"] = [n.replace(PROJECT, "P") for n in side.networks()]
    seen["volumes"] = [v.replace(PROJECT, "P") for v in side.volumes()]
    seen["_by_service"] = by_service
    return seen


def up_twice_then_down(side) -> dict:
    side.compose("up", "-d")
    try:
        seen = observe(side)
        before = {c["id"]: c["created"] for c in seen.pop("_by_service").values()}
        side.compose("up", "-d")
        after = {cid: side.container(cid)["created"] for cid in side.ids()}
        seen["second up -d recreated"] = sorted(set(after.items()) ^ set(before.items()))
    finally:
        side.compose("down", "-v")
    seen["after down -v"] = {"containers": side.ids(), "networks": side.networks(), "volumes": side.volumes()}
    return seen


@pytest.fixture
def peer():
    # a short path: containerd's sockets under dockerd's exec root must fit in sun_path (108 bytes)
    tmp = Path(tempfile.mkdtemp(prefix="cmpd-"))
    try:
        p = ComposePeer(tmp / "d").__enter__()
    except PeerUnavailable as e:
        pytest.skip(f"docker-compose on dockerd: {e}")
    try:
        yield p
    finally:
        left = p.close()
        shutil.rmtree(tmp, ignore_errors=True)
        assert left == [], f"dockerd left (removed by force): {left}"


def test_same_stack_same_results(tmp_path, peer, busybox):
    tar = tmp_path / "busybox.tar"
    r = bocker("save", "busybox", str(tar), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert peer.load(tar) == "busybox:latest"
    for d in ("bocker", "docker"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "compose.yaml").write_text(STACK)
    os.environ.pop("COMPARE_UNSET", None)

    theirs = up_twice_then_down(DockerSide(peer, tmp_path / "docker" / "compose.yaml"))
    ours = up_twice_then_down(BockerSide(tmp_path / "bocker" / "compose.yaml"))

    # what each must show on its own (so that agreeing is not agreeing on nothing)
    for seen in (theirs, ours):
        assert seen["containers"]["web"]["labels"] == {
            "com.docker.compose.project": PROJECT, "com.docker.compose.service": "web",
            "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False"}
        assert seen["containers"]["web"]["env"]["GREETING"] == "hello"
        assert seen["resolves"][("api", "service", "web")] == ["web"]
        assert seen["resolves"][("db", "service", "web")] == []
        assert seen["resolves"][("api", "alias", "web")] == ["web"]
        assert seen["resolves"][("web", "container name", "api")] == ["api"]
        assert seen["resolves"][("db", "alias", "db")] == ["db"]
        assert seen["published port"] == "web says hello\n"
        assert seen["wget www from api"] == "web says hello\n"
        assert seen["wget web from db"] == "unreachable\n"
        assert seen["ping web's container name from api"] == "answered\n"
        assert seen["volume: api reads web's file"] == "from-web\n"
        assert seen["volume: web reads api's file"] == "from-api\n"
        assert seen["networks"] == ["P_back", "P_front"] and seen["volumes"] == ["P_shared"]
        assert seen["second up -d recreated"] == []
        assert seen["after down -v"] == {"containers": [], "networks": [], "volumes": []}

    ours, theirs = flat(ours), flat(theirs)
    differences = [f"{key}: bocker {ours.get(key, '(none)')!r}, docker-compose {theirs.get(key, '(none)')!r}"
                   for key in sorted(set(ours) | set(theirs), key=str) if ours.get(key) != theirs.get(key)]
    assert differences == [], "\n".join(differences)


def flat(seen: dict, prefix: tuple = ()) -> dict:
    """{("containers", "web", "env", "HOME"): "/root", ...}: every leaf apart, so that a difference
    names where it is."""
    out = {}
    for key, value in seen.items():
        path = (*prefix, *(key if isinstance(key, tuple) else (key,)))
        if isinstance(value, dict):
            out.update(flat(value, path))
        else:
            out[path] = value
    return out
