"""tlsstream.py: the registry client's HTTPS over memory BIOs, against an https server in this
process on 127.0.0.1 with a CA the test makes (tests/support/tls_fixtures.py). The same
features with the real registry, certs.d, proxies and mirrors: tests/host/test_registry_tls.py
and test_registry_paths.py."""

from __future__ import annotations

import hashlib
import http.client
import http.server
import random
import socket
import ssl
import threading
import time

import pytest

from bocker_magics.engine.distribution import tls, tlsstream

pytest.importorskip("cryptography")


def _body(n: int) -> bytes:
    return random.Random(n).randbytes(n)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        kind, _, size = self.path.strip("/").partition("/")
        data = _body(int(size))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if kind == "cut":  # half the body, then the TCP connection ends without close_notify
            self.wfile.write(data[:len(data) // 2])
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(data)

    def do_PUT(self) -> None:
        left = int(self.headers["Content-Length"])
        sha = hashlib.sha256()
        while left:
            chunk = self.rfile.read(min(left, 1 << 16))
            sha.update(chunk)
            left -= len(chunk)
        out = sha.hexdigest().encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tests.support.tls_fixtures import PKI
    return PKI.make(tmp_path_factory.mktemp("pki"), ip="127.0.0.1")


def _server(pki, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*map(str, pki.server))
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(str(client_ca))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def server(pki):
    srv = _server(pki)
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def mtls_server(pki):
    srv = _server(pki, client_ca=pki.ca.path)
    yield srv
    srv.shutdown()
    srv.server_close()


def _conn(srv, ctx):
    return tlsstream.HTTPSConnection("127.0.0.1", srv.server_address[1], timeout=10, context=ctx)


def _ctx(pki, client=None):
    ctx = ssl.create_default_context(cafile=str(pki.ca.path))
    if client:
        ctx.load_cert_chain(*map(str, client))
    return ctx


def test_bodies_of_many_records_and_a_reused_connection(server, pki):
    conn = _conn(server, _ctx(pki))
    try:
        for size in (5 << 20, 1, 70_001, 0, 3 << 20):
            conn.request("GET", f"/blob/{size}")
            resp = conn.getresponse()
            got = b"".join(iter(lambda: resp.read(1 << 20), b"")) if size > 100_000 else resp.read()
            assert got == _body(size)
        assert isinstance(conn.sock, tlsstream.TLSStream) and conn.sock.version() == "TLSv1.3"
        # one read gives what several records brought (an SSLSocket: at most one, 16 KB)
        conn.request("GET", f"/blob/{4 << 20}")
        resp = conn.getresponse()
        time.sleep(0.3)
        stream = conn.sock
        assert stream.readinto(bytearray(1 << 20)) > 16384
    finally:
        conn.close()


def test_an_upload_through_sendall(server, pki):
    data = _body(3 << 20)
    conn = _conn(server, _ctx(pki))
    try:
        conn.request("PUT", "/echo", body=data, headers={"Content-Length": str(len(data))})
        resp = conn.getresponse()
        assert resp.status == 201 and resp.read().decode() == hashlib.sha256(data).hexdigest()
    finally:
        conn.close()


def test_a_connection_that_ends_early_is_an_incomplete_read(server, pki):
    conn = _conn(server, _ctx(pki))
    try:
        conn.request("GET", f"/cut/{2 << 20}")
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead):
            resp.read()
    finally:
        conn.close()


def test_an_unknown_ca_is_the_same_error_and_one_line(server, pki):
    certs = tls.RegistryCerts(f"127.0.0.1:{server.server_address[1]}")
    conn = _conn(server, ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError) as e:
        conn.request("GET", "/blob/1")
    conn.close()
    assert tls.is_tls_failure(e.value)
    assert "signed by an unknown authority" in tls.tls_message(e.value, certs, certs.registry)


def test_mutual_tls_asked_for_and_given(mtls_server, pki):
    # refused without one: this server (Python's) ends the connection, whose alert is mostly
    # lost to the reset that follows, as with an SSLSocket; the one line that Go's registry
    # gives is tests/host/test_registry_tls.py's
    conn = _conn(mtls_server, _ctx(pki))
    with pytest.raises(OSError):
        conn.request("GET", "/blob/10")
        conn.getresponse().read()
    conn.close()
    conn = _conn(mtls_server, _ctx(pki, client=pki.client))
    try:
        conn.request("GET", "/blob/100000")
        assert conn.getresponse().read() == _body(100000)
    finally:
        conn.close()
