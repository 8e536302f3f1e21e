"""The relay of published ports (-p HOSTPORT:CTRPORT). It runs in the container's monitor
(runtime/monitor.py), inside its event loop, so the ports close when the container ends, or
when a crash kills the monitor. Stdlib only: the monitor is a `python -I -S` process.

Each accepted connection is spliced to the container's address without blocking the loop:
a non-blocking connect, a buffer per direction, and half-closes passed on (a client that
shuts down its sending side after its request still gets the whole answer).
"""

from __future__ import annotations

import errno
import socket

from ...errors import StartFailure

CHUNK = 65536
MAX_BUFFER = 1 << 20


class _Pipe:
    """One direction of a spliced connection: bytes read from `src`, written to `dst`."""

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.buffer = bytearray()
        self.eof = False          # src said it sends no more
        self.done = False         # ... and all of it reached dst, whose sending side is shut


class _Splice:
    def __init__(self, relay: PortRelay, client: socket.socket, upstream: socket.socket) -> None:
        self.relay = relay
        self.client, self.upstream = client, upstream
        self.connected = False
        self.up = _Pipe(client, upstream)       # request bytes
        self.down = _Pipe(upstream, client)     # answer bytes

    def pipes(self):
        return (self.up, self.down)

    def close(self) -> None:
        for s in (self.client, self.upstream):
            self.relay.loop.remove(s)
            s.close()
        self.relay.splices.discard(self)

    def update(self) -> None:
        """(Re)register interest: read where there is room, write where there are bytes."""
        loop = self.relay.loop
        if not self.connected:
            loop.watch(self.upstream, write=self.on_connected)
            loop.watch(self.client, read=None)
            return
        for sock in (self.client, self.upstream):
            read = write = None
            for p in self.pipes():
                if p.src is sock and not p.eof and len(p.buffer) < MAX_BUFFER:
                    read = self.on_readable
                if p.dst is sock and p.buffer:
                    write = self.on_writable
            loop.watch(sock, read=read, write=write)
        if self.up.done and self.down.done:
            self.close()

    def on_connected(self, sock: socket.socket) -> None:
        err = self.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.close()
            return
        self.connected = True
        self.update()

    def on_readable(self, sock: socket.socket) -> None:
        for p in self.pipes():
            if p.src is not sock or p.eof:
                continue
            try:
                chunk = sock.recv(CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                self.close()
                return
            if chunk:
                p.buffer += chunk
                self._flush(p)
            else:
                p.eof = True
                self._flush(p)
        if self.client.fileno() >= 0:
            self.update()

    def on_writable(self, sock: socket.socket) -> None:
        for p in self.pipes():
            if p.dst is sock:
                self._flush(p)
        if self.client.fileno() >= 0:
            self.update()

    def _flush(self, p: _Pipe) -> None:
        while p.buffer:
            try:
                sent = p.dst.send(p.buffer)
            except BlockingIOError:
                return
            except OSError:
                p.buffer.clear()
                p.eof = True
                break
            del p.buffer[:sent]
        if p.eof and not p.buffer and not p.done:
            p.done = True
            try:
                p.dst.shutdown(socket.SHUT_WR)  # the half-close reaches the other end
            except OSError:
                pass


class PortRelay:
    """Published ports: listening sockets on the host, each accepted connection spliced to
    the container's address. `loop` is the monitor's event loop (runtime/eventloop.Loop)."""

    def __init__(self, target: str | None, publish: list) -> None:
        self.target = target
        self.loop = None
        self.splices: set[_Splice] = set()
        self.listeners: dict[socket.socket, int] = {}  # listening socket -> container port
        for p in publish:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((p.host_ip, p.host_port))
            except OSError as e:
                s.close()
                self.close()
                raise StartFailure(f"Port {p.host_ip}:{p.host_port} can't be published: {e.strerror}", 125) from None
            s.listen(64)
            s.setblocking(False)
            self.listeners[s] = p.container_port

    @classmethod
    def adopt(cls, target: str | None, listeners: list) -> PortRelay:
        """The listening sockets, bound already ([fd, container port] each: a monitor resumed
        from its sleeper, runtime/sleeper.py)."""
        relay = cls(target, [])
        for fd, port in listeners:
            s = socket.socket(fileno=fd)
            s.setblocking(False)
            relay.listeners[s] = port
        return relay

    def attach(self, loop) -> None:
        self.loop = loop
        for listener in self.listeners:
            loop.watch(listener, read=self._accept)

    def _accept(self, listener: socket.socket) -> None:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        client.setblocking(False)
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setblocking(False)
        try:
            upstream.connect((self.target, self.listeners[listener]))
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno != errno.EINPROGRESS:
                client.close()
                upstream.close()
                return
        splice = _Splice(self, client, upstream)
        self.splices.add(splice)
        splice.update()

    def close(self) -> None:
        for splice in list(self.splices):
            splice.close()
        for s in self.listeners:
            if self.loop is not None:
                self.loop.remove(s)
            s.close()
        self.listeners.clear()
