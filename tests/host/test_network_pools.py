"""`bocker network create NAME` without --subnet: a free subnet of the pools, never the default
bridge's, another network's, or one the host routes to (here: the session's namespace)."""

from __future__ import annotations

import ipaddress
import json
import subprocess

from tests.support.session import bocker


def subnet_of(name: str) -> ipaddress.IPv4Network:
    r = bocker("network", "inspect", name, check=True)
    return ipaddress.ip_network(json.loads(r.stdout)["subnet"] if r.stdout.lstrip().startswith("{")
                                else json.loads(r.stdout)[0]["subnet"])


def test_networks_without_subnet_get_free_ones():
    # the host routes 172.17.0.0/16 (as on a machine with docker0): never taken
    subprocess.run(["ip", "link", "add", "pooltest0", "type", "veth", "peer", "name", "pooltest1"], check=True)
    subprocess.run(["ip", "addr", "add", "172.17.0.1/16", "dev", "pooltest0"], check=True)
    subprocess.run(["ip", "link", "set", "pooltest0", "up"], check=True)
    try:
        from bocker_magics.engine.network.pools import host_routes
        assert ipaddress.ip_network("172.17.0.0/16") in host_routes()
        bocker("network", "create", "poola", check=True)
        bocker("network", "create", "poolb", check=True)
        a, b = subnet_of("poola"), subnet_of("poolb")
        bridge = ipaddress.ip_network("172.18.0.0/24")
        routed = ipaddress.ip_network("172.17.0.0/16")
        assert not a.overlaps(b) and not a.overlaps(bridge) and not b.overlaps(bridge)
        assert not a.overlaps(routed) and not b.overlaps(routed)
        # a container on it gets an address of that subnet
        r = bocker("run", "--rm", "--network", "poola", "busybox", "ip -4 -o addr show eth0", check=True)
        address = r.stdout.split()[3]
        assert ipaddress.ip_interface(address).ip in a, r.stdout
    finally:
        bocker("network", "rm", "poola")
        bocker("network", "rm", "poolb")
        subprocess.run(["ip", "link", "del", "pooltest0"], check=True)


def test_the_engine_config_gives_the_pools(tmp_path):
    config = tmp_path / "daemon.json"
    config.write_text('{"default-address-pools": [{"base": "10.123.0.0/16", "size": 24}]}')
    env = {"BOCKER_CONFIG": str(config)}
    try:
        bocker("network", "create", "poolc", env=env, check=True)
        assert subnet_of("poolc") == ipaddress.ip_network("10.123.0.0/24")
    finally:
        bocker("network", "rm", "poolc", env=env)
