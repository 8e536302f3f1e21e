"""save and load: docker-save tarballs and OCI layouts, made and read by skopeo and umoci too."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.support.registry_fixtures import build_test_images, check_layers_image, missing_tools, run
from tests.support.session import SESSION_ROOT

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {missing_tools()} (quickstart.sh test installs them)")


@pytest.fixture(scope="module")
def layout():
    work = SESSION_ROOT / "save-load-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        yield build_test_images(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_load_a_docker_archive_made_by_skopeo(engine, layout, tmp_path):
    archive = tmp_path / "docker.tar"
    run("skopeo", "copy", "-q", f"oci:{layout.path}:layers", f"docker-archive:{archive}:loaded/docker:v1")
    [img] = engine.load(archive)
    assert img.names == ["loaded/docker:v1"] and len(img.layers) == 3
    check_layers_image(engine, img.id)


def test_load_an_oci_archive_and_a_layout_dir(engine, layout, tmp_path):
    archive = tmp_path / "oci.tar"
    run("skopeo", "copy", "-q", f"oci:{layout.path}:layers", f"oci-archive:{archive}:layers")
    [img] = engine.load(archive)
    check_layers_image(engine, img.id)
    [img2] = [i for i in engine.load(layout.path) if len(i.layers) == 3]  # the layout dir itself
    assert img2.layers == img.layers


def test_load_the_seed_format_directory_with_gzipped_layer_tars(engine, layout, tmp_path):
    """download-frozen-image-v2 saves each registry blob (gzip) as <id>/layer.tar."""
    manifest = json.loads(layout.blob(layout.manifest_descriptor("layers")["digest"]).read_bytes())
    out = tmp_path / "frozen"
    out.mkdir()
    cfg = manifest["config"]["digest"].split(":")[1]
    shutil.copy(layout.blob(manifest["config"]["digest"]), out / f"{cfg}.json")
    names = []
    for i, layer in enumerate(manifest["layers"]):
        (out / f"l{i}").mkdir()
        shutil.copy(layout.blob(layer["digest"]), out / f"l{i}" / "layer.tar")
        names.append(f"l{i}/layer.tar")
    (out / "manifest.json").write_text(json.dumps([{"Config": f"{cfg}.json", "RepoTags": ["frozen:1"],
                                                    "Layers": names}]))
    [img] = engine.load(out)
    assert img.names == ["frozen:1"]
    check_layers_image(engine, img.id)


def test_save_docker_and_oci_read_by_skopeo_and_umoci_and_loaded_back(engine, layout, tmp_path):
    run("skopeo", "copy", "-q", f"oci:{layout.path}:layers", f"oci-archive:{tmp_path / 'in.tar'}:layers")
    [img] = engine.load(tmp_path / "in.tar")
    r = engine.run(img.id, "rm /data/kept && echo changed > /opq/newfile")
    committed = engine.commit(r.id, "saved/me:v2")
    engine.rm(r.id)
    check = "echo $(ls -A /data /opq); cat /opq/newfile; stat -c '%a %u:%g' /suid /sgid"
    want = engine.run(committed.id, check).text

    docker = engine.save(committed.id, tmp_path / "save.tar", "docker")
    info = json.loads(run("skopeo", "inspect", f"docker-archive:{docker}"))
    assert len(info["Layers"]) == 4 and info["Architecture"] == "amd64"
    assert json.loads(run("tar", "-xOf", str(docker), "manifest.json"))[0]["RepoTags"] == ["saved/me:v2"]
    oci_tar = engine.save(committed.id, tmp_path / "save-oci.tar", "oci")
    assert len(json.loads(run("skopeo", "inspect", f"oci-archive:{oci_tar}"))["Layers"]) == 4
    oci_dir = engine.save(committed.id, str(tmp_path / "layout") + "/", "oci")
    run("umoci", "unpack", "--image", f"{oci_dir}:v2", str(tmp_path / "bundle"))
    rootfs = tmp_path / "bundle" / "rootfs"
    assert sorted(os.listdir(rootfs / "data")) == ["new"] and os.listdir(rootfs / "opq") == ["newfile"]
    assert os.stat(rootfs / "suid").st_mode & 0o7777 == 0o4755

    from bocker_magics.engine.engine import Engine
    for archive in (docker, oci_tar, oci_dir):
        root = SESSION_ROOT / f"fresh-load-{tmp_path.name}"
        fresh = Engine(root)
        try:
            [back] = fresh.load(archive)
            assert fresh.run(back.id, check).text == want
            for c in fresh.ps():
                fresh.rm(c.id)
        finally:
            fresh.close()
            shutil.rmtree(root, ignore_errors=True)


def test_bad_archives_are_one_clear_error(engine, tmp_path):
    from bocker_magics.errors import BockerError
    (tmp_path / "junk").write_bytes(b"not a tar")
    with pytest.raises(BockerError, match="not an image archive"):
        engine.load(tmp_path / "junk")
    d = tmp_path / "evil"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps([{"Config": "../../etc/passwd", "Layers": []}]))
    with pytest.raises(BockerError, match="outside the archive"):
        engine.load(d)
    with pytest.raises(BockerError, match="neither"):
        engine.load(tmp_path)
