"""The Engine's verbs of images: the store's (init, images, tag, history, prune, rmi),
registries' and archives' (pull, push, login, logout, save, load), build and commit. A mixin
of Engine (engine.py), whose rooms (store, images_store, containers) it uses."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .container import Containers
    from .images import Image, ImageStore
    from .store import Store


class ImageVerbs:
    # what it uses of Engine
    store: Store
    images_store: ImageStore
    containers: Containers

    def init(self, directory: str | os.PathLike[str], name: str | None = None) -> Image:
        """`bocker init DIR`: an image of one layer, a copy of DIR."""
        return self.images_store.init_from_dir(directory, [name] if name else [])

    def busybox(self) -> Image:
        """The built-in image (name `busybox`), made from the host's static busybox."""
        return self.images_store.busybox()

    def images(self, filters: list[str] | None = None) -> list[Image]:
        """The images (oldest first); `filters` as `images --filter` takes them (filters.py)."""
        if not filters:
            return self.images_store.list()
        from .filters import list_images
        return list_images(self.images_store, filters, {c.image for c in self.ps()})

    def tag(self, source: str, target: str) -> Image:
        """`tag SOURCE TARGET`: one more name for an image, moved from any image that had it."""
        from .distribution.reference import parse_image_name
        parse_image_name(target)  # a bad name before anything
        return self.images_store.tag(self.image(source), [target])

    def history(self, ref: str):
        """`history IMAGE`: a row per step that made it, newest first (history.py)."""
        from .history import history
        return history(self.store, self.image(ref))

    def image_prune(self, all_unused: bool = False, filters: list[str] | None = None):
        """Remove dangling images (every unused one with `all_unused`); prune.py."""
        from .prune import prune_images
        return prune_images(self.containers, self.images_store, all_unused, filters or [])

    def image(self, ref: str) -> Image:
        """An image by id or name; `busybox` is made on first use, like a pull."""
        return self.images_store.usable(ref)

    def rmi(self, ref: str) -> str:
        img = self.images_store.get(ref)
        self.images_store.remove(img, in_use=lambda: any(c.image == img.id for c in self.ps()))
        return img.id

    # -- registries and archives (transfer.py, archive.py, registry.py) -------------------
    def engine_config(self):
        """The engine's config file (config.py: /etc/bocker/daemon.json or BOCKER_CONFIG), read
        anew each time so a change applies without a restart."""
        from .config import load
        return load()

    def pull(self, ref: str, tag: str | None = None, *, insecure: bool = False,
             platform: str | None = None, progress: Callable[[Any], None] | None = None) -> Image:
        """`bocker pull NAME TAG` (the seed's form) or `pull [registry/]repo[:tag|@digest]`.
        `progress` gets a registry.Progress per layer event (a bar, a widget). A Docker Hub
        pull tries the config's registry-mirrors first (distribution/verbs.py)."""
        from .distribution.verbs import pull
        return pull(self.store, self.images_store, self.engine_config(), ref, tag, insecure=insecure,
                    platform=platform, progress=progress)

    def push(self, image: str, ref: str | None = None, *, insecure: bool = False,
             progress: Callable[[Any], None] | None = None, compression: str = "gzip") -> str:
        """Upload an image (its layers, an OCI config and manifest) as `ref` (default: the
        image's own name); returns `ref@sha256:…`. `compression`: the layers' (gzip | zstd)."""
        from .distribution.verbs import push
        return push(self.store, self.engine_config(), self.image(image), image, ref, insecure=insecure,
                    progress=progress, compression=compression)

    def login(self, registry: str, username: str, password: str, *, insecure: bool = False) -> str:
        """Check credentials against a registry and keep them: through the credential helper
        ~/.docker/config.json names for it, else in BOCKER_ROOT/auth.json (0600)."""
        from .distribution.verbs import login
        return login(self.store, self.engine_config(), registry, username, password, insecure=insecure)

    def logout(self, registry: str = "") -> bool:
        """Forget a registry's credentials: in the credential helper that keeps them (erase)
        and in BOCKER_ROOT/auth.json. Whether any were kept."""
        from .distribution.verbs import logout
        return logout(self.store, registry)

    def save(self, image: str, path: str | os.PathLike[str], format: str = "docker") -> Path:
        """Write an image as a docker-save tarball (format 'docker') or an OCI image layout
        ('oci': a tar, or a directory when `path` is one or ends with '/')."""
        from .distribution.archive import save
        return save(self.store, self.image(image), path, format)

    def load(self, path: str | os.PathLike[str]) -> list[Image]:
        """Images from a docker-save tarball or an OCI image layout (a tar or a directory)."""
        from .distribution.archive import load
        return load(self.store, self.images_store, Path(path))

    # -- builds (build/) --------------------------------------------------------------------
    def build(self, context: str | os.PathLike[str], tags: list[str] | str | None = None, *,
              dockerfile: str | None = None, dockerfile_text: str | None = None,
              build_args: dict[str, str] | None = None, target: str | None = None, no_cache: bool = False,
              pull: bool = False, network: str | None = None,
              on_output: Callable[[bytes, str], None] | None = None):
        """`bocker build`: an image from a Dockerfile (CONTEXT/Dockerfile, the path `dockerfile`,
        or the text `dockerfile_text`), a layer per step that changes files, each step cached.
        `on_output(chunk, stream)` gets the build's log as it goes (each step, RUN's output).
        Returns a build.BuildResult (the image, and a StepResult per step)."""
        from .build.options import BuildOptions
        from .build.record import build
        options = BuildOptions(tags=[tags] if isinstance(tags, str) else list(tags or []), dockerfile=dockerfile,
                               dockerfile_text=dockerfile_text, build_args=dict(build_args or {}), target=target,
                               no_cache=no_cache, pull=pull, network=network)
        return build(self, options, context, on_output)

    def commit(self, ref: str, target: str) -> Image:
        """The container's changes (its upper dir) as a new layer over its image's layers,
        taken while a running one is frozen (commit.py)."""
        from .commit import commit
        return commit(self.containers, self.images_store, ref, target)
