"""Container networking: networks (networks.py), their address leases (leases.py) and a
container's interfaces on them (interfaces.py), the data they are made of (model.py), netlink
through pyroute2 (netlink.py), NAT rules (nat.py), the /etc files of a container
(etc_files.py), published ports (ports.py) and their relay (relay.py).

The names below are loaded on first use (PEP 562): the monitor imports relay.py alone, and
`bocker ps` imports none of this.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_EXPORTS = {
    "Network": "model", "host_ifname": "model", "mac_for": "model",
    "DEFAULT_NETWORK": "model", "DEFAULT_BRIDGE": "model", "DEFAULT_SUBNET": "model", "MODES": "model",
    "resolv_conf": "etc_files", "hosts_file": "etc_files",
    "nat_rules": "nat", "rules_present": "nat",
    "parse_publish": "ports", "check_port_free": "ports",
    "Networks": "networks",
    "PortRelay": "relay",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
