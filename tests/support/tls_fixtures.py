"""What the registry TLS, proxy and credential tests make: a private CA with server and client
certificates (the `cryptography` package), an htpasswd file, a CONNECT proxy on 127.0.0.1,
and an address of TEST-NET-1 on the session netns's loopback device, so that a registry is
reached as a non-loopback host (Docker verifies those; loopback ones it does not) without a
name lookup and without leaving the session's network namespace.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import select
import socket
import socketserver
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_ADDRESS = "192.0.2.10"   # TEST-NET-1 (RFC 5737): never routed anywhere


# == certificates ===========================================================================
def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return path


def _write_cert(cert, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class CA:
    key: object
    cert: x509.Certificate
    path: Path

    @classmethod
    def make(cls, path: Path, cn: str = "bocker test CA") -> CA:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert, _write_cert(cert, path))

    def issue(self, cert_path: Path, key_path: Path, cn: str, *, ips: tuple[str, ...] = (),
              client: bool = False, expired: bool = False) -> tuple[Path, Path]:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        start, end = ((now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)) if expired
                      else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)))
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        if not client:
            names = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] or [x509.DNSName(cn)]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return _write_cert(cert, cert_path), _write_key(key, key_path)


@dataclass
class PKI:
    dir: Path
    ca: CA
    server: tuple[Path, Path]          # for TEST_ADDRESS (or the address given)
    client: tuple[Path, Path]          # signed by ca
    other_ca: CA                       # signs nothing the registry has
    stranger: tuple[Path, Path]        # a client certificate of other_ca
    expired: tuple[Path, Path]         # for TEST_ADDRESS, expired
    wrong_name: tuple[Path, Path]      # for 192.0.2.99

    @classmethod
    def make(cls, d: Path, ip: str = TEST_ADDRESS) -> PKI:
        d.mkdir(parents=True, exist_ok=True)
        ca = CA.make(d / "ca.crt")
        other = CA.make(d / "other-ca.crt", "another CA")
        return cls(
            d, ca,
            ca.issue(d / "server.crt", d / "server.key", ip, ips=(ip,)),
            ca.issue(d / "client.cert", d / "client.key", "bocker client", client=True),
            other,
            other.issue(d / "stranger.cert", d / "stranger.key", "stranger", client=True),
            ca.issue(d / "expired.crt", d / "expired.key", ip, ips=(ip,), expired=True),
            ca.issue(d / "wrong.crt", d / "wrong.key", "192.0.2.99", ips=("192.0.2.99",)),
        )

    def certs_d(self, base: Path, host: str, *, ca: bool = True, client: tuple[Path, Path] | None = None) -> Path:
        """A certs.d tree with a HOST:PORT dir: ca.crt and, if given, client.cert/client.key."""
        d = base / host
        d.mkdir(parents=True, exist_ok=True)
        if ca:
            (d / "ca.crt").write_bytes(self.ca.path.read_bytes())
        if client:
            (d / "client.cert").write_bytes(client[0].read_bytes())
            (d / "client.key").write_bytes(client[1].read_bytes())
        return base


# == htpasswd ===============================================================================
def htpasswd(path: Path, user: str, password: str) -> Path:
    """A docker-registry htpasswd file (bcrypt, which is all it takes)."""
    import bcrypt
    path.write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    return path


# == the address of a non-loopback registry ================================================
def add_test_address(host_netns_fd: int) -> None:
    """TEST_ADDRESS on lo of this process's network namespace, which must not be the host's."""
    here, host = os.stat("/proc/self/ns/net").st_ino, os.fstat(host_netns_fd).st_ino
    if here == host:
        raise RuntimeError("refusing to add an address to the host's network namespace")
    subprocess.run(["ip", "addr", "replace", f"{TEST_ADDRESS}/32", "dev", "lo"], check=True)


def remove_test_address() -> None:
    subprocess.run(["ip", "addr", "del", f"{TEST_ADDRESS}/32", "dev", "lo"], check=False, capture_output=True)


# == a forward proxy ========================================================================
class ConnectProxy:
    """An HTTP forward proxy on 127.0.0.1: CONNECT tunnels and absolute-form requests; it
    records what it was asked for (`targets`: "CONNECT host:port" or "GET http://...")."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline().decode("latin-1").strip()
                headers = []
                while (h := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                    headers.append(h)
                if not line:
                    return
                method, target, _ = line.split(" ", 2)
                proxy.targets.append(f"{method} {target}")
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    try:
                        upstream = socket.create_connection((host, int(port)), timeout=10)
                    except OSError:
                        self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                        return
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self.wfile.flush()
                    self._pipe(self.connection, upstream)
                    return
                # absolute form: one request to the origin, the connection closed after it
                from urllib.parse import urlsplit
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                kept = [h for h in headers if not h.lower().startswith((b"proxy-", b"connection"))]
                upstream.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(kept)
                                 + b"Connection: close\r\n\r\n")
                length = next((int(h.split(b":", 1)[1]) for h in headers if h.lower().startswith(b"content-length")), 0)
                if length:
                    upstream.sendall(self.rfile.read(length))
                self._pipe(self.connection, upstream)

            @staticmethod
            def _pipe(a: socket.socket, b: socket.socket) -> None:
                try:
                    while True:
                        ready, _, _ = select.select([a, b], [], [], 30)
                        if not ready:
                            return
                        for s in ready:
                            data = s.recv(1 << 16)
                            if not data:
                                return
                            (b if s is a else a).sendall(data)
                except OSError:
                    return
                finally:
                    b.close()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
