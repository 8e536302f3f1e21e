"""Images in and out of the layer store: pull and push through a registry.

A pulled layer is stored at layers/sha256/<diff_id>/ (its uncompressed tar's digest, which
the image config lists), so a layer that two images share is downloaded and stored once,
whatever registry or compression it came with. What push needs to upload it again without
re-making it (the compressed blob's digest, size and media type, and where it came from)
is kept in layers/meta/<hex>.json.

Each layer is streamed: HTTP -> sha256 of the blob -> gunzip -> sha256 of the tar ->
extraction into a scratch dir, which is moved into place only once both digests and the
size matched. Layers are pulled in parallel.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from ...errors import LayerError, NotFound, RegistryError
from ..images import DEFAULT_PATH, Image, ImageStore, history_of
from ..store import Store
from .layerstore import LayerStore, short
from .oci import DOCKER_CONFIG, INDEX_TYPES, OCI_CONFIG, OCI_MANIFEST, Platform, choose_platform
from .reference import Reference, check_digest
from .registry import Progress, ProgressFn, RegistryClient

if TYPE_CHECKING:
    from ..config import EngineConfig

LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}
# Image config keys kept in an image record's config (the run-time part of an OCI config);
# Healthcheck, OnBuild and Shell are Docker's additions, which a build writes and reads
RUNTIME_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
                "Volumes", "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell")
PULL_WORKERS = 4


# == configs ==============================================================================
def runtime_config(oci_config: dict[str, Any]) -> dict[str, Any]:
    """The part of an OCI image config an image record keeps (Env, Cmd, Entrypoint, …)."""
    inner = oci_config.get("config") or {}
    out = {k: inner[k] for k in RUNTIME_KEYS if inner.get(k) not in (None, [], {}, "")}
    out.setdefault("Env", [f"PATH={DEFAULT_PATH}"])
    if not out.get("Cmd") and not out.get("Entrypoint"):
        out["Cmd"] = ["sh"]
    return out


def oci_config(image: Image, diff_ids: list[str], platform: Platform | None = None) -> dict[str, Any]:
    """The image's OCI config: its run-time config, its layers and its history (one entry per
    step, so a registry, skopeo and buildah show how it was made)."""
    p = platform or Platform.host()
    cfg: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(image.created or time.time())),
        "architecture": p.architecture, "os": p.os,
        "config": {k: image.config[k] for k in RUNTIME_KEYS if k in image.config},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if getattr(image, "author", None):
        cfg["author"] = image.author
    history = history_of(image)
    if history:
        cfg["history"] = history
    if p.variant:
        cfg["variant"] = p.variant
    return cfg


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def check_config(config: dict[str, Any], layer_count: int, what: str) -> list[str]:
    diff_ids = (config.get("rootfs") or {}).get("diff_ids")
    if not isinstance(diff_ids, list) or len(diff_ids) != layer_count:
        raise RegistryError(f"The config of {what} lists {len(diff_ids or [])} layers but its manifest "
                            f"{layer_count}: refused")
    return [check_digest(d) for d in diff_ids]


# == pull ================================================================================
class Puller:
    def __init__(self, store: Store, images: ImageStore, client: RegistryClient,
                 progress: ProgressFn | None = None) -> None:
        self.store, self.images, self.client = store, images, client
        self.layers = LayerStore(store)
        self.progress = progress or (lambda p: None)

    def resolve(self, ref: Reference, platform: Platform) -> tuple[dict[str, Any], str]:
        """The image manifest for `platform` (an index picks one) and its digest."""
        repo = ref.repository
        doc, mtype, digest, _ = self.client.manifest(repo, ref.ref)
        for _ in range(4):  # an index may point to an index
            if mtype not in INDEX_TYPES:
                return doc, digest
            entry = choose_platform(doc, platform, str(ref))
            doc, mtype, digest, _ = self.client.manifest(repo, check_digest(entry.get("digest", "")))
        raise RegistryError(f"{ref} nests indexes too deep")

    def pull(self, ref: Reference, platform: Platform | None = None) -> Image:
        platform = platform or Platform.host()
        repo = ref.repository
        manifest, digest = self.resolve(ref, platform)
        existing = self.images.find(ref.local_name)
        if existing is not None and getattr(existing, "digest", None) == digest and \
                all(self.layers.has(d) for d in existing.layers):
            return existing
        config_desc = manifest.get("config") or {}
        if config_desc.get("mediaType", OCI_CONFIG) not in (OCI_CONFIG, DOCKER_CONFIG):
            raise RegistryError(f"{ref} is not a container image (its config is '{config_desc.get('mediaType')}')")
        config = json.loads(self.client.blob_bytes(repo, config_desc))
        descs = manifest.get("layers") or []
        for d in descs:
            check_digest(d.get("digest", ""))
            if d.get("mediaType") not in LAYER_TYPES:
                raise RegistryError(f"{ref} has a layer of the unknown type '{d.get('mediaType')}'")
        diff_ids = check_config(config, len(descs), str(ref))
        todo: dict[str, dict[str, Any]] = {}
        for desc, diff_id in zip(descs, diff_ids):
            if self.layers.has(diff_id):
                self.progress(Progress(short(desc["digest"]), "exists", desc["size"], desc["size"]))
            else:
                todo.setdefault(diff_id, desc)
                self.progress(Progress(short(desc["digest"]), "waiting", 0, desc["size"]))
        if todo:
            workers = min(PULL_WORKERS, len(todo))
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                futures = [pool.submit(self._layer, repo, desc, diff_id) for diff_id, desc in todo.items()]
                try:
                    for f in concurrent.futures.as_completed(futures):
                        f.result()
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        source = f"{ref.registry}/{repo}@{digest}"
        return self.images.create_named(diff_ids, source=source, names=[ref.local_name],
                                        config=runtime_config(config), digest=digest,
                                        history=config.get("history"), author=config.get("author"))

    def _layer(self, repo: str, desc: dict[str, Any], diff_id: str) -> None:
        try:
            sid, size = short(desc["digest"]), desc["size"]
            self.progress(Progress(sid, "downloading", 0, size))
            with self.client.blob(repo, desc, progress=lambda n: self.progress(
                    Progress(sid, "downloading", n, size))) as blob:
                self.layers.add_from_stream(blob, diff_id, verify=blob._verify)
            self.layers.add_blob_meta(diff_id, {
                "digest": desc["digest"], "size": size, "mediaType": desc["mediaType"],
                "diff_id": diff_id, "source": f"{self.client.registry}/{repo}"})
            self.progress(Progress(sid, "done", size, size))
        finally:
            self.client.close()


# == push ================================================================================
COMPRESSIONS = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
                "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
_GZIP_TYPES = {COMPRESSIONS["gzip"], "application/vnd.docker.image.rootfs.diff.tar.gzip"}


class Pusher:
    def __init__(self, store: Store, client: RegistryClient, progress: ProgressFn | None = None,
                 compression: str = "gzip") -> None:
        self.store, self.client = store, client
        self.layers = LayerStore(store)
        self.progress = progress or (lambda p: None)
        if compression not in COMPRESSIONS:
            raise RegistryError(f"Unknown compression '{compression}': use gzip or zstd")
        self.compression = compression

    def _reusable(self, blob: dict[str, Any]) -> bool:
        """A compressed form of a layer known from before that is of the compression asked for."""
        media = blob.get("mediaType")
        return media in _GZIP_TYPES if self.compression == "gzip" else media == COMPRESSIONS[self.compression]

    def push(self, image: Image, ref: Reference) -> str:
        """Upload the image's layers, config and an OCI manifest as `ref`; returns the
        manifest's digest."""
        repo = ref.repository
        descriptors: list[dict[str, Any]] = [{}] * len(image.layers)
        with concurrent.futures.ThreadPoolExecutor(min(PULL_WORKERS, max(len(image.layers), 1))) as pool:
            futures = {pool.submit(self._layer, repo, key): i for i, key in enumerate(image.layers)}
            for f in concurrent.futures.as_completed(futures):
                descriptors[futures[f]] = f.result()
        config = oci_config(image, [d["diff_id"] for d in descriptors])
        data = canonical(config)
        config_desc = {"mediaType": OCI_CONFIG, "digest": _sha(data), "size": len(data)}
        if not self.client.has_blob(repo, config_desc["digest"]):
            self.client.upload_blob(repo, config_desc["digest"], len(data), lambda: _bytes_io(data))
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
            "layers": [{k: d[k] for k in ("mediaType", "digest", "size")} for d in descriptors],
        }
        body = json.dumps(manifest, indent=2).encode()
        return self.client.put_manifest(repo, ref.tag or ref.digest or "latest", body, OCI_MANIFEST)

    def _layer(self, repo: str, key: str) -> dict[str, Any]:
        try:
            here = f"{self.client.registry}/{repo}"
            meta = self.layers.meta(key)
            for blob in meta.get("blobs", []):
                if not self._reusable(blob):
                    continue
                sid = short(blob["digest"])
                if self.client.has_blob(repo, blob["digest"]):
                    self.progress(Progress(sid, "exists", blob["size"], blob["size"]))
                    return blob
                src = blob.get("source") or ""
                if src.startswith(self.client.registry + "/") and src != here:
                    with contextlib.suppress(RegistryError, NotFound):
                        self.client.upload_blob(repo, blob["digest"], blob["size"], lambda: _bytes_io(b""),
                                                mount_from=src[len(self.client.registry) + 1:])
                        if self.client.has_blob(repo, blob["digest"]):
                            self.progress(Progress(sid, "exists", blob["size"], blob["size"]))
                            return blob
            path, desc = self.layers.blob_for(key, compression=self.compression)
            try:
                sid = short(desc["digest"])
                if not self.client.has_blob(repo, desc["digest"]):
                    self.progress(Progress(sid, "uploading", 0, desc["size"]))
                    self.client.upload_blob(repo, desc["digest"], desc["size"], lambda: open(path, "rb"))
                self.progress(Progress(sid, "pushed", desc["size"], desc["size"]))
            finally:
                shutil.rmtree(path.parent, ignore_errors=True)
            self.layers.add_blob_meta(key, {**desc, "source": None})
            return desc
        finally:
            self.client.close()


def _sha(data: bytes) -> str:
    import hashlib
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _bytes_io(data: bytes) -> BinaryIO:
    import io
    return io.BytesIO(data)


# == endpoints: mirrors, the hub, insecure registries =====================================
def clients_for(registry: str, config: EngineConfig, *, insecure: bool, pull: bool,
                credentials: Callable[[str], tuple[str, str] | None]) -> list[RegistryClient]:
    """The registry clients to try, in order. A Docker Hub pull tries each of the config's
    registry-mirrors first, then the hub (at BOCKER_HUB_ENDPOINT when set, as the tests do);
    anything else is the one registry. `insecure` (the flag) or insecure-registries: https
    without verification, then http."""
    from .reference import DOCKER_HUB

    def client(name: str, endpoint: str | None) -> RegistryClient:
        netloc = endpoint.split("://", 1)[1] if endpoint else name
        return RegistryClient(name, insecure=insecure or config.is_insecure(netloc), endpoint=endpoint,
                              credentials=credentials(name), certs_d=config.certs_d)

    out: list[RegistryClient] = []
    if registry == DOCKER_HUB:
        if pull:
            out += [client(url.split("://", 1)[1], url) for url in config.registry_mirrors]
        out.append(client(DOCKER_HUB, config.hub_endpoint))
    else:
        out.append(client(registry, None))
    return out


def pull_through(clients: list[RegistryClient], pull: Callable[[RegistryClient], Image]) -> Image:
    """`pull` with each client in turn: a mirror that fails (down, refusing, lacking the
    image) falls back to the next, the last one's failure is the pull's. Layers a mirror
    already stored are kept (they are the same bytes, by digest)."""
    for i, client in enumerate(clients):
        try:
            return pull(client)
        except (RegistryError, NotFound, LayerError):
            if i + 1 == len(clients):
                raise
        finally:
            client.close()
    raise AssertionError("no registry to pull from")
