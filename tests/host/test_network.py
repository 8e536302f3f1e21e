"""Networking: bridge, addresses that never collide, NAT, published ports, container to
container, teardown. All of it inside the session's own network namespace (conftest.py):
nothing here touches the host's network, and no traffic leaves the machine."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bocker_magics.engine.network import rules_present
from tests.support.hostcheck import leftovers, veths, wait_until
from tests.support.session import CGROUP_PARENT, bocker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_container_has_its_own_address_route_and_reaches_the_gateway(engine, busybox):
    r = engine.run(busybox, "ip -o -4 addr show eth0; ip route; cat /sys/class/net/eth0/address; "
                            "ping -c 1 -W 2 172.18.0.1 >/dev/null && echo gateway-ok")
    assert r.exit_code == 0, r.text
    m = re.search(r"inet (172\.18\.0\.\d+)/24", r.text)
    assert m, r.text
    address = m.group(1)
    assert address != "172.18.0.1"
    assert "default via 172.18.0.1 dev eth0" in r.text
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in address.split("."))
    assert mac in r.text and "gateway-ok" in r.text
    info = engine.inspect(r.id)["Network"]
    assert (info["Address"], info["MacAddress"], info["Interface"], info["HostVeth"]) == \
        (address, mac, "eth0", "vb" + r.id[3:])


def test_etc_files_and_dns(engine, busybox):
    r = engine.run(busybox, "cat /etc/hostname; cat /etc/hosts; echo --; cat /etc/resolv.conf",
                   hostname="web1")
    hostname, rest = r.text.split("\n", 1)
    hosts, resolv = rest.split("--\n")
    assert hostname == "web1"
    assert re.search(r"^172\.18\.0\.\d+\tweb1$", hosts, re.M) and "127.0.0.1\tlocalhost" in hosts
    host_servers = [l.split()[1] for l in Path("/etc/resolv.conf").read_text().splitlines() if l.startswith("nameserver")]
    usable = [s for s in host_servers if not ipaddress.ip_address(s).is_loopback]
    assert [l.split()[1] for l in resolv.splitlines() if l.startswith("nameserver")] == usable
    for public in ("8.8.8.8", "1.1.1.1", "114.114.114.114"):  # never a hard-coded resolver
        assert public not in resolv
    r = engine.run(busybox, "cat /etc/resolv.conf", dns=["10.53.0.1"])
    assert r.text == "nameserver 10.53.0.1\n"


def test_network_none_and_host(engine, busybox):
    r = engine.run(busybox, "ls /sys/class/net", network="none")
    assert r.text.split() == ["lo"]
    # host: the engine's own network namespace (here the session's), interfaces and all
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    mine = sorted(l.split(":")[1].strip().split("@")[0] for l in links.splitlines())
    r = engine.run(busybox, "ls /sys/class/net; readlink /proc/self/ns/net", network="host")
    assert sorted(r.text.split()[:-1]) == mine
    assert r.text.split()[-1] == os.readlink("/proc/self/ns/net")


def test_50_parallel_runs_get_distinct_addresses(engine, busybox):
    ids: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            ids.append(engine.run(busybox, "sleep 20", detach=True, limits=None).id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(50)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        addresses = [engine.inspect(i)["Network"]["Address"] for i in ids]
        assert len(ids) == 50 and len(set(addresses)) == 50
        assert "172.18.0.1" not in addresses
        assert set(engine.networks.leases("bridge")) >= set(addresses)
    finally:
        for i in ids:
            engine.rm(i, force=True)
    assert not set(engine.networks.leases("bridge")) & set(addresses)  # freed on removal
    assert wait_until(lambda: not [v for v in veths() if v in {"vb" + i[3:] for i in ids}])


def test_the_seeds_address_scheme_collides_and_ours_does_not(engine, tmp_path):
    # The seed: ip="$(echo "${uuid: -3}" | sed 's/0//g')" -> 172.18.0.$ip
    def seed(uuid: str) -> str:
        return "172.18.0." + uuid[-3:].replace("0", "")
    assert seed("ps_42017") == seed("ps_42107") == "172.18.0.17"
    assert seed("ps_42100") == "172.18.0.1"  # the gateway's address
    net = engine.networks.get("bridge")
    ours = [engine.networks.allocate(net, cid, lambda _: True) for cid in ("ps_42017", "ps_42107", "ps_42100")]
    try:
        assert len(set(ours)) == 3 and net.gateway not in ours
    finally:
        for cid, address in zip(("ps_42017", "ps_42107", "ps_42100"), ours):
            engine.networks.release("bridge", address, cid)


def test_a_dead_containers_lease_is_reclaimed(engine, busybox):
    net = engine.networks.get("bridge")
    address = engine.networks.allocate(net, "ps_00deadbeef", engine.containers.holds_lease)  # no such container
    taken = engine.networks.allocate(net, "ps_0000000001", engine.containers.holds_lease)
    engine.networks.release("bridge", taken, "ps_0000000001")
    assert taken == address  # the stale lease was taken back


def test_nat_rule_and_ip_forward_are_set_up_and_removed(fresh_root):
    bocker("network", "create", "natnet", "--subnet", "172.31.250.0/24", check=True)
    info = json.loads(bocker("network", "inspect", "natnet").stdout)
    assert any("-A POSTROUTING -s 172.31.250.0/24 ! -o bk-natnet" in r and "MASQUERADE" in r for r in info["Rules"])
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    r = bocker("run", "--network", "natnet", "busybox", "ip -o -4 addr show eth0")
    assert "inet 172.31.250.2/24" in r.stdout, r.stdout + r.stderr
    assert "natnet" in bocker("network", "ls").stdout
    assert bocker("network", "rm", "natnet").stdout == "Removed: natnet\n"
    from bocker_magics.engine.network import Network
    assert rules_present(Network("natnet", "bk-natnet", "172.31.250.0/24", "172.31.250.1")) == []
    assert "bk-natnet" not in os.listdir("/sys/class/net")


def test_a_subnet_that_shadows_a_host_route_is_refused(fresh_root):
    # a route the "host" (the session's namespace) already has, on a dummy link of ours
    subprocess.run(["ip", "link", "add", "bkdummy0", "type", "veth", "peer", "name", "bkdummy1"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.213.0.1/24", "dev", "bkdummy0"], check=True)
        subprocess.run(["ip", "link", "set", "bkdummy0", "up"], check=True)
        r = bocker("network", "create", "shadow", "--subnet", "10.213.0.0/25")
        assert r.returncode == 1 and r.stderr.count("\n") == 1
        assert "overlaps the host's route to 10.213.0.0/24" in r.stderr, r.stderr
        assert "shadow" not in bocker("network", "ls").stdout  # nothing was made
        assert "bk-shadow" not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    finally:
        subprocess.run(["ip", "link", "del", "bkdummy0"])


def test_published_port_reaches_a_server_in_the_container():
    port = free_port()
    cid = bocker("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox",
                 "echo served-by-container > /tmp/index.html; httpd -f -p 80 -h /tmp", check=True).stdout.strip()
    try:
        body = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and body is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                    data = b""
                    while chunk := s.recv(4096):
                        data += chunk
                body = data.decode()
            except OSError:
                time.sleep(0.1)
        assert body and body.startswith("HTTP/1.") and "served-by-container" in body, body
        info = json.loads(bocker("inspect", cid).stdout)
        assert info["Network"]["Ports"] == [f"127.0.0.1:{port}->80/tcp"]
    finally:
        bocker("rm", "-f", cid)
    with pytest.raises(OSError):  # the port closed with the container
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_port_already_taken_is_one_line_and_changes_nothing(assert_nothing_left):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = bocker("run", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert r.returncode == 1 and r.stderr == f"Port 127.0.0.1:{port} is already in use on the host: publish another\n"
    assert_nothing_left()
    r = bocker("run", "-p", "99999:80", "busybox", "true")
    assert r.returncode == 1 and "Invalid port '99999:80'" in r.stderr
    r = bocker("run", "--network", "none", "-p", "8080:80", "busybox", "true")
    assert r.returncode == 1 and "-p needs a bridge network" in r.stderr


def test_two_containers_reach_each_other(engine, busybox):
    server = engine.run(busybox, "echo pong-from-server | nc -l -p 7000", detach=True)
    try:
        address = engine.inspect(server.id)["Network"]["Address"]
        r = engine.run(busybox, f"ping -c 1 -W 2 {address} >/dev/null && echo ping-ok; "
                                f"for i in 1 2 3 4 5 6 7 8 9 10; do nc {address} 7000 </dev/null && break; sleep 0.2; done")
        assert "ping-ok" in r.text and "pong-from-server" in r.text, r.text
    finally:
        engine.rm(server.id, force=True)


def test_network_ls_inspect_and_container_inspect(engine, busybox):
    r = engine.run(busybox, "sleep 20", detach=True)
    try:
        c = engine.container(r.id)
        info = engine.inspect(r.id)["Network"]
        assert info["NetnsInode"] == os.stat(f"/proc/{c.pid}/ns/net").st_ino
        assert info["HostVeth"] in veths()
        lines = bocker("network", "ls").stdout.splitlines()
        assert lines[0] == "NETWORK\t\tBRIDGE\t\tSUBNET\t\tGATEWAY\t\tCONTAINERS"
        assert lines[1].startswith("bridge\t\tbocker0\t\t172.18.0.0/24\t\t172.18.0.1\t\t")
        net = json.loads(bocker("network", "inspect", "bridge").stdout)
        assert net["Containers"][r.id] == info["Address"] and net["BridgeExists"]
        assert bocker("network", "inspect", "nonet").stderr.startswith("No network named 'nonet' exists")
        assert bocker("network", "rm", "bridge").returncode == 1  # a container runs on it
    finally:
        engine.rm(r.id, force=True)


def test_teardown_when_a_foreground_run_ends(engine, busybox):
    r = engine.run(busybox, "true")
    assert wait_until(lambda: "vb" + r.id[3:] not in veths())
    assert r.id not in engine.networks.leases("bridge").values()


def test_after_kill_9_of_the_monitor_gc_removes_lease_and_veth(fresh_root):
    r = bocker("run", "busybox", "sleep 30", env={"BOCKER_CRASH_AT": "running"})
    assert r.returncode == 1
    cid = next((fresh_root / "containers").iterdir()).name
    assert "vb" + cid[3:] in veths()
    assert cid in json.loads(bocker("network", "inspect", "bridge").stdout)["Containers"]
    out = bocker("gc", check=True).stdout
    assert f"cgroup of {cid}" in out and "lease bridge/" in out
    assert wait_until(lambda: "vb" + cid[3:] not in veths())
    assert cid not in json.loads(bocker("network", "inspect", "bridge").stdout)["Containers"]
    assert leftovers(str(fresh_root), CGROUP_PARENT, only_children=True) == []
