"""Container networking: networks and their address leases (networks.py), the data they are
made of (model.py), netlink through pyroute2 (netlink.py), NAT rules (nat.py), the /etc files
of a container (etc_files.py), published ports (ports.py) and their relay (relay.py).

The names below are loaded on first use (PEP 562): the monitor imports relay.py alone, and
`bocker ps` imports none of this.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Network": "model", "Endpoint": "model", "host_ifname": "model", "mac_for": "model",
    "DEFAULT_NETWORK": "model", "DEFAULT_BRIDGE": "model", "DEFAULT_SUBNET": "model", "MODES": "model",
    "resolv_conf": "etc_files", "hosts_file": "etc_files",
    "nat_rules": "nat", "rules_present": "nat",
    "parse_publish": "ports", "check_port_free": "ports",
    "Networks": "networks",
    "PortRelay": "relay",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
