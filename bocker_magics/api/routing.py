"""Paths to endpoints, API versions, and bocker's errors as Docker's.

Every endpoint answers unversioned and under /v1.24 .. /v1.41; a higher version is refused
with dockerd's own words. Each resource module registers its routes with `route`.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..errors import BockerError, Conflict, InvalidArgument, NotFound

API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
_VERSION = re.compile(r"^/v([0-9][0-9A-Za-z.-]*)(/.*)$")


class ApiError(Exception):
    """An answer other than success: Docker's status and its {"message"}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        raise ApiError(400, f"invalid API version: {text}") from None


def split_version(path: str) -> tuple[str, str]:
    """`/v1.41/containers/json` -> ("1.41", "/containers/json"); a version too new or too old
    is refused as dockerd refuses it."""
    m = _VERSION.match(path)
    if not m:
        return "", path
    version, rest = m.group(1), m.group(2)
    v = _version_tuple(version)
    if v > _version_tuple(API_VERSION):
        raise ApiError(400, f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    if v < _version_tuple(MIN_API_VERSION):
        raise ApiError(400, f"client version {version} is too old. Minimum supported API version is "
                            f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    return version, rest


Endpoint = Callable[..., None]
ROUTES: list[tuple[str, re.Pattern[str], str]] = []


def route(method: str, pattern: str) -> Callable[[Endpoint], Endpoint]:
    """Register a method of the Api (its name) for `method` and a path pattern whose named
    groups become keyword arguments: `/containers/(?P<ref>[^/]+)/json`."""
    compiled = re.compile("^" + pattern + "$")

    def register(fn: Endpoint) -> Endpoint:
        ROUTES.append((method, compiled, fn.__name__))
        return fn
    return register


# What Docker serves and bocker does not: the answer each gets (Docker's own, for a daemon
# that is not a swarm manager or has no such feature).
_NOT_SERVED = [
    (re.compile(r"^/(swarm|nodes|services|tasks|secrets|configs)(/.*)?$"), 503,
     "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this "
     "node to swarm and try again."),
    (re.compile(r"^/plugins(/.*)?$"), 501, "bocker serves no plugins"),
    (re.compile(r"^/(session|grpc)$"), 501,
     "BuildKit is not served by bocker: the classic builder (Builder-Version 1) is"),
    (re.compile(r"^/containers/[^/]+/checkpoints(/.*)?$"), 501, "bocker does not checkpoint containers"),
    (re.compile(r"^/distribution/.*$"), 501, "bocker does not serve the distribution endpoint"),
    (re.compile(r"^/containers/[^/]+/attach/ws$"), 501,
     "bocker serves attach as a hijacked connection, not a websocket"),
]


def dispatch(api: Any, request: Any) -> None:
    method = "GET" if request.method == "HEAD" else request.method
    allowed = False
    for m, pattern, name in ROUTES:
        match = pattern.match(request.path)
        if match is None:
            continue
        if m != method and not (request.method == "HEAD" and m == "HEAD"):
            allowed = True
            continue
        getattr(api, name)(request, **{k: urllib.parse.unquote(v) for k, v in match.groupdict().items()})
        if not request.answered:
            request.reply(204)
        return
    if request.method == "HEAD":
        for m, pattern, name in ROUTES:
            if m == "HEAD" and pattern.match(request.path):
                groups = pattern.match(request.path).groupdict()
                getattr(api, name)(request, **{k: urllib.parse.unquote(v) for k, v in groups.items()})
                return
    for pattern, status, message in _NOT_SERVED:
        if pattern.match(request.path):
            raise ApiError(status, message)
    if allowed:
        raise ApiError(405, f"method {request.method} is not allowed on {request.path}")
    raise ApiError(404, "page not found")


def status_of(err: BockerError) -> int:
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, InvalidArgument):
        return 400
    return 500


def docker_message(err: BockerError) -> str:
    """bocker's line, with the words docker-py and the CLI look for in a 404."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, NotFound):
        low = text.lower()
        if "image" in low and "no such image" not in low:
            return f"No such image: {text}"
        if "container" in low and "no such container" not in low:
            return f"No such container: {text}"
    return text


def not_found(kind: str, ref: str) -> ApiError:
    """Docker's 404 words: `No such container: x` (docker-py's NotFound), `No such image: x`
    (its ImageNotFound), `network x not found`, `get x: no such volume`."""
    if kind == "network":
        return ApiError(404, f"network {ref} not found")
    if kind == "volume":
        return ApiError(404, f"get {ref}: no such volume")
    if kind == "exec":
        return ApiError(404, f"No such exec instance: {ref}")
    return ApiError(404, f"No such {kind}: {ref}")
