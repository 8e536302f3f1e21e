"""Published ports (-p): parsing, the free-port check, and the relay that lives in the monitor."""

from __future__ import annotations

import errno
import ipaddress
import socket

from ...errors import Conflict, InvalidArgument


def parse_publish(spec: str) -> tuple[str, int, int, str]:
    """-p [IP:]HOSTPORT:CTRPORT[/tcp] -> (host ip, host port, container port, proto). An empty
    HOSTPORT (`127.0.0.1::80`, Docker's "any free port") takes a port the kernel says is free."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    parts = text.split(":")
    try:
        if len(parts) == 2:
            ip, (hport, cport) = "0.0.0.0", parts
        elif len(parts) == 3:
            ip, hport, cport = parts
            ipaddress.ip_address(ip)
        else:
            raise ValueError
        h, c = (int(hport) if hport != "" else free_port(ip)), int(cport)
        if not (0 < h < 65536 and 0 < c < 65536) or proto != "tcp":
            raise ValueError
    except ValueError:
        raise InvalidArgument(f"Invalid port '{spec}': use -p [IP:]HOSTPORT:CTRPORT[/tcp], ports 1-65535") from None
    return ip, h, c, proto


def free_port(ip: str = "0.0.0.0") -> int:
    """A port the kernel says is free now (for -P), from the ephemeral range."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def check_port_free(ip: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise Conflict(f"Port {ip}:{port} is already in use on the host: publish another") from None
            raise InvalidArgument(f"Can't publish on {ip}:{port}: {e.strerror}") from None
