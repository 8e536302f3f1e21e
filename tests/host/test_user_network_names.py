"""Names on user networks, as Docker's embedded DNS gives them: a container's name and its
--network-alias values answer from every container on the network, through 127.0.0.11 in its
namespace; other names go to the container's own upstream (here one of the test's, on
127.0.0.1 of the session's namespace: never a real lookup); the default bridge has no names;
a name goes when its container stops."""

from __future__ import annotations

import pytest

from tests.support.session import bocker
from tests.support.upstream_dns import Upstream


@pytest.fixture
def app_network():
    upstream = Upstream({"outside.test": "192.0.2.55"})
    bocker("network", "create", "namesnet", check=True)
    made: list[str] = []
    yield made
    for cid in made:
        bocker("rm", "-f", cid)
    bocker("network", "rm", "namesnet")
    upstream.close()


def address_of(cid: str) -> str:
    import json
    return json.loads(bocker("network", "inspect", "namesnet", check=True).stdout)["Containers"][cid]


def test_names_and_aliases_answer_on_a_user_network(app_network):
    db = bocker("run", "-d", "--name", "names-db", "--network", "namesnet", "--network-alias", "database",
                "--dns", "127.0.0.1", "busybox", "sleep 300", check=True).stdout.strip()
    app_network.append(db)
    address = address_of(db)
    run = ["run", "--rm", "--network", "namesnet", "--dns", "127.0.0.1", "busybox"]
    r = bocker(*run, "cat /etc/resolv.conf; nslookup names-db; nslookup database; ping -c 1 -W 2 names-db")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "nameserver 127.0.0.11" in r.stdout
    assert r.stdout.count(f"Address: {address}") >= 2 or r.stdout.count(address) >= 3, r.stdout
    assert "1 packets received" in r.stdout
    # PTR: the address names the container
    r = bocker(*run, f"nslookup {address}")
    assert "names-db" in r.stdout, r.stdout + r.stderr
    # other names: the container's upstream (the test's, on the session's loopback)
    r = bocker(*run, "nslookup outside.test")
    assert "192.0.2.55" in r.stdout, r.stdout + r.stderr
    # the default bridge keeps Docker's behaviour: no resolver, no names
    r = bocker("run", "--rm", "--dns", "127.0.0.1", "busybox", "cat /etc/resolv.conf; nslookup names-db")
    assert "127.0.0.11" not in r.stdout and address not in r.stdout.split("resolv.conf")[-1]
    # a stopped container's name goes
    bocker("stop", "-t", "1", db, check=True)
    r = bocker(*run, "nslookup names-db")
    assert address not in r.stdout, r.stdout
