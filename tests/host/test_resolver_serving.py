"""The embedded resolver served for real: at 127.0.0.11 inside network namespaces the test
makes, asked by busybox's nslookup from inside, forwarding to an upstream of the test's own on
127.0.0.1 (never a real lookup)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time

import pytest

from bocker_magics.engine.network.resolver import NamesFile, Resolver, Server, listen_in
from tests.support.upstream_dns import Upstream

BUSYBOX = shutil.which("busybox") or "/bin/busybox"


@pytest.fixture
def namespace():
    """A network namespace with lo up, held by a sleeping process."""
    holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up; echo ready; exec sleep 600"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    yield f"/proc/{holder.pid}/ns/net"
    holder.kill()
    holder.wait()


@pytest.fixture
def served(tmp_path, namespace):
    names_path = tmp_path / "names.json"
    names_path.write_text(json.dumps({"records": [{"names": ["db", "database"], "addresses": ["10.7.0.2"]}]}))
    upstream = Upstream({"upstream.test": "192.0.2.77"})
    server = Server()
    udp, tcp = listen_in(namespace)
    server.add("c1", Resolver(NamesFile(names_path), ["127.0.0.1"]), udp, tcp)
    thread = threading.Thread(target=server.serve, kwargs={"tick": 0.1}, daemon=True)
    thread.start()
    yield namespace, names_path, upstream, server
    server.stop()
    thread.join(5)
    upstream.close()


def nslookup(netns: str, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={netns}", BUSYBOX, "nslookup", name, "127.0.0.11"],
                          capture_output=True, text=True, timeout=20)


def test_names_from_inside_the_namespace_and_others_forwarded(served):
    netns, names_path, upstream, _ = served
    r = nslookup(netns, "db")
    assert r.returncode == 0 and "10.7.0.2" in r.stdout, r.stdout + r.stderr
    r = nslookup(netns, "upstream.test")
    assert r.returncode == 0 and "192.0.2.77" in r.stdout, r.stdout + r.stderr
    assert "upstream.test." in upstream.asked and "db." not in upstream.asked
    r = nslookup(netns, "nosuch.test")
    assert r.returncode != 0 or "NXDOMAIN" in r.stdout + r.stderr or "can't find" in r.stdout + r.stderr


def test_names_appear_and_disappear_as_the_table_changes(served):
    netns, names_path, _, _ = served
    assert "10.7.0.9" not in nslookup(netns, "web").stdout
    tmp = names_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"records": [{"names": ["web"], "addresses": ["10.7.0.9"]}]}))
    time.sleep(0.01)
    tmp.rename(names_path)
    assert "10.7.0.9" in nslookup(netns, "web").stdout
    assert "10.7.0.2" not in nslookup(netns, "db").stdout  # db left the network


def test_tcp_questions(served):
    from bocker_magics.engine.kernel import linux

    netns = served[0]

    def ask():
        import os
        fd = os.open(netns, os.O_RDONLY)
        linux.setns(fd, linux.CLONE_NEWNET)
        os.close(fd)
        import dns.query
        return dns.query.tcp(dns.message.make_query("database", "A"), "127.0.0.11", timeout=5)

    answer = linux.on_fresh_thread(ask)
    assert [rr.to_text() for rrset in answer.answer for rr in rrset] == ["10.7.0.2"]


def test_a_dead_upstream_is_servfail_not_a_hang(tmp_path, namespace):
    server = Server()
    udp, tcp = listen_in(namespace)
    server.add("c1", Resolver(NamesFile(tmp_path / "none.json"), ["127.0.0.1"]), udp, tcp)  # nothing on :53
    thread = threading.Thread(target=server.serve, kwargs={"tick": 0.1}, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        r = nslookup(namespace, "anything.test")
        assert r.returncode != 0
        assert time.monotonic() - started < 15
    finally:
        server.stop()
        thread.join(5)
    server.remove("c1")  # removing after a stop is harmless
