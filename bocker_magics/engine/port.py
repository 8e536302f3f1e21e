"""`port ID [PORT[/PROTO]]`: the container's published ports (-p, -P), as its record holds
them: `80/tcp -> 0.0.0.0:8080`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from .container import Containers


@dataclass
class PortMapping:
    container_port: int
    proto: str
    host_ip: str
    host_port: int

    def __str__(self) -> str:
        return f"{self.container_port}/{self.proto} -> {self.host_ip}:{self.host_port}"

    @property
    def host(self) -> str:
        return f"{self.host_ip}:{self.host_port}"


def parse_private_port(text: str) -> tuple[int, str]:
    port, _, proto = text.partition("/")
    proto = proto or "tcp"
    if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"Invalid port '{text}': give PORT or PORT/tcp, e.g. 80/tcp")
    return int(port), proto


def ports(containers: Containers, ref: str, private: str | None = None) -> list[PortMapping]:
    c = containers.get(ref)
    wanted = parse_private_port(private) if private is not None else None
    # published while it runs only (a stopped one relays nothing), as Docker shows them
    published = c.record.network.publish if c.record is not None and c.running else []
    out = [PortMapping(p.container_port, p.proto, p.host_ip, p.host_port) for p in published]
    if wanted is not None:
        out = [m for m in out if (m.container_port, m.proto) == wanted]
        if not out:
            raise NotFound(f"No public port '{wanted[0]}/{wanted[1]}' published for {ref}")
    return sorted(out, key=lambda m: (m.container_port, m.proto, m.host_port))
