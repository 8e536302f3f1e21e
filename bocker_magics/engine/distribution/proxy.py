"""Forward proxies for registry traffic, from the environment as Docker reads it.

    HTTPS_PROXY / https_proxy   https registries: a tunnel through the proxy (CONNECT host:port)
    HTTP_PROXY  / http_proxy    http registries: the request in absolute form to the proxy
    NO_PROXY    / no_proxy      hosts reached directly: `*`, a name (and its subdomains: `lan`,
                                `.lan`), an address, a network (10.0.0.0/8), each with an
                                optional :port

A loopback registry is never proxied (as Go's net/http, so Docker, does): the proxy would
reach its own loopback, not ours. Proxy credentials in the URL (http://user:pw@proxy:3128)
go as Proxy-Authorization.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import urllib.parse
from dataclasses import dataclass

from ...errors import InvalidArgument
from .reference import is_loopback


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = None    # the Proxy-Authorization header's value

    @property
    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _env(name: str) -> str:
    return os.environ.get(name.lower()) or os.environ.get(name.upper()) or ""


def _split(netloc: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = netloc.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return netloc, None


def bypassed(netloc: str, no_proxy: str) -> bool:
    """Whether NO_PROXY says `netloc` (host[:port]) is reached directly."""
    host, port = _split(netloc)
    host = host.lower().rstrip(".")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, want_port = _split(entry)
        if want_port is not None and want_port != port:
            continue
        if "/" in name:
            try:
                if addr is not None and addr in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if host == name or (addr is None and host.endswith("." + name)):
            return True
    return False


def proxy_for(scheme: str, netloc: str) -> Proxy | None:
    """The proxy the environment names for `scheme://netloc`, or None (direct)."""
    value = _env("https_proxy") if scheme == "https" else _env("http_proxy")
    if not value or is_loopback(netloc) or bypassed(netloc, _env("no_proxy")):
        return None
    parts = urllib.parse.urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme not in ("http", "") or not parts.hostname:
        raise InvalidArgument(f"The proxy '{value}' ({scheme.upper()}_PROXY) is not a URL like "
                              "http://host:port (a proxy reached over https is not supported)")
    try:
        port = parts.port or 80
    except ValueError:
        raise InvalidArgument(f"The proxy '{value}' ({scheme.upper()}_PROXY) has an invalid port") from None
    auth = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return Proxy(parts.hostname, port, auth)
