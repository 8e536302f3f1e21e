"""OCI distribution client: auth, manifests, blobs -- the protocol only (references are
reference.py, credentials credentials.py, media types oci.py).

    client = RegistryClient("127.0.0.1:5000")
    manifest = client.manifest("library/busybox", "latest")       # an index or an image manifest
    with client.blob("library/busybox", descriptor) as blob: ...  # verified when read to the end

- Auth: a 401's WWW-Authenticate challenge says how: Bearer (a token from the realm, fetched
  anonymously or with the credentials of `bocker login` / ~/.docker/config.json, renewed when
  it expires or is refused) or Basic. Authorization goes only to the host it was meant for: a
  redirect to another host (blob storage) gets none.
- Retries with backoff for dropped connections, 429 and 5xx (Retry-After honoured); a blob
  whose connection drops resumes with Range where the registry allows. 404 and 401 are never
  retried.
- Plain http for loopback registries, as Docker does (https, unverified, when one answers
  that it speaks only https); `insecure` for others (https without verification, then
  http). https is verified with the system's CAs plus the registry's certs.d directory
  (tls.py: its CA, a client certificate for mutual TLS); a certificate that does not verify
  is one line saying what failed and what to do, never retried.
- `endpoint` (scheme://host[:port]) is where requests go when it is not the registry itself:
  a mirror of Docker Hub, or the hub's endpoint the tests point at a loopback registry.
- Proxies from HTTPS_PROXY / HTTP_PROXY / NO_PROXY (proxy.py): CONNECT tunnels for https.
Stdlib only (http.client): a pull must not need anything the engine does not already have.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ...errors import AuthError, DigestMismatch, NotFound, RegistryError
from . import tls
from .oci import ACCEPT, INDEX_TYPES, MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST
from .proxy import Proxy, proxy_for
from .reference import check_digest, is_loopback

_VAGUE_TYPES = {"", "application/json", "text/plain", "application/octet-stream"}
MAX_MANIFEST = 4 << 20
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'([A-Za-z_]+)\s*=\s*"([^"]*)"', rest)}
    for k, v in re.findall(r'([A-Za-z_]+)\s*=\s*([^",\s]+)', rest):
        params.setdefault(k.lower(), v)
    return scheme.lower(), params


# == progress ==============================================================================
@dataclass
class Progress:
    """One layer's progress, as a callback gets it (the CLI draws a bar, a notebook a widget)."""

    layer: str            # short digest
    status: str           # waiting | downloading | extracting | done | exists | uploading | pushed
    current: int = 0
    total: int = 0


ProgressFn = Callable[[Progress], None]


# == the client ============================================================================
@dataclass
class _Token:
    value: str
    expires: float


@dataclass
class RegistryClient:
    registry: str
    insecure: bool = False
    credentials: tuple[str, str] | None = None
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.2
    endpoint: str | None = None           # scheme://host[:port] when not the registry itself
    certs_d: list[str] | None = None      # certs.d directories (None: Docker's and podman's)
    _scheme: str | None = None
    _verify: bool | None = None
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _certs: dict[str, tls.RegistryCerts] = field(default_factory=dict)
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _challenge: tuple[str, dict[str, str]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    # -- connections -----------------------------------------------------------------------
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
                    conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=self.timeout, context=ctx)
                    host, _, port = netloc.rpartition(":") if netloc.rsplit(":", 1)[-1].isdigit() else (netloc, "", "")
                    conn.set_tunnel(host.strip("[]"), int(port) if port else 443, headers=proxy.headers)
                else:
                    conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=ctx)
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

    # -- auth ------------------------------------------------------------------------------
    def _auth_header(self, scope: str) -> dict[str, str]:
        with self._lock:
            challenge = self._challenge
            token = self._tokens.get(scope)
        if challenge is None:
            return {}
        kind, params = challenge
        if kind == "basic":
            if self.credentials is None:
                return {}
            return {"Authorization": "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()}
        if token is None or time.time() >= token.expires:
            token = self._fetch_token(scope)
        return {"Authorization": f"Bearer {token.value}"}

    def _fetch_token(self, scope: str) -> _Token:
        assert self._challenge is not None
        _, params = self._challenge
        realm = params.get("realm")
        if not realm or urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise AuthError(f"{self.registry} asked for a token without a usable realm ({realm!r})")
        query = {k: v for k, v in (("service", params.get("service")), ("scope", scope)) if v}
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        for attempt in range(self.retries):
            try:
                resp = self._exchange("GET", url, headers, None)
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                if attempt + 1 == self.retries or tls.is_tls_failure(e):
                    raise self._failure(e, urllib.parse.urlsplit(url).netloc) from None
                time.sleep(self.backoff * 2 ** attempt)
                continue
            if resp.status in RETRY_STATUS and attempt + 1 < self.retries:
                time.sleep(self._retry_after(resp, attempt))
                continue
            break
        if resp.status in (401, 403):
            raise AuthError(f"{self.registry} refused the credentials: 'bocker login {self.registry}' "
                            "with a user that may read it" if self.credentials else
                            f"{self.registry} needs credentials: run 'bocker login {self.registry}'")
        if resp.status != 200:
            raise AuthError(f"The token service of {self.registry} answered {resp.status}")
        try:
            doc = json.loads(data)
            value = doc.get("token") or doc.get("access_token")
            expires_in = float(doc.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            value = None
        if not value:
            raise AuthError(f"The token service of {self.registry} sent no token")
        token = _Token(value, time.time() + max(expires_in - 5, 1))
        with self._lock:
            self._tokens[scope] = token
        return token

    # -- requests --------------------------------------------------------------------------
    def _retry_after(self, resp: http.client.HTTPResponse, attempt: int) -> float:
        wait = self.backoff * 2 ** attempt
        header = resp.getheader("Retry-After")
        if header and header.strip().isdigit():
            wait = max(wait, min(float(header), 10.0))
        return wait

    def request(self, method: str, path: str, *, scope: str, headers: dict[str, str] | None = None,
                body: bytes | Callable[[], BinaryIO] | None = None,
                expect: tuple[int, ...] = (200,), what: str = "") -> http.client.HTTPResponse:
        """A registry request with auth, redirects and retries. Returns the response (body
        unread) when its status is one of `expect`; 404 is NotFound, 401/403 AuthError."""
        url = path if "://" in path else self.url(path)
        renewed = False
        attempt = 0
        while True:
            h = {"User-Agent": "bocker-magics", **(headers or {}), **self._auth_header(scope)}
            try:
                resp = self._exchange(method, url, h, body)
            except (OSError, http.client.HTTPException) as e:
                netloc = urllib.parse.urlsplit(url).netloc
                if isinstance(e, ssl.SSLError) and self.insecure and self.scheme == "https" \
                        and not self.endpoint and "CERTIFICATE" not in str(e).upper():
                    self._scheme = "http"  # an insecure registry that speaks plain http
                    url = self.url(path) if "://" not in path else url
                    continue
                if tls.is_tls_failure(e):  # no retry mends a certificate
                    raise self._failure(e, netloc) from None
                attempt += 1
                if attempt >= self.retries:
                    raise self._failure(e, netloc) from None
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if resp.status in expect:
                return resp
            data = resp.read()
            if resp.status == 400 and self.scheme == "http" and not self.endpoint and b"HTTPS server" in data \
                    and "://" not in path:
                # a loopback registry that speaks only https: as Docker treats loopback, unverified
                self._scheme, self._verify = "https", bool(self.certs(self.netloc).dirs) and not self.insecure
                url = self.url(path)
                continue
            if resp.status == 401:
                challenge = resp.getheader("WWW-Authenticate") or ""
                kind, params = parse_challenge(challenge)
                if kind not in ("bearer", "basic") or renewed or (kind == "basic" and self.credentials is None):
                    raise AuthError(
                        f"{self.registry} refused access to {what or path}: "
                        + ("check the credentials ('bocker login')" if self.credentials else
                           f"it needs credentials ('bocker login {self.registry}')"))
                renewed = True
                with self._lock:
                    self._challenge = (kind, params)
                    self._tokens.pop(scope, None)
                continue
            if resp.status == 403:
                raise AuthError(f"{self.registry} denied {what or path} (403): {_message(data)}")
            if resp.status == 404:
                raise NotFound(f"{what or path} was not found on {self.registry}")
            if resp.status in RETRY_STATUS:
                attempt += 1
                if attempt >= self.retries:
                    raise RegistryError(f"{self.registry} kept failing ({resp.status}) for {what or path}")
                time.sleep(self._retry_after(resp, attempt - 1))
                continue
            raise RegistryError(f"{self.registry} answered {resp.status} for {what or path}: {_message(data)}")

    # -- manifests -------------------------------------------------------------------------
    def manifest(self, repo: str, ref: str) -> tuple[dict[str, Any], str, str, bytes]:
        """(document, media type, digest, raw bytes) of a manifest or index; a digest ref is
        checked against the bytes."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull",
                            headers={"Accept": ACCEPT},
                            what=f"{repo}:{ref}" if not ref.startswith("sha256:") else f"{repo}@{ref}")
        data = resp.read(MAX_MANIFEST + 1)
        if len(data) > MAX_MANIFEST:
            raise RegistryError(f"The manifest of {repo}:{ref} is larger than {MAX_MANIFEST} bytes")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ref.startswith("sha256:") and digest != ref:
            raise DigestMismatch(f"The manifest {repo}@{ref} has the digest {digest}: refused")
        header_digest = resp.getheader("Docker-Content-Digest")
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatch(f"The manifest of {repo}:{ref} does not match its Docker-Content-Digest")
        try:
            doc = json.loads(data)
            assert isinstance(doc, dict)
        except (ValueError, AssertionError):
            raise RegistryError(f"The manifest of {repo}:{ref} is not JSON") from None
        ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip()
        mtype = doc.get("mediaType") or ""
        if doc.get("schemaVersion") == 1:
            raise RegistryError(f"{repo}:{ref} has only a schema 1 manifest, which Docker retired: "
                                "push it again with a current tool")
        if mtype and ctype not in _VAGUE_TYPES and ctype != mtype:
            raise RegistryError(f"The manifest of {repo}:{ref} came as '{ctype}' but says it is '{mtype}': refused")
        mtype = mtype or ctype
        if mtype in _VAGUE_TYPES:
            mtype = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
        if mtype not in INDEX_TYPES + MANIFEST_TYPES:
            raise RegistryError(f"{repo}:{ref} is a '{mtype}', not an image manifest or index")
        return doc, mtype, digest, data

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull,push",
                            headers={"Content-Type": media_type, "Content-Length": str(len(data))},
                            body=data, expect=(200, 201, 202), what=f"{repo}:{ref}")
        resp.read()
        return "sha256:" + hashlib.sha256(data).hexdigest()

    # -- blobs -----------------------------------------------------------------------------
    def blob(self, repo: str, descriptor: dict[str, Any], progress: Callable[[int], None] | None = None) -> BlobReader:
        return BlobReader(self, repo, check_digest(descriptor.get("digest", "")), _size(descriptor), progress)

    def blob_bytes(self, repo: str, descriptor: dict[str, Any], limit: int = 64 << 20) -> bytes:
        if _size(descriptor) > limit:
            raise RegistryError(f"The blob {descriptor['digest']} is larger than {limit} bytes")
        with self.blob(repo, descriptor) as b:
            return b.read_all()

    def has_blob(self, repo: str, digest: str) -> bool:
        try:
            resp = self.request("HEAD", f"/v2/{repo}/blobs/{check_digest(digest)}",
                                scope=f"repository:{repo}:pull,push", what=f"blob {digest[:19]}")
        except NotFound:
            return False
        resp.read()
        return True

    def upload_blob(self, repo: str, digest: str, size: int, open_body: Callable[[], BinaryIO],
                    mount_from: str | None = None) -> None:
        """Upload a blob (POST, then one PUT), or mount it from another repository of the same registry."""
        scope = f"repository:{repo}:pull,push"
        path = f"/v2/{repo}/blobs/uploads/"
        if mount_from:
            path += "?" + urllib.parse.urlencode({"mount": digest, "from": mount_from})
        resp = self.request("POST", path, scope=scope, headers={"Content-Length": "0"}, body=b"",
                            expect=(201, 202), what=f"upload of {digest[:19]}")
        resp.read()
        if resp.status == 201:
            return
        location = resp.getheader("Location")
        if not location:
            raise RegistryError(f"{self.registry} started an upload without a Location")
        url = urllib.parse.urljoin(self.url(path), location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        resp = self.request("PUT", url, scope=scope, body=open_body,
                            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                            expect=(201, 204), what=f"upload of {digest[:19]}")
        resp.read()


def _message(data: bytes) -> str:
    try:
        errors = json.loads(data).get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or data[:200].decode(errors="replace")
    except (ValueError, AttributeError):
        return data[:200].decode(errors="replace").strip() or "no message"


def _size(descriptor: dict[str, Any]) -> int:
    size = descriptor.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryError(f"The descriptor of {descriptor.get('digest')} has no valid size")
    return size


class BlobReader(io.RawIOBase):
    """A blob as a stream: resumed with Range after a dropped connection, its size and digest
    checked as it is read; reading to its end raises DigestMismatch if the bytes are wrong."""

    def __init__(self, client: RegistryClient, repo: str, digest: str, size: int,
                 progress: Callable[[int], None] | None) -> None:
        self.client, self.repo, self.digest, self.size = client, repo, digest, size
        self.progress = progress
        self.sha = hashlib.sha256()
        self.count = 0
        self.resp: http.client.HTTPResponse | None = None
        self.failures = 0
        self.verified = False

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        headers = {"Range": f"bytes={self.count}-"} if self.count else {}
        resp = self.client.request("GET", f"/v2/{self.repo}/blobs/{self.digest}",
                                   scope=f"repository:{self.repo}:pull", headers=headers,
                                   expect=(200, 206), what=f"blob {self.digest[:19]} of {self.repo}")
        if self.count and resp.status == 206:
            m = re.match(r"bytes (\d+)-", resp.getheader("Content-Range") or "")
            if not m or int(m.group(1)) != self.count:
                resp.close()
                raise RegistryError(f"{self.client.registry} resumed {self.digest[:19]} at the wrong offset")
        elif self.count:  # no Range support: read again from the start, skipping what we have
            skip = self.count
            while skip:
                chunk = resp.read(min(skip, 1 << 20))
                if not chunk:
                    raise http.client.IncompleteRead(b"")
                skip -= len(chunk)
        self.resp = resp

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        while True:
            if self.count >= self.size and self.resp is None:
                self._verify()
                return b""
            try:
                if self.resp is None:
                    self._open()
                assert self.resp is not None
                data = self.resp.read(min(n, self.size - self.count + 1) or 1)
                if not data and self.count < self.size:
                    raise http.client.IncompleteRead(b"", self.size - self.count)
            except (OSError, http.client.HTTPException) as e:
                self._close_resp(broken=True)
                self.failures += 1
                if self.failures >= self.client.retries:
                    raise RegistryError(f"Lost the connection to {self.client.registry} while reading "
                                        f"{self.digest[:19]} ({e}); gave up after {self.failures} tries") from None
                time.sleep(self.client.backoff * 2 ** (self.failures - 1))
                continue
            if not data:
                self._close_resp()
                self._verify()
                return b""
            self.failures = 0
            self.count += len(data)
            if self.count > self.size:
                self._close_resp(broken=True)
                raise DigestMismatch(f"The blob {self.digest[:19]} is larger than its {self.size} bytes: refused")
            self.sha.update(data)
            if self.progress:
                self.progress(self.count)
            if self.count == self.size:
                # the last byte: finish this response so the connection can be reused
                self.resp.read()  # type: ignore[union-attr]
                self._close_resp()
            return data

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read_all(self) -> bytes:
        chunks = []
        while chunk := self.read(1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def _close_resp(self, broken: bool = False) -> None:
        if self.resp is not None:
            if broken or not self.resp.isclosed():
                self.resp.close()
                if broken:  # what is left unread would be read as the next response
                    self.client._drop(*getattr(self.resp, "bocker_conn", ("", "")))
            self.resp = None

    def _verify(self) -> None:
        if self.verified:
            return
        if self.count != self.size:
            raise DigestMismatch(f"The blob {self.digest[:19]} has {self.count} bytes, not {self.size}: refused")
        got = "sha256:" + self.sha.hexdigest()
        if got != self.digest:
            raise DigestMismatch(f"The blob {self.digest[:19]}… has the digest {got[:19]}…: refused "
                                 "(corrupt or tampered with)")
        self.verified = True

    def close(self) -> None:
        self._close_resp(broken=self.count < self.size)
        super().close()

    def __enter__(self) -> BlobReader:
        return self
