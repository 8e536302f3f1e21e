"""A container's network, planned before anything exists and plugged in when it starts.

    request(...)   what was asked (-p, -P, --dns, --network, --ip, more networks) checked: the
                   networks (bridges and NAT made if missing), the host ports free, the
                   nameservers -> a plan with an attachment per network
    plug(...)      at start, under the store lock: an address (a lease) per network and the
                   /etc files; the interfaces themselves (eth0, eth1...) go in when the network
                   namespace exists (the monitor's netns event, container/launch.py)
    unplug(...)    the leases given back and veths that outlived their namespace removed

`network connect|disconnect` of a running container (container/connect.py) adds or takes one
attachment live.

`networks` is a zero-argument callable that gives the engine's Networks: a container on
--network none or host never pays for its import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import InvalidArgument
from ..runtime.protocol import Endpoint, Publish
from .model import DEFAULT_NETWORK

if TYPE_CHECKING:
    from .networks import Networks


@dataclass
class Attachment:
    """The container on one network: what was asked (its aliases there, a static address)
    and, while it runs, what it got (its endpoint: interface, address, MAC; its lease)."""

    network: str
    aliases: list[str] = field(default_factory=list)  # --network-alias / --alias: its other names there
    ip: str = ""                                      # --ip: a static address in the network's subnet
    endpoint: Endpoint | None = None
    lease: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"network": self.network, "aliases": list(self.aliases), "ip": self.ip,
                "endpoint": self.endpoint.as_dict() if self.endpoint else None, "lease": self.lease}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return cls(network=data["network"], aliases=list(data.get("aliases") or []), ip=data.get("ip") or "",
                   endpoint=Endpoint(**data["endpoint"]) if data.get("endpoint") else None, lease=data.get("lease"))


@dataclass
class NetworkPlan:
    """The container's network: the mode, the networks it is attached to (the first is the
    one it was made on: `name`), its published ports and nameservers; each attachment holds
    what it got once started."""

    mode: str = "none"                   # bridge | none | host | container
    name: str = "none"
    publish: list[Publish] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def endpoints(self) -> list[Endpoint]:
        """The interfaces it has (or had, in its last run), eth0 first."""
        return sorted((a.endpoint for a in self.attachments if a.endpoint is not None), key=_if_index)

    @property
    def endpoint(self) -> Endpoint | None:
        """Its first interface (eth0 when it has one): the address `inspect` and /etc/hosts show."""
        eps = self.endpoints
        return eps[0] if eps else None

    @property
    def lease(self) -> str | None:
        ep = self.endpoint
        return next((a.lease for a in self.attachments if a.endpoint is ep), None) if ep else None

    @property
    def networks(self) -> list[str]:
        return [a.network for a in self.attachments]

    def attachment(self, network: str) -> Attachment | None:
        return next((a for a in self.attachments if a.network == network), None)

    def to_json(self) -> dict[str, Any]:
        ep = self.endpoint
        return {"mode": self.mode, "name": self.name, "publish": [p.as_dict() for p in self.publish],
                "dns": list(self.dns), "attachments": [a.to_json() for a in self.attachments],
                # the first interface as records before several networks kept it
                "endpoint": ep.as_dict() if ep else None, "lease": self.lease}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkPlan:
        mode, name = data.get("mode", "none"), data.get("name", "none")
        if "attachments" in data:
            attachments = [Attachment.from_json(a) for a in data["attachments"] or []]
        elif mode == "bridge":  # a record of one network (before connect): its one attachment
            attachments = [Attachment(name, endpoint=Endpoint(**data["endpoint"]) if data.get("endpoint") else None,
                                      lease=data.get("lease"))]
        else:
            attachments = []
        return cls(mode=mode, name=name, publish=[Publish(**p) for p in data.get("publish", [])],
                   dns=list(data.get("dns", [])), attachments=attachments)


def _if_index(ep: Endpoint) -> int:
    digits = ep.ifname[3:]
    return int(digits) if ep.ifname.startswith("eth") and digits.isdigit() else 1 << 20


def gateway_endpoint(endpoints: list[Endpoint]) -> Endpoint | None:
    """The interface the default route goes through, by Docker's rule (libnetwork's endpoint
    order): a network with a way out (not --internal) before one without, then the network
    whose name sorts first; None when every network is internal (no route out at all)."""
    outward = [ep for ep in endpoints if ep.gateway]
    return min(outward, key=lambda ep: ep.network) if outward else None


def _published(publish: list[str], exposed: list[str]) -> list[Publish]:
    """-p as given, then -P: each exposed tcp port not published yet, on a free host port."""
    from .ports import free_port, parse_publish
    ports = [Publish(*parse_publish(p)) for p in publish]
    for spec in exposed:
        port, _, proto = spec.partition("/")
        if (proto or "tcp") == "tcp" and port.isdigit() and not any(p.container_port == int(port) for p in ports):
            ports.append(Publish("0.0.0.0", free_port(), int(port)))
    return ports


def request(networks: Callable[[], Networks], network: str, publish: list[str], dns: list[str] | None, *,
            exposed: list[str] = (), joins: dict[str, str] | None = None, aliases: list[str] = (),
            ip: str | None = None, more: list[dict[str, Any]] = ()) -> NetworkPlan:
    """Checks made before anything exists: the networks (their bridges and NAT made if
    missing), a static address in its network's subnet, the published ports free (-P: each
    exposed port on a free one), the nameservers. `more`: further networks ({name, aliases,
    ip}: `run --network A --network B`, compose's), attached as eth1, eth2..."""
    from .ports import check_port_free
    ports = _published(publish, list(exposed))
    if network.startswith("container:") or network in ("none", "host"):
        if more:
            raise InvalidArgument(f"--network {network} can't be combined with another network: the container "
                                  "has no interface of its own to attach")
        if ip:
            raise InvalidArgument(f"--ip needs a user network, not --network {network}")
    if network.startswith("container:"):
        if ports:
            raise InvalidArgument("-p/-P with --network container:NAME: publish on that container instead")
        return NetworkPlan("container", (joins or {})["network"])
    if ports and network in ("none", "host"):
        raise InvalidArgument(f"-p needs a bridge network: with --network {network} the "
                              "container's ports are " + ("the host's" if network == "host" else "unreachable"))
    for p in ports:
        check_port_free(p.host_ip, p.host_port)
    if dns:
        from .etc_files import resolv_conf
        resolv_conf(dns)  # checks the addresses
    if network in ("none", "host"):
        return NetworkPlan(network, network, ports, list(dns or []))
    wanted = [{"name": network, "aliases": list(aliases), "ip": ip or ""}, *more]
    nets, attachments = networks(), []
    for w in wanted:
        if w["name"] in ("none", "host") or str(w["name"]).startswith("container:"):
            raise InvalidArgument(f"--network {w['name']} can't be combined with another network")
        net = nets.ensure(w["name"])
        if any(a.network == net.name for a in attachments):
            raise InvalidArgument(f"Network '{net.name}' is named twice: a container joins a network once")
        if w.get("ip"):
            nets.check_static(net, w["ip"])
        attachments.append(Attachment(net.name, [str(a) for a in w.get("aliases") or []], w.get("ip") or ""))
    if ports and all(nets.get(a.network).internal for a in attachments):
        raise InvalidArgument(f"-p on internal network '{attachments[0].network}': an internal network has no "
                              "way in or out, so its ports can't be published")
    return NetworkPlan("bridge", attachments[0].network, ports, list(dns or []), attachments)


LEASES_FILE = "leases"  # the container's lease files, one a line: its monitor gives them back as it ends


def write_leases(cdir: Path, plan: NetworkPlan) -> None:
    leases = [a.lease for a in plan.attachments if a.lease]
    if leases:
        (cdir / LEASES_FILE).write_text("".join(f"{lease}\n" for lease in leases))
    else:
        (cdir / LEASES_FILE).unlink(missing_ok=True)


def endpoint_for(net, cid: str, address: str, index: int) -> Endpoint:
    """The container's interface eth<index> on `net` at `address`; an internal network gives
    no gateway (no default route through it)."""
    from .model import host_ifname, mac_for
    return Endpoint(net.name, net.bridge, address, net.prefixlen, "" if net.internal else net.gateway,
                    mac_for(address), host_ifname(cid, index), f"eth{index}")


def plug(networks: Callable[[], Networks], cid: str, cdir: Path, hostname: str, plan: NetworkPlan,
         holds_lease: Callable[[str], bool], names: list[str] = ()) -> None:
    """The container's addresses (a lease on each network) and its /etc files. Call it under
    the store lock. `holds_lease(cid)` says whether another lease's owner may still use its
    address. On a user network (not the default `bridge`, as Docker's) the container asks the
    embedded resolver (dnsd.py) at 127.0.0.11, which answers `names` (its name, id) and the
    aliases of each network there."""
    from .etc_files import hosts_file, resolv_conf
    if plan.mode == "bridge":
        nets = networks()
        for a in plan.attachments:  # what a previous run left (its monitor gives them back, gc too)
            if a.endpoint is not None and a.lease:
                nets.release(a.endpoint.network, a.endpoint.address, cid)
            a.endpoint, a.lease = None, None
        try:
            for index, a in enumerate(plan.attachments):
                net = nets.ensure(a.network)
                address = nets.allocate(net, cid, holds_lease, a.ip or None)
                a.lease = str(nets.dir / net.name / address)
                a.endpoint = endpoint_for(net, cid, address, index)
        except BaseException:
            for a in plan.attachments:
                if a.endpoint is not None:
                    nets.release(a.endpoint.network, a.endpoint.address, cid)
                a.endpoint, a.lease = None, None
            raise
        write_leases(cdir, plan)
    if plan.mode != "host":
        (cdir / "hosts").write_text(hosts_file(hostname, [ep.address for ep in plan.endpoints]))
        (cdir / "hostname").write_text(hostname + "\n")
    upstream = resolv_conf(plan.dns or None)
    entries = dns_entries(cid, hostname, names, plan)
    if entries:
        from .dnsd import write_container_dns
        write_container_dns(cdir, entries, _servers(upstream))
        upstream = _resolver_conf(upstream)
    else:
        (cdir / "dns.json").unlink(missing_ok=True)
    (cdir / "resolv.conf").write_text(upstream)


def _servers(conf: str) -> list[str]:
    return [line.split()[1] for line in conf.splitlines() if line.startswith("nameserver ") and len(line.split()) > 1]


def _resolver_conf(upstream: str) -> str:
    """resolv.conf naming the embedded resolver (its search lines kept)."""
    from .resolver import RESOLVER_ADDRESS
    rest = [line for line in upstream.splitlines() if line.startswith(("search", "domain"))]
    return f"nameserver {RESOLVER_ADDRESS}\n" + "".join(f"{line}\n" for line in rest) + "options ndots:0\n"


def dns_entries(cid: str, hostname: str, names: list[str], plan: NetworkPlan) -> dict[str, dict[str, Any]]:
    """What the resolver answers for this container on each of its user networks (the default
    `bridge` has no names, as Docker's): its address there and its names (the name, that
    network's aliases, the hostname, the id)."""
    out = {}
    for a in plan.attachments:
        if a.endpoint is None or a.network == DEFAULT_NETWORK:
            continue
        out[a.network] = {"address": a.endpoint.address,
                          "names": [n for n in dict.fromkeys([*names, *a.aliases, hostname, cid]) if n]}
    return out


def update_names(cdir: Path, cid: str, hostname: str, names: list[str], plan: NetworkPlan) -> bool:
    """A running container's names after a connect or disconnect: its /etc/hosts (a line per
    network), dns.json per network (and, joining its first user network, resolv.conf turned to
    the resolver, as Docker does). True when the resolver must read it again (dnsd.sync)."""
    from .dnsd import DNS_FILE, write_container_dns
    from .etc_files import hosts_file
    _rewrite_in_place(cdir / "hosts", hosts_file(hostname, [ep.address for ep in plan.endpoints]))
    entries = dns_entries(cid, hostname, names, plan)
    path = cdir / DNS_FILE
    if path.exists():
        import json
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        write_container_dns(cdir, entries, list(old.get("upstreams") or []))
        return True
    if not entries:
        return False
    conf = cdir / "resolv.conf"
    current = conf.read_text() if conf.exists() else ""
    write_container_dns(cdir, entries, _servers(current))
    _rewrite_in_place(conf, _resolver_conf(current))
    return True


def _rewrite_in_place(path: Path, text: str) -> None:
    """In place, never renamed over: the container's /etc file is this file, bind-mounted."""
    if path.exists():
        with open(path, "r+") as f:
            f.write(text)
            f.truncate()


def unplug(networks: Callable[[], Networks], cid: str, plan: NetworkPlan) -> None:
    """Its leases given back; on a bridge, veths that outlived its namespace removed."""
    if not plan.endpoints:
        return
    nets = networks()
    for a in plan.attachments:
        if a.endpoint is not None:
            nets.release(a.endpoint.network, a.endpoint.address, cid)
            if plan.mode == "bridge":
                nets.detach_ifname(a.endpoint.host_ifname)
