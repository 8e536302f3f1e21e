"""Image references as a user types them (engine/distribution/reference.py): Docker Hub's
defaults, the seed's NAME TAG form, bad references refused. The registry client against a
misbehaving registry: tests/host/test_registry_faults.py."""

from __future__ import annotations

import pytest

from bocker_magics.engine.distribution.reference import parse_reference
from bocker_magics.errors import InvalidArgument


@pytest.mark.parametrize("text, want", [
    ("busybox", ("registry-1.docker.io", "library/busybox", "latest", None, "busybox:latest")),
    ("busybox:1.36", ("registry-1.docker.io", "library/busybox", "1.36", None, "busybox:1.36")),
    ("me/app", ("registry-1.docker.io", "me/app", "latest", None, "me/app:latest")),
    ("docker.io/library/alpine:3", ("registry-1.docker.io", "library/alpine", "3", None, "alpine:3")),
    ("index.docker.io/me/app", ("registry-1.docker.io", "me/app", "latest", None, "me/app:latest")),
    ("127.0.0.1:5000/a/b:c", ("127.0.0.1:5000", "a/b", "c", None, "127.0.0.1:5000/a/b:c")),
    ("localhost/x", ("localhost", "x", "latest", None, "localhost/x:latest")),
    ("ghcr.io/o/r@sha256:" + "a" * 64, ("ghcr.io", "o/r", None, "sha256:" + "a" * 64, "ghcr.io/o/r:latest")),
])
def test_references_with_docker_hub_defaults(text, want):
    r = parse_reference(text)
    assert (r.registry, r.repository, r.tag, r.digest, r.local_name) == want


def test_seed_form_and_bad_references():
    r = parse_reference("centos", "7")
    assert (r.repository, r.tag) == ("library/centos", "7")
    for bad in ("UPPER/case", "a/../b", "x@sha256:../x", "x:bad tag", "x:1", "", "a//b"):
        with pytest.raises(InvalidArgument):
            parse_reference(bad, "7" if bad == "x:1" else None)
