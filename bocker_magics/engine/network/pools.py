"""Free subnets for networks made without `--subnet`, as Docker's default address pools give
them: the first subnet of the pools that no network of ours has and that the host does not
already route to (a LAN, a VPN, another engine's bridge). The host's routes are read from
/proc/net/route (no netlink socket needed for a `network create`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ...errors import Conflict


@dataclass(frozen=True)
class Pool:
    base: str  # "172.17.0.0/16"
    size: int  # the prefix length of each network cut from it

    def subnets(self) -> Iterator[ipaddress.IPv4Network]:
        return ipaddress.ip_network(self.base).subnets(new_prefix=self.size)


# Docker's default-address-pools; the engine's config file (config.py) may give others
DEFAULT_POOLS = (Pool("172.17.0.0/16", 16), Pool("172.18.0.0/16", 16), Pool("172.19.0.0/16", 16),
                 Pool("172.20.0.0/14", 16), Pool("172.24.0.0/14", 16), Pool("172.28.0.0/14", 16),
                 Pool("192.168.0.0/16", 20))


def host_routes(path: str = "/proc/net/route") -> list[ipaddress.IPv4Network]:
    """The IPv4 destinations this network namespace routes to (the default route left out)."""
    routes = []
    try:
        with open(path) as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) < 8:
                    continue
                dest = int(fields[1], 16).to_bytes(4, "little")
                mask = int(fields[7], 16).to_bytes(4, "little")
                network = ipaddress.ip_network(f"{ipaddress.IPv4Address(dest)}/{ipaddress.IPv4Address(mask)}",
                                               strict=False)
                if network.prefixlen:
                    routes.append(network)
    except OSError:
        pass
    return routes


def free_subnet(taken: Iterable[str], pools: Iterable[Pool] = DEFAULT_POOLS,
                routed: Iterable[ipaddress.IPv4Network] | None = None) -> ipaddress.IPv4Network:
    """The first subnet of `pools` that overlaps none of `taken` and nothing the host routes."""
    busy = [ipaddress.ip_network(t) for t in taken] + list(host_routes() if routed is None else routed)
    for pool in pools:
        for candidate in pool.subnets():
            if not any(candidate.overlaps(b) for b in busy):
                return candidate
    raise Conflict("every subnet of the address pools is taken or routed by the host: give --subnet, "
                   "or add pools (default-address-pools in the engine's config)")
