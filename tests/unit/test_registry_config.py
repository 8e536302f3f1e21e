"""The pieces of issue 26 that are plain functions: the engine config's parsing, NO_PROXY
matching, which proxy a registry gets, certs.d lookups, credential helper selection, and zstd
streams (several frames; truncated and corrupt ones).
(The same paths against real registries: test_registry_tls.py, test_registry_paths.py.)"""

from __future__ import annotations

import json

import pytest

from bocker_magics.engine import config as engine_config
from bocker_magics.engine.distribution import credentials, proxy, tls
from bocker_magics.errors import AuthError, InvalidArgument


def test_config_keys_and_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("BOCKER_CERTS_D", raising=False)
    monkeypatch.delenv("BOCKER_HUB_ENDPOINT", raising=False)
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"registry-mirrors": ["mirror.lan:5000", "http://127.0.0.1:5001/"],
                             "insecure-registries": ["http://reg.lan:5000", "10.0.0.0/8"],
                             "default-address-pools": [{"base": "10.123.0.0/16", "size": 24}]}))
    cfg = engine_config.load(f)
    assert cfg.path == str(f)
    assert cfg.registry_mirrors == ["https://mirror.lan:5000", "http://127.0.0.1:5001"]
    assert cfg.insecure_registries == ["reg.lan:5000", "10.0.0.0/8"]
    assert cfg.certs_d == ["/etc/docker/certs.d", "/etc/containers/certs.d"]
    assert cfg.default_address_pools == [engine_config.AddressPool("10.123.0.0/16", 24)]
    assert cfg.is_insecure("reg.lan:5000") and cfg.is_insecure("10.1.2.3:443") and cfg.is_insecure("10.1.2.3")
    assert not cfg.is_insecure("reg.lan:5001") and not cfg.is_insecure("11.0.0.1:5000")
    monkeypatch.setenv("BOCKER_CERTS_D", "/a:/b")
    monkeypatch.setenv("BOCKER_HUB_ENDPOINT", "http://127.0.0.1:5000")
    cfg = engine_config.load(f)
    assert cfg.certs_d == ["/a", "/b"] and cfg.hub_endpoint == "http://127.0.0.1:5000"


def test_no_config_file_is_the_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("BOCKER_CONFIG", raising=False)
    monkeypatch.setattr(engine_config, "DEFAULT_PATH", tmp_path / "absent.json")
    cfg = engine_config.load()
    assert cfg.path is None and cfg.registry_mirrors == [] and cfg.insecure_registries == []


@pytest.mark.parametrize("text", ['{"x": 1}', "[]", "{", '{"insecure-registries": [1]}',
                                  '{"registry-mirrors": ["https://m/path"]}', '{"log-driver": 3}',
                                  '{"default-address-pools": [{"base": "10.0.0.0/8", "size": 24, "x": 1}]}'])
def test_bad_config_is_one_line_naming_the_file(text):
    with pytest.raises(InvalidArgument) as e:
        engine_config.parse(text, "/etc/bocker/daemon.json")
    assert "\n" not in str(e.value) and "/etc/bocker/daemon.json" in str(e.value)


@pytest.mark.parametrize("netloc,no_proxy,want", [
    ("reg.lan:5000", "reg.lan", True),
    ("a.reg.lan:5000", ".reg.lan", True),
    ("a.reg.lan:5000", "reg.lan", True),
    ("xreg.lan:5000", "reg.lan", False),
    ("reg.lan:5000", "reg.lan:5001", False),
    ("reg.lan:5000", "reg.lan:5000", True),
    ("10.1.2.3:443", "10.0.0.0/8", True),
    ("10.1.2.3:443", "10.1.2.3", True),
    ("11.1.2.3:443", "10.0.0.0/8", False),
    ("anything:1", "*", True),
    ("reg.lan", " foo , REG.LAN ", True),
    ("[fd00::1]:5000", "fd00::/8", True),
])
def test_no_proxy_matching(netloc, no_proxy, want):
    assert proxy.bypassed(netloc, no_proxy) is want


def test_which_proxy(monkeypatch):
    for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(v, raising=False)
    assert proxy.proxy_for("https", "reg.lan:5000") is None
    monkeypatch.setenv("https_proxy", "http://u%40x:p%3Aw@127.0.0.1:3128")
    p = proxy.proxy_for("https", "reg.lan:5000")
    assert (p.host, p.port) == ("127.0.0.1", 3128)
    import base64
    assert base64.b64decode(p.authorization.split()[1]) == b"u@x:p:w"
    assert proxy.proxy_for("http", "reg.lan:5000") is None          # HTTP_PROXY is for http
    assert proxy.proxy_for("https", "127.0.0.1:5000") is None       # never for loopback
    assert proxy.proxy_for("https", "localhost:5000") is None
    monkeypatch.setenv("NO_PROXY", "lan")
    assert proxy.proxy_for("https", "reg.lan:5000") is None
    monkeypatch.setenv("HTTP_PROXY", "proxy.lan")                   # no scheme: http, port 80
    p = proxy.proxy_for("http", "reg.example:5000")
    assert (p.host, p.port, p.authorization) == ("proxy.lan", 80, None)
    monkeypatch.setenv("HTTP_PROXY", "https://proxy.lan:443")
    with pytest.raises(InvalidArgument):
        proxy.proxy_for("http", "reg.example:5000")


def test_certs_d_lookup(tmp_path):
    a, b = tmp_path / "docker", tmp_path / "containers"
    (a / "reg.lan:5000").mkdir(parents=True)
    (b / "reg.lan:5000").mkdir(parents=True)
    (a / "reg.lan:5000" / "ca.crt").write_text("x")
    (b / "reg.lan:5000" / "extra.crt").write_text("x")
    (b / "reg.lan:5000" / "me.cert").write_text("x")
    (b / "reg.lan:5000" / "me.key").write_text("x")
    found = tls.find_certs("reg.lan:5000", [str(a), str(b)])
    assert found.cas == [a / "reg.lan:5000" / "ca.crt", b / "reg.lan:5000" / "extra.crt"]
    assert found.pairs == [(b / "reg.lan:5000" / "me.cert", b / "reg.lan:5000" / "me.key")]
    assert tls.find_certs("other:1", [str(a)]).dirs == []
    (b / "reg.lan:5000" / "me.key").unlink()
    with pytest.raises(InvalidArgument, match="has no key beside it"):
        tls.find_certs("reg.lan:5000", [str(a), str(b)])
    (a / "reg.lan:5000" / "ca.crt").write_text("not a certificate")
    with pytest.raises(InvalidArgument, match="is not a PEM certificate"):
        tls.make_context(tls.find_certs("reg.lan:5000", [str(a)]), verify=True)


def test_credential_helper_selection(tmp_path):
    doc = {"credsStore": "desktop", "credHelpers": {"reg.lan:5000": "pass", "docker.io": "hub"}}
    assert credentials.helper_for("reg.lan:5000", doc) == "pass"
    assert credentials.helper_for("registry-1.docker.io", doc) == "hub"
    assert credentials.helper_for("other:1", doc) == "desktop"
    assert credentials.helper_for("other:1", {}) is None
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"credsStore": "surely-not-installed-anywhere"}))
    with pytest.raises(AuthError, match="docker-credential-surely-not-installed-anywhere .* is not on PATH"):
        credentials.find_credentials("reg.lan:5000", [cfg])


def test_zstd_layers_stream_in_process_and_a_bad_stream_is_a_layer_error(tmp_path):
    """zstd blobs of several frames decompress to the tar; truncated or corrupt ones are a
    LayerError, never a short layer."""
    import hashlib
    import io

    import zstandard

    from bocker_magics.engine.distribution.layers import Decompressed, extract, write_blob
    from bocker_magics.errors import LayerError

    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_bytes(b"zstd layer\n" * 50000)
    out = io.BytesIO()
    diff_id, digest, size = write_blob(src, out, compression="zstd")
    blob = out.getvalue()
    assert blob[:4] == b"\x28\xb5\x2f\xfd" and size == len(blob) and digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    plain = zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    assert diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    # two frames (as a concatenating writer makes) are one tar
    half = len(plain) // 2
    c = zstandard.ZstdCompressor()
    two = c.compress(plain[:half]) + c.compress(plain[half:])
    dec = Decompressed(io.BytesIO(two))
    dest = tmp_path / "out"
    dest.mkdir()
    extract(dec, dest)
    dec.drain()
    assert dec.digest == diff_id and (dest / "d" / "f").read_bytes() == b"zstd layer\n" * 50000
    for bad in (blob[: len(blob) // 2], blob[:8] + bytes(64) + blob[72:]):
        with pytest.raises(LayerError, match="zstd"):
            d = Decompressed(io.BytesIO(bad))
            while d.read(1 << 16):
                pass


def test_a_registry_context_is_made_once_while_its_files_are_unchanged(tmp_path):
    from tests.support.tls_fixtures import CA
    d = tmp_path / "certs.d" / "reg.test:5000"
    d.mkdir(parents=True)
    CA.make(d / "ca.crt")
    certs = tls.find_certs("reg.test:5000", [str(tmp_path / "certs.d")])
    first = tls.make_context(certs, verify=True)
    assert tls.make_context(certs, verify=True) is first       # the system's bundle is read once
    assert tls.make_context(certs, verify=False) is not first  # insecure: another context
    CA.make(d / "ca.crt", cn="another CA")                     # the file replaced: read again
    assert tls.make_context(certs, verify=True) is not first
    (d / "ca.crt").unlink()                                    # gone: the one line, as before
    with pytest.raises(InvalidArgument, match="Could not read"):
        tls.make_context(certs, verify=True)
