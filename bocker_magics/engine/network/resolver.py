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
    Server       UDP and TCP sockets (one pair per container namespace) in one selector loop,
                 and listen_in, which makes them: resolver_server.py (importable from here too)
"""

from __future__ import annotations

import json
import os
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


def __getattr__(name: str):
    """Server, listen_in (resolver_server.py), from here as before, loaded when first asked for."""
    if name in ("Server", "listen_in", "_Pending"):
        from . import resolver_server
        return getattr(resolver_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
