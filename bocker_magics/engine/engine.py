"""The engine API: the one place every feature lives. The CLI, the magics and bocker-runc
are faces of it. This module is a facade of verbs; each concept lives in its own room:

    image_verbs.py and container_verbs.py: the facade's verbs of images and of containers
    (as podman's ImageEngine and ContainerEngine); here the rooms, volumes, networks, system
    images.py (the image store)      container/ (create, start, attach, exec, signals, rm)
    options/ (Docker's options -> the OCI spec)   spec/ (the spec and the state as types)
    inspect.py   gc.py   network/   distribution/ (pull, push, save, load)   runtime/   kernel/

    engine = Engine()                       # BOCKER_ROOT or /var/lib/bocker
    img = engine.busybox()                  # the built-in image, made offline
    result = engine.run(img.id, "echo hi")  # RunResult(id=…, exit_code=0, output=b"hi\\n", …)
    engine.ps(); engine.logs(result.id); engine.rm(result.id)
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

# ExitCodeError: the package exports it from here (engine/__init__.py)
from ..errors import BockerError, ExitCodeError, HostUnsupported  # noqa: F401
from .container_verbs import ContainerVerbs
from .image_verbs import ImageVerbs
from .images import ImageStore
from .store import Store

if TYPE_CHECKING:
    from .container import Containers
    from .limits import Limits
    from .network.networks import Networks
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


class Engine(ImageVerbs, ContainerVerbs):
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
        if "containers" in self.__dict__:
            self.containers.probes.close()  # the pidfds and freezer files ps holds
        if "launcher" in self.__dict__:
            self.launcher.close()
        if "networks" in self.__dict__:
            self.networks.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def gc(self) -> list[str]:
        """Remove what crashes left; a line per thing removed or corrected (gc.py)."""
        from .gc import collect
        return collect(self.containers, self.images_store, lambda: self.networks)

    # -- networks (network/verbs.py) ---------------------------------------------------------
    def _container_name(self, cid: str) -> str | None:
        try:
            return self.containers.load(cid).name
        except BockerError:
            return None

    def network_ls(self) -> list[dict[str, Any]]:
        """Every network with its bridge, subnet, gateway and the containers holding leases."""
        from .network.verbs import ls
        return ls(self.networks, self._container_name)

    def network_inspect(self, name: str) -> dict[str, Any]:
        from .network.verbs import inspect
        return inspect(self.networks, name, self._container_name)

    def network_create(self, name: str, subnet: str | None = None, gateway: str | None = None,
                       bridge: str | None = None, labels: dict[str, str] | None = None, internal: bool = False,
                       options: dict[str, str] | None = None) -> dict[str, Any]:
        from .network.verbs import create
        return create(self.networks, name, subnet, gateway, bridge, pools=self.engine_config().default_address_pools,
                      labels=labels, internal=internal, options=options)

    def network_rm(self, name: str) -> str:
        from .network.verbs import rm
        return rm(self.networks, name, in_use=any(c.running and c.record is not None
                                                  and name in c.record.network.networks for c in self.ps()))

    def network_connect(self, network: str, ref: str, aliases: list[str] | None = None,
                        ip: str | None = None) -> str:
        """The container joins another network: live while it runs (an interface more), else
        at its next start (container/connect.py). Returns its id."""
        from .container.connect import connect
        return connect(self.containers, network, ref, aliases or [], ip)

    def network_disconnect(self, network: str, ref: str, force: bool = False) -> str:
        """The container leaves a network (its interface there removed live while it runs)."""
        from .container.connect import disconnect
        return disconnect(self.containers, network, ref, force)
