"""The resolver daemon: one process per BOCKER_ROOT serves the name resolver (resolver.py) of
every running container on a user network, at 127.0.0.11 in each one's network namespace. It
outlives whatever started it, as a container's monitor does: containers keep their names while
no bocker command or server runs, and a daemon that is killed is replaced by the next start,
which adopts every running container again (its state is the containers' own files).

What it reads, per container directory:
    dns.json     {"networks": {NET: {"address": IP, "names": [NAME, ALIAS, ...]}},
                  "upstreams": [IP, ...]}   written by the engine when the container starts,
                  and again as it is connected to a network or disconnected from one (container/
                  connect.py); the names of every network are answered to every container on it
    state.json   running, its pid and the pid's start time: a container that stops leaves the
                 tables, and its sockets are closed

The engine asks for a scan (`sync`) after it wrote a dns.json and before the container's program
starts, so the first lookup a program makes finds its resolver there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from .resolver import Names, Resolver
from .resolver_server import Server, listen_in

DNS_FILE = "dns.json"
IDLE_EXIT = float(os.environ.get("BOCKER_DNSD_IDLE", "60"))  # seconds with nothing to serve, then it leaves
SCAN_EVERY = 1.0


def daemon_dir(root: Path) -> Path:
    return root / "dns"


def write_container_dns(container_dir: Path, networks: dict[str, dict], upstreams: list[str],
                        pid: int | None = None, pid_start: int | None = None) -> None:
    """The engine's side: what this container answers to, where its other questions go, and
    (while it starts, before its state says running) the pid 1 whose namespace it is."""
    path = container_dir / DNS_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    data = {"networks": networks, "upstreams": upstreams}
    if pid:
        data.update(pid=pid, pid_start=pid_start or 0)
    tmp.write_text(json.dumps(data))
    os.rename(tmp, path)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int, start: int) -> bool:
    from ..kernel.procfs import alive
    return alive(pid, start or None)


class Daemon:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = Server()
        self.served: dict[str, tuple[int, int]] = {}  # container id -> (pid, pid start)
        self.tables: dict[str, Names] = {}
        self.networks_of: dict[str, list[str]] = {}
        self.merged: dict[str, Names] = {}  # container id -> the names it sees, until a scan changes them
        self.last_scan = 0.0
        self.idle_since: float | None = None

    def scan(self) -> None:
        """Read every container's files again; serve who runs on a user network, stop serving
        who doesn't any more."""
        live: dict[str, tuple[int, int, dict]] = {}
        containers = self.root / "containers"
        for cdir in containers.iterdir() if containers.is_dir() else ():
            dns = _read(cdir / DNS_FILE)
            if not dns or dns.get("networks") is None:  # {}: off its last user network, still forwarding
                continue
            state = _read(cdir / "state.json") or {}
            if state.get("status") == "running":
                pid, start = int(state.get("pid") or 0), int(state.get("pidStart") or state.get("pid_start") or 0)
            else:  # starting: the pid 1 the engine plugged in (dns.json), not yet in the state
                pid, start = int(dns.get("pid") or 0), int(dns.get("pid_start") or 0)
            if pid and _alive(pid, start):
                live[cdir.name] = (pid, start, dns)
        tables: dict[str, Names] = {}
        for _, _, dns in live.values():
            for net, entry in dns["networks"].items():
                tables.setdefault(net, Names()).add(entry.get("names", []), [entry["address"]])
        if tables != self.tables:
            self.tables = tables
            self.merged.clear()
        for cid in [c for c in self.served if c not in live or self.served[c] != live[c][:2]]:
            self.server.remove(cid)
            del self.served[cid]
            self.merged.pop(cid, None)
        for cid, (pid, start, dns) in live.items():
            if self.networks_of.get(cid) != list(dns["networks"]):
                self.networks_of[cid] = list(dns["networks"])
                self.merged.pop(cid, None)
            if cid in self.served:
                continue
            try:
                udp, tcp = listen_in(f"/proc/{pid}/ns/net")
            except OSError:
                continue  # gone meanwhile, or 127.0.0.11:53 taken in there: the next scan sees
            if not _alive(pid, start):  # the namespace we bound in is that container's
                udp.close()
                tcp.close()
                continue
            self.server.add(cid, Resolver(self._names_for(cid), dns.get("upstreams", [])), udp, tcp)
            self.served[cid] = (pid, start)
        self.last_scan = time.monotonic()
        self.idle_since = None if self.served else (self.idle_since or time.monotonic())

    def _names_for(self, cid: str):
        def names() -> Names:
            merged = self.merged.get(cid)
            if merged is not None:  # the same object while nothing changed: Resolver caches on it
                return merged
            merged = Names()
            for net in self.networks_of.get(cid, []):
                table = self.tables.get(net)
                if table is not None:
                    for name, addresses in table.addresses.items():
                        merged.add([name], addresses)
            self.merged[cid] = merged
            return merged
        return names

    def on_tick(self) -> None:
        if time.monotonic() - self.last_scan >= SCAN_EVERY:
            self.scan()
        if self.idle_since is not None and time.monotonic() - self.idle_since > IDLE_EXIT:
            self.server.stop()

    def control(self, listener: socket.socket) -> None:
        """`scan` from the engine: scan now, then answer `ok`; `stop`: answer, then leave.
        Only root may ask (the socket is abstract: SO_PEERCRED says who asks)."""
        import struct
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
                word = conn.recv(64).strip()
                if uid != 0:
                    return
                if word == b"scan":
                    self.scan()
                    conn.sendall(b"ok\n")
                elif word == b"stop":
                    conn.sendall(b"ok\n")
                    self.server.stop()
            except OSError:
                pass


def control_address(root: Path) -> str:
    """The daemon's control socket: an abstract one (no file under the root held open, none
    left by a kill -9), named after the root; binding it is what makes a daemon the root's
    only one in this network namespace."""
    import hashlib
    return "\0bocker-dnsd-" + hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:32]


def _log(root: Path, line: str) -> None:
    """daemon.log, opened for each line: the daemon holds no file under the root."""
    with contextlib.suppress(OSError):
        daemon_dir(root).mkdir(mode=0o700, exist_ok=True)
        with open(daemon_dir(root) / "daemon.log", "a") as f:
            f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + line + "\n")


def run(root: Path) -> int:
    """The daemon's body: one per root (its control socket's name), the serving loop."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(control_address(root))
    except OSError:
        listener.close()
        return 0  # another daemon serves this root
    listener.listen(16)
    listener.setblocking(False)
    daemon = Daemon(root)
    daemon.server.watch(listener, daemon.control)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: daemon.server.stop())  # leave as when idle
    try:
        daemon.scan()
        daemon.server.serve(tick=0.5, on_tick=daemon.on_tick)
    except Exception as e:  # one line in the log: the next start starts a new one
        _log(root, f"the resolver daemon stopped: {type(e).__name__}: {e}")
        return 1
    return 0


def sync(root: Path, timeout: float = 5.0) -> bool:
    """Make sure the daemon runs for `root` and has read every container's files: True when it
    answered. Starts one when none runs (detached: it outlives the caller)."""
    return _ask(root, b"scan", timeout, start_one=True)


def stop(root: Path, timeout: float = 5.0) -> bool:
    """End the daemon of `root`, if one runs (a test session's end)."""
    return _ask(root, b"stop", timeout, start_one=False)


def _ask(root: Path, word: bytes, timeout: float, start_one: bool) -> bool:
    deadline = time.monotonic() + timeout
    started = False
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                s.connect(control_address(root))
                s.sendall(word + b"\n")
                return s.recv(16).startswith(b"ok")
        except OSError:
            if not start_one or time.monotonic() >= deadline:
                return False
            if not started:  # none answers: start one
                start(root)
                started = True
            time.sleep(0.005)


def start(root: Path) -> None:
    """Start a daemon for `root`, detached: its first process forks it and leaves, so it is
    nobody's child here (no zombie in a long-lived engine) and outlives the caller."""
    subprocess.run([sys.executable, "-m", "bocker_magics.engine.network.dnsd", "--detach", str(root)],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   start_new_session=True, close_fds=True, cwd="/", timeout=30)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--detach"]:
        argv = argv[1:]
        if os.fork():
            os._exit(0)
    return run(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
