"""The ways to a registry (issue 26): Docker Hub mirrors (registry-mirrors) with the fallback
to the hub, a forward proxy (HTTPS_PROXY through CONNECT, HTTP_PROXY, NO_PROXY), credential
helpers (docker-credential-NAME) against a registry with htpasswd auth, and zstd layers
pushed by skopeo and by bocker.

Docker Hub here is a loopback registry: BOCKER_HUB_ENDPOINT points docker.io at it, and every
test of this file starts with it pointing at a closed loopback port, so none reaches the
real hub.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.registry_fixtures import Layout, Registry, busybox_tree, missing_tools, run
from tests.support.session import HOST_NETNS, SESSION_ROOT, bocker

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {missing_tools()} (quickstart.sh test installs them)")

tls_fixtures = pytest.importorskip("tests.support.tls_fixtures")  # the cryptography package (the test extra)
from bocker_magics.lab.registry import LocalRegistry  # noqa: E402
from tests.support.tls_fixtures import PKI, TEST_ADDRESS, ConnectProxy, add_test_address, htpasswd, remove_test_address  # noqa: E402

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    monkeypatch.setenv("BOCKER_HUB_ENDPOINT", "http://127.0.0.1:9")
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def work():
    d = SESSION_ROOT / "registry-paths"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    add_test_address(HOST_NETNS)
    try:
        yield d
    finally:
        remove_test_address()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def layout(work) -> Layout:
    """Two small images by umoci: `one` (/which: one) and `two` (/which: two), two layers each."""
    lay = Layout(work / "oci")
    bundle = work / "bundle"
    for tag in ("one", "two"):
        lay.new(tag)
        root = lay.unpack(tag, bundle)
        busybox_tree(root, ("sh", "cat", "ls"))
        lay.repack(tag, bundle)
        root = lay.unpack(tag, bundle)
        (root / "which").write_text(f"{tag}\n")
        (root / "data").mkdir()
        (root / "data" / "random").write_bytes(os.urandom(300_000))
        lay.repack(tag, bundle)
        lay.config(tag, "--config.cmd", "sh")
    shutil.rmtree(bundle, ignore_errors=True)
    return lay


def push(layout: Layout, tag: str, dest: str, *extra: str) -> None:
    run("skopeo", "copy", "-q", "--dest-tls-verify=false", *extra, f"oci:{layout.path}:{tag}", f"docker://{dest}")


def one_line_failure(r) -> str:
    assert r.returncode != 0, r.stdout
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr.strip()


def blobs_in(reg: LocalRegistry) -> set[str]:
    base = reg.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return {p.name for p in base.glob("*/*")} if base.is_dir() else set()


# == mirrors ================================================================================
def test_hub_pulls_go_to_the_mirror_and_fall_back_to_the_hub(engine, work, layout, tmp_path, monkeypatch):
    hub = Registry(work / "hub")
    mirror = LocalRegistry(work / "mirror", proxy_remote=f"http://{hub.host}")  # a pull-through mirror
    try:
        push(layout, "one", f"{hub.host}/library/paths-one:1")
        push(layout, "two", f"{hub.host}/library/paths-two:1")
        config = tmp_path / "daemon.json"
        config.write_text(json.dumps({"registry-mirrors": [f"http://{mirror.host}"]}))
        monkeypatch.setenv("BOCKER_CONFIG", str(config))
        monkeypatch.setenv("BOCKER_HUB_ENDPOINT", f"http://{hub.host}")
        assert blobs_in(mirror) == set()
        img = engine.pull("paths-one:1")                      # docker.io/library/paths-one:1
        assert img.names == ["paths-one:1"]
        assert engine.run(img.id, "cat /which").text == "one\n"
        served = blobs_in(mirror)
        layer_blobs = {d["digest"].split(":")[1] for d in _manifest(hub, "library/paths-one", "1")["layers"]}
        assert layer_blobs <= served                          # the mirror served (and cached) every layer
        # the mirror down: the same pull goes to the hub
        mirror.close()
        img = engine.pull("paths-two:1")
        assert engine.run(img.id, "cat /which").text == "two\n"
        # the mirror is only for Docker Hub: a pull from another registry never asks it
        img = engine.pull(f"{hub.host}/library/paths-one:1")
        assert engine.run(img.id, "cat /which").text == "one\n"
    finally:
        mirror.close()
        hub.stop()


def test_a_mirror_that_lacks_the_image_falls_back_and_the_hub_s_error_is_the_one_line(work, layout, fresh_root, tmp_path):
    hub = Registry(work / "hub2")
    other = Registry(work / "not-a-mirror-of-it")
    try:
        push(layout, "one", f"{hub.host}/library/paths-one:1")
        config = tmp_path / "daemon.json"
        config.write_text(json.dumps({"registry-mirrors": [f"http://{other.host}", "http://127.0.0.1:9"]}))
        env = {"BOCKER_CONFIG": str(config), "BOCKER_HUB_ENDPOINT": f"http://{hub.host}"}
        r = bocker("pull", "paths-one:1", env=env)
        assert r.returncode == 0, r.stderr
        line = one_line_failure(bocker("pull", "nothing-here:1", env=env))
        assert "library/nothing-here:1 was not found on registry-1.docker.io" in line, line
    finally:
        other.stop()
        hub.stop()


def _manifest(reg: Registry, repo: str, tag: str) -> dict:
    data, _ = reg.get(f"/v2/{repo}/manifests/{tag}", accept="application/vnd.oci.image.manifest.v1+json")
    return json.loads(data)


# == a forward proxy ========================================================================
@pytest.fixture
def proxy():
    p = ConnectProxy()
    yield p
    p.close()


def test_https_registry_through_a_connect_proxy_and_no_proxy(engine, work, layout, proxy, tmp_path, monkeypatch):
    pki = PKI.make(tmp_path / "pki")
    reg = LocalRegistry(work / "reg-proxied", delete=True, address=TEST_ADDRESS, tls=pki.server)
    try:
        certs = pki.certs_d(tmp_path / "certs.d", reg.host)
        run("skopeo", "copy", "-q", f"--dest-cert-dir={certs / reg.host}", f"oci:{layout.path}:one",
            f"docker://{reg.host}/proxied/one:1")
        monkeypatch.setenv("BOCKER_CERTS_D", str(certs))
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        img = engine.pull(f"{reg.host}/proxied/one:1")
        assert engine.run(img.id, "cat /which").text == "one\n"
        assert proxy.targets and set(proxy.targets) == {f"CONNECT {reg.host}"}, proxy.targets
        engine.rmi(img.id)
        # NO_PROXY names it (lower case works as well): straight to the registry
        proxy.targets.clear()
        monkeypatch.delenv("HTTPS_PROXY")
        monkeypatch.setenv("https_proxy", proxy.url)
        monkeypatch.setenv("no_proxy", "example.com,192.0.2.0/24")
        img = engine.pull(f"{reg.host}/proxied/one:1")
        assert engine.run(img.id, "cat /which").text == "one\n"
        assert proxy.targets == []
    finally:
        reg.close()


def test_http_proxy_for_plain_http_and_never_for_loopback(engine, work, layout, proxy, tmp_path, monkeypatch):
    far = LocalRegistry(work / "reg-far", delete=True, address=TEST_ADDRESS)
    near = Registry(work / "reg-near")
    try:
        push(layout, "two", f"{far.host}/far/two:1")
        push(layout, "two", f"{near.host}/near/two:1")
        config = tmp_path / "daemon.json"
        config.write_text(json.dumps({"insecure-registries": [far.host]}))
        monkeypatch.setenv("BOCKER_CONFIG", str(config))
        monkeypatch.setenv("BOCKER_CERTS_D", str(tmp_path))
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        img = engine.pull(f"{far.host}/far/two:1")             # https through CONNECT fails its handshake: http
        assert engine.run(img.id, "cat /which").text == "two\n"
        assert any(t.startswith(f"GET http://{far.host}/v2/far/two/") for t in proxy.targets), proxy.targets
        proxy.targets.clear()
        engine.pull(f"{near.host}/near/two:1")                 # loopback: never through the proxy
        assert proxy.targets == []
    finally:
        far.close()
        near.stop()


def test_a_proxy_that_is_down_or_malformed_is_one_line(work, fresh_root, tmp_path):
    reg = LocalRegistry(work / "reg-behind", address=TEST_ADDRESS)
    try:
        line = one_line_failure(bocker("pull", "--insecure", f"{reg.host}/x/y:1",
                                       env={"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}))
        assert reg.host in line and "through the proxy 127.0.0.1:9" in line, line
        line = one_line_failure(bocker("pull", f"{reg.host}/x/y:1", env={"HTTPS_PROXY": "socks5://127.0.0.1:9"}))
        assert "socks5://127.0.0.1:9" in line and "HTTPS_PROXY" in line, line
    finally:
        reg.close()


# == credential helpers =====================================================================
HELPER = """#!/bin/sh
# docker-credential-test: the credentials of one registry, its calls logged
log={log}
echo "$1" >> "$log"
case "$1" in
  get)   read url; echo "get $url" >> "$log"
         if [ "$url" = "{host}" ]; then printf '{{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}}\\n' "$url"
         else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) cat >> "$log"; echo >> "$log" ;;
  erase) read url; echo "erase $url" >> "$log" ;;
  *)     echo "unknown action" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def auth_registry(work, layout, tmp_path):
    reg = LocalRegistry(work / "reg-auth", delete=True, htpasswd=htpasswd(tmp_path / "htpasswd", "alice", "s3cret"))
    run("skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
        f"oci:{layout.path}:one", f"docker://{reg.host}/auth/one:1")
    yield reg
    reg.close()


def test_a_credential_helper_gives_the_password(auth_registry, fresh_root, tmp_path, monkeypatch):
    reg = auth_registry
    bin_dir, docker = tmp_path / "bin", tmp_path / "docker"
    bin_dir.mkdir()
    docker.mkdir()
    log = tmp_path / "helper.log"
    helper = bin_dir / "docker-credential-test"
    helper.write_text(HELPER.format(log=log, host=reg.host))
    helper.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_CONFIG": str(docker)}
    # without credentials: one line saying so
    line = one_line_failure(bocker("pull", f"{reg.host}/auth/one:1", env=env))
    assert reg.host in line and "bocker login" in line, line
    # credHelpers names the helper for this registry
    (docker / "config.json").write_text(json.dumps({"credHelpers": {reg.host: "test"}}))
    r = bocker("pull", f"{reg.host}/auth/one:1", env=env)
    assert r.returncode == 0, r.stderr
    assert f"get {reg.host}" in log.read_text()
    r = bocker("run", "--rm", f"{reg.host}/auth/one:1", "cat /which", env=env)
    assert r.stdout == "one\n", r.stderr
    # login stores through it (the JSON on its stdin), nothing in BOCKER_ROOT/auth.json
    r = bocker("login", "-u", "alice", "--password-stdin", reg.host, env=env, input="s3cret\n")
    assert r.returncode == 0, r.stderr
    stored = [json.loads(l) for l in log.read_text().splitlines() if l.startswith("{")]
    assert stored == [{"ServerURL": reg.host, "Username": "alice", "Secret": "s3cret"}]
    assert not (fresh_root / "auth.json").exists()
    # credsStore: every registry; one the helper has nothing for is no credentials, not an error
    (docker / "config.json").write_text(json.dumps({"credsStore": "test"}))
    assert bocker("pull", f"{reg.host}/auth/one:1", env=env).returncode == 0
    # logout: erase through the helper, as `docker logout` does
    r = bocker("logout", reg.host, env=env)
    assert r.returncode == 0 and r.stdout == f"Removing login credentials for {reg.host}\n", r.stderr
    assert f"erase {reg.host}" in log.read_text()


def test_a_credential_helper_that_fails_or_is_missing_is_one_line(auth_registry, fresh_root, tmp_path):
    reg = auth_registry
    bin_dir, docker = tmp_path / "bin", tmp_path / "docker"
    bin_dir.mkdir()
    docker.mkdir()
    broken = bin_dir / "docker-credential-broken"
    broken.write_text("#!/bin/sh\necho 'the keyring is locked' >&2\nexit 3\n")
    broken.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_CONFIG": str(docker)}
    (docker / "config.json").write_text(json.dumps({"credHelpers": {reg.host: "broken"}}))
    line = one_line_failure(bocker("pull", f"{reg.host}/auth/one:1", env=env))
    assert "docker-credential-broken" in line and "the keyring is locked" in line, line
    line = one_line_failure(bocker("login", "-u", "alice", "-p", "s3cret", reg.host, env=env))
    assert "docker-credential-broken" in line and "store" in line, line
    (docker / "config.json").write_text(json.dumps({"credsStore": "nowhere"}))
    line = one_line_failure(bocker("pull", f"{reg.host}/auth/one:1", env=env))
    assert "docker-credential-nowhere" in line and "not on PATH" in line, line


# == zstd ===================================================================================
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def test_a_zstd_image_pushed_by_skopeo_is_pulled_exactly(engine, work, layout, tmp_path):
    reg = Registry(work / "reg-zstd")
    try:
        push(layout, "two", f"{reg.host}/zstd/two:1", "--dest-compress-format", "zstd")
        manifest = _manifest(reg, "zstd/two", "1")
        assert {d["mediaType"] for d in manifest["layers"]} == {ZSTD}
        img = engine.pull(f"{reg.host}/zstd/two:1")
        config = json.loads(reg.get(f"/v2/zstd/two/blobs/{manifest['config']['digest']}")[0])
        assert img.layers == config["rootfs"]["diff_ids"]          # each layer unpacks to its diff_id
        # the same files as the layout's own (gzip) image, byte for byte
        r = engine.run(img.id, "cat /which; sha256sum /data/random")
        want = _random_sha(layout, "two", tmp_path)
        assert r.text == f"two\n{want}  /data/random\n"
    finally:
        reg.stop()


def _random_sha(layout: Layout, tag: str, tmp_path: Path) -> str:
    import hashlib
    root = layout.unpack(tag, tmp_path / "unpacked")
    return hashlib.sha256((root / "data" / "random").read_bytes()).hexdigest()


def test_push_with_zstd_reads_back_with_skopeo_and_pulls(work, layout, fresh_root, tmp_path):
    reg = Registry(work / "reg-zstd-push")
    try:
        push(layout, "one", f"{reg.host}/src/one:1")
        assert bocker("pull", f"{reg.host}/src/one:1").returncode == 0
        r = bocker("push", "--compression", "zstd", f"{reg.host}/src/one:1", f"{reg.host}/zstd/one:1")
        assert r.returncode == 0, r.stderr
        manifest = _manifest(reg, "zstd/one", "1")
        assert {d["mediaType"] for d in manifest["layers"]} == {ZSTD}   # not the gzip blobs it was pulled as
        # skopeo reads the zstd layers (it decompresses them to write gzip ones; umoci knows no zstd)
        run("skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-compress-format", "gzip",
            f"docker://{reg.host}/zstd/one:1", f"oci:{tmp_path / 'back'}:one")
        back = Layout(tmp_path / "back")
        root = back.unpack("one", tmp_path / "back-bundle")
        assert (root / "which").read_text() == "one\n"
        assert bocker("rmi", f"{reg.host}/src/one:1").returncode == 0
        assert bocker("pull", f"{reg.host}/zstd/one:1").returncode == 0
        r = bocker("run", "--rm", f"{reg.host}/zstd/one:1", "cat /which")
        assert r.stdout == "one\n", r.stderr
    finally:
        reg.stop()
