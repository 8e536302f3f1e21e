"""`pull`, `push` and `login`: an image to or from a registry, with the credentials kept
for it (BOCKER_ROOT/auth.json, then Docker's config files)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import InvalidArgument

if TYPE_CHECKING:
    from ..images import Image, ImageStore
    from ..store import Store


def registry_client(store: Store, registry: str, insecure: bool):
    from .credentials import docker_config_paths, find_credentials
    from .registry import RegistryClient
    creds = find_credentials(registry, [store.auth_file, *docker_config_paths()])
    return RegistryClient(registry, insecure=insecure, credentials=creds)


def pull(images: ImageStore, ref: str, tag: str | None = None, *, insecure: bool = False,
         platform: str | None = None, progress: Callable[[Any], None] | None = None) -> Image:
    from .oci import Platform
    from .reference import parse_reference
    from .transfer import Puller
    reference = parse_reference(ref, tag)
    client = registry_client(images.store, reference.registry, insecure)
    try:
        return Puller(images.store, images, client, progress).pull(
            reference, Platform.parse(platform) if platform else None)
    finally:
        client.close()


def push(store: Store, img: Image, ref: str | None = None, *, insecure: bool = False,
         progress: Callable[[Any], None] | None = None, named: str = "") -> str:
    """`named`: how the user named the image (for the message when it has no name)."""
    from .reference import parse_reference
    from .transfer import Pusher
    if ref is None:
        if not img.names:
            raise InvalidArgument(f"Image '{named or img.id}' has no name to push as: give one, e.g. "
                                  "push IMAGE 127.0.0.1:5000/name:tag")
        ref = img.names[0]
    reference = parse_reference(ref)
    client = registry_client(store, reference.registry, insecure)
    try:
        digest = Pusher(store, client, progress).push(img, reference)
    finally:
        client.close()
    return f"{reference}@{digest}"


def login(store: Store, registry: str, username: str, password: str, *, insecure: bool = False) -> str:
    from .credentials import save_credentials
    from .reference import parse_reference
    from .registry import RegistryClient
    host = parse_reference(f"{registry}/x").registry if registry else parse_reference("x").registry
    client = RegistryClient(host, insecure=insecure, credentials=(username, password))
    try:
        resp = client.request("GET", "/v2/", scope="", what="/v2/")
        resp.read()
    finally:
        client.close()
    save_credentials(store.auth_file, host, username, password)
    return host
