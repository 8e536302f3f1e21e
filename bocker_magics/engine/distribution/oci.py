"""The OCI image spec's names: media types, and platforms in an index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import InvalidArgument, NotFound

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)


_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
         "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
         "i686": ("386", ""), "i386": ("386", ""), "ppc64le": ("ppc64le", ""),
         "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    @classmethod
    def host(cls) -> Platform:
        import os
        machine = os.uname().machine
        arch, variant = _ARCH.get(machine, (machine, ""))
        return cls("linux", arch, variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidArgument(f"Invalid platform '{text}': use os/arch[/variant], e.g. linux/amd64")
        return cls(*parts)


def choose_platform(index: dict[str, Any], want: Platform, what: str) -> dict[str, Any]:
    """The index entry for `want`: attestations (and unknown/unknown) skipped; a variant
    given by both sides must match (arm64's v8 is the default when one side has none)."""
    offered = []
    for entry in index.get("manifests") or []:
        ann = entry.get("annotations") or {}
        p = entry.get("platform") or {}
        if ann.get("vnd.docker.reference.type") == "attestation-manifest" or p.get("os") in (None, "unknown"):
            continue
        have = Platform(p.get("os", ""), p.get("architecture", ""), p.get("variant", ""))
        offered.append(str(have))
        if (have.os, have.architecture) != (want.os, want.architecture):
            continue
        if have.variant and want.variant and have.variant != want.variant:
            continue
        if entry.get("mediaType") not in MANIFEST_TYPES + INDEX_TYPES:
            continue
        return entry
    raise NotFound(f"No image for {want} in {what}: it has {', '.join(offered) or 'no platform'} "
                   "(choose one with --platform)")
