"""The resolver's sockets and its loop: a UDP and a TCP socket at 127.0.0.11:53 made inside a
container's network namespace (listen_in), and one selector loop (Server) that serves any number
of such pairs, each with its Resolver (resolver.py), forwarding upstream without blocking."""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .resolver import FORWARD_TIMEOUT, RESOLVER_ADDRESS, Resolver


def listen_in(netns: str | None, address: str = RESOLVER_ADDRESS,
              port: int = 53) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to address:port inside the network namespace at `netns`
    (a /proc/PID/ns/net or a pinned file; None: this one). A socket keeps the namespace it was
    made in, so the thread that made it can go back, and one process serves many namespaces."""
    from ..kernel import linux

    def make() -> tuple[socket.socket, socket.socket]:
        if netns is not None:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
            finally:
                os.close(fd)
            # a container's pid 1 brings lo up as it starts: 127.0.0.11 exists once lo is up,
            # and the resolver must listen before the program's first lookup
            linux.loopback_up()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((address, port))
            tcp.bind((address, port))
            tcp.listen(16)
        except OSError:
            udp.close()
            tcp.close()
            raise
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp

    return linux.on_fresh_thread(make) if netns is not None else make()


@dataclass
class _Pending:
    client: socket.socket
    peer: tuple
    query: bytes
    upstream: int
    deadline: float


class Server:
    """Serves resolvers on any number of socket pairs in one selector loop. A question for a
    container name is answered at once; one that goes upstream is sent from a socket of its own
    (so a slow upstream holds up nobody) and its answer relayed back when it comes."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._pending: dict[socket.socket, _Pending] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._stopping = False
        self._closed = False

    def add(self, key: str, resolver: Resolver, udp: socket.socket, tcp: socket.socket) -> None:
        with self._lock:
            self.selector.register(udp, selectors.EVENT_READ, ("udp", (key, resolver)))
            self.selector.register(tcp, selectors.EVENT_READ, ("tcp", (key, resolver)))
        os.write(self._wake_w, b"x")

    def watch(self, fileobj, callback: Callable[[object], None]) -> None:
        """Another file for the loop (a control socket): callback(fileobj) when readable."""
        with self._lock:
            self.selector.register(fileobj, selectors.EVENT_READ, ("other", callback))
        os.write(self._wake_w, b"x")

    def remove(self, key: str) -> None:
        with self._lock:
            if self._closed:
                return
            for sk in list(self.selector.get_map().values()):
                kind, data = sk.data
                if kind in ("udp", "tcp") and data[0] == key:
                    self.selector.unregister(sk.fileobj)
                    sk.fileobj.close()
        os.write(self._wake_w, b"x")

    def keys(self) -> set[str]:
        if self._closed:
            return set()
        return {sk.data[1][0] for sk in self.selector.get_map().values() if sk.data[0] in ("udp", "tcp")}

    def stop(self) -> None:
        self._stopping = True
        if not self._closed:
            os.write(self._wake_w, b"x")

    def serve(self, tick: float = 0.5, on_tick: Callable[[], None] | None = None) -> None:
        while not self._stopping:
            for sk, _ in self.selector.select(self._next_timeout(tick)):
                kind, data = sk.data
                try:
                    if kind == "wake":
                        os.read(self._wake_r, 4096)
                    elif kind == "udp":
                        self._udp(sk.fileobj, data[1])
                    elif kind == "tcp":
                        self._accept(sk.fileobj, data[1])
                    elif kind == "upstream":
                        self._relay(sk.fileobj)
                    elif kind == "other":
                        data(sk.fileobj)
                except OSError:
                    continue  # one client's trouble is its own
            self._expire()
            if on_tick is not None:
                on_tick()
        self.close()

    def close(self) -> None:
        self._closed = True
        for sk in list(self.selector.get_map().values()):
            if not isinstance(sk.fileobj, int):
                sk.fileobj.close()
        self.selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _next_timeout(self, tick: float) -> float:
        if not self._pending:
            return tick
        return max(0.0, min(tick, min(p.deadline for p in self._pending.values()) - time.monotonic()))

    def _udp(self, sock: socket.socket, resolver: Resolver) -> None:
        wire, peer = sock.recvfrom(65535)
        local = resolver.local_answer(wire)
        if local is not None:
            sock.sendto(local, peer)
        elif resolver.upstreams:
            self._send_upstream(_Pending(sock, peer, wire, 0, 0.0), resolver)
        elif (failed := resolver.servfail(wire)) is not None:
            sock.sendto(failed, peer)

    def _send_upstream(self, pending: _Pending, resolver: Resolver) -> None:
        while pending.upstream < len(resolver.upstreams):
            up = socket.socket(socket.AF_INET6 if ":" in resolver.upstreams[pending.upstream] else socket.AF_INET,
                               socket.SOCK_DGRAM)
            try:
                up.setblocking(False)
                up.connect((resolver.upstreams[pending.upstream], 53))
                up.send(pending.query)
            except OSError:
                up.close()
                pending.upstream += 1
                continue
            pending.deadline = time.monotonic() + FORWARD_TIMEOUT
            self._pending[up] = pending
            self.selector.register(up, selectors.EVENT_READ, ("upstream", resolver))
            return
        if (failed := resolver.servfail(pending.query)) is not None:
            pending.client.sendto(failed, pending.peer)

    def _relay(self, up: socket.socket) -> None:
        pending = self._pending.pop(up)
        resolver = self.selector.get_key(up).data[1]
        self.selector.unregister(up)
        try:
            wire = up.recv(65535)
        except OSError:  # refused (nothing listens there): the next upstream
            up.close()
            pending.upstream += 1
            self._send_upstream(pending, resolver)
            return
        up.close()
        pending.client.sendto(wire, pending.peer)

    def _expire(self) -> None:
        now = time.monotonic()
        for up, pending in list(self._pending.items()):
            if pending.deadline <= now:
                resolver = self.selector.get_key(up).data[1]
                self.selector.unregister(up)
                up.close()
                del self._pending[up]
                pending.upstream += 1
                self._send_upstream(pending, resolver)

    def _accept(self, listener: socket.socket, resolver: Resolver) -> None:
        conn, _ = listener.accept()
        threading.Thread(target=self._tcp_client, args=(conn, resolver), daemon=True, name="bocker-dns-tcp").start()

    @staticmethod
    def _tcp_client(conn: socket.socket, resolver: Resolver) -> None:
        """DNS over TCP: two bytes of length, then the message; a few per connection."""
        conn.setblocking(True)
        conn.settimeout(10)
        try:
            while True:
                head = conn.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    return
                wire = conn.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
                reply = resolver.answer(wire, tcp=True)
                if reply is None:
                    return
                conn.sendall(len(reply).to_bytes(2, "big") + reply)
        except OSError:
            return
        finally:
            conn.close()
