"""Networks and endpoints as data: names, addresses, the interface names derived from ids."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "bocker0"
DEFAULT_SUBNET = "172.18.0.0/24"  # the seed's: br1 with 172.18.0.1/24
MODES = ("bridge", "none", "host")
CONTAINER_IFINDEX = 2
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}\Z")


@dataclass
class Network:
    name: str
    bridge: str
    subnet: str
    gateway: str
    ip_forward_was: str | None = None  # restored when the network is removed
    labels: dict[str, str] = field(default_factory=dict)  # KEY=VALUE, as `network create --label`
    internal: bool = False  # --internal: no NAT, no forwarding off the bridge, no default route for its containers
    options: dict[str, str] = field(default_factory=dict)  # -o, as Docker's bridge driver options

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# a container's interfaces past eth0 (network connect): their host ends end in a letter past hex
EXTRA_SUFFIXES = "ghijklmnopqrstuvwxyz"
MAX_INTERFACES = 1 + len(EXTRA_SUFFIXES)


def host_ifname(container_id: str, index: int = 0) -> str:
    """The host end of a container's veth for its interface eth<index>: 'vb' + the id's hex
    (an interface name holds 15); past eth0, 'vb' + the hex (12 digits at most) + a letter past
    hex (g: eth1, h: eth2...), so every one names its container and none is another's."""
    hexid = container_id.split("_", 1)[1]
    if index == 0:
        return "vb" + hexid[:13]
    return "vb" + hexid[:12] + EXTRA_SUFFIXES[index - 1]


def veth_owner(veth: str, container_ids) -> str | None:
    """The container (of `container_ids`) whose interface a host-side veth is."""
    for cid in container_ids:
        hexid = cid.split("_", 1)[-1]
        if veth == "vb" + hexid[:13] or (veth[:-1] == "vb" + hexid[:12] and veth[-1] in EXTRA_SUFFIXES):
            return cid
    return None


def endpoint_id(container_id: str, network: str) -> str:
    """A stable id for a container's place on a network (Docker's EndpointID: 64 hex digits)."""
    import hashlib
    return hashlib.sha256(f"{container_id}/{network}".encode()).hexdigest()


def mac_for(address: str) -> str:
    """02:42 and the IPv4 address, as Docker does: unique wherever the address is."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(address).packed)

