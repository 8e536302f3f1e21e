"""A compose project brought up and down through the engine's verbs: networks and volumes
first, then services in dependency order, each waiting on its dependencies' conditions
(started, healthy, completed successfully); containers named and labelled as Compose names and
labels them, so `ps --filter label=com.docker.compose.project=P` and Compose's own tools find
them. `up` again changes only what changed (a service's config hash is one of its labels).

Nothing here knows the kernel: every step is a call of the Engine facade, as a face makes it.
Its parts: labels.py (the labels and the config hash), service_options.py (a service as run
options), waits.py (dependency conditions, `up --wait`), stack_logs.py (the merged logs).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from ...errors import Conflict, InvalidArgument, NotFound
from .labels import (  # noqa: F401  (the parts' names, from here as before)
    LABEL_DEPENDS,
    LABEL_FILES,
    LABEL_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
    LABEL_WORKDIR,
    ServiceContainer,
    config_hash,
)
from .model import Project, Service
from .service_options import ServiceOptions
from .stack_logs import StackLogs
from .waits import StackError, Waits  # noqa: F401

WAIT_TIMEOUT = 120.0



class Stack(ServiceOptions, Waits, StackLogs):
    def __init__(self, engine, project: Project, say: Callable[[str], None] | None = None) -> None:
        self.engine, self.project = engine, project
        self.say = say or (lambda line: None)

    # -- what exists ------------------------------------------------------------------------
    def containers(self, service: str | None = None, oneoff: bool = False) -> list[ServiceContainer]:
        filters = [f"label={LABEL_PROJECT}={self.project.name}"]
        if service:
            filters.append(f"label={LABEL_SERVICE}={service}")
        out = []
        for c in self.engine.ps(filters):
            labels = c.record.labels if c.record is not None else {}
            if (labels.get(LABEL_ONEOFF) == "True") != oneoff:
                continue
            out.append(ServiceContainer(labels.get(LABEL_SERVICE, ""), int(labels.get(LABEL_NUMBER, "1") or 1), c))
        return sorted(out, key=lambda sc: (sc.service, sc.number))

    def _network_exists(self, name: str) -> bool:
        try:
            self.engine.network_inspect(name)
            return True
        except NotFound:
            return False

    # -- up ---------------------------------------------------------------------------------
    def up(self, services: list[str] | None = None, *, build: bool = False, no_deps: bool = False,
           force_recreate: bool = False, wait: bool = False, timeout: float = WAIT_TIMEOUT) -> list[ServiceContainer]:
        self._check_names(services)
        wanted = list(services) if services and no_deps else self.project.order(services)
        self._networks(wanted)
        self._volumes(wanted)
        for name in wanted:
            self._image(self.project.services[name], build)
        started: list[ServiceContainer] = []
        for name in wanted:
            service = self.project.services[name]
            if not no_deps or not services:
                self._wait_for_dependencies(service, timeout)
            started += self._converge(service, force_recreate)
        if wait:
            self.wait_healthy([sc for sc in started], timeout)
        return started

    def _check_names(self, services: list[str] | None) -> None:
        for name in services or []:
            if name not in self.project.services:
                hint = f" (it is in profile {', '.join(self.project.disabled[name].profiles)}: add --profile)" \
                    if name in self.project.disabled else ""
                raise NotFound(f"no such service: {name}{hint}")

    def _networks(self, services: list[str]) -> None:
        used = {n for s in services for n in self.project.services[s].networks}
        for key in sorted(used):
            net = self.project.networks[key]
            if self._network_exists(net.name):
                continue
            if net.external:
                raise NotFound(f"network {net.name} declared as external, but could not be found: "
                               f"create it with `bocker network create {net.name}`")
            self.engine.network_create(net.name, net.subnets[0] if net.subnets else None,
                                       net.gateways[0] if net.gateways else None,
                                       labels={LABEL_PROJECT: self.project.name, "com.docker.compose.network": key,
                                               **net.labels},
                                       internal=net.internal, options=dict(net.driver_opts) or None)
            self.say(f"Network {net.name}  Created")

    def _volumes(self, services: list[str]) -> None:
        used = {m.source for s in services for m in self.project.services[s].mounts if m.type == "volume" and m.source}
        existing = {v.name for v in self.engine.volume_ls()}
        for key in sorted(used):
            vol = self.project.volumes[key]
            if vol.name in existing:
                continue
            if vol.external:
                raise NotFound(f"volume {vol.name} declared as external, but could not be found: "
                               f"create it with `bocker volume create {vol.name}`")
            self.engine.volume_create(vol.name, [f"{LABEL_PROJECT}={self.project.name}",
                                                 f"com.docker.compose.volume={key}",
                                                 *[f"{k}={v}" for k, v in vol.labels.items()]])
            self.say(f"Volume {vol.name}  Created")

    def image_of(self, service: Service) -> str:
        return service.image or f"{self.project.name}-{service.name}"

    def _image(self, service: Service, build: bool) -> None:
        ref = self.image_of(service)
        have = self._has_image(ref)
        if service.build is not None and (build or not have):
            b = service.build
            self.say(f"Service {service.name}  Building")
            self.engine.build(b.context, [ref], dockerfile=f"{b.context}/{b.dockerfile}", build_args=b.args,
                              target=b.target or None, no_cache=b.no_cache, pull=b.pull,
                              network=b.network or None)
            self.say(f"Service {service.name}  Built")
        elif not have or service.pull_policy == "always":
            if service.pull_policy == "never":
                raise NotFound(f"service {service.name}: no image {ref} here, and pull_policy is never")
            self.say(f"{service.name} Pulling")
            self.engine.pull(ref)
            self.say(f"{service.name} Pulled")

    def _has_image(self, ref: str) -> bool:
        try:
            self.engine.image(ref)
            return True
        except NotFound:
            return False

    def _converge(self, service: Service, force: bool) -> list[ServiceContainer]:
        digest = config_hash(service)
        existing = {sc.number: sc for sc in self.containers(service.name)}
        out = []
        for number in range(1, service.replicas + 1):
            name = self.project.container_name(service, number)
            sc = existing.pop(number, None)
            if sc is not None:
                labels = sc.container.record.labels if sc.container.record is not None else {}
                if labels.get(LABEL_HASH) == digest and not force:
                    if not sc.container.running:
                        self.engine.start(sc.container.id)
                        self.say(f"Container {name}  Started")
                    else:
                        self.say(f"Container {name}  Running")
                    out.append(ServiceContainer(service.name, number, self.engine.container(sc.container.id)))
                    continue
                self.say(f"Container {name}  Recreate")
                self.engine.rm(sc.container.id, force=True)
            c = self.engine.create(self.image_of(service), self.command_of(service),
                                   self.run_options(service, number, digest))
            self.say(f"Container {name}  Created")
            self.engine.start(c.id)
            self.say(f"Container {name}  Started")
            out.append(ServiceContainer(service.name, number, self.engine.container(c.id)))
        for sc in existing.values():  # scaled down
            self.engine.rm(sc.container.id, force=True)
            self.say(f"Container {sc.container.name}  Removed")
        return out

    # -- the other verbs ----------------------------------------------------------------------
    def down(self, *, volumes: bool = False, rmi: str | None = None, remove_orphans: bool = False) -> None:
        services = set(self.project.services) | set(self.project.disabled)
        for sc in reversed(self.containers() + self.containers(oneoff=True)):
            if sc.service not in services and not remove_orphans:
                continue
            self.engine.rm(sc.container.id, force=True, volumes=volumes)
            self.say(f"Container {sc.container.name}  Removed")
        for net in self.project.networks.values():
            if net.external or not self._network_exists(net.name):
                continue
            try:
                self.engine.network_rm(net.name)
                self.say(f"Network {net.name}  Removed")
            except Conflict as e:
                self.say(f"Network {net.name}  {e}")
        if volumes:
            existing = {v.name for v in self.engine.volume_ls()}
            for vol in self.project.volumes.values():
                if not vol.external and vol.name in existing:
                    self.engine.volume_rm(vol.name)
                    self.say(f"Volume {vol.name}  Removed")
        if rmi in ("local", "all"):
            for service in self.project.services.values():
                if rmi == "all" or not service.image:
                    try:
                        self.engine.rmi(self.image_of(service))
                        self.say(f"Image {self.image_of(service)}  Removed")
                    except NotFound:
                        pass

    def start(self, services: list[str] | None = None) -> None:
        self._check_names(services)
        for name in self.project.order(services):
            for sc in self.containers(name):
                if not sc.container.running:
                    self.engine.start(sc.container.id)
                    self.say(f"Container {sc.container.name}  Started")

    def stop(self, services: list[str] | None = None, timeout: float | None = None) -> None:
        self._check_names(services)
        for name in reversed(self.project.order(services)):
            for sc in self.containers(name):
                if sc.container.running:
                    self.engine.stop(sc.container.id, timeout)
                    self.say(f"Container {sc.container.name}  Stopped")

    def restart(self, services: list[str] | None = None, timeout: float | None = None) -> None:
        self.stop(services, timeout)
        self.start(services)

    def pull(self, services: list[str] | None = None) -> None:
        self._check_names(services)
        for name in services or sorted(self.project.services):
            service = self.project.services[name]
            if service.image and service.build is None:
                self.say(f"{name} Pulling")
                self.engine.pull(service.image)
                self.say(f"{name} Pulled")

    def build(self, services: list[str] | None = None) -> None:
        self._check_names(services)
        for name in services or sorted(self.project.services):
            if self.project.services[name].build is not None:
                self._image(self.project.services[name], build=True)

    def container_of(self, service: str, index: int = 1):
        self._check_names([service])
        for sc in self.containers(service):
            if sc.number == index:
                return sc.container
        raise NotFound(f"service \"{service}\" is not running container #{index}: `bocker compose up {service}` first")

    # -- what the faces show: exec, run, logs, ps, top, images -------------------------------
    def exec(self, service: str, command: list[str], *, index: int = 1, **kwargs):
        """`compose exec SERVICE CMD…`: the command in the service's container (engine.exec's
        RunResult: its exit code is the command's)."""
        if not command:
            raise InvalidArgument("compose exec: give the command to run, e.g. compose exec web ls /")
        return self.engine.exec(self.container_of(service, index).id, command, **kwargs)

    def run(self, service: str, command: list[str] | None = None, *, remove: bool = False, no_deps: bool = False,
            **kwargs):
        """`compose run SERVICE [CMD…]`: a one-off container of the service (its dependencies
        brought up first), labelled oneoff=True and named PROJECT-SERVICE-run-ID; attached."""
        self._check_names([service])
        svc = self.project.services[service]
        deps = [d for d in svc.depends_on if d in self.project.services]
        if deps and not no_deps:
            self.up(deps)
        else:
            self._networks([service])
            self._volumes([service])
        self._image(svc, False)
        options = self.run_options(svc, 1, config_hash(svc), oneoff=True)
        suffix = hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:12]
        options.name = f"{self.project.name}-{service}-run-{suffix}"
        options.detach, options.remove = False, remove
        return self.engine.run(self.image_of(svc), list(command) if command else self.command_of(svc), options,
                               **kwargs)

    def _pick(self, services: list[str] | None, all_: bool = True) -> list[ServiceContainer]:
        self._check_names(services)
        return [sc for sc in self.containers() if (not services or sc.service in services)
                and (all_ or sc.container.running)]

    def ps(self, services: list[str] | None = None, all_: bool = False) -> list[ServiceContainer]:
        """`compose ps`: the running containers of the stack (-a: every one, one-off ones too)."""
        found = self._pick(services, all_)
        if all_:
            found += [sc for sc in self.containers(oneoff=True) if not services or sc.service in services]
        return found

    def top(self, services: list[str] | None = None) -> list[tuple[ServiceContainer, list]]:
        return [(sc, self.engine.top(sc.container.id)) for sc in self._pick(services, all_=False)]

    def images(self, services: list[str] | None = None) -> list[tuple[ServiceContainer, object]]:
        out = []
        for sc in self._pick(services):
            try:
                out.append((sc, self.engine.image(sc.container.image_name)))
            except NotFound:
                out.append((sc, None))
        return out




def open_stack(engine, *, files: list[str] | None = None, project: str | None = None, cwd=None,
               environ=None, env_file: str | None = None, profiles: list[str] | None = None,
               project_directory: str | None = None, text: str | None = None,
               say: Callable[[str], None] | None = None) -> Stack:
    """The Stack of a face's compose options: -f files relative to the face's directory (`cwd`),
    found there (or above) when none is given; --project-directory is where the default file
    is looked for instead; `text`: a notebook cell's file."""
    from pathlib import Path

    from .compose_file import load_project

    here = Path(cwd or Path.cwd())
    if files:
        files = [str(f if Path(f).is_absolute() else here / f) for f in files]
    if env_file and not Path(env_file).is_absolute():
        env_file = str(here / env_file)
    cwd = here / project_directory if project_directory else here
    return Stack(engine, load_project(files or None, project=project, cwd=cwd, environ=environ, env_file=env_file,
                                      profiles=profiles or None, text=text), say)
