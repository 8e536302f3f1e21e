"""save and load: the docker-save tarball and the OCI image layout, both ways.

    docker-save (what `docker save` and the seed's download-frozen-image-v2 make):
        manifest.json  [{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<id>/layer.tar", ...]}]
        <hex>.json     the image config;  <id>/layer.tar (+ VERSION, json);  repositories
    OCI image layout:
        oci-layout, index.json, blobs/sha256/<hex>  (manifests, configs, layers)

`load` reads either, as a tar (plain or compressed) or a directory, and checks every digest
it can (blob names, config digests, each layer's diff_id) before a layer is used. Names in
the archive are looked up among its own entries only: nothing is read from outside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import DigestMismatch, InvalidArgument, NotFound, RegistryError
from ..images import Image, ImageStore
from ..store import Store
from . import layers as layerfmt
from .layerstore import LayerStore
from .oci import INDEX_TYPES, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, Platform, choose_platform
from .reference import check_digest, parse_reference
from .transfer import canonical, check_config, oci_config, runtime_config

FORMATS = ("docker", "oci")
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# == save ===============================================================================
class _Out:
    """Where save writes: a tar (made beside the target, renamed when complete) or a directory."""

    def __init__(self, path: Path, as_dir: bool) -> None:
        self.path, self.as_dir = path, as_dir
        if as_dir:
            path.mkdir(parents=True, exist_ok=True)
            if any(path.iterdir()):
                raise InvalidArgument(f"Directory '{path}' is not empty: save an OCI layout into an empty one")
        else:
            if not path.parent.is_dir():
                raise NotFound(f"No directory named '{path.parent}' exists")
            self.tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
            self.tar = tarfile.open(self.tmp, "w", format=tarfile.PAX_FORMAT)

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_file(name, io.BytesIO(data), len(data))

    def add_file(self, name: str, f: BinaryIO, size: int) -> None:
        if self.as_dir:
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                shutil.copyfileobj(f, out, 1 << 20)
            return
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = size, 0o644, 0
        self.tar.addfile(ti, f)

    def close(self, ok: bool) -> None:
        if self.as_dir:
            if not ok:
                shutil.rmtree(self.path, ignore_errors=True)
            return
        self.tar.close()
        if ok:
            os.rename(self.tmp, self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


def save(store: Store, image: Image, target: str | os.PathLike[str], fmt: str = "docker") -> Path:
    if fmt not in FORMATS:
        raise InvalidArgument(f"Unknown format '{fmt}': use docker or oci")
    path = Path(target)
    as_dir = fmt == "oci" and (path.is_dir() or os.fspath(target).endswith("/"))
    if not as_dir and path.is_dir():
        raise InvalidArgument(f"'{path}' is a directory: give a file name for the tarball")
    layer_store = LayerStore(store)
    out = _Out(path, as_dir)
    ok = False
    scratch: list[Path] = []
    try:
        descs = []
        for key in image.layers:
            blob, desc = layer_store.blob_for(key, gzip=False)
            scratch.append(blob.parent)
            descs.append((blob, desc))
        config = canonical(oci_config(image, [d["diff_id"] for _, d in descs]))
        config_digest = _sha(config)
        if fmt == "docker":
            _save_docker(out, image, descs, config, config_digest)
        else:
            _save_oci(out, image, descs, config, config_digest)
        ok = True
    finally:
        out.close(ok)
        for d in scratch:
            shutil.rmtree(d, ignore_errors=True)
    return path


def _save_docker(out: _Out, image: Image, descs, config: bytes, config_digest: str) -> None:
    hexc = config_digest.split(":", 1)[1]
    out.add_bytes(f"{hexc}.json", config)
    layer_paths, parent = [], ""
    for blob, desc in descs:
        # v1-style ids: one per position (the same layer twice still gets two)
        lid = hashlib.sha256(f"{parent} {desc['diff_id']}".encode()).hexdigest()
        with open(blob, "rb") as f:
            out.add_file(f"{lid}/layer.tar", f, desc["size"])
        out.add_bytes(f"{lid}/VERSION", b"1.0")
        out.add_bytes(f"{lid}/json", json.dumps({"id": lid, **({"parent": parent} if parent else {})}).encode())
        layer_paths.append(f"{lid}/layer.tar")
        parent = lid
    manifest = [{"Config": f"{hexc}.json", "RepoTags": list(image.names), "Layers": layer_paths}]
    out.add_bytes("manifest.json", json.dumps(manifest).encode())
    repos: dict[str, dict[str, str]] = {}
    for n in image.names:
        name, _, tag = n.rpartition(":")
        repos.setdefault(name, {})[tag] = parent
    out.add_bytes("repositories", json.dumps(repos).encode())


def _save_oci(out: _Out, image: Image, descs, config: bytes, config_digest: str) -> None:
    out.add_bytes("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    written = set()
    for blob, desc in descs:
        if desc["digest"] not in written:
            with open(blob, "rb") as f:
                out.add_file(f"blobs/sha256/{desc['digest'].split(':', 1)[1]}", f, desc["size"])
            written.add(desc["digest"])
    out.add_bytes(f"blobs/sha256/{config_digest.split(':', 1)[1]}", config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": d["digest"], "size": d["size"]} for _, d in descs],
    }).encode()
    mdigest = _sha(manifest)
    out.add_bytes(f"blobs/sha256/{mdigest.split(':', 1)[1]}", manifest)
    entry = {"mediaType": OCI_MANIFEST, "digest": mdigest, "size": len(manifest)}
    entries = []
    for n in image.names or [None]:
        ann = {}
        if n:
            ann = {REF_NAME: n.rpartition(":")[2], CONTAINERD_NAME: n}
        entries.append({**entry, **({"annotations": ann} if ann else {})})
    out.add_bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                            "manifests": entries}).encode())


# == load ===============================================================================
class _Archive:
    """The entries of a tar (by normalized name) or of a directory (confined to it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tar: tarfile.TarFile | None = None
        if path.is_dir():
            return
        if not path.exists():
            raise NotFound(f"No file named '{path}' exists")
        try:
            self.tar = tarfile.open(path, "r:*")
            self.members = {}
            for m in self.tar.getmembers():
                name = "/".join(p for p in m.name.split("/") if p not in ("", "."))
                if m.isreg():
                    self.members[name] = m
        except (tarfile.TarError, OSError, EOFError) as e:
            if isinstance(e, OSError) and e.errno is not None:
                raise InvalidArgument(f"Can't read '{path}': {e.strerror}") from None
            what = "an empty file" if os.path.getsize(path) == 0 else "not a tar (plain or compressed)"
            raise InvalidArgument(f"'{path}' is not an image archive: it is {what}; give a file made by "
                                  "docker save, bocker save or an OCI layout") from None

    def _parts(self, name: str) -> str:
        if not isinstance(name, str):
            raise InvalidArgument(f"'{self.path}' names an entry that is not a string")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or ".." in parts or not parts:
            raise InvalidArgument(f"'{self.path}' names '{name}', which is outside the archive")
        return "/".join(parts)

    def has(self, name: str) -> bool:
        name = self._parts(name)
        if self.tar is not None:
            return name in self.members
        return (self.path / name).is_file() and not (self.path / name).is_symlink()

    def open(self, name: str) -> BinaryIO:
        rel = self._parts(name)
        if self.tar is not None:
            m = self.members.get(rel)
            if m is None:
                raise InvalidArgument(f"'{self.path}' lacks '{name}'")
            f = self.tar.extractfile(m)
            assert f is not None
            return f  # type: ignore[return-value]
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in rel.split("/")[:-1]:
                nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nfd
            return os.fdopen(os.open(rel.rsplit("/", 1)[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd), "rb")
        except OSError as e:
            raise InvalidArgument(f"'{self.path}' lacks '{name}' ({e.strerror})") from None
        finally:
            os.close(fd)

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"'{name}' in '{self.path}' is too large")
        return data

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError:
            raise InvalidArgument(f"'{name}' in '{self.path}' is not JSON") from None

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


def load(store: Store, images: ImageStore, path: Path) -> list[Image]:
    archive = _Archive(path)
    try:
        if archive.has("manifest.json"):
            return _load_docker(store, images, archive)
        if archive.has("index.json"):
            return _load_oci(store, images, archive)
        raise InvalidArgument(f"'{path}' is neither a docker-save tarball (manifest.json) "
                              "nor an OCI image layout (index.json)")
    finally:
        archive.close()


def _store_layers(store: Store, archive: _Archive, items: list[tuple[str, str, str | None, int | None]]) -> None:
    """items: (entry name, diff_id, blob digest or None, blob size or None)."""
    layer_store = LayerStore(store)
    for name, diff_id, digest, size in items:
        if layer_store.has(diff_id):
            continue
        with archive.open(name) as f:
            hashed = layerfmt.HashingReader(f)  # type: ignore[arg-type]

            def verify(h=hashed, digest=digest, size=size, name=name) -> None:
                if digest is not None and h.digest != digest:
                    raise DigestMismatch(f"'{name}' in '{archive.path}' has the digest {h.digest[:19]}…, "
                                         f"not {digest[:19]}…: refused")
                if size is not None and h.count != size:
                    raise DigestMismatch(f"'{name}' in '{archive.path}' has {h.count} bytes, not {size}: refused")

            layer_store.add_from_stream(hashed, diff_id, verify=verify)  # type: ignore[arg-type]


def _names(tags: list[Any]) -> list[str]:
    out = []
    for t in tags or []:
        with contextlib.suppress(InvalidArgument, RegistryError):
            ref = parse_reference(str(t))
            if ref.tag:
                out.append(ref.local_name)
    return out


def _load_docker(store: Store, images: ImageStore, archive: _Archive) -> list[Image]:
    entries = archive.json("manifest.json")
    if not isinstance(entries, list) or not entries:
        raise InvalidArgument(f"manifest.json in '{archive.path}' lists no image")
    loaded = []
    for entry in entries:
        config_name = entry.get("Config", "")
        raw = archive.read(config_name)
        stem = config_name.rsplit("/", 1)[-1].removesuffix(".json")
        if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem) and _sha(raw) != f"sha256:{stem}":
            raise DigestMismatch(f"The config '{config_name}' in '{archive.path}' does not match its digest: refused")
        config = json.loads(raw)
        layer_names = entry.get("Layers") or []
        diff_ids = check_config(config, len(layer_names), str(archive.path))
        _store_layers(store, archive, [(n, d, None, None) for n, d in zip(layer_names, diff_ids)])
        loaded.append(images.create_named(diff_ids, source=f"load {archive.path}",
                                          names=_names(entry.get("RepoTags")),
                                          config=runtime_config(config), digest=_sha(raw),
                                          history=config.get("history"), author=config.get("author")))
    return loaded


def _blob_name(digest: str) -> str:
    return f"blobs/sha256/{check_digest(digest).split(':', 1)[1]}"


def _verified_json(archive: _Archive, desc: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    raw = archive.read(_blob_name(desc.get("digest", "")))
    if _sha(raw) != desc["digest"] or ("size" in desc and len(raw) != desc["size"]):
        raise DigestMismatch(f"The blob {desc['digest'][:19]}… in '{archive.path}' does not match its digest: refused")
    return json.loads(raw), raw


def _load_oci(store: Store, images: ImageStore, archive: _Archive) -> list[Image]:
    index = archive.json("index.json")
    loaded = []
    for entry in index.get("manifests") or []:
        ann = entry.get("annotations") or {}
        desc = entry
        for _ in range(4):
            if desc.get("mediaType") not in INDEX_TYPES:
                break
            nested, _raw = _verified_json(archive, desc)
            desc = choose_platform(nested, Platform.host(), str(archive.path))
        manifest, raw = _verified_json(archive, desc)
        config, _craw = _verified_json(archive, manifest.get("config") or {})
        descs = manifest.get("layers") or []
        diff_ids = check_config(config, len(descs), str(archive.path))
        _store_layers(store, archive, [(_blob_name(d.get("digest", "")), diff, d["digest"], d.get("size"))
                                       for d, diff in zip(descs, diff_ids)])
        full = ann.get(CONTAINERD_NAME) or ann.get("io.cri-containerd.image.name") or ""
        ref_name = ann.get(REF_NAME, "")
        if not full and (":" in ref_name or "/" in ref_name):
            full = ref_name
        loaded.append(images.create_named(diff_ids, source=f"load {archive.path}", names=_names([full] if full else []),
                                          config=runtime_config(config), digest=desc["digest"],
                                          history=config.get("history"), author=config.get("author")))
    if not loaded:
        raise InvalidArgument(f"index.json in '{archive.path}' lists no image")
    return loaded
