"""The /etc files the engine writes for a container: resolv.conf and hosts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from ...errors import InvalidArgument


def resolv_conf(dns: list[str] | None = None) -> str:
    """The container's resolv.conf: --dns if given, else the host's nameservers that a
    container can reach (a loopback stub such as systemd-resolved's 127.0.0.53 is useless
    in another network namespace: its upstream file is used instead). Never a hard-coded
    public resolver: with no usable nameserver the file says so and lists none."""
    if dns:
        for d in dns:
            try:
                ipaddress.ip_address(d)
            except ValueError:
                raise InvalidArgument(f"Invalid --dns '{d}': give a nameserver's IP address") from None
        return "".join(f"nameserver {d}\n" for d in dns)
    for path in ("/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        servers = [l.split()[1] for l in lines if l.startswith("nameserver") and len(l.split()) > 1]
        usable = [s for s in servers if not ipaddress.ip_address(s.split("%")[0]).is_loopback]
        if usable:
            rest = [l for l in lines if l.startswith(("search", "options", "domain"))]
            return "".join(f"nameserver {s}\n" for s in usable) + "".join(f"{l}\n" for l in rest)
    return "# no nameserver the container can reach was found on the host; use --dns\n"


def hosts_file(hostname: str, address: str | list[str] | None) -> str:
    """localhost, and the hostname at the container's address on each of its networks (eth0's
    first, as Docker's /etc/hosts has a line per network it joined); 127.0.1.1 with none."""
    addresses = [address] if isinstance(address, str) else [a for a in address or [] if a]
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{a}\t{hostname}" for a in addresses] or [f"127.0.1.1\t{hostname}"]
    return "\n".join(lines) + "\n"

