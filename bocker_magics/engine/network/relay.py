"""The relay of published ports (-p HOSTPORT:CTRPORT). It runs in the container's monitor
(runtime/shim.py), so the ports close when the container ends, or when a crash kills the
monitor. Stdlib only: the monitor is a `python -I -S` process."""

from __future__ import annotations

import os
import selectors
import socket

from ...errors import StartFailure


class PortRelay:
    """Published ports (-p HOSTPORT:CTRPORT): listening sockets on the host, each accepted
    connection spliced to the container's address. It lives in the monitor, so the ports
    close when the container ends, or when a crash kills the monitor."""

    def __init__(self, network: dict) -> None:
        self.target = (network.get("endpoint") or {}).get("address")
        self.listeners: dict[socket.socket, int] = {}  # listening socket -> container port
        for ip, hport, cport in network.get("publish", []):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, hport))
            except OSError as e:
                s.close()
                self.close()
                raise StartFailure(f"Port {ip}:{hport} can't be published: {e.strerror}", 125) from None
            s.listen(64)
            s.setblocking(False)
            self.listeners[s] = cport

    def close(self) -> None:
        for s in self.listeners:
            s.close()
        self.listeners.clear()

    def run(self, out_r: int, output) -> None:
        """Until out_r reaches EOF: copy it to `output`, and move bytes between clients and
        the container."""
        sel = selectors.DefaultSelector()
        sel.register(out_r, selectors.EVENT_READ, ("out", None))
        for listener, cport in self.listeners.items():
            sel.register(listener, selectors.EVENT_READ, ("listen", cport))
        peers: dict[socket.socket, socket.socket] = {}

        def drop(sock: socket.socket) -> None:
            for s in (sock, peers.pop(sock, None)):
                if s is not None:
                    peers.pop(s, None)
                    try:
                        sel.unregister(s)
                    except (KeyError, ValueError):
                        pass
                    s.close()

        done = False
        while not done:
            for key, _ in sel.select():
                kind, data = key.data
                if kind == "out":
                    chunk = os.read(out_r, 65536)
                    if not chunk:
                        done = True
                        break
                    output(chunk)
                elif kind == "listen":
                    try:
                        client, _ = key.fileobj.accept()
                    except OSError:
                        continue
                    try:
                        upstream = socket.create_connection((self.target, data), timeout=5)
                    except OSError:
                        client.close()
                        continue
                    for a, b in ((client, upstream), (upstream, client)):
                        a.setblocking(True)
                        peers[a] = b
                        sel.register(a, selectors.EVENT_READ, ("pipe", None))
                else:
                    sock = key.fileobj
                    try:
                        chunk = sock.recv(65536)
                    except OSError:
                        chunk = b""
                    peer = peers.get(sock)
                    if not chunk or peer is None:
                        drop(sock)
                        continue
                    try:
                        peer.sendall(chunk)
                    except OSError:
                        drop(sock)
        for sock in list(peers):
            drop(sock)
        sel.close()
        self.close()
