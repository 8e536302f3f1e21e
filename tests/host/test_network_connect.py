"""Several networks per container, as Docker's user networks: `network connect` and
`disconnect` of running and stopped containers (eth1, eth2... plugged and unplugged live),
`run --network A --network B`, names answered on each network a container is on (and only
there), internal networks with no way out, the bridge name option, `network inspect`'s
Containers, and nothing left (no veth, no lease) after rm and gc.

All of it in the session's own network namespace; the resolver's upstream is the tests' own
on 127.0.0.1 (never a real lookup); the "outside" a container must not reach is the host side
of another bridge of this namespace."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.support.hostcheck import veths, wait_until
from tests.support.session import bocker
from tests.support.upstream_dns import Upstream

NET_A, NET_B, NET_INT = "cn-a", "cn-b", "cn-int"
SUBNET = {NET_A: "10.240.1.0/24", NET_B: "10.240.2.0/24", NET_INT: "10.240.3.0/24"}
RUN = ["run", "-d", "--dns", "127.0.0.1"]




def ex(cid: str, script: str) -> subprocess.CompletedProcess:
    return bocker("exec", cid, "sh", "-c", script)


def net_inspect(name: str) -> dict:
    return json.loads(bocker("network", "inspect", name, check=True).stdout)


def networks_of(cid: str) -> dict:
    return json.loads(bocker("inspect", cid, check=True).stdout)["Network"]["Networks"]


def addresses(cid: str) -> dict[str, str]:
    """ifname -> IPv4 address, as the container sees its interfaces."""
    out = ex(cid, "ip -o -4 addr show").stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"^\d+: (eth\d+)\s+inet ([\d.]+)/", out, re.M)}


def resolves(cid: str, name: str) -> list[str]:
    """The addresses `name` has from inside `cid` (through its 127.0.0.11)."""
    out = ex(cid, f"nslookup {name} 2>&1").stdout
    answer = out.split(name, 1)[1] if name in out else ""
    return re.findall(r"Address(?: \d+)?:\s*([\d.]+)", answer)


@pytest.fixture
def nets():
    upstream = Upstream({})
    made: list[str] = []
    for name in (NET_A, NET_B):
        bocker("network", "create", "--subnet", SUBNET[name], name, check=True)
    yield made
    for cid in made:
        bocker("rm", "-f", cid)
    for name in (NET_A, NET_B, NET_INT):
        bocker("network", "rm", name)
    upstream.close()
    assert not [v for v in veths() if any(v.startswith("vb" + c[3:]) for c in made)]


def run(made: list[str], *args: str) -> str:
    cid = bocker(*RUN, *args, check=True).stdout.strip()
    made.append(cid)
    return cid


def test_connect_and_disconnect_a_running_container(nets):
    web = run(nets, "--name", "cn-web", "--network", NET_A, "busybox", "sleep 300")
    peer_b = run(nets, "--name", "cn-peer-b", "--network", NET_B, "busybox", "sleep 300")
    peer_a = run(nets, "--name", "cn-peer-a", "--network", NET_A, "busybox", "sleep 300")
    before = addresses(web)
    assert list(before) == ["eth0"] and before["eth0"].startswith("10.240.1.")

    r = bocker("network", "connect", "--alias", "webalias", NET_B, "cn-web")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    now = addresses(web)
    assert now["eth0"] == before["eth0"] and now["eth1"].startswith("10.240.2."), now
    assert "default via 10.240.1.1 dev eth0" in ex(web, "ip route").stdout  # the first network keeps it
    on = networks_of(web)
    assert list(on) == [NET_A, NET_B]
    assert (on[NET_B]["Interface"], on[NET_B]["Address"], on[NET_B]["Aliases"]) == ("eth1", now["eth1"], ["webalias"])
    assert on[NET_B]["HostVeth"] in veths() and on[NET_A]["HostVeth"] in veths()
    assert net_inspect(NET_B)["Containers"][web] == now["eth1"]
    entry = net_inspect(NET_B)["Endpoints"][web]  # Docker's shape of network inspect's Containers
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in now["eth1"].split("."))
    assert entry["Name"] == "cn-web" and entry["IPv4Address"] == now["eth1"] + "/24"
    assert entry["MacAddress"] == mac and re.fullmatch(r"[0-9a-f]{64}", entry["EndpointID"])
    assert mac in ex(web, "cat /sys/class/net/eth1/address").stdout
    hosts = ex(web, "cat /etc/hosts").stdout  # a line per network, as Docker's
    assert f"{now['eth0']}\t" in hosts and f"{now['eth1']}\t" in hosts, hosts
    # its name on each network is its address there, to that network's containers only
    assert resolves(peer_b, "cn-web") == [now["eth1"]]
    assert resolves(peer_b, "webalias") == [now["eth1"]]
    assert resolves(peer_a, "cn-web") == [now["eth0"]]
    assert resolves(peer_a, "webalias") == []  # the alias is its name on cn-b only
    assert resolves(peer_a, "cn-peer-b") == []  # not on cn-a
    assert resolves(web, "cn-peer-b") and resolves(web, "cn-peer-a")  # it sees both networks now
    assert "1 packets received" in ex(peer_b, "ping -c 1 -W 2 cn-web").stdout

    r = bocker("network", "disconnect", NET_B, "cn-web")
    assert r.returncode == 0, r.stderr
    assert list(addresses(web)) == ["eth0"]
    assert "eth1" not in ex(web, "ip -o link").stdout
    assert f"{now['eth1']}\t" not in ex(web, "cat /etc/hosts").stdout
    assert "default via 10.240.1.1 dev eth0" in ex(web, "ip route").stdout
    assert resolves(peer_b, "cn-web") == [] and resolves(peer_b, "webalias") == []
    assert resolves(peer_a, "cn-web") == [now["eth0"]]
    assert web not in net_inspect(NET_B)["Containers"] and web in net_inspect(NET_A)["Containers"]
    assert wait_until(lambda: on[NET_B]["HostVeth"] not in veths())
    assert list(networks_of(web)) == [NET_A]
    # connected again: a fresh interface, the lowest free name
    bocker("network", "connect", NET_B, "cn-web", check=True)
    assert set(addresses(web)) == {"eth0", "eth1"}
    assert resolves(peer_b, "cn-web") == [addresses(web)["eth1"]]
    bocker("rm", "-f", web, check=True)
    assert web not in net_inspect(NET_A)["Containers"] and web not in net_inspect(NET_B)["Containers"]
    assert wait_until(lambda: not [v for v in veths() if v.startswith("vb" + web[3:])])


def test_a_stopped_container_is_connected_at_its_next_start(nets):
    cid = bocker("create", "--name", "cn-later", "--dns", "127.0.0.1", "--network", NET_A, "busybox", "sleep 300",
                 check=True).stdout.strip()
    nets.append(cid)
    bocker("network", "connect", "--ip", "10.240.2.50", "--alias", "later-b", NET_B, "cn-later", check=True)
    assert networks_of(cid)[NET_B]["Address"] is None  # recorded, plugged at start
    assert cid not in net_inspect(NET_B)["Containers"]
    bocker("start", cid, check=True)
    assert addresses(cid) == {"eth0": addresses(cid)["eth0"], "eth1": "10.240.2.50"}
    peer = run(nets, "--network", NET_B, "busybox", "sleep 300")
    assert resolves(peer, "later-b") == ["10.240.2.50"]
    # stop: every lease given back (its monitor does), no veth; start: the same networks again
    bocker("stop", "-t", "1", cid, check=True)
    assert wait_until(lambda: cid not in net_inspect(NET_B)["Containers"] and cid not in net_inspect(NET_A)["Containers"])
    assert wait_until(lambda: not [v for v in veths() if v.startswith("vb" + cid[3:])])
    bocker("start", cid, check=True)
    assert set(addresses(cid)) == {"eth0", "eth1"} and addresses(cid)["eth1"] == "10.240.2.50"
    bocker("restart", "-t", "1", cid, check=True)
    assert set(addresses(cid)) == {"eth0", "eth1"}
    assert resolves(peer, "cn-later") == ["10.240.2.50"]
    # a stopped container leaves a network on its record
    bocker("stop", "-t", "1", cid, check=True)
    bocker("network", "disconnect", NET_A, cid, check=True)
    bocker("start", cid, check=True)
    assert addresses(cid) == {"eth0": "10.240.2.50"}
    assert "default via 10.240.2.1 dev eth0" in ex(cid, "ip route").stdout
    bocker("rm", "-f", cid, check=True)
    assert wait_until(lambda: not [v for v in veths() if v.startswith("vb" + cid[3:])])
    assert cid not in net_inspect(NET_B)["Containers"]
    assert not [line for line in bocker("gc", check=True).stdout.splitlines() if "lease" in line or "veth" in line]


def test_run_on_two_networks_the_default_route_by_dockers_rule(nets):
    # eth0 on cn-b (the first --network), eth1 on cn-a; the default route through the network
    # whose name sorts first (libnetwork orders a sandbox's endpoints so), here cn-a
    cid = run(nets, "--network", NET_B, "--network", NET_A, "busybox", "sleep 300")
    have = addresses(cid)
    assert have["eth0"].startswith("10.240.2.") and have["eth1"].startswith("10.240.1.")
    assert "default via 10.240.1.1 dev eth1" in ex(cid, "ip route").stdout
    # leaving cn-a moves the default route to what is left
    bocker("network", "disconnect", NET_A, cid, check=True)
    assert "default via 10.240.2.1 dev eth0" in ex(cid, "ip route").stdout
    assert bocker("ps", "--filter", f"network={NET_B}", "-q").stdout.split() == [cid]


def test_an_internal_network_has_no_way_out(nets):
    r = bocker("network", "create", "--internal", "--subnet", SUBNET[NET_INT], "-o",
               "com.docker.network.bridge.name=cn-int-br", "--label", "tier=back", NET_INT)
    assert r.returncode == 0, r.stderr
    info = net_inspect(NET_INT)
    assert info["internal"] is True and info["bridge"] == "cn-int-br" and info["labels"] == {"tier": "back"}
    assert info["options"] == {"com.docker.network.bridge.name": "cn-int-br"}
    assert "cn-int-br" in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not [rule for rule in info["Rules"] if "MASQUERADE" in rule]
    inside = run(nets, "--name", "cn-inside", "--network", NET_INT, "busybox", "sleep 300")
    outward = run(nets, "--network", NET_A, "busybox", "sleep 300")
    assert "default" not in ex(inside, "ip route").stdout
    # the host side of another bridge: reached from a network with a way out, not from inside
    assert "1 packets received" in ex(outward, "ping -c 1 -W 2 10.240.2.1").stdout
    assert ex(inside, "ping -c 1 -W 1 10.240.2.1").returncode != 0
    # its own bridge and its peers on it are reachable; by name too
    other = run(nets, "--network", NET_INT, "busybox", "sleep 300")
    assert "1 packets received" in ex(other, "ping -c 1 -W 2 cn-inside").stdout
    # published ports on an internal network alone: refused, as there is no way in
    r = bocker("run", "-d", "-p", "18080:80", "--network", NET_INT, "busybox", "sleep 300")
    assert r.returncode != 0 and "internal" in r.stderr and "Traceback" not in r.stderr
    # joined to a network with a way out, it goes out through that one
    bocker("network", "connect", NET_A, inside, check=True)
    assert "default via 10.240.1.1 dev eth1" in ex(inside, "ip route").stdout
    assert "1 packets received" in ex(inside, "ping -c 1 -W 2 10.240.2.1").stdout
    bocker("network", "disconnect", NET_A, inside, check=True)
    assert "default" not in ex(inside, "ip route").stdout


def test_mistakes_are_one_line_and_change_nothing(nets):
    web = run(nets, "--name", "cn-bad", "--network", NET_A, "busybox", "sleep 300")
    lonely = run(nets, "--network", "none", "busybox", "sleep 300")
    cases = [
        (["network", "connect", "no-such-net", web], "no-such-net"),
        (["network", "connect", NET_A, web], "already exists"),
        (["network", "connect", NET_B, "no-such-container"], "no-such-container"),
        (["network", "connect", "--ip", "10.9.9.9", NET_B, web], "10.9.9.9"),
        (["network", "connect", NET_B, lonely], "--network none"),
        (["network", "disconnect", NET_B, web], "not connected"),
        (["network", "connect", NET_B], "container"),
        (["network", "create", "-o", "com.docker.network.bridge.mystery=1", "cn-odd"], "mystery"),
        (["network", "create", "-o", "com.docker.network.bridge.name=lo", "cn-odd"], "not a bridge"),
    ]
    for args, words in cases:
        r = bocker(*args)
        assert r.returncode != 0 and words in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert list(networks_of(web)) == [NET_A] and list(addresses(web)) == ["eth0"]
    assert web not in net_inspect(NET_B)["Containers"]
    assert "cn-odd" not in bocker("network", "ls").stdout
    assert "lo" in subprocess.run(["ip", "-o", "link", "show", "lo"], capture_output=True, text=True).stdout


def test_a_container_of_the_default_bridge_joins_a_user_network_and_its_names(nets):
    peer = run(nets, "--name", "cn-peer", "--network", NET_B, "busybox", "sleep 300")
    plain = run(nets, "--name", "cn-plain", "busybox", "sleep 300")
    assert "127.0.0.11" not in ex(plain, "cat /etc/resolv.conf").stdout  # the default bridge: no names
    bocker("network", "connect", NET_B, "cn-plain", check=True)
    assert "nameserver 127.0.0.11" in ex(plain, "cat /etc/resolv.conf").stdout
    assert resolves(plain, "cn-peer") == [addresses(peer)["eth0"]]
    assert resolves(peer, "cn-plain") == [addresses(plain)["eth1"]]
    assert "default via 172.18.0.1 dev eth0" in ex(plain, "ip route").stdout  # bridge sorts before cn-b
    bocker("network", "disconnect", NET_B, "cn-plain", check=True)
    assert resolves(peer, "cn-plain") == []
    assert resolves(plain, "cn-peer") == []  # off cn-b: its resolver forwards everything upstream


def test_after_kill_9_of_the_monitor_gc_removes_every_lease_and_veth(fresh_root):
    upstream = Upstream({})
    try:
        for name, subnet in (("cn-k1", "10.240.5.0/24"), ("cn-k2", "10.240.6.0/24")):
            bocker("network", "create", "--subnet", subnet, name, check=True)
        r = bocker("run", "--network", "cn-k1", "--network", "cn-k2", "--dns", "127.0.0.1", "busybox", "sleep 30",
                   env={"BOCKER_CRASH_AT": "running"})
        assert r.returncode == 1
        cid = next((fresh_root / "containers").iterdir()).name
        mine = [v for v in veths() if v.startswith("vb" + cid[3:])]
        assert sorted(mine) == ["vb" + cid[3:], "vb" + cid[3:] + "g"]
        assert cid in net_inspect("cn-k1")["Containers"] and cid in net_inspect("cn-k2")["Containers"]
        out = bocker("gc", check=True).stdout
        assert f"cgroup of {cid}" in out and "lease cn-k1/" in out and "lease cn-k2/" in out, out
        assert wait_until(lambda: not [v for v in veths() if v.startswith("vb" + cid[3:])])
        assert cid not in net_inspect("cn-k1")["Containers"] and cid not in net_inspect("cn-k2")["Containers"]
        bocker("rm", cid, check=True)
    finally:
        bocker("network", "rm", "cn-k1")
        bocker("network", "rm", "cn-k2")
        upstream.close()
