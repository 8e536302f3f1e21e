"""A nameserver of the tests' own on 127.0.0.1:53 of the session's network namespace: the
upstream a resolver forwards to in the tests (never a real lookup). It answers the names it is
given and NXDOMAIN to the rest, and keeps the names it was asked."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rrset


class Upstream:
    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = {name.rstrip(".") + ".": address for name, address in answers.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.1)
        self.stopping = False
        self.asked: list[str] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(wire)
            name = query.question[0].name.to_text()
            self.asked.append(name)
            response = dns.message.make_response(query)
            if name in self.answers:
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", self.answers[name]))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
