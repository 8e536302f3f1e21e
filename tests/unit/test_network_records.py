"""A container's networks as the record keeps them (no root needed): several attachments, a
record of one network (before connect) read as one attachment with its aliases, the names of
the host ends of its veths, Docker's rule for the default route."""

from __future__ import annotations

from bocker_magics.engine.container.record import ContainerRecord
from bocker_magics.engine.network.model import endpoint_id, host_ifname, veth_owner
from bocker_magics.engine.network.plan import Attachment, NetworkPlan, gateway_endpoint
from bocker_magics.engine.runtime.protocol import Endpoint


def ep(network: str, address: str, ifname: str, gateway: str = "x") -> Endpoint:
    return Endpoint(network, "br-" + network, address, 24, gateway, "02:42:00:00:00:01", "vb0", ifname)


def record(network: dict, aliases: list[str] | None = None) -> ContainerRecord:
    return ContainerRecord.from_json({"id": "ps_0123456789", "name": "web", "image": "img_1", "image_name": "busybox",
                                      "layers": [], "command": "sh", "created": 1.0, "network": network,
                                      "aliases": aliases or []})


def test_a_record_of_one_network_reads_as_one_attachment_with_its_aliases():
    old = {"mode": "bridge", "name": "back", "publish": [], "dns": [], "lease": "/r/network/back/10.0.0.2",
           "endpoint": ep("back", "10.0.0.2", "eth0").as_dict()}
    r = record(old, ["db"])
    assert [(a.network, a.aliases, a.lease) for a in r.network.attachments] == \
        [("back", ["db"], "/r/network/back/10.0.0.2")]
    assert r.network.endpoint.address == "10.0.0.2" and r.network.lease == "/r/network/back/10.0.0.2"
    assert record({"mode": "none", "name": "none"}).network.attachments == []


def test_several_attachments_round_trip():
    plan = NetworkPlan("bridge", "a", attachments=[
        Attachment("a", ["x"], "", ep("a", "10.0.0.2", "eth0"), "/l/a"),
        Attachment("b", [], "10.1.0.9", ep("b", "10.1.0.9", "eth1"), "/l/b"),
        Attachment("c", ["y"])])  # recorded, not plugged yet
    data = record(plan.to_json()).network
    assert data == plan
    assert data.networks == ["a", "b", "c"] and [e.ifname for e in data.endpoints] == ["eth0", "eth1"]
    assert plan.to_json()["endpoint"]["address"] == "10.0.0.2"  # the first, for readers of one network


def test_the_host_ends_of_a_containers_veths_name_it():
    cid = "ps_0123456789"
    names = [host_ifname(cid, i) for i in range(4)]
    assert names == ["vb0123456789", "vb0123456789g", "vb0123456789h", "vb0123456789i"]
    assert all(len(n) <= 15 for n in names)
    assert {veth_owner(n, ["ps_aaaaaaaaaa", cid]) for n in names} == {cid}
    assert veth_owner("vb0123456789z", ["ps_aaaaaaaaaa"]) is None
    assert len(endpoint_id(cid, "a")) == 64 and endpoint_id(cid, "a") != endpoint_id(cid, "b")


def test_the_default_route_follows_dockers_rule():
    a, z = ep("alpha", "10.0.0.2", "eth1"), ep("zeta", "10.1.0.2", "eth0")
    internal = ep("aaa-internal", "10.2.0.2", "eth2", gateway="")
    assert gateway_endpoint([z, a, internal]) is a  # a way out first, then the name that sorts first
    assert gateway_endpoint([z, internal]) is z
    assert gateway_endpoint([internal]) is None and gateway_endpoint([]) is None
