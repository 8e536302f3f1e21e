"""The engine API: the one place every feature lives. The CLI, the magics and bocker-runc
are faces of it. This module is a facade of verbs; each concept lives in its own room:

    images.py (the image store)      container/ (create, start, attach, exec, signals, rm)
    options.py (Docker's options -> the OCI spec)   spec/ (the spec and the state as types)
    inspect.py   gc.py   network/   distribution/ (pull, push, save, load)   runtime/   kernel/

    engine = Engine()                       # BOCKER_ROOT or /var/lib/bocker
    img = engine.busybox()                  # the built-in image, made offline
    result = engine.run(img.id, "echo hi")  # RunResult(id=…, exit_code=0, output=b"hi\\n", …)
    engine.ps(); engine.logs(result.id); engine.rm(result.id)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

# ExitCodeError: the package exports it from here (engine/__init__.py)
from ..errors import ExitCodeError, HostUnsupported, MonitorDied, NotFound  # noqa: F401
from .images import Image, ImageStore
from .store import Store

if TYPE_CHECKING:
    from .changes import Change
    from .container import Container, Containers, Output, RunResult
    from .kernel.cgroups import CgroupStats
    from .limits import Limits
    from .network.networks import Networks
    from .options import RunOptions
    from .runtime.launcher import Launcher
    from .volumes import Volumes

MB = 1_000_000


def __getattr__(name: str):
    # SEED_LIMITS is made on first use: importing the cgroup drivers costs `images` and a
    # cached build more than all their work
    if name == "SEED_LIMITS":
        return seed_limits()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def seed_limits() -> Limits:
    """The seed's defaults: --MEM_LIMIT=512 (MB) and --CPU_SHARE=512."""
    from .limits import Limits
    return Limits(memory=512 * MB, cpu_shares=512)


class Engine:
    """The parts a verb needs are made on first use (containers, networks, the shim's
    launcher): `images`, or a build whose every step comes from the cache, pays for none of
    them (their imports are most of a CLI call's time)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 cgroup_parent: str | None = None, default_limits: Limits | None = None,
                 default_network: str | None = None) -> None:
        self._check_host()
        self.store = Store(root)
        self.images_store = ImageStore(self.store)
        self.images_store.layers_in_use = lambda: {d for c in self.ps() if c.record is not None
                                                  for d in c.record.layers}
        self.cgroup_parent = cgroup_parent or os.environ.get("BOCKER_CGROUP_PARENT") or "bocker"
        self._default_limits = default_limits
        self.default_network = default_network or os.environ.get("BOCKER_NETWORK") or "bridge"

    @cached_property
    def default_limits(self) -> Limits:
        return self._default_limits if self._default_limits is not None else seed_limits()

    @cached_property
    def launcher(self) -> Launcher:
        from .runtime.launcher import Launcher
        return Launcher()

    @property
    def boot_id(self) -> str:
        return self.containers.boot_id

    @cached_property
    def networks(self) -> Networks:
        from .network.networks import Networks
        return Networks(self.store)

    @cached_property
    def containers(self) -> Containers:
        from .container.containers import Containers
        return Containers(self.store, self.images_store, cgroup_parent=self.cgroup_parent,
                          default_network=self.default_network, networks=lambda: self.networks,
                          volumes=lambda: self.volumes, launcher=lambda: self.launcher,
                          default_limits=lambda: self.default_limits)

    @cached_property
    def volumes(self) -> Volumes:
        from .volumes import Volumes
        return Volumes(self.store)

    @staticmethod
    def _check_host() -> None:
        if os.geteuid() != 0:
            raise HostUnsupported("bocker needs root: run it with sudo (namespaces, mounts and cgroups are root's)")

    def close(self) -> None:
        if "launcher" in self.__dict__:
            self.launcher.close()
        if "networks" in self.__dict__:
            self.networks.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # == images ============================================================================
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

    # == containers ========================================================================
    def run(self, image: str, command: str | list[str] | None = None, options: RunOptions | None = None, *,
            on_output: Output | None = None, capture: bool = True,
            on_start: Callable[[str], None] | None = None, stdin: bytes | int | None = None,
            terminal: Any = None, detach_keys: bytes | None = None, **kwargs: Any) -> RunResult:
        """Run a container. Foreground: stream output to `on_output` (and keep it, if
        `capture`), return when it exits. Detached: return as soon as it runs. `on_start(id)`
        is called once the container runs (a monitor samples its cgroup). A string command is
        run by /bin/sh -c (the seed's semantics); a list is the program and its arguments.
        `options` is a RunOptions; keyword arguments name its fields instead."""
        from .options import RunOptions
        t0 = time.perf_counter()
        if options is None:
            options = RunOptions.of(**kwargs)
        elif kwargs:
            raise TypeError("give either options or keyword options, not both")
        c = self._create(image, command, options)
        try:
            return self.containers.start(c, attach=not options.detach, on_output=on_output, capture=capture,
                                         on_start=on_start, stdin=stdin, t0=t0, terminal=terminal,
                                         detach_keys=detach_keys)
        except MonitorDied:
            raise  # its state stays for gc
        except BaseException as err:
            from .container.removal import undo_failed_start
            undo_failed_start(self.containers, c.id, err)
            raise

    def create(self, image: str, command: str | list[str] | None = None, options: RunOptions | None = None,
               **kwargs: Any) -> Container:
        """`bocker create`: the container, made and not started."""
        from .options import RunOptions
        return self._create(image, command, options if options is not None else RunOptions.of(**kwargs))

    def _create(self, image, command: str | list[str] | None, options: RunOptions) -> Container:
        """`image` is a name or an id, or an Image itself (a build's step, which is no stored
        image yet)."""
        if hasattr(image, "layers"):
            return self.containers.create(image, command, options)
        return self.containers.create(self.image(image), command, options, ref=image)

    def start(self, ref: str, *, attach: bool = False, **kwargs: Any):
        """Start a created (or stopped) container; attached: stream it until it exits, as run."""
        c = self.containers.get(ref)
        result = self.containers.start(c, attach=attach, **kwargs)
        return result if attach else c

    def restart(self, ref: str, timeout: float | None = None) -> str:
        """stop, then start again (detached)."""
        c = self.containers.get(ref)
        if c.status.is_alive:
            self.containers.stop(c.id, timeout)
        self.containers.start(self.containers.get(c.id), attach=False)
        return c.id

    def logs_follow(self, ref: str):
        """The log's bytes as they come, until the container stops (for %bocker logs -f)."""
        for r in self.containers.log_records(ref, follow=True):
            yield r.text()

    def exec(self, ref: str, command: str | list[str], **kwargs: Any) -> RunResult:
        return self.containers.exec(ref, command, **kwargs)

    def attach(self, ref: str, **kwargs: Any) -> RunResult:
        return self.containers.attach(ref, **kwargs)

    def container(self, ref: str) -> Container:
        return self.containers.get(ref)

    def ps(self, filters: list[str] | None = None, last: int | None = None) -> list[Container]:
        """Every container, oldest first; `filters` as `ps --filter` takes them (filters.py),
        `last`: only the N made last."""
        from .filters import list_containers
        return list_containers(self.containers.list(), self.images_store, filters, last)

    def pause(self, ref: str) -> str:
        """Freeze every process of a running container (the cgroup freezer; pause.py)."""
        from .pause import pause
        return pause(self.containers, ref)

    def unpause(self, ref: str) -> str:
        from .pause import unpause
        return unpause(self.containers, ref)

    def top(self, ref: str):
        """A running container's processes, host and container pids (processes.py)."""
        from .processes import top
        return top(self.containers, ref)

    def port(self, ref: str, private: str | None = None):
        """Its published ports, `80/tcp -> 0.0.0.0:8080` (port.py)."""
        from .port import ports
        return ports(self.containers, ref, private)

    def rename(self, ref: str, new_name: str) -> str:
        from .rename import rename
        return rename(self.containers, ref, new_name)

    def cp(self, source: str, destination: str, **kwargs: Any):
        """`cp CONTAINER:PATH HOSTPATH` or back, through the container's root (copy.py)."""
        from .copy import copy
        return copy(self.containers, source, destination, **kwargs)

    def container_prune(self, filters: list[str] | None = None):
        """Remove every container that is not running (prune.py)."""
        from .prune import prune_containers
        return prune_containers(self.containers, filters or [])

    # -- the whole engine ------------------------------------------------------------------
    def system_df(self):
        """What images, containers and volumes hold on disk (usage.py)."""
        from .usage import disk_usage
        return disk_usage(self.containers, self.images_store, self.volumes)

    def info(self):
        from .system import info
        return info(self.containers, self.images_store, lambda: self.networks, self.volumes,
                    self.engine_config().lines())

    @staticmethod
    def version():
        from .system import version
        return version()

    # -- volumes (volumes.py) ----------------------------------------------------------------
    def volume_users(self, name: str) -> list[str]:
        """The containers (any state) whose mounts name the volume."""
        return self.containers.users_of_volume(name)

    def volume_create(self, name: str | None = None, labels: list[str] | None = None):
        """A named volume (a random name if none); an existing one is returned as it is."""
        from .volumes import create
        return create(self.volumes, name, labels)

    def volume_ls(self, filters: list[str] | None = None):
        from .volumes import ls
        return ls(self.volumes, self.containers.list(), filters)

    def volume_inspect(self, name: str) -> dict[str, Any]:
        from .volumes import inspect
        return inspect(self.volumes, name, self.volume_users)

    def volume_rm(self, name: str, force: bool = False) -> str:
        """Remove a volume no container uses (`force`: a missing one is no error)."""
        from .volumes import rm
        return rm(self.volumes, name, self.volume_users, force)

    def logs(self, ref: str) -> bytes:
        return self.containers.logs(ref)

    def log_records(self, ref: str, **kwargs: Any):
        return self.containers.log_records(ref, **kwargs)

    def kill(self, ref: str, sig: str | int = "KILL") -> str:
        return self.containers.kill(ref, sig)

    def stop(self, ref: str, timeout: float | None = None) -> str:
        return self.containers.stop(ref, timeout)

    def wait(self, ref: str, timeout: float | None = None) -> int | None:
        return self.containers.wait(ref, timeout)

    def stats(self, refs: list[str] | None = None) -> dict[str, CgroupStats]:
        return self.containers.stats(refs)

    def inspect(self, ref: str) -> dict[str, Any]:
        """A container's (or an image's) whole record, as JSON-ready data."""
        from .inspect import inspect
        return inspect(self.containers, self.images_store, ref)

    def rm(self, ref: str, force: bool = False, volumes: bool = False) -> str:
        """Remove a container (or, for an img_ id or an image name, an image)."""
        if ref.startswith("img_") or (not ref.startswith("ps_") and self.containers.find(ref) is None
                                      and self.images_store.find(ref) is not None):
            return self.rmi(ref)
        c = self.containers.find(ref)
        if c is None:
            if ref.startswith("ps_"):
                raise NotFound(f"No container named '{ref}' exists")
            raise NotFound(f"No container or image named '{ref}' exists")
        return self.containers.rm(c.id, force=force, volumes=volumes)

    def gc(self) -> list[str]:
        """Remove what crashes left; a line per thing removed or corrected (gc.py)."""
        from .gc import collect
        return collect(self.containers, self.images_store, lambda: self.networks)

    # -- accounting and changes ------------------------------------------------------------
    def diff(self, ref: str) -> list[Change]:
        """`docker diff`: what a container's upper dir changes over its image, or what an
        image's top layer changes over the layers below it."""
        from .changes import changes
        upper, lowers = self.diff_dirs(ref)
        return changes(upper, lowers)

    def diff_dirs(self, ref: str) -> tuple[Path, list[Path]]:
        """The upper dir and the lower dirs (top-most first) that `diff` compares."""
        from .changes import diff_dirs
        return diff_dirs(self.store, self.containers, self.images_store, ref)

    # -- networks (network/verbs.py) ---------------------------------------------------------
    def network_ls(self) -> list[dict[str, Any]]:
        """Every network with its bridge, subnet, gateway and the containers holding leases."""
        from .network.verbs import ls
        return ls(self.networks)

    def network_inspect(self, name: str) -> dict[str, Any]:
        from .network.verbs import inspect
        return inspect(self.networks, name)

    def network_create(self, name: str, subnet: str | None = None, gateway: str | None = None,
                       bridge: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
        from .network.verbs import create
        return create(self.networks, name, subnet, gateway, bridge, pools=self.engine_config().default_address_pools,
                      labels=labels)

    def network_rm(self, name: str) -> str:
        from .network.verbs import rm
        return rm(self.networks, name, in_use=any(c.running and c.record is not None
                                                  and c.record.network.name == name for c in self.ps()))

    def commit(self, ref: str, target: str) -> Image:
        """The container's changes (its upper dir) as a new layer over its image's layers,
        taken while a running one is frozen (commit.py)."""
        from .commit import commit
        return commit(self.containers, self.images_store, ref, target)
