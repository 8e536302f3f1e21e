"""The API service's pure parts (no root, no container): versions, ids, frames, routes."""

from __future__ import annotations

import hashlib
import struct

import pytest

from bocker_magics.api import routing
from bocker_magics.api.ids import docker_id, image_id, local_name, short
from bocker_magics.api.routing import ApiError, split_version
from bocker_magics.api.streams import frame


def test_versions_split_and_refused():
    assert split_version("/v1.41/containers/json") == ("1.41", "/containers/json")
    assert split_version("/v1.24/_ping") == ("1.24", "/_ping")
    assert split_version("/containers/json") == ("", "/containers/json")
    with pytest.raises(ApiError) as err:
        split_version("/v1.45/info")
    assert err.value.status == 400
    assert err.value.message == "client version 1.45 is too new. Maximum supported API version is 1.41"
    with pytest.raises(ApiError) as err:
        split_version("/v1.12/info")
    assert "too old" in err.value.message


def test_docker_ids_begin_with_bockers_own_digits():
    cid = "ps_0a1b2c3d4e"
    d = docker_id(cid)
    assert len(d) == 64 and d.startswith("0a1b2c3d4e")
    assert d[10:] == hashlib.sha256(cid.encode()).hexdigest()[:54]
    assert short(cid) == d[:12] and image_id("img_0a1b2c3d4e").startswith("sha256:0a1b2c3d4e")
    assert docker_id("ps_0a1b2c3d4e") != docker_id("img_0a1b2c3d4e")


def test_hub_spellings_of_a_local_name():
    assert local_name("docker.io/library/busybox:latest") == "busybox:latest"
    assert local_name("library/busybox") == "busybox"
    assert local_name("127.0.0.1:5000/a/b:1") == "127.0.0.1:5000/a/b:1"


def test_multiplexed_frames():
    assert frame("stdout", b"hi") == struct.pack(">BxxxL", 1, 2) + b"hi"
    assert frame("stderr", b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"


def test_every_route_is_one_method_and_pattern_of_the_api():
    import bocker_magics.api.app as app
    seen = set()
    for method, pattern, name in routing.ROUTES:
        assert hasattr(app.Api, name), name
        assert (method, pattern.pattern) not in seen
        seen.add((method, pattern.pattern))
    assert ("GET", "^/_ping$") in seen and ("POST", "^/build$") in seen
