"""`network ls|inspect|create|rm`: the networks as the user sees them, each with its bridge,
its subnet, the containers holding leases on it and whether its NAT rules are in place.
(`network connect|disconnect` change a container: container/connect.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .networks import Networks


def inspect(networks: Networks, name: str, names: Callable[[str], str | None] = lambda cid: None) -> dict[str, Any]:
    """The network's record, whether its bridge is up, its rules, `Containers` (each container
    holding an address on it, by id: its address) and `Endpoints`, the same as Docker's
    `Containers` show them: the container's name (`names`), endpoint id, MAC and address with
    the prefix (the API serves these)."""
    from .model import endpoint_id, mac_for
    from .nat import rules_present
    net = networks.get(name)
    ipr_up = networks.bridge_exists(net.bridge)
    leases = sorted(networks.leases(name).items())
    endpoints = {cid: {"Name": names(cid) or cid, "EndpointID": endpoint_id(cid, net.name),
                       "MacAddress": mac_for(address), "IPv4Address": f"{address}/{net.prefixlen}",
                       "IPv6Address": ""}
                 for address, cid in leases}
    return {**net.to_json(), "BridgeExists": ipr_up, "Containers": {cid: address for address, cid in leases},
            "Endpoints": endpoints, "Rules": rules_present(net) if ipr_up else []}


def ls(networks: Networks, names: Callable[[str], str | None] = lambda cid: None) -> list[dict[str, Any]]:
    """Every network with its bridge, subnet, gateway and the containers holding leases."""
    return [inspect(networks, n.name, names) for n in networks.list()]


def create(networks: Networks, name: str, subnet: str | None = None, gateway: str | None = None,
           bridge: str | None = None, pools=None, labels: dict[str, str] | None = None,
           internal: bool = False, options: dict[str, str] | None = None) -> dict[str, Any]:
    """Without a subnet, the first free one of `pools` (the engine config's
    default-address-pools, each with a base and a size; none: Docker's, pools.py)."""
    if subnet is not None or not pools:
        pools = None
    else:
        from .pools import Pool
        pools = [Pool(p.base, p.size) for p in pools]
    net = networks.create(name, subnet, gateway, bridge, pools=pools, labels=labels, internal=internal,
                          options=options)
    try:
        networks.ensure(name)
    except BaseException:
        networks.remove(name, in_use=False)  # nothing half-made stays
        raise
    return inspect(networks, net.name)


def rm(networks: Networks, name: str, in_use: bool) -> str:
    """`in_use`: a running container is on it (then it stays)."""
    networks.remove(name, in_use)
    return name
