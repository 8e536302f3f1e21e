"""The registry client's connections: a TLS context per host (its certs.d CAs and client
certificate), a pool per thread, proxies (CONNECT tunnels for https), redirects with the
Authorization header kept for the first host only. Mixed into RegistryClient (registry.py),
whose fields it reads."""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from collections.abc import Callable
from typing import BinaryIO

from ...errors import RegistryError
from . import tls, tlsstream
from .proxy import Proxy, proxy_for
from .reference import is_loopback

RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class Transport:
    """RegistryClient's connection methods."""

    @property
    def netloc(self) -> str:
        """Where requests go: the endpoint's host[:port], else the registry's."""
        return urllib.parse.urlsplit(self.endpoint).netloc if self.endpoint else self.registry

    @property
    def scheme(self) -> str:
        if self._scheme is None:
            if self.endpoint:
                self._scheme = urllib.parse.urlsplit(self.endpoint).scheme
            elif is_loopback(self.netloc) and not self.certs(self.netloc).dirs:
                self._scheme = "http"
            else:
                self._scheme = "https"
        return self._scheme

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.netloc}{path}"

    def certs(self, netloc: str) -> tls.RegistryCerts:
        with self._lock:
            found = self._certs.get(netloc)
        if found is None:
            from ..config import DEFAULT_CERTS_D
            dirs = self.certs_d if self.certs_d is not None else [str(d) for d in DEFAULT_CERTS_D]
            found = tls.find_certs(netloc, dirs)
            with self._lock:
                self._certs[netloc] = found
        return found

    def _context(self, netloc: str) -> ssl.SSLContext:
        """One SSL context per host: its certs.d CAs and client certificate; verification off
        only for the registry itself when it is insecure (or a loopback one that speaks only
        https without a certs.d directory, as Docker treats loopback)."""
        with self._lock:
            ctx = self._contexts.get(netloc)
        if ctx is None:
            verify = True
            if netloc == self.netloc:
                if self._verify is None:
                    self._verify = not self.insecure
                verify = self._verify
            ctx = tls.make_context(self.certs(netloc), verify)
            with self._lock:
                self._contexts[netloc] = ctx
        return ctx

    def _conn(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, netloc))
        if conn is None:
            if scheme not in ("http", "https"):
                raise RegistryError(f"Unsupported URL scheme '{scheme}' from the registry")
            proxy = proxy_for(scheme, netloc)
            if scheme == "https":
                ctx = self._context(netloc)
                if proxy is not None:  # a tunnel: TLS (and its name check) end to end with the registry
                    conn = tlsstream.HTTPSConnection(proxy.host, proxy.port, timeout=self.timeout, context=ctx)
                    host, _, port = netloc.rpartition(":") if netloc.rsplit(":", 1)[-1].isdigit() else (netloc, "", "")
                    conn.set_tunnel(host.strip("[]"), int(port) if port else 443, headers=proxy.headers)
                else:
                    conn = tlsstream.HTTPSConnection(netloc, timeout=self.timeout, context=ctx)
            elif proxy is not None:  # plain http through a proxy: requests in absolute form
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=self.timeout)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            conn.bocker_proxy = proxy  # type: ignore[attr-defined]
            pool[(scheme, netloc)] = conn
        return conn

    def _failure(self, e: BaseException, netloc: str) -> RegistryError:
        """A connection failure as one line: a TLS one says what to do; through a proxy, says so."""
        if tls.is_tls_failure(e):
            return tls.tls_error(e, self.certs(netloc), netloc)
        proxy = proxy_for(self.scheme, netloc) if netloc == self.netloc else None
        via = f" through the proxy {proxy}" if proxy is not None else ""
        what = self.registry if netloc == self.netloc and not self.endpoint else netloc
        return RegistryError(f"Could not reach {what}{via}: {e}")

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = self._local.__dict__.setdefault("pool", {})
        conn = pool.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._local.__dict__.get("pool", {}).values():
            conn.close()
        self._local.__dict__["pool"] = {}

    def _exchange(self, method: str, url: str, headers: dict[str, str],
                  body: bytes | Callable[[], BinaryIO] | None) -> http.client.HTTPResponse:
        """One request, following redirects. Authorization goes only to the first URL's host."""
        first = urllib.parse.urlsplit(url).netloc
        for _ in range(8):
            parts = urllib.parse.urlsplit(url)
            h = dict(headers)
            if parts.netloc != first:
                h.pop("Authorization", None)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn = self._conn(parts.scheme, parts.netloc)
            proxy: Proxy | None = getattr(conn, "bocker_proxy", None)
            if proxy is not None and parts.scheme == "http":
                path = f"http://{parts.netloc}{path or '/'}"
                h.update(proxy.headers)
            try:
                conn.request(method, path or "/", body=body() if callable(body) else body, headers=h)
                resp = conn.getresponse()
            except BaseException:
                self._drop(parts.scheme, parts.netloc)
                raise
            location = resp.getheader("Location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                resp.read()
                url = urllib.parse.urljoin(url, location)
                if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                    raise RegistryError(f"{self.registry} redirected to an unsupported URL")
                if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            resp.bocker_conn = (parts.scheme, parts.netloc)  # type: ignore[attr-defined]
            return resp
        raise RegistryError(f"Too many redirects from {self.registry}")
