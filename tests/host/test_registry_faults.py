"""The registry client against a misbehaving registry: a small HTTP server on 127.0.0.1 that
does on demand what a real one won't (token expiry, redirects, 429/5xx, dropped connections,
wrong digests, a Content-Type that is not the mediaType). Plus credentials, which need no
network at all (references as typed: tests/unit/test_registry_faults.py)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bocker_magics.engine.distribution.credentials import find_credentials
from bocker_magics.engine.distribution.oci import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_MANIFEST
from bocker_magics.engine.distribution.reference import parse_reference
from bocker_magics.engine.distribution.registry import RegistryClient
from bocker_magics.engine.distribution.transfer import Puller
from bocker_magics.engine.images import ImageStore
from bocker_magics.engine.store import Store
from bocker_magics.errors import AuthError, BadDigest, DigestMismatch, NotFound, RegistryError
from tests.support.session import SESSION_ROOT
from tests.support.tars import REG, tar_bytes

REPO = "test/img"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Fake:
    """One image (two layers, Docker schema2) and knobs for each fault."""

    def __init__(self) -> None:
        self.layer_tars = [tar_bytes(("a", REG, {"data": os.urandom(300_000)})),
                           tar_bytes(("b", REG, {"data": b"second layer\n"}))]
        self.blobs = {}
        descs = []
        for t in self.layer_tars:
            gz = gzip.compress(t)
            self.blobs[sha(gz)] = gz
            descs.append({"mediaType": DOCKER_LAYER, "digest": sha(gz), "size": len(gz)})
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in self.layer_tars]}}).encode()
        self.blobs[sha(config)] = config
        self.layer_digests = [d["digest"] for d in descs]
        self.manifest_doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                             "config": {"mediaType": DOCKER_CONFIG, "digest": sha(config), "size": len(config)},
                             "layers": descs}
        self.manifest_type = DOCKER_MANIFEST
        self.auth: str | None = None          # None | "bearer" | "basic"
        self.need_creds: tuple[str, str] | None = None
        self.token_uses = 1000                # a token stops working after this many requests
        self.tokens: dict[str, int] = {}
        self.statuses: dict[str, list[int]] = {}   # digest -> statuses to answer first
        self.drop_at: dict[str, int] = {}          # digest -> bytes sent before the connection drops
        self.corrupt: set[str] = set()
        self.redirect_to: Fake | None = None
        self.log: list[tuple[str, str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_HEAD(self):
                fake.handle(self, head=True)

            def do_GET(self):
                fake.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def manifest(self) -> bytes:
        return json.dumps(self.manifest_doc).encode()

    def requests(self, part: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.log if part in r[1]]

    # -- answering ----------------------------------------------------------------------
    def send(self, h, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head=False) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def authorized(self, h) -> bool:
        got = h.headers.get("Authorization", "")
        if self.auth is None:
            return True
        if self.auth == "basic":
            want = "Basic " + base64.b64encode(":".join(self.need_creds or ("", "")).encode()).decode()
            if got == want:
                return True
            self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        token = got.removeprefix("Bearer ")
        if token in self.tokens and self.tokens[token] > 0:
            self.tokens[token] -= 1
            return True
        self.send(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate":
                  f'Bearer realm="http://{self.host}/token",service="fake",scope="repository:{REPO}:pull"'})
        return False

    def handle(self, h, head: bool) -> None:
        path = h.path
        self.log.append((h.command, path, dict(h.headers)))
        if path.startswith("/token"):
            if self.need_creds:
                want = "Basic " + base64.b64encode(":".join(self.need_creds).encode()).decode()
                if h.headers.get("Authorization") != want:
                    return self.send(h, 401, b"{}")
            token = f"tok{len(self.tokens)}"
            self.tokens[token] = self.token_uses
            return self.send(h, 200, json.dumps({"token": token, "expires_in": 300}).encode())
        if path.startswith("/blob/"):  # the other host a redirect leads to
            return self.send(h, 200, self.blobs[path[6:]], head=head)
        if not self.authorized(h):
            return
        if path == "/v2/":
            return self.send(h, 200, b"{}")
        if path.startswith(f"/v2/{REPO}/manifests/"):
            if path.rsplit("/", 1)[1] not in ("latest", sha(self.manifest)):
                return self.send(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return self.send(h, 200, self.manifest, {"Content-Type": self.manifest_type}, head=head)
        if path.startswith(f"/v2/{REPO}/blobs/"):
            digest = path.rsplit("/", 1)[1]
            if digest not in self.blobs:
                return self.send(h, 404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
            if self.statuses.get(digest):
                return self.send(h, self.statuses[digest].pop(0), b"busy", {"Retry-After": "0"})
            if self.redirect_to is not None and digest in self.layer_digests:
                return self.send(h, 307, b"", {"Location": f"http://{self.redirect_to.host}/blob/{digest}"})
            data = self.blobs[digest]
            if digest in self.corrupt:
                data = data[:-1] + bytes([data[-1] ^ 1])
            rng = h.headers.get("Range")
            if rng:
                start = int(rng.split("=")[1].split("-")[0])
                return self.send(h, 206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"},
                                 head=head)
            if digest in self.drop_at:
                cut = self.drop_at.pop(digest)
                h.send_response(200)
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data[:cut])
                h.wfile.flush()
                h.close_connection = True
                import socket
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            return self.send(h, 200, data, head=head)
        self.send(h, 404, b"{}")


@pytest.fixture
def fake():
    f = Fake()
    yield f
    f.stop()


@pytest.fixture
def puller_for(tmp_path):
    roots = []

    def make(fake: Fake, credentials=None) -> Puller:
        store = Store(SESSION_ROOT / f"faults-{tmp_path.name}-{len(roots)}")
        roots.append(store.root)
        client = RegistryClient(fake.host, credentials=credentials, backoff=0.01)
        return Puller(store, ImageStore(store), client)

    yield make
    for r in roots:
        shutil.rmtree(r, ignore_errors=True)


def pull(p: Puller, fake: Fake):
    return p.pull(parse_reference(f"{fake.host}/{REPO}"))


def assert_pulled(p: Puller, fake: Fake, img) -> None:
    assert (p.store.layer_dir(img.layers[1]) / "b").read_bytes() == b"second layer\n"
    assert img.layers == [sha(t) for t in fake.layer_tars]


def assert_nothing_stored(p: Puller) -> None:
    assert os.listdir(p.store.layers) == [] and os.listdir(p.store.tmp) == [] and p.images.list() == []


def test_bearer_token_anonymous(fake, puller_for):
    fake.auth = "bearer"
    p = puller_for(fake)
    assert_pulled(p, fake, pull(p, fake))
    tokens = fake.requests("/token")
    assert len(tokens) == 1 and "Authorization" not in tokens[0][2]
    assert f"scope=repository%3A{REPO.replace('/', '%2F')}%3Apull" in tokens[0][1] and "service=fake" in tokens[0][1]


def test_bearer_token_with_credentials_and_refused_ones(fake, puller_for):
    fake.auth, fake.need_creds = "bearer", ("alice", "s3cret")
    with pytest.raises(AuthError, match="needs credentials.*bocker login"):
        pull(puller_for(fake), fake)
    assert len(fake.requests("/token")) == 1                          # 401 is not retried
    with pytest.raises(AuthError, match="refused the credentials"):
        pull(puller_for(fake, ("alice", "wrong")), fake)
    p = puller_for(fake, ("alice", "s3cret"))
    assert_pulled(p, fake, pull(p, fake))
    assert fake.requests("/token")[-1][2]["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_token_that_expires_mid_pull_is_renewed(fake, puller_for):
    fake.auth, fake.token_uses = "bearer", 2                          # each token works twice
    p = puller_for(fake)
    assert_pulled(p, fake, pull(p, fake))
    assert len(fake.requests("/token")) >= 2


def test_redirect_to_another_host_gets_no_authorization(fake, puller_for):
    other = Fake()
    other.blobs = fake.blobs
    try:
        fake.auth, fake.redirect_to = "bearer", other
        p = puller_for(fake)
        assert_pulled(p, fake, pull(p, fake))
        sent = other.requests("/blob/")
        assert len(sent) == 2 and all("Authorization" not in headers for _, _, headers in sent)
        assert all(h["Authorization"].startswith("Bearer ") for _, path, h in fake.requests("/blobs/")
                   if "Authorization" in h)
    finally:
        other.stop()


def test_429_and_5xx_are_retried_then_succeed(fake, puller_for):
    layer = fake.layer_digests[0]
    fake.statuses[layer] = [429, 503, 500]
    p = puller_for(fake)
    assert_pulled(p, fake, pull(p, fake))
    assert len(fake.requests(f"/blobs/{layer}")) == 4


def test_dropped_connection_resumes_with_range(fake, puller_for):
    layer = fake.layer_digests[0]
    fake.drop_at[layer] = 100_000
    p = puller_for(fake)
    assert_pulled(p, fake, pull(p, fake))
    gets = fake.requests(f"/blobs/{layer}")
    assert len(gets) == 2 and gets[1][2].get("Range", "").startswith("bytes=") and gets[1][2]["Range"] != "bytes=0-"


def test_wrong_digest_is_refused_and_nothing_is_left(fake, puller_for):
    fake.corrupt.add(fake.layer_digests[0])
    p = puller_for(fake)
    with pytest.raises(DigestMismatch, match="has the digest .*refused"):
        pull(p, fake)
    # the other, verified layer may stay cached; the bad one, any scratch dir and the image don't
    assert sha(fake.layer_tars[0]).split(":")[1] not in os.listdir(p.store.layers)
    assert os.listdir(p.store.tmp) == [] and p.images.list() == []


def test_content_type_that_is_not_the_media_type_is_refused(fake, puller_for):
    fake.manifest_type = OCI_MANIFEST
    p = puller_for(fake)
    with pytest.raises(RegistryError, match="came as .* but says it is"):
        pull(p, fake)
    assert_nothing_stored(p)


def test_404_and_401_are_not_retried(fake, puller_for):
    p = puller_for(fake)
    with pytest.raises(NotFound):
        p.pull(parse_reference(f"{fake.host}/{REPO}@sha256:" + "1" * 64))
    assert len(fake.requests("/manifests/")) == 1
    saved = fake.blobs.pop(fake.layer_digests[1])  # restored as it was: gzip output holds a time
    with pytest.raises(NotFound):
        pull(p, fake)
    assert len(fake.requests(f"/blobs/{fake.layer_digests[1]}")) == 1
    fake.auth, fake.need_creds = "basic", ("bob", "pw")
    n = len(fake.log)
    with pytest.raises(AuthError):
        pull(puller_for(fake), fake)
    assert len(fake.log) == n + 1
    p = puller_for(fake, ("bob", "pw"))
    fake.blobs[fake.layer_digests[1]] = saved
    assert_pulled(p, fake, pull(p, fake))                               # Basic auth works too


def test_a_digest_that_is_a_path_is_refused_before_any_request(fake, puller_for):
    fake.manifest_doc["layers"][1]["digest"] = "sha256:../../x"
    p = puller_for(fake)
    with pytest.raises(BadDigest):
        pull(p, fake)
    assert not fake.requests("/blobs/sha256:..") and not fake.requests("/x")
    assert_nothing_stored(p)


def test_login_keeps_credentials_and_pull_uses_them(fake, engine, tmp_path, monkeypatch):
    fake.auth, fake.need_creds = "basic", ("carol", "pw")
    from bocker_magics.errors import BockerError
    with pytest.raises(BockerError):
        engine.login(fake.host, "carol", "nope")
    assert engine.login(fake.host, "carol", "pw") == fake.host
    auth = engine.store.root / "auth.json"
    assert oct(auth.stat().st_mode & 0o777) == "0o600"
    assert find_credentials(fake.host, [auth]) == ("carol", "pw")
    try:
        img = engine.pull(f"{fake.host}/{REPO}")
        assert (engine.store.layer_dir(img.layers[1]) / "b").exists()
    finally:
        auth.unlink()
    # ~/.docker/config.json (here through DOCKER_CONFIG) is read too
    (tmp_path / "config.json").write_text(json.dumps({"auths": {f"http://{fake.host}": {
        "auth": base64.b64encode(b"carol:pw").decode()}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    engine.rmi(f"{fake.host}/{REPO}")
    engine.pull(f"{fake.host}/{REPO}")
