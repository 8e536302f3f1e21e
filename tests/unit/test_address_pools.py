"""Free subnets from the address pools (network create without --subnet)."""

from __future__ import annotations

import ipaddress

import pytest

from bocker_magics.engine.network.pools import DEFAULT_POOLS, Pool, free_subnet, host_routes
from bocker_magics.errors import Conflict


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(text)


def test_first_free_subnet_skips_networks_and_routes():
    assert free_subnet([], routed=[]) == net("172.17.0.0/16")
    assert free_subnet(["172.18.0.0/24"], routed=[net("172.17.0.0/16")]) == net("172.19.0.0/16")
    assert free_subnet(["172.19.0.0/16"], routed=[net("172.16.0.0/12")]) == net("192.168.0.0/20")
    small = (Pool("10.9.0.0/23", 24),)
    assert free_subnet(["10.9.0.0/24"], small, routed=[]) == net("10.9.1.0/24")
    with pytest.raises(Conflict, match="give --subnet"):
        free_subnet(["10.9.0.0/23"], small, routed=[])
    assert DEFAULT_POOLS[0] == Pool("172.17.0.0/16", 16)


def test_host_routes_read_from_proc_format(tmp_path):
    route = tmp_path / "route"
    route.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"      # default: left out
        "eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"      # 192.168.2.0/24
        "tun0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")     # 10.0.0.0/16
    assert host_routes(str(route)) == [net("192.168.2.0/24"), net("10.0.0.0/16")]
    assert host_routes(str(tmp_path / "none")) == []
