"""The registry verbs (pull, push, login, logout): what the Engine's
facade calls, given the store, the image store and the engine's config (config.py), never
the Engine itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import InvalidArgument

if TYPE_CHECKING:
    from ..config import EngineConfig
    from ..images import Image, ImageStore
    from ..store import Store


def registry_clients(store: Store, config: EngineConfig, registry: str, insecure: bool, pull: bool = True):
    """The clients to try for `registry` (mirrors first, for a Docker Hub pull), with the
    credentials BOCKER_ROOT/auth.json or ~/.docker/config.json keep for it."""
    from .credentials import docker_config_paths, find_credentials
    from .transfer import clients_for
    files = [store.auth_file, *docker_config_paths()]
    return clients_for(registry, config, insecure=insecure, pull=pull,
                       credentials=lambda name: find_credentials(name, files))


def pull(store: Store, images: ImageStore, config: EngineConfig, ref: str, tag: str | None = None, *,
         insecure: bool = False, platform: str | None = None,
         progress: Callable[[Any], None] | None = None) -> Image:
    from .oci import Platform
    from .reference import parse_reference
    from .transfer import Puller, pull_through
    reference = parse_reference(ref, tag)
    want = Platform.parse(platform) if platform else None
    clients = registry_clients(store, config, reference.registry, insecure)
    return pull_through(clients, lambda client: Puller(store, images, client, progress).pull(reference, want))


def push(store: Store, config: EngineConfig, img: Image, image: str, ref: str | None = None, *,
         insecure: bool = False, progress: Callable[[Any], None] | None = None,
         compression: str = "gzip") -> str:
    """`img` (which the user named `image`) uploaded as `ref`, by default its own first name."""
    from .reference import parse_reference
    from .transfer import Pusher
    if ref is None:
        if not img.names:
            raise InvalidArgument(f"Image '{image}' has no name to push as: give one, e.g. "
                                  "push IMAGE 127.0.0.1:5000/name:tag")
        ref = img.names[0]
    reference = parse_reference(ref)
    client = registry_clients(store, config, reference.registry, insecure, pull=False)[0]
    try:
        digest = Pusher(store, client, progress, compression).push(img, reference)
    finally:
        client.close()
    return f"{reference}@{digest}"


def _registry_host(registry: str) -> str:
    from .reference import parse_reference
    return parse_reference(f"{registry}/x").registry if registry else parse_reference("x").registry


def login(store: Store, config: EngineConfig, registry: str, username: str, password: str, *,
          insecure: bool = False) -> str:
    from .credentials import docker_config_paths, store_credentials
    from .transfer import clients_for
    host = _registry_host(registry)
    client = clients_for(host, config, insecure=insecure, pull=False,
                         credentials=lambda name: (username, password))[0]
    try:
        resp = client.request("GET", "/v2/", scope="", what="/v2/")
        resp.read()
    finally:
        client.close()
    store_credentials(host, username, password, store.auth_file, docker_config_paths())
    return host


def logout(store: Store, registry: str = "") -> bool:
    from .credentials import docker_config_paths, erase_credentials
    return erase_credentials(_registry_host(registry), store.auth_file, docker_config_paths())

