"""Registries as people meet them (issue 26): Debian's docker-registry served over TLS with a
CA, server and client certificates made here; a certs.d of the test (BOCKER_CERTS_D: nothing
is written to /etc); mutual TLS; insecure registries; the engine config file.

The TLS registries listen on 192.0.2.10 (TEST-NET-1) on the loopback device of the session's
network namespace: a non-loopback host, which Docker verifies, reached without a name lookup
and without leaving the namespace.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.registry_fixtures import Layout, Registry, busybox_tree, missing_tools, run
from tests.support.session import HOST_NETNS, SESSION_ROOT, bocker

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {missing_tools()} (quickstart.sh test installs them)")

tls_fixtures = pytest.importorskip("tests.support.tls_fixtures")  # the cryptography package (the test extra)
from tests.support.tls_fixtures import PKI, TEST_ADDRESS, add_test_address, remove_test_address  # noqa: E402


@pytest.fixture(scope="module")
def work():
    d = SESSION_ROOT / "registry-tls"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    add_test_address(HOST_NETNS)
    try:
        yield d
    finally:
        remove_test_address()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(work) -> PKI:
    return PKI.make(work / "pki")


@pytest.fixture(scope="module")
def layout(work) -> Layout:
    """A small image made by umoci: busybox and /hello."""
    lay = Layout(work / "oci")
    lay.new("small")
    bundle = work / "bundle"
    root = lay.unpack("small", bundle)
    busybox_tree(root, ("sh", "cat", "ls"))
    (root / "hello").write_text("over tls\n")
    lay.repack("small", bundle)
    lay.config("small", "--config.cmd", "sh")
    shutil.rmtree(bundle, ignore_errors=True)
    return lay


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """No test may reach the real Docker Hub: it is a closed loopback port unless a test says otherwise."""
    monkeypatch.setenv("BOCKER_HUB_ENDPOINT", "http://127.0.0.1:9")
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)


def skopeo_push(layout: Layout, tag: str, dest: str, *, cert_dir: Path | None = None, extra: tuple[str, ...] = ()) -> None:
    tls = [f"--dest-cert-dir={cert_dir}"] if cert_dir else ["--dest-tls-verify=false"]
    run("skopeo", "copy", "-q", *tls, *extra, f"oci:{layout.path}:{tag}", f"docker://{dest}")


class TLSRegistry(Registry):
    def __init__(self, workdir: Path, pki: PKI, *, cert: tuple[Path, Path] | None = None, mtls: bool = False,
                 **kw) -> None:
        from bocker_magics.lab.registry import LocalRegistry
        LocalRegistry.__init__(self, workdir, delete=True, address=TEST_ADDRESS, tls=cert or pki.server,
                               client_ca=pki.ca.path if mtls else None, **kw)


@pytest.fixture(scope="module")
def tls_registry(work, pki, layout):
    reg = TLSRegistry(work / "reg-tls", pki)
    try:
        skopeo_push(layout, "small", f"{reg.host}/tls/small:1", cert_dir=pki.certs_d(work / "skopeo-certs", reg.host) / reg.host)
        yield reg
    finally:
        reg.stop()


def certs_d(pki: PKI, base: Path, host: str, **kw) -> Path:
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    return pki.certs_d(base, host, **kw)


def one_line_failure(r) -> str:
    assert r.returncode != 0, r.stdout
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr.strip()


# == TLS with a private CA =================================================================
def test_pull_and_push_over_tls_with_the_ca_in_a_certs_d(engine, tls_registry, pki, tmp_path, monkeypatch):
    monkeypatch.setenv("BOCKER_CERTS_D", str(certs_d(pki, tmp_path / "certs.d", tls_registry.host)))
    img = engine.pull(f"{tls_registry.host}/tls/small:1")
    r = engine.run(img.id, "cat /hello")
    assert r.exit_code == 0 and r.text == "over tls\n"
    pushed = engine.push(img.id, f"{tls_registry.host}/tls/pushed:2")
    assert pushed.startswith(f"{tls_registry.host}/tls/pushed:2@sha256:")
    # what was pushed reads back with skopeo, verifying against the same CA
    out = run("skopeo", "inspect", f"--cert-dir={tmp_path / 'certs.d' / tls_registry.host}",
              f"docker://{tls_registry.host}/tls/pushed:2")
    assert json.loads(out)["Digest"] == pushed.split("@", 1)[1]


def test_podman_s_certs_d_is_read_too(engine, tls_registry, pki, tmp_path, monkeypatch):
    # two certs.d directories, as /etc/docker/certs.d and /etc/containers/certs.d: the CA in the second
    empty = tmp_path / "docker-certs.d"
    empty.mkdir()
    monkeypatch.setenv("BOCKER_CERTS_D", f"{empty}:{certs_d(pki, tmp_path / 'containers-certs.d', tls_registry.host)}")
    img = engine.pull(f"{tls_registry.host}/tls/small:1")
    assert engine.run(img.id, "cat /hello").text == "over tls\n"


def test_without_the_ca_the_pull_is_refused_in_one_line(tls_registry, pki, fresh_root, tmp_path):
    nothing = tmp_path / "certs.d"
    nothing.mkdir()
    r = bocker("pull", f"{tls_registry.host}/tls/small:1", env={"BOCKER_CERTS_D": str(nothing)})
    line = one_line_failure(r)
    assert tls_registry.host in line and "unknown authority" in line, line
    assert f"{nothing / tls_registry.host}/ca.crt" in line and "--insecure" in line, line
    # a CA that did not sign it: the same, naming the file read
    other = tmp_path / "other.d" / tls_registry.host
    other.mkdir(parents=True)
    shutil.copy(pki.other_ca.path, other / "ca.crt")
    r = bocker("pull", f"{tls_registry.host}/tls/small:1", env={"BOCKER_CERTS_D": str(tmp_path / "other.d")})
    line = one_line_failure(r)
    assert "unknown authority" in line and str(other / "ca.crt") in line, line


def test_an_expired_certificate_and_a_wrong_name_are_one_line_each(work, pki, fresh_root, tmp_path):
    for name, cert, words in (("expired", pki.expired, "has expired"), ("wrong", pki.wrong_name, "is not valid for")):
        reg = TLSRegistry(work / f"reg-{name}", pki, cert=cert)
        try:
            r = bocker("pull", f"{reg.host}/x/y:1", env={"BOCKER_CERTS_D": str(certs_d(pki, tmp_path / name, reg.host))})
            line = one_line_failure(r)
            assert reg.host in line and words in line, line
        finally:
            reg.stop()


def test_insecure_as_docker_means_it(engine, tls_registry, pki, tmp_path, monkeypatch):
    nothing = tmp_path / "certs.d"
    nothing.mkdir()
    monkeypatch.setenv("BOCKER_CERTS_D", str(nothing))
    # --insecure: https without verification
    img = engine.pull(f"{tls_registry.host}/tls/small:1", insecure=True)
    assert engine.run(img.id, "cat /hello").text == "over tls\n"
    engine.rmi(img.id)
    # insecure-registries of the config (a network holds it), the same
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps({"insecure-registries": ["192.0.2.0/24"]}))
    monkeypatch.setenv("BOCKER_CONFIG", str(config))
    img = engine.pull(f"{tls_registry.host}/tls/small:1")
    assert engine.run(img.id, "cat /hello").text == "over tls\n"


def test_insecure_registry_that_speaks_plain_http(engine, work, layout, tmp_path, monkeypatch):
    from bocker_magics.lab.registry import LocalRegistry
    reg = LocalRegistry(work / "reg-plain", delete=True, address=TEST_ADDRESS)
    try:
        skopeo_push(layout, "small", f"{reg.host}/plain/small:1")
        config = tmp_path / "daemon.json"
        config.write_text(json.dumps({"insecure-registries": [reg.host]}))
        monkeypatch.setenv("BOCKER_CONFIG", str(config))
        monkeypatch.setenv("BOCKER_CERTS_D", str(tmp_path))
        img = engine.pull(f"{reg.host}/plain/small:1")  # https fails its handshake: then http
        assert engine.run(img.id, "cat /hello").text == "over tls\n"
    finally:
        reg.close()


# == mutual TLS ============================================================================
def test_mutual_tls_required_refused_and_given(engine, work, pki, layout, fresh_root, tmp_path, monkeypatch):
    reg = TLSRegistry(work / "reg-mtls", pki, mtls=True)
    try:
        skopeo_push(layout, "small", f"{reg.host}/mtls/small:1",
                    cert_dir=certs_d(pki, tmp_path / "skopeo", reg.host, client=pki.client) / reg.host)
        ref = f"{reg.host}/mtls/small:1"
        # no client certificate: one line saying where to put one
        line = one_line_failure(bocker("pull", ref, env={"BOCKER_CERTS_D": str(certs_d(pki, tmp_path / "ca-only", reg.host))}))
        assert reg.host in line and "client certificate" in line and "client.cert" in line, line
        # one the registry does not trust: one line naming it
        stranger = certs_d(pki, tmp_path / "stranger", reg.host, client=pki.stranger)
        line = one_line_failure(bocker("pull", ref, env={"BOCKER_CERTS_D": str(stranger)}))
        assert reg.host in line and "client certificate" in line, line
        # a key without its certificate: one line, before any connection
        lonely = certs_d(pki, tmp_path / "lonely", reg.host)
        (lonely / reg.host / "client.key").write_bytes(pki.client[1].read_bytes())
        line = one_line_failure(bocker("pull", ref, env={"BOCKER_CERTS_D": str(lonely)}))
        assert "client.key has no certificate beside it" in line, line
        # the right one: pull and push
        monkeypatch.setenv("BOCKER_CERTS_D", str(certs_d(pki, tmp_path / "good", reg.host, client=pki.client)))
        img = engine.pull(ref)
        assert engine.run(img.id, "cat /hello").text == "over tls\n"
        assert "@sha256:" in engine.push(img.id, f"{reg.host}/mtls/back:1")
    finally:
        reg.stop()


# == the engine config file ================================================================
def test_engine_config_is_shown_by_info_and_bad_keys_are_one_line(fresh_root, tmp_path):
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps({
        "registry-mirrors": ["https://mirror.example:5000"], "insecure-registries": ["10.9.0.0/16"],
        "default-address-pools": [{"base": "10.123.0.0/16", "size": 24}], "log-driver": "json-file"}))
    r = bocker("info", env={"BOCKER_CONFIG": str(config)})
    assert r.returncode == 0, r.stderr
    assert f"Engine Config: {config}" in r.stdout
    assert "Registry Mirrors: https://mirror.example:5000" in r.stdout
    assert "Insecure Registries: 127.0.0.0/8, 10.9.0.0/16" in r.stdout
    assert "Default Address Pools: 10.123.0.0/16 (/24)" in r.stdout and "Logging Driver: json-file" in r.stdout
    for text, words in (
        ('{"registry-mirrors": [], "debug": true}', "unknown key 'debug'"),
        ("{not json", "is not valid JSON"),
        ('{"registry-mirrors": "https://m"}', "'registry-mirrors' must be a list of strings"),
        ('{"registry-mirrors": ["ftp://m"]}', "is not a URL like https://host[:port]"),
        ('{"default-address-pools": [{"base": "10.1.2.3/16", "size": 24}]}', "is not a network"),
        ('{"default-address-pools": [{"base": "10.1.0.0/16", "size": 8}]}', "must be a prefix length"),
        ('{"log-driver": "syslog"}', "log-driver 'syslog' is not one bocker has"),
    ):
        config.write_text(text)
        for verb in (("info",), ("pull", "127.0.0.1:9/x/y:1")):
            line = one_line_failure(bocker(*verb, env={"BOCKER_CONFIG": str(config)}))
            assert str(config) in line and words in line, (verb, line)
    line = one_line_failure(bocker("info", env={"BOCKER_CONFIG": str(tmp_path / "missing.json")}))
    assert "does not exist" in line


def test_compression_choice_is_checked(fresh_root):
    r = bocker("push", "--compression", "lz4", "busybox", "127.0.0.1:9/x:1")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") <= 2, r.stderr
