"""The name resolver of user networks: 127.0.0.11 inside a container's network namespace, as
Docker's embedded DNS (moby's libnetwork/resolver.go). It answers the names of the containers
on the container's networks (their names, `--network-alias` values, compose service names;
A, AAAA and PTR) from a table the engine keeps on disk, and forwards every other question to
the upstream nameservers the container would have had without it (the host's usable ones, or
`--dns`), from the resolver's own network namespace, as Docker's does from dockerd's.

Messages are read and written with dnspython. A name of the table with no record of the asked
type is an empty NOERROR answer (so a resolver does not go on to ask elsewhere), and a question
the upstreams don't answer in time is SERVFAIL.

    Names        the table: name -> addresses, address -> names (names.json of a network)
    Resolver     one question in wire form -> the answer, or a forward to an upstream
    Server       UDP and TCP sockets (one pair per container namespace) in one selector loop
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

RESOLVER_ADDRESS = "127.0.0.11"
TTL = 600  # Docker's embedded DNS answers with this TTL
FORWARD_TIMEOUT = 2.0


@dataclass
class Names:
    """Who answers to what on a network: lower-case names -> addresses, and back."""

    addresses: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)

    def add(self, names: Iterable[str], addresses: Iterable[str]) -> None:
        names = [n.lower().rstrip(".") for n in names if n]
        for address in addresses:
            for name in names:
                self.addresses.setdefault(name, [])
                if address not in self.addresses[name]:
                    self.addresses[name].append(address)
            self.names.setdefault(address, [])
            self.names[address] += [n for n in names if n not in self.names[address]]

    @classmethod
    def from_records(cls, records: Iterable[dict]) -> Names:
        table = cls()
        for record in records:
            table.add(record.get("names", []), record.get("addresses", []))
        return table


class NamesFile:
    """A names table read from a JSON file ({"records": [{"names": [...], "addresses": [...]}]}),
    read again whenever the file changes (the engine rewrites it atomically as containers start,
    stop, connect and disconnect)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._names = Names()

    def __call__(self) -> Names:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._names = None, Names()
            return self._names
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            try:
                records = json.loads(self.path.read_text()).get("records", [])
            except (OSError, ValueError):
                return self._names  # a file being replaced: the last good table meanwhile
            self._stamp, self._names = stamp, Names.from_records(records)
        return self._names


def _reverse_name(address: str) -> str:
    return ip_address(address).reverse_pointer


class Resolver:
    """Answers one DNS message: from `names()` when it names a container, else by forwarding."""

    # answers kept per resolver; BOCKER_RESOLVER_CACHE=0 turns it off (to measure the first answers)
    CACHE_SIZE = int(os.environ.get("BOCKER_RESOLVER_CACHE", "1024") or 0)

    def __init__(self, names: Callable[[], Names], upstreams: Iterable[str] = ()) -> None:
        self.names = names
        self.upstreams = [u for u in upstreams if u and not u.startswith("127.0.0.11")]
        # what was answered to a query, by the query's bytes after its id, for as long as the
        # table is the same object (a new table, a new cache): a program asks the same few names
        # again and again, and the answer is a function of the question and the table only
        self._table: Names | None = None
        self._cache: dict[bytes, bytes | None] = {}

    def local_answer(self, wire: bytes) -> bytes | None:
        """The answer when the question is ours to answer; None when it goes upstream."""
        table = self.names()
        if table is not self._table:
            self._table, self._cache = table, {}
        key = wire[2:]
        try:
            cached = self._cache[key]
        except KeyError:
            pass
        else:
            return None if cached is None else wire[:2] + cached
        answer = self._answer(wire, table)
        if len(self._cache) < self.CACHE_SIZE and len(wire) >= 12:
            self._cache[key] = None if answer is None else answer[2:]
        return answer

    def _answer(self, wire: bytes, table: Names) -> bytes | None:
        import dns.flags
        import dns.message
        import dns.opcode
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        import dns.rdtypes.IN.A
        import dns.rdtypes.IN.AAAA
        import dns.rrset

        try:
            query = dns.message.from_wire(wire)
        except Exception:  # not a DNS message: nothing to say to it
            return None
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.NOTIMP)
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if question.rdtype == dns.rdatatype.PTR:
            pointed = self._pointed(name, table)
            if pointed is None:
                return None
            response = dns.message.make_response(query)
            response.flags |= dns.flags.RA
            response.answer.append(dns.rrset.from_text(question.name, TTL, dns.rdataclass.IN, dns.rdatatype.PTR,
                                                       *[f"{n}." for n in pointed[:1]]))
            return response.to_wire()
        addresses = table.addresses.get(name)
        if addresses is None:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        wanted = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(question.rdtype)
        if question.rdtype == dns.rdatatype.ANY:
            wanted = 0
        found = [a for a in addresses if wanted is not None and (wanted == 0 or ip_address(a).version == wanted)]
        for version, rdtype in ((4, dns.rdatatype.A), (6, dns.rdatatype.AAAA)):
            mine = [a for a in found if ip_address(a).version == version]
            if mine:
                # the records made from their values (from_text would tokenize each address: ~25% of an answer)
                kind = dns.rdtypes.IN.A.A if version == 4 else dns.rdtypes.IN.AAAA.AAAA
                response.answer.append(dns.rrset.from_rdata_list(
                    question.name, TTL, [kind(dns.rdataclass.IN, rdtype, a) for a in mine]))
        return response.to_wire()  # a name of ours with no record of that type: an empty NOERROR

    @staticmethod
    def _pointed(name: str, table: Names) -> list[str] | None:
        for address, names in table.names.items():
            if _reverse_name(address).rstrip(".") == name:
                return names
        return None

    def servfail(self, wire: bytes) -> bytes | None:
        import dns.message
        import dns.rcode

        try:
            response = dns.message.make_response(dns.message.from_wire(wire))
        except Exception:
            return None
        response.set_rcode(dns.rcode.SERVFAIL)
        return response.to_wire()

    def forward_blocking(self, wire: bytes, tcp: bool = False) -> bytes | None:
        """Ask each upstream in turn (for TCP clients and tests); SERVFAIL when none answers."""
        import dns.message
        import dns.query

        for upstream in self.upstreams:
            try:
                query = dns.message.from_wire(wire)
                ask = dns.query.tcp if tcp else dns.query.udp
                return ask(query, upstream, timeout=FORWARD_TIMEOUT).to_wire()
            except Exception:  # that upstream is down or slow: the next one
                continue
        return self.servfail(wire)

    def answer(self, wire: bytes, tcp: bool = False) -> bytes | None:
        local = self.local_answer(wire)
        return local if local is not None else self.forward_blocking(wire, tcp)


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
