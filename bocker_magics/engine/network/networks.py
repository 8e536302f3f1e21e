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

"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...errors import BockerError, Conflict, InvalidArgument, NotFound
from ..runtime.protocol import Endpoint
from ..store import Store, read_json, write_json
from .model import _NAME, DEFAULT_BRIDGE, DEFAULT_NETWORK, DEFAULT_SUBNET, MODES, Network
from .nat import ensure_nat, remove_nat
from .netlink import CONTAINER_IFINDEX, new_netns, on_netlink_thread


OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
BRIDGE_OPTIONS = (OPT_BRIDGE_NAME, OPT_MASQUERADE)


class Networks:
    """Networks (BOCKER_ROOT/network/<name>.json), their bridges and rules, and leases
    (BOCKER_ROOT/network/<name>/<address>, made with O_EXCL, holding the container id)."""

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

    # -- leases ----------------------------------------------------------------------------
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

    # -- a container's interface -----------------------------------------------------------
    def new_namespace(self) -> tuple[int, socket.socket]:
        """A new network namespace, for a container that does not exist yet: an fd that
        holds it, and a netlink socket inside it (lo is already up)."""
        return new_netns()

    def attach_async(self, endpoints: list[Endpoint] | Endpoint, ns_fd: int, inside: socket.socket):
        """Start plugging a container's interfaces into a namespace from new_namespace(), on
        the netlink thread, while the container is being started; returns a Future. The fd
        and the socket are closed when it is done: keep your own dup of the fd if needed."""
        if isinstance(endpoints, Endpoint):
            endpoints = [endpoints]
        return self._submit(self._attach, list(endpoints), ns_fd, inside)

    def _submit(self, fn, *args):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bocker-netlink",
                                            initializer=self._register_thread)
        return self._pool.submit(fn, *args)

    def _veth(self, ep: Endpoint, ns_fd: int, index: int | None) -> None:
        """The veth pair: host end on the bridge, the container's end (its name and MAC; in a
        fresh namespace its ifindex too, so no lookup is needed there) created straight into
        the namespace. Call it holding self._lock."""
        ipr = self.ipr()
        bridge = ipr.link_lookup(ifname=ep.bridge)
        if not bridge:
            raise BockerError(f"The bridge {ep.bridge} is gone: run again to recreate it")
        for stale in ipr.link_lookup(ifname=ep.host_ifname):
            # its previous run's pair, still there while something (the resolver's
            # sockets, until it sees the stop) holds that run's namespace
            ipr.link("del", index=stale)
        peer = {"ifname": ep.ifname, "address": ep.mac, "net_ns_fd": ns_fd}
        if index is not None:
            peer["index"] = index
        ipr.link("add", ifname=ep.host_ifname, kind="veth", master=bridge[0], state="up", peer=peer)

    def _attach(self, endpoints: list[Endpoint], ns_fd: int, inside_sock: socket.socket) -> None:
        """A fresh namespace (only lo, ifindex 1): each interface in order (eth0 at ifindex
        2, eth1 at 3...), its address, link up; then the default route through the gateway
        Docker's rule picks (plan.gateway_endpoint), none when every network is internal."""
        from .plan import gateway_endpoint
        current = None
        try:
            with self._lock:
                for n, ep in enumerate(endpoints):
                    current = ep
                    self._veth(ep, ns_fd, CONTAINER_IFINDEX + n)
            from pyroute2 import IPRoute
            with IPRoute(use_socket=inside_sock) as inside:
                for n, ep in enumerate(endpoints):
                    current = ep
                    inside.addr("add", index=CONTAINER_IFINDEX + n, address=ep.address, prefixlen=ep.prefixlen)
                    inside.link("set", index=CONTAINER_IFINDEX + n, state="up")
                gw = gateway_endpoint(endpoints)
                if gw is not None:
                    current = gw
                    inside.route("add", dst="default", gateway=gw.gateway)
        except BockerError:
            raise
        except Exception as e:
            where = current.network if current is not None else "its network"
            raise BockerError(f"Could not connect the container to network '{where}': {e}") from None
        finally:
            os.close(ns_fd)
            inside_sock.close()

    @on_netlink_thread
    def attach_live(self, ep: Endpoint, netns: str, endpoints: list[Endpoint]) -> None:
        """`network connect` of a running container: the interface plugged into its namespace
        (`netns`, /proc/PID/ns/net of its pid 1), its address, link up, and the default route
        put where Docker's rule wants it among `endpoints` (the new one included). A failure
        leaves no interface behind."""
        sock = ns_fd = None
        try:
            ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            sock = _netlink_in(ns_fd)
            with self._lock:
                self._veth(ep, ns_fd, None)
            from pyroute2 import IPRoute
            with IPRoute(use_socket=sock) as inside:
                found = inside.link_lookup(ifname=ep.ifname)
                if not found:
                    raise BockerError(f"{ep.ifname} did not appear in the container")
                inside.addr("add", index=found[0], address=ep.address, prefixlen=ep.prefixlen)
                inside.link("set", index=found[0], state="up")
                _default_route(inside, endpoints)
        except Exception as e:
            with contextlib.suppress(Exception), self._lock:
                for index in self.ipr().link_lookup(ifname=ep.host_ifname):
                    self.ipr().link("del", index=index)
            if isinstance(e, BockerError):
                raise
            raise BockerError(f"Could not connect the container to network '{ep.network}': {e}") from None
        finally:
            if ns_fd is not None:
                os.close(ns_fd)
            if sock is not None:
                sock.close()

    @on_netlink_thread
    def detach_live(self, ep: Endpoint, netns: str | None, remaining: list[Endpoint]) -> None:
        """`network disconnect` of a running container: its interface on that network removed
        (the pair goes with its host end), and the default route moved to what Docker's rule
        picks among the `remaining` interfaces when it went through the one removed."""
        with self._lock:
            ipr = self.ipr()
            for index in ipr.link_lookup(ifname=ep.host_ifname):
                ipr.link("del", index=index)
        if netns is None:
            return
        ns_fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sock = _netlink_in(ns_fd)
        finally:
            os.close(ns_fd)
        from pyroute2 import IPRoute
        try:
            with IPRoute(use_socket=sock) as inside:
                _default_route(inside, remaining)
        finally:
            sock.close()

    @on_netlink_thread
    def detach_ifname(self, ifname: str) -> bool:
        with self._lock:
            ipr = self.ipr()
            found = ipr.link_lookup(ifname=ifname)
            for index in found:
                with contextlib.suppress(Exception):
                    ipr.link("del", index=index)
            return bool(found)

    def used(self) -> bool:
        """Whether any network was ever set up from this root (gc then looks for veths)."""
        return any(self.dir.glob("*.json"))

    @on_netlink_thread
    def bridge_exists(self, bridge: str) -> bool:
        return bool(self.ipr().link_lookup(ifname=bridge))

    @on_netlink_thread
    def veths(self) -> list[str]:
        """Host-side veths of ours (vb<hex>) in this network namespace."""
        with self._lock:
            links = self.ipr().get_links()
        names = [l.get_attr("IFLA_IFNAME") for l in links]
        return [n for n in names if n and re.fullmatch(r"vb[0-9a-f]{10,13}|vb[0-9a-f]{10,12}[g-z]", n)]


def _netlink_in(ns_fd: int) -> socket.socket:
    """A NETLINK_ROUTE socket inside the namespace `ns_fd` (made on a short-lived thread that
    joins it: the engine itself stays where it is)."""
    from ..kernel import linux

    def make() -> socket.socket:
        linux.setns(ns_fd, linux.CLONE_NEWNET)
        return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)

    return linux.on_fresh_thread(make)


def _default_route(inside, endpoints: list[Endpoint]) -> None:
    """The namespace's default route through the gateway Docker's rule picks among
    `endpoints`; none when none has a way out."""
    from .plan import gateway_endpoint
    gw = gateway_endpoint(endpoints)
    if gw is not None:
        inside.route("replace", dst="default", gateway=gw.gateway)
        return
    with contextlib.suppress(Exception):  # no route to remove
        inside.route("del", dst="default")
