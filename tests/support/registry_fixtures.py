"""A real registry on 127.0.0.1 and test images made by independent tools.

- `Registry`: Debian's docker-registry (distribution 2.x), on a free loopback port, with its
  own config and storage under a scratch dir; stopped and removed by `stop()`.
- Images are built with umoci (init/new/unpack/repack/raw add-layer/config on an OCI layout,
  from trees of the host's static busybox) and pushed with `skopeo copy`: nothing of this
  project makes them, so a pull is checked against what other tools write.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tarfile
import urllib.request
from pathlib import Path

from bocker_magics.lab.registry import LocalRegistry

BUSYBOX = "/usr/bin/busybox" if os.path.exists("/usr/bin/busybox") else "/bin/busybox"
TOOLS = ("docker-registry", "skopeo", "umoci")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str, cwd: Path | None = None) -> str:
    r = subprocess.run(args, capture_output=True, text=True, cwd=cwd)
    if r.returncode:
        raise AssertionError(f"{' '.join(args)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


class Registry(LocalRegistry):
    """Debian's docker-registry on 127.0.0.1 (the lab's), with deletion on and helpers for
    filling it with skopeo and reading it raw."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, delete=True)

    def stop(self) -> None:
        self.close()

    def push_oci(self, layout: Path, tag: str, name: str, all_images: bool = False) -> None:
        args = ["skopeo", "copy", "-q", "--dest-tls-verify=false"]
        if all_images:
            args.append("--all")
        run(*args, f"oci:{layout}:{tag}", f"docker://{self.host}/{name}")

    def get(self, path: str, accept: str = "") -> tuple[bytes, dict[str, str]]:
        req = urllib.request.Request(f"http://{self.host}{path}", headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read(), dict(r.headers)


# == images made with umoci ==============================================================
def busybox_tree(rootfs: Path, applets: tuple[str, ...] = ()) -> None:
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    names = applets or tuple(run(BUSYBOX, "--list").split())
    for a in names:
        link = rootfs / "bin" / a
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")


class Layout:
    """An OCI image layout worked on with umoci."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            run("umoci", "init", "--layout", str(path))

    def image(self, tag: str) -> str:
        return f"{self.path}:{tag}"

    def new(self, tag: str) -> None:
        run("umoci", "new", "--image", self.image(tag))

    def unpack(self, tag: str, bundle: Path) -> Path:
        shutil.rmtree(bundle, ignore_errors=True)
        run("umoci", "unpack", "--image", self.image(tag), str(bundle))
        return bundle / "rootfs"

    def repack(self, tag: str, bundle: Path) -> None:
        run("umoci", "repack", "--image", self.image(tag), str(bundle))

    def add_layer(self, tag: str, tar: Path) -> None:
        run("umoci", "raw", "add-layer", "--image", self.image(tag), str(tar))

    def config(self, tag: str, *args: str) -> None:
        run("umoci", "config", "--image", self.image(tag), *args)

    def blob(self, digest: str) -> Path:
        return self.path / "blobs" / "sha256" / digest.split(":", 1)[1]

    def manifest_descriptor(self, tag: str) -> dict:
        index = json.loads((self.path / "index.json").read_text())
        for m in index["manifests"]:
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
                return m
        raise KeyError(tag)

    def add_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blob(digest).write_bytes(data)
        return digest

    def tag_descriptor(self, tag: str, desc: dict) -> None:
        index = json.loads((self.path / "index.json").read_text())
        index["manifests"] = [m for m in index["manifests"]
                              if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") != tag]
        index["manifests"].append({**desc, "annotations": {"org.opencontainers.image.ref.name": tag}})
        (self.path / "index.json").write_text(json.dumps(index))


def build_test_images(work: Path) -> Layout:
    """The images the pull tests check, in one OCI layout:

    layers:  3 layers. 1: busybox, a file to delete, a dir to make opaque, a setuid and a
             setgid file (owners 0 and 1000:1000), a hard link, a symlinked directory
             (relative and absolute). 2 (umoci repack): deletes /data/gone, adds /data/new.
             3 (a tar by GNU tar, added with umoci raw add-layer): opq/ with a new file and
             the .wh..wh..opq marker *after* its sibling.
    amd64, arm64: one layer each, a /platform file saying which; `multi` indexes both, with
             an attestation-like entry first (amd64 platform, the arm64 manifest) to be skipped.
    """
    layout = Layout(work / "oci")
    bundle = work / "bundle"
    layout.new("layers")
    root = layout.unpack("layers", bundle)
    busybox_tree(root)
    (root / "data").mkdir()
    (root / "data" / "gone").write_text("deleted in layer 2\n")
    (root / "data" / "kept").write_text("kept\n")
    (root / "opq").mkdir()
    (root / "opq" / "old1").write_text("hidden by the opaque marker\n")
    (root / "opq" / "old2").mkdir()
    (root / "suid").write_bytes(b"#!/bin/sh\necho suid\n")
    os.chmod(root / "suid", 0o4755)
    (root / "sgid").write_text("sgid\n")
    os.chown(root / "sgid", 1000, 1000)
    os.chmod(root / "sgid", 0o2750)
    (root / "hard").mkdir()
    (root / "hard" / "a").write_text("linked\n")
    os.link(root / "hard" / "a", root / "hard" / "b")
    (root / "real").mkdir()
    (root / "real" / "x").write_text("through the link\n")
    os.symlink("real", root / "link")
    os.symlink("/real", root / "abslink")
    layout.repack("layers", bundle)
    root = layout.unpack("layers", bundle)
    (root / "data" / "gone").unlink()
    (root / "data" / "new").write_text("added in layer 2\n")
    layout.repack("layers", bundle)
    t3 = work / "l3"
    (t3 / "opq").mkdir(parents=True)
    (t3 / "opq" / "newfile").write_text("layer 3\n")
    (t3 / "opq" / ".wh..wh..opq").write_bytes(b"")
    run("tar", "--no-recursion", "--numeric-owner", "-cf", str(work / "l3.tar"), "-C", str(t3),
        "opq", "opq/newfile", "opq/.wh..wh..opq")
    layout.add_layer("layers", work / "l3.tar")
    layout.config("layers", "--config.cmd", "sh", "--config.env", "GREETING=from-umoci",
                  "--config.workingdir", "/data")
    for arch in ("amd64", "arm64"):
        layout.new(arch)
        root = layout.unpack(arch, bundle)
        busybox_tree(root, ("sh", "cat", "ls"))
        (root / "platform").write_text(f"linux/{arch}\n")
        layout.repack(arch, bundle)
        layout.config(arch, "--architecture", arch, "--os", "linux")
    amd, arm = layout.manifest_descriptor("amd64"), layout.manifest_descriptor("arm64")
    plain = lambda d: {k: d[k] for k in ("mediaType", "digest", "size")}  # noqa: E731
    index = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {**plain(arm), "platform": {"architecture": "amd64", "os": "linux"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                             "vnd.docker.reference.digest": amd["digest"]}},
            {**plain(arm), "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            {**plain(amd), "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    }
    data = json.dumps(index).encode()
    layout.tag_descriptor("multi", {"mediaType": index["mediaType"], "digest": layout.add_blob(data),
                                    "size": len(data)})
    shutil.rmtree(bundle, ignore_errors=True)
    return layout


def make_tar(path: Path, entries: list[tuple[str, dict]]) -> Path:
    """A tar of hand-made entries (name, TarInfo fields [+ 'data']), in the order given."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, fields in entries:
            ti = tarfile.TarInfo(name)
            data = fields.pop("data", None)
            for k, v in fields.items():
                setattr(ti, k, v)
            if data is not None:
                import io
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return path


# What a container of the "layers" image (build_test_images) must see: its whiteouts, opaque dir,
# modes, owners, hard and symbolic links and config (test_registry, test_save_load).
CHECK = ("echo $(ls -A /data) $(ls -A /opq); stat -c '%n %a %u:%g %h %i' /suid /sgid /hard/a /hard/b; "
         "cat /link/x /abslink/x; readlink /link; readlink /abslink; pwd; echo $GREETING")


def check_layers_image(engine, image_id: str) -> None:
    r = engine.run(image_id, CHECK)
    assert r.exit_code == 0, r.text
    lines = r.text.splitlines()
    assert lines[0].split() == ["kept", "new", "newfile"]       # gone deleted; opq's old1, old2 hidden
    stats = {l.split()[0]: l.split()[1:] for l in lines[1:5]}
    assert stats["/suid"][:2] == ["4755", "0:0"]
    assert stats["/sgid"][:2] == ["2750", "1000:1000"]
    assert stats["/hard/a"][2] == stats["/hard/b"][2] == "2"      # one inode, two names
    assert stats["/hard/a"][3] == stats["/hard/b"][3]
    assert lines[5:7] == ["through the link"] * 2
    assert lines[7:9] == ["real", "/real"]
    assert lines[9:] == ["/data", "from-umoci"]
