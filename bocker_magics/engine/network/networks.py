"""Container networking through netlink (pyroute2): a bridge, address leases, veth pairs,
NAT for outbound traffic.

What the seed does with nine `ip` calls per run (and a bridge made by hand):

    network "bridge" (the default)  bridge bocker0, 172.18.0.1/24 (the seed's addresses)
    per container and network       a lease file for its address, a veth pair vb<id> (on the
                                    bridge) <-> eth0 (in the container; vb<id>g <-> eth1 on
                                    a second network, ...), MAC 02:42:<ip>, address, the
                                    default route via one bridge (Docker's rule, plan.py)
    NAT                             ip_forward, MASQUERADE of the subnet, FORWARD accepts
                                    (iptables rules tagged with a comment "bocker:<network>");
                                    an internal network: FORWARD drops off its bridge, no NAT

The veth pair lives as long as the container's network namespace: when the container's
last process exits the kernel removes both ends, so a crash leaves no interface behind.
Published ports are relayed by the container's monitor (relay.py), so they close with it.

Here: networks, their bridges and NAT; leases.py: the address leases; interfaces.py: a
container's veth pairs, addresses and default route.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...errors import BockerError, Conflict, InvalidArgument, NotFound
from ..store import Store, read_json, write_json
from .interfaces import Interfaces, _default_route, _netlink_in  # noqa: F401  (from here as before)
from .leases import Leases
from .model import _NAME, DEFAULT_BRIDGE, DEFAULT_NETWORK, DEFAULT_SUBNET, MODES, Network
from .nat import ensure_nat, remove_nat
from .netlink import on_netlink_thread

OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
BRIDGE_OPTIONS = (OPT_BRIDGE_NAME, OPT_MASQUERADE)


class Networks(Leases, Interfaces):
    """Networks (BOCKER_ROOT/network/<name>.json), their bridges and rules; with their leases
    (BOCKER_ROOT/network/<name>/<address>, leases.py) and a container's interfaces on them
    (interfaces.py) mixed in."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dir = store.network
        self.dir.mkdir(exist_ok=True)
        self._ipr = None
        self._lock = threading.Lock()
        self._ready: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def _register_thread(self) -> None:
        self._thread = threading.current_thread()

    # -- netlink ---------------------------------------------------------------------------
    def ipr(self):
        """One warm netlink socket in the engine's network namespace."""
        if self._ipr is None:
            from pyroute2 import IPRoute
            self._ipr = IPRoute()
        return self._ipr

    def warm(self):
        """Import pyroute2 and open the netlink socket now, on the netlink thread, without
        waiting for it (a long-lived engine warming up); returns the Future."""
        return self._submit(self.ipr)

    def close(self) -> None:
        if self._pool is not None:
            self._close_ipr()
            self._pool.shutdown()
            self._pool = None

    @on_netlink_thread
    def _close_ipr(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    # -- configs ---------------------------------------------------------------------------
    def _file(self, name: str) -> Path:
        if not _NAME.match(name):
            raise InvalidArgument(f"Invalid network name '{name}': letters, digits, '_', '.', '-' (32 at most)")
        return self.dir / f"{name}.json"

    def get(self, name: str) -> Network:
        if name in ("none", "host"):
            raise InvalidArgument(f"'{name}' is a network mode, not a network with a bridge")
        try:
            return Network(**read_json(self._file(name)))
        except FileNotFoundError:
            if name == DEFAULT_NETWORK:
                return Network(DEFAULT_NETWORK, DEFAULT_BRIDGE, DEFAULT_SUBNET, "172.18.0.1")
            raise NotFound(f"No network named '{name}' exists: create it with 'bocker network create {name}'") from None

    def list(self) -> list[Network]:
        nets = {n.stem: Network(**read_json(n)) for n in self.dir.glob("*.json")}
        nets.setdefault(DEFAULT_NETWORK, self.get(DEFAULT_NETWORK))
        return [nets[k] for k in sorted(nets)]

    def create(self, name: str, subnet: str | None = None, gateway: str | None = None,
               bridge: str | None = None, pools=None, labels: dict[str, str] | None = None,
               internal: bool = False, options: dict[str, str] | None = None) -> Network:
        """A network of its own (a bridge and a subnet); made on the host at first use.
        Without a subnet, the first free one of the address pools (pools.py). `internal`: no
        way out (no NAT, nothing forwarded off its bridge, no default route for its containers);
        `options`: Docker's bridge driver options (BRIDGE_OPTIONS)."""
        with self.store.lock():  # two creates never pick the same free subnet
            return self._create(name, subnet, gateway, bridge, pools, labels, internal, options)

    def _create(self, name: str, subnet: str | None, gateway: str | None, bridge: str | None,
                pools, labels: dict[str, str] | None, internal: bool = False,
                options: dict[str, str] | None = None) -> Network:
        from .pools import DEFAULT_POOLS, free_subnet

        path = self._file(name)
        if name in MODES or path.exists():
            raise Conflict(f"Network named '{name}' exists")
        options = dict(options or {})
        unknown = sorted(set(options) - set(BRIDGE_OPTIONS))
        if unknown:
            raise InvalidArgument(f"Unknown network option '{unknown[0]}': bocker's bridge takes "
                                  + ", ".join(BRIDGE_OPTIONS))
        masquerade = options.get(OPT_MASQUERADE, "true").lower()
        if masquerade not in ("true", "false"):
            raise InvalidArgument(f"Invalid -o {OPT_MASQUERADE}={options[OPT_MASQUERADE]}: true or false")
        if options.get(OPT_BRIDGE_NAME):
            if bridge and bridge != options[OPT_BRIDGE_NAME]:
                raise InvalidArgument(f"--bridge {bridge} and -o {OPT_BRIDGE_NAME}={options[OPT_BRIDGE_NAME]} "
                                      "disagree: give one")
            bridge = options[OPT_BRIDGE_NAME]
        if bridge and any(n.bridge == bridge for n in self.list() if self._file(n.name).exists()):
            raise Conflict(f"Bridge '{bridge}' is another network's: choose another name")
        if subnet is None:
            subnet = DEFAULT_SUBNET if name == DEFAULT_NETWORK else str(
                free_subnet([n.subnet for n in self.list()], pools or DEFAULT_POOLS))
        try:
            net = ipaddress.ip_network(subnet, strict=True)
        except ValueError as e:
            raise InvalidArgument(f"Invalid --subnet '{subnet}': {e} (e.g. 172.19.0.0/24)") from None
        if net.version != 4 or net.prefixlen > 29:
            raise InvalidArgument(f"Invalid --subnet '{subnet}': an IPv4 network of /29 or larger")
        gw = gateway or str(next(net.hosts()))
        if ipaddress.ip_address(gw) not in net or gw in (str(net.network_address), str(net.broadcast_address)):
            raise InvalidArgument(f"Invalid --gateway '{gw}': a host address inside {net}")
        bridge = bridge or f"bk-{name}"[:15]
        if not re.fullmatch(r"[a-zA-Z0-9_.-]{1,15}", bridge):
            raise InvalidArgument(f"Invalid bridge name '{bridge}': at most 15 letters, digits, '_', '.', '-'")
        for other in self.list():
            if ipaddress.ip_network(other.subnet).overlaps(net) and (self._file(other.name).exists()
                                                                     or other.name == DEFAULT_NETWORK):
                raise Conflict(f"Subnet {net} overlaps network '{other.name}' ({other.subnet}): choose another")
        config = Network(name, bridge, str(net), gw, labels=dict(labels or {}), internal=bool(internal),
                         options=options)
        write_json(path, config.to_json())
        return config

    @on_netlink_thread
    def remove(self, name: str, in_use: bool) -> None:
        """Remove a network's bridge, rules and record (`bocker network rm`)."""
        net = self.get(name)
        if in_use:
            raise Conflict(f"Network '{name}' has running containers: stop them first")
        with self._lock:
            ipr = self.ipr()
            for index in ipr.link_lookup(ifname=net.bridge):
                if self._is_bridge(index):  # never another kind of interface of that name (eth0)
                    ipr.link("del", index=index)
            remove_nat(net)
            self._ready.discard(name)
        path = self._file(name)
        if name == DEFAULT_NETWORK:
            path.unlink(missing_ok=True)
        elif path.exists():
            path.unlink()
        leases = self.dir / name
        if leases.is_dir():
            for lease in leases.iterdir():
                lease.unlink(missing_ok=True)
            leases.rmdir()

    @on_netlink_thread
    def ensure(self, name: str) -> Network:
        """The network's bridge, address and NAT in place (made if missing)."""
        net = self.get(name)
        if name in self._ready and self.ipr().link_lookup(ifname=net.bridge):
            # a long-lived engine (the bocker server, a notebook) still checks the bridge (one
            # netlink lookup): another process may have removed the network meanwhile
            return net
        with self._lock:
            ipr = self.ipr()
            gw = ipaddress.ip_interface(f"{net.gateway}/{net.prefixlen}")
            if not ipr.link_lookup(ifname=net.bridge):
                self._check_no_overlap(net)
                try:
                    ipr.link("add", ifname=net.bridge, kind="bridge")
                except Exception as e:  # NetlinkError
                    raise BockerError(f"Could not create the bridge {net.bridge}: {e}") from None
            index = ipr.link_lookup(ifname=net.bridge)[0]
            if not self._is_bridge(index):
                raise Conflict(f"The interface {net.bridge} exists and is not a bridge: give network '{net.name}' "
                               "a bridge name of its own (-o com.docker.network.bridge.name=NAME)")
            have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                    for a in ipr.get_addr(index=index, family=socket.AF_INET)}
            if (str(gw.ip), gw.network.prefixlen) not in have:
                ipr.addr("add", index=index, address=str(gw.ip), prefixlen=gw.network.prefixlen)
            ipr.link("set", index=index, state="up")
            ensure_nat(net, lambda n: write_json(self._file(n.name), n.to_json()))
            self._ready.add(name)
            if not self._file(name).exists():  # the default network, made on first use
                write_json(self._file(name), net.to_json())
        return net

    def _is_bridge(self, index: int) -> bool:
        links = self.ipr().get_links(index)
        info = links[0].get_attr("IFLA_LINKINFO") if links else None
        return bool(info) and info.get_attr("IFLA_INFO_KIND") == "bridge"

    def _check_no_overlap(self, net: Network) -> None:
        """Never shadow a network the host already routes to (a LAN, a VPN)."""
        ours = ipaddress.ip_network(net.subnet)
        for route in self.ipr().get_routes(family=socket.AF_INET):
            dst = route.get_attr("RTA_DST")
            if dst is None or route["dst_len"] == 0:
                continue
            theirs = ipaddress.ip_network(f"{dst}/{route['dst_len']}", strict=False)
            if theirs.overlaps(ours):
                dev = route.get_attr("RTA_OIF")
                raise Conflict(f"Subnet {ours} of network '{net.name}' overlaps the host's route to {theirs} "
                               f"(interface {dev}): create a network with another --subnet")

    def used(self) -> bool:
        """Whether any network was ever set up from this root (gc then looks for veths)."""
        return any(self.dir.glob("*.json"))

    @on_netlink_thread
    def bridge_exists(self, bridge: str) -> bool:
        return bool(self.ipr().link_lookup(ifname=bridge))
