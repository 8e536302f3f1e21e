"""A container's network, planned before anything exists and plugged in when it starts.

    request(...)   what was asked (-p, -P, --dns, --network) checked: the network (its bridge
                   and NAT made if missing), the host ports free, the nameservers -> a plan
    plug(...)      at start, under the store lock: the address (a lease) and the /etc files;
                   the interface itself goes in when the network namespace exists (the
                   monitor's netns event, container/launch.py)
    unplug(...)    the lease given back and a veth that outlived its namespace removed

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
class NetworkPlan:
    """The container's network: what was asked (mode, network, ports, dns) and, once
    started, what it got (endpoint, lease)."""

    mode: str = "none"                   # bridge | none | host | container
    name: str = "none"
    publish: list[Publish] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    endpoint: Endpoint | None = None
    lease: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkPlan:
        return cls(mode=data.get("mode", "none"), name=data.get("name", "none"),
                   publish=[Publish(**p) for p in data.get("publish", [])], dns=list(data.get("dns", [])),
                   endpoint=Endpoint(**data["endpoint"]) if data.get("endpoint") else None,
                   lease=data.get("lease"))


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
            exposed: list[str] = (), joins: dict[str, str] | None = None) -> NetworkPlan:
    """Checks made before anything exists: the network (its bridge and NAT made if missing),
    the published ports free (-P: each exposed port on a free one), the nameservers."""
    from .ports import check_port_free
    ports = _published(publish, list(exposed))
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
    net = networks().ensure(network)
    return NetworkPlan("bridge", net.name, ports, list(dns or []))


def plug(networks: Callable[[], Networks], cid: str, cdir: Path, hostname: str, plan: NetworkPlan,
         holds_lease: Callable[[str], bool], names: list[str] = ()) -> None:
    """The container's address (a lease) and its /etc files. Call it under the store lock.
    `holds_lease(cid)` says whether another lease's owner may still use its address. On a user
    network (not the default `bridge`, as Docker's) the container asks the embedded resolver
    (dnsd.py) at 127.0.0.11, which answers `names` (its name, aliases, id) to the network."""
    from .etc_files import hosts_file, resolv_conf
    plan.endpoint = None
    plan.lease = None
    if plan.mode == "bridge":
        from .model import host_ifname, mac_for
        nets = networks()
        net = nets.ensure(plan.name)
        address = nets.allocate(net, cid, holds_lease)
        plan.lease = str(nets.dir / net.name / address)
        plan.endpoint = Endpoint(net.name, net.bridge, address, net.prefixlen, net.gateway, mac_for(address),
                                 host_ifname(cid))
    if plan.mode != "host":
        (cdir / "hosts").write_text(hosts_file(hostname, plan.endpoint.address if plan.endpoint else None))
        (cdir / "hostname").write_text(hostname + "\n")
    upstream = resolv_conf(plan.dns or None)
    if plan.mode == "bridge" and plan.name != DEFAULT_NETWORK and plan.endpoint is not None:
        from .dnsd import write_container_dns
        from .resolver import RESOLVER_ADDRESS
        servers = [line.split()[1] for line in upstream.splitlines() if line.startswith("nameserver ")]
        rest = [line for line in upstream.splitlines() if line.startswith(("search", "domain"))]
        write_container_dns(cdir, {plan.name: {"address": plan.endpoint.address,
                                               "names": [n for n in dict.fromkeys([*names, hostname, cid]) if n]}},
                            servers)
        upstream = f"nameserver {RESOLVER_ADDRESS}\n" + "".join(f"{line}\n" for line in rest) + "options ndots:0\n"
    else:
        (cdir / "dns.json").unlink(missing_ok=True)
    (cdir / "resolv.conf").write_text(upstream)


def unplug(networks: Callable[[], Networks], cid: str, plan: NetworkPlan) -> None:
    """Its lease given back; on a bridge, a veth that outlived its namespace removed."""
    if plan.endpoint is not None:
        nets = networks()
        nets.release(plan.endpoint.network, plan.endpoint.address, cid)
        if plan.mode == "bridge":
            nets.detach(cid)
