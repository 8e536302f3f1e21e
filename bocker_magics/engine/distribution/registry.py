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
The client's parts: transport.py (connections, TLS, proxies, redirects), auth.py (challenges
and tokens), blobs.py (a blob read, verified and resumed), and here the requests with retries.
Stdlib only (http.client): a pull must not need anything the engine does not already have.
"""

from __future__ import annotations

import hashlib
import http.client
import json
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
from .reference import check_digest

from .auth import TokenAuth, _Token, parse_challenge  # noqa: F401  (parse_challenge: from here as before)
from .blobs import BlobReader, _message, _size
from .transport import RETRY_STATUS, Transport
_VAGUE_TYPES = {"", "application/json", "text/plain", "application/octet-stream"}
MAX_MANIFEST = 4 << 20


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
class RegistryClient(Transport, TokenAuth):
    """One registry: its connections (transport.py), its auth (auth.py), the requests below."""

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
