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

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def host_ifname(container_id: str) -> str:
    """The host end of a container's veth: 'vb' + the id's hex (an interface name holds 15)."""
    return "vb" + container_id.split("_", 1)[1][:13]


def mac_for(address: str) -> str:
    """02:42 and the IPv4 address, as Docker does: unique wherever the address is."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(address).packed)

