"""NAT and forwarding for a network's subnet: iptables rules tagged "bocker:<network>".

Outbound traffic from the subnet is masqueraded; forwarding to and from the bridge accepted.
The comment tag is how `network rm`, gc and the tests find exactly our rules."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

from ...errors import BockerError, HostUnsupported
from .model import Network


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise HostUnsupported("No iptables on this host: install it (apt-get install iptables) "
                              "or run with --network none") from None
    if check and result.returncode:
        raise BockerError(f"iptables {' '.join(args)}: {result.stderr.strip()}")
    return result


def nat_rules(net: Network) -> list[tuple[str, list[str]]]:
    """(table, rule) pairs: outbound NAT of the subnet, and forwarding to and from it. An
    internal network (Docker's --internal): no NAT, forwarding only between its own ports;
    whatever would leave the bridge or come to it from elsewhere is dropped (its containers
    have no default route either, but one with NET_ADMIN could add one)."""
    tag = ["-m", "comment", "--comment", f"bocker:{net.name}"]
    if net.internal:
        return [
            ("filter", ["FORWARD", "-i", net.bridge, "!", "-o", net.bridge, "-j", "DROP", *tag]),
            ("filter", ["FORWARD", "!", "-i", net.bridge, "-o", net.bridge, "-j", "DROP", *tag]),
        ]
    masquerade = (net.options or {}).get("com.docker.network.bridge.enable_ip_masquerade", "true") != "false"
    return [
        *([("nat", ["POSTROUTING", "-s", net.subnet, "!", "-o", net.bridge, "-j", "MASQUERADE", *tag])]
          if masquerade else []),
        ("filter", ["FORWARD", "-i", net.bridge, "-j", "ACCEPT", *tag]),
        ("filter", ["FORWARD", "-o", net.bridge, "-j", "ACCEPT", *tag]),
    ]


def rules_present(net: Network) -> list[str]:
    """The rules of `net` that are in place, in iptables-save form (for tests and inspect)."""
    out = []
    for table in ("nat", "filter"):
        listing = iptables("-t", table, "-S", check=False).stdout
        out += [l for l in listing.splitlines() if f'bocker:{net.name}"' in l or f"bocker:{net.name} " in l
                or l.endswith(f"bocker:{net.name}")]
    return out



def ensure_nat(net: Network, save) -> None:
    """IP forwarding on (the value it had is kept in the network's record, via `save`, and
    restored by remove_nat) and the network's rules in place."""
    forward = Path("/proc/sys/net/ipv4/ip_forward")
    was = forward.read_text().strip()
    if was != "1" and not net.internal:  # an internal network forwards nothing off its bridge
        forward.write_text("1")
        if net.ip_forward_was is None:
            net.ip_forward_was = was
            save(net)
    for table, rule in nat_rules(net):
        if iptables("-t", table, "-C", *rule, check=False).returncode != 0:
            iptables("-t", table, "-I" if table == "filter" else "-A", *rule)


def remove_nat(net: Network) -> None:
    for table, rule in nat_rules(net):
        while iptables("-t", table, "-C", *rule, check=False).returncode == 0:
            iptables("-t", table, "-D", *rule)
    if net.ip_forward_was is not None:
        with contextlib.suppress(OSError):
            Path("/proc/sys/net/ipv4/ip_forward").write_text(net.ip_forward_was)
