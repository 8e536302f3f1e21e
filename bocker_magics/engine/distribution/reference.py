"""One image-reference grammar: `[registry[:port]/]repo[:tag|@sha256:…]` (pull, push, tag)
and the `name[:tag]` an image is known by locally; digests as they may appear in paths."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import BadDigest, InvalidArgument

DOCKER_HUB = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")


def check_digest(digest: str) -> str:
    """A digest usable in a URL and as a file name: sha256:<64 hex>, nothing else."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise BadDigest(f"Invalid digest '{digest}': expected sha256:<64 lowercase hex digits>")
    return digest


@dataclass(frozen=True)
class Reference:
    registry: str          # host[:port]; Docker Hub is registry-1.docker.io
    repository: str        # library/busybox
    tag: str | None = None
    digest: str | None = None

    @property
    def is_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    @property
    def repo_name(self) -> str:
        """The name images are known by here, as Docker shows it: `busybox`, `me/app`,
        `127.0.0.1:5000/app`."""
        if self.is_hub:
            return self.repository.removeprefix("library/")
        return f"{self.registry}/{self.repository}"

    @property
    def local_name(self) -> str:
        return f"{self.repo_name}:{self.tag or 'latest'}"

    @property
    def ref(self) -> str:
        """The tag or digest to ask the registry for."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = self.repo_name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str, tag: str | None = None) -> Reference:
    """`[registry[:port]/]repo[:tag|@sha256:…]` with Docker Hub's defaults: no registry part
    means registry-1.docker.io, and a one-word repo there is `library/NAME`."""
    orig = text
    if not text or any(c.isspace() for c in text) or "\0" in text:
        raise InvalidArgument(f"Invalid reference '{orig}': use [registry[:port]/]name[:tag|@sha256:…]")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        check_digest(digest)
    first, slash, rest = text.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        registry, path = first, rest
        if not _HOST.match(registry):
            raise InvalidArgument(f"Invalid registry '{registry}' in '{orig}'")
    else:
        registry, path = DOCKER_HUB, text
    name, sep, ref_tag = path.rpartition(":")
    if not sep:
        name, ref_tag = path, None
    if tag is not None:
        if ref_tag is not None:
            raise InvalidArgument(f"Invalid reference '{orig}': give the tag once ('{orig}' or '{orig} {tag}')")
        ref_tag = tag
    if registry.lower() in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not _REPO.match(name) or len(name) > 255:
        raise InvalidArgument(f"Invalid repository name '{name}' in '{orig}': lowercase letters, digits "
                              "and separators ('.', '_', '-', '/')")
    if ref_tag is not None and not _TAG.match(ref_tag):
        raise InvalidArgument(f"Invalid tag '{ref_tag}' in '{orig}'")
    if ref_tag is None and digest is None:
        ref_tag = "latest"
    return Reference(registry, name, ref_tag, digest)


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry[1:registry.index("]")]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        import ipaddress  # only for a registry's host: not for every image name
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A local image name: an optional registry part, then the repository grammar above.
_LOCAL_NAME = re.compile(r"^(?:(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+(?=:))(?::[0-9]{1,5})?/)?"
                         + _COMPONENT + r"(?:/" + _COMPONENT + r")*\Z")


def parse_image_name(ref: str) -> tuple[str, str]:
    """'name[:tag]' -> (name, tag); the tag defaults to 'latest'."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        name, tag = ref, "latest"
    if not _LOCAL_NAME.match(name) or not _TAG.match(tag) or ".." in name:
        raise InvalidArgument(
            f"Invalid image name '{ref}': use lowercase letters, digits and separators "
            "('.', '_', '-', '/'), then an optional ':tag'"
        )
    return name, tag
