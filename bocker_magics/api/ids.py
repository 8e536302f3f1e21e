"""Docker's ids over bocker's: how a client's reference finds a container or an image.

bocker names a container `ps_` + 10 hex digits and an image `img_` + 10 hex digits. Docker's
clients expect 64 hex digits (and `sha256:` before an image's). The Docker id of a bocker id
is its own 10 hex digits followed by 54 more from sha256(bocker id): stable, no table to keep,
and the 12-digit short id `docker ps` shows begins with the digits `bocker ps` shows
(ps_0a1b2c3d4e <-> 0a1b2c3d4e5f…). A reference resolves as dockerd resolves it: the full id,
then a name (with or without its leading `/`), then a unique id prefix; bocker's own ids
(ps_…, img_…) work too.
"""

from __future__ import annotations

import hashlib
import re

from ..errors import InvalidArgument, NotFound
from .routing import ApiError, not_found

_HEX = re.compile(r"^[0-9a-f]{1,64}$")


def docker_id(bocker_id: str) -> str:
    """ps_0a1b2c3d4e -> 0a1b2c3d4e + 54 hex digits of sha256("ps_0a1b2c3d4e")."""
    own = bocker_id.split("_", 1)[1] if "_" in bocker_id else ""
    return (own + hashlib.sha256(bocker_id.encode()).hexdigest())[:64]


def image_id(bocker_id: str) -> str:
    return "sha256:" + docker_id(bocker_id)


def short(bocker_id: str) -> str:
    return docker_id(bocker_id)[:12]


# Docker Hub's spellings of a local name: docker.io/library/busybox:latest is busybox:latest
_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "registry-1.docker.io/library/", "docker.io/",
                 "library/")


def local_name(ref: str) -> str:
    for p in _HUB_PREFIXES:
        if ref.startswith(p):
            return ref[len(p):]
    return ref


class Ids:
    def __init__(self, engine) -> None:
        self.engine = engine

    def container(self, ref: str):
        """The Container a reference names; Docker's 404 when none, 400 when ambiguous."""
        name = ref[1:] if ref.startswith("/") else ref
        if not name or "/" in name or "\0" in name:
            raise not_found("container", ref)
        try:
            return self.engine.container(name)
        except NotFound:
            pass
        except InvalidArgument:
            raise not_found("container", ref) from None
        if _HEX.match(name):
            found = [c for c in self.engine.ps() if docker_id(c.id).startswith(name)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ApiError(400, f"multiple IDs found with provided prefix: {ref}")
        raise not_found("container", ref)

    def image(self, ref: str):
        """The Image a reference names: sha256:<id>, an id prefix, name[:tag], docker.io/… ."""
        text = ref[7:] if ref.startswith("sha256:") else ref
        if _HEX.match(text) and len(text) >= 4:
            found = [i for i in self.engine.images() if docker_id(i.id).startswith(text)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ApiError(400, f"multiple IDs found with provided prefix: {ref}")
            if ref.startswith("sha256:") or len(text) == 64:
                raise not_found("image", ref)
        try:
            return self.engine.image(local_name(ref))
        except (NotFound, InvalidArgument):
            raise not_found("image", ref) from None
