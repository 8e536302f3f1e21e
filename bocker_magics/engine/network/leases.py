"""Address leases (libnetwork's IPAM, as files): BOCKER_ROOT/network/<name>/<address>, made
with O_EXCL and holding the container id, so two engines never hand out the same address; a
lease whose container is gone is taken back; --ip's static address checked against the subnet."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from pathlib import Path

from ...errors import Conflict, InvalidArgument
from .model import DEFAULT_NETWORK, Network


class Leases:
    """Mixed into Networks: `dir` is BOCKER_ROOT/network."""

    dir: Path

    def check_static(self, net: Network, address: str) -> str:
        """--ip: an IPv4 host address of the network's subnet, not its gateway."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise InvalidArgument(f"Invalid IP address '{address}': give an IPv4 address like 172.19.0.5") from None
        if net.name == DEFAULT_NETWORK:
            raise InvalidArgument("user specified IP address is supported on user defined networks only")
        subnet = ipaddress.ip_network(net.subnet)
        if ip.version != 4 or ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
            raise InvalidArgument(f"Invalid IP address {address}: not a host address of network '{net.name}' "
                                  f"({net.subnet})")
        if str(ip) == net.gateway:
            raise InvalidArgument(f"Invalid IP address {address}: it is the gateway of network '{net.name}'")
        return str(ip)

    def allocate(self, net: Network, container_id: str, alive, wanted: str | None = None) -> str:
        """A free address of the subnet for the container (or `wanted`, a static one): a lease
        file made with O_EXCL, so two engines never hand out the same one. A lease whose
        container is gone or dead (`alive(id)` is False) is taken back. Call it holding the
        store lock."""
        leases = self.dir / net.name
        leases.mkdir(exist_ok=True)
        if wanted:
            address = self.check_static(net, wanted)
            path = leases / address
            while True:
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    break
                except FileExistsError:
                    if not self._reclaim(path, alive):
                        raise Conflict(f"Address already in use: {address} on network '{net.name}'") from None
            with os.fdopen(fd, "w") as f:
                f.write(container_id)
            return address
        subnet = ipaddress.ip_network(net.subnet)
        for host in subnet.hosts():
            address = str(host)
            if address == net.gateway:
                continue
            path = leases / address
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if self._reclaim(path, alive):
                    return self.allocate(net, container_id, alive)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(container_id)
            return address
        raise Conflict(f"No free address left in network '{net.name}' ({net.subnet}): remove containers "
                       "or create a larger network")

    def _reclaim(self, path: Path, alive) -> bool:
        """Take back a lease whose owner is gone. The caller holds the store lock (the
        engine allocates under it), so no other engine decides the same at once."""
        try:
            owner = path.read_text().strip()
        except FileNotFoundError:
            return True
        if owner and alive(owner):
            return False
        path.unlink(missing_ok=True)
        return True

    def release(self, network: str, address: str, container_id: str) -> None:
        path = self.dir / network / address
        with contextlib.suppress(FileNotFoundError):
            if path.read_text().strip() == container_id:
                path.unlink()

    def leases(self, network: str) -> dict[str, str]:
        """address -> container id."""
        d = self.dir / network
        return {p.name: p.read_text().strip() for p in d.iterdir()} if d.is_dir() else {}
