"""pull and push against a real registry (Debian's docker-registry on 127.0.0.1), filled by
skopeo and umoci; every image checked from inside a running container."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.support.registry_fixtures import Registry, build_test_images, check_layers_image, missing_tools, run
from tests.support.session import SESSION_ROOT, bocker

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {missing_tools()} (quickstart.sh test installs them)")

@pytest.fixture(scope="module")
def registry():
    work = SESSION_ROOT / "registry-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    layout = build_test_images(work)
    reg = Registry(work / "registry")
    try:
        reg.push_oci(layout.path, "layers", "test/layers")
        reg.push_oci(layout.path, "layers", "other/layers")
        reg.push_oci(layout.path, "multi", "test/multi", all_images=True)
        reg.layout = layout  # type: ignore[attr-defined]
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_pull_multilayer_image_applies_whiteouts_opaque_dirs_and_keeps_modes(engine, registry):
    events = []
    img = engine.pull(f"{registry.host}/test/layers", progress=events.append)
    assert img.names == [f"{registry.host}/test/layers:latest"]
    assert len(img.layers) == 3 and img.digest.startswith("sha256:")
    check_layers_image(engine, img.id)
    assert {e.status for e in events} >= {"downloading", "done"} or {e.status for e in events} == {"exists"}
    # the opaque dir and the whiteout, in overlay form, in the stored layers
    top = engine.store.layer_dir(img.layers[2])
    assert os.getxattr(top / "opq", "trusted.overlay.opaque") == b"y"
    wh = os.lstat(engine.store.layer_dir(img.layers[1]) / "data" / "gone")
    assert wh.st_rdev == 0 and (wh.st_mode & 0o170000) == 0o020000


def test_a_layer_two_images_share_is_downloaded_and_stored_once(engine, registry):
    engine.pull(f"{registry.host}/test/layers")
    events = []
    img = engine.pull(f"{registry.host}/other/layers", progress=events.append)
    assert {e.status for e in events} == {"exists"}                  # nothing downloaded again
    assert len(list(engine.store.layers.iterdir())) == len(set(os.listdir(engine.store.layers)))
    check_layers_image(engine, img.id)


def test_index_chooses_the_host_platform_and_skips_attestations(engine, registry):
    img = engine.pull(f"{registry.host}/test/multi")
    assert engine.run(img.id, "cat /platform").text == "linux/amd64\n"
    arm = engine.pull(f"{registry.host}/test/multi", platform="linux/arm64")
    assert engine.run(arm.id, "cat /platform").text == "linux/arm64\n"   # the host's busybox, an arm64 label
    from bocker_magics.errors import NotFound
    with pytest.raises(NotFound, match=r"No image for linux/s390x .* it has linux/arm64/v8, linux/amd64"):
        engine.pull(f"{registry.host}/test/multi", platform="linux/s390x")


def test_missing_image_is_one_clear_error(engine, registry):
    from bocker_magics.errors import NotFound
    with pytest.raises(NotFound, match="test/nothing:latest was not found"):
        engine.pull(f"{registry.host}/test/nothing")


def test_cli_pull_and_images(registry, fresh_root):
    r = bocker("pull", f"{registry.host}/test/layers", "latest")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Created: img_") and len(r.stdout.split()) == 2
    assert "Pull complete" in r.stderr                                  # progress on stderr
    r = bocker("images", "--format", "table", check=True)
    assert f"{registry.host}/test/layers:latest" in r.stdout
    r = bocker("run", f"{registry.host}/test/layers", "cat /data/new", check=True)
    assert r.stdout == "added in layer 2\n"
    r = bocker("pull", "-q-not-an-option", check=False)
    assert r.returncode == 2


def test_push_of_a_committed_image_reads_back_with_skopeo_umoci_and_pull(engine, registry, tmp_path):
    base = engine.pull(f"{registry.host}/test/layers")
    r = engine.run(base.id, "rm /data/kept && rm -r /opq && mkdir /opq && echo fresh > /opq/only && "
                            "echo s > /data/setuid && chmod 4711 /data/setuid && ln /data/new /data/new2")
    assert r.exit_code == 0, r.text
    committed = engine.commit(r.id, "committed:v1")
    engine.rm(r.id)
    pushed = engine.push(committed.id, f"{registry.host}/test/pushed:v1")
    assert pushed.startswith(f"{registry.host}/test/pushed:v1@sha256:")
    # skopeo reads it
    info = json.loads(run("skopeo", "inspect", "--tls-verify=false", f"docker://{registry.host}/test/pushed:v1"))
    assert len(info["Layers"]) == 4 and info["Architecture"] == "amd64"
    # skopeo copies it, umoci unpacks it with the whiteouts and the opaque dir applied
    run("skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{registry.host}/test/pushed:v1",
        f"oci:{tmp_path / 'oci'}:v1")
    run("umoci", "unpack", "--image", f"{tmp_path / 'oci'}:v1", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert sorted(os.listdir(rootfs / "data")) == ["new", "new2", "setuid"]
    assert os.listdir(rootfs / "opq") == ["only"]
    assert os.stat(rootfs / "data" / "setuid").st_mode & 0o7777 == 0o4711
    assert os.stat(rootfs / "data" / "new").st_ino == os.stat(rootfs / "data" / "new2").st_ino
    assert os.stat(rootfs / "suid").st_mode & 0o7777 == 0o4755
    # pulled back (into a fresh store) it runs the same
    from bocker_magics.engine.engine import Engine
    check = "echo $(ls -A /data /opq); stat -c '%a %h' /data/setuid /data/new; cat /opq/only /link/x"
    here = engine.run(committed.id, check).text
    fresh = Engine(SESSION_ROOT / f"fresh-push-{tmp_path.name}")
    try:
        back = fresh.pull(f"{registry.host}/test/pushed:v1")
        assert fresh.run(back.id, check).text == here
        for c in fresh.ps():
            fresh.rm(c.id)
    finally:
        fresh.close()
        shutil.rmtree(SESSION_ROOT / f"fresh-push-{tmp_path.name}", ignore_errors=True)
    # a second push finds every blob there and uploads nothing
    events = []
    assert engine.push(committed.id, f"{registry.host}/test/pushed:v1", progress=events.append) == pushed
    assert {e.status for e in events} == {"exists"}
