"""A compose project brought up and down through the engine's verbs: networks and volumes
first, then services in dependency order, each waiting on its dependencies' conditions
(started, healthy, completed successfully); containers named and labelled as Compose names and
labels them, so `ps --filter label=com.docker.compose.project=P` and Compose's own tools find
them. `up` again changes only what changed (a service's config hash is one of its labels).

Nothing here knows the kernel: every step is a call of the Engine facade, as a face makes it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import BockerError, Conflict, InvalidArgument, NotFound
from .model import Project, Service

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_HASH = "com.docker.compose.config-hash"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_DEPENDS = "com.docker.compose.depends_on"
WAIT_TIMEOUT = 120.0


class StackError(BockerError):
    """A service that can't come up as asked (a failed dependency, an unhealthy one)."""


@dataclass
class ServiceContainer:
    service: str
    number: int
    container: object  # engine Container


def config_hash(service: Service) -> str:
    """What decides whether `up` recreates a service's containers: its whole normal form."""
    text = json.dumps(service.to_config(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Stack:
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

    def _wait_for_dependencies(self, service: Service, timeout: float) -> None:
        for dep, condition in service.depends_on.items():
            if dep not in self.project.services:
                continue  # an optional one (required: false) that is not in this file
            deadline = time.monotonic() + timeout
            for sc in self.containers(dep):
                self._wait_condition(dep, sc.container.id, condition.condition, deadline)

    def _wait_condition(self, service: str, cid: str, condition: str, deadline: float) -> None:
        if condition == "service_started":
            return
        while True:
            c = self.engine.container(cid)
            status, health = c.status_text, self.health_of(c)
            if condition == "service_healthy":
                if health == "healthy":
                    self.say(f"Container {c.name}  Healthy")
                    return
                if health is None:
                    raise StackError(f"dependency {service} has no healthcheck: service_healthy can't be waited on")
                if health == "unhealthy":
                    raise StackError(f"dependency failed to start: container {c.name} is unhealthy")
            elif condition == "service_completed_successfully":
                if not c.running:
                    code = c.state.exit_code if c.state is not None else None
                    if code == 0:
                        return
                    raise StackError(f"service {service} didn't complete successfully: exit {code}")
            if not c.running and condition == "service_healthy":
                raise StackError(f"dependency failed to start: container {c.name} exited ({status})")
            if time.monotonic() >= deadline:
                raise StackError(f"timed out waiting for {service} to be {condition.removeprefix('service_')}")
            time.sleep(0.1)

    @staticmethod
    def health_of(container) -> str | None:
        health = getattr(container, "health", None)
        return health() if callable(health) else health

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

    def run_options(self, service: Service, number: int, digest: str, oneoff: bool = False):
        """The service as `docker run` options (the one place a compose key becomes an engine
        option)."""
        from ..options import RunOptions

        labels = {**service.labels, LABEL_PROJECT: self.project.name, LABEL_SERVICE: service.name,
                  LABEL_NUMBER: str(number), LABEL_ONEOFF: str(oneoff), LABEL_HASH: digest,
                  LABEL_WORKDIR: self.project.working_dir, LABEL_FILES: ",".join(self.project.files),
                  LABEL_DEPENDS: ",".join(f"{d}:{c.condition}:{str(c.restart).lower()}"
                                          for d, c in service.depends_on.items())}
        volumes, tmpfs, mounts = [], [], []
        for m in service.mounts:
            if m.type == "tmpfs":
                tmpfs.append(m.target + (f":size={m.tmpfs_size}" if m.tmpfs_size else ""))
            elif m.type == "volume" and not m.source:
                volumes.append(m.target)
            else:
                source = self.project.volumes[m.source].name if m.type == "volume" else m.source
                volumes.append(f"{source}:{m.target}" + (":ro" if m.read_only else ""))
        network = service.network_mode or None
        if network is None and service.networks:
            network = self.project.networks[next(iter(service.networks))].name
        entrypoint = None if service.entrypoint is None else (service.entrypoint[0] if service.entrypoint else "")
        options = RunOptions(
            name=self.project.container_name(service, number) if not oneoff else None,
            hostname=service.hostname or None, env=[f"{k}={v}" for k, v in service.environment.items()],
            workdir=service.working_dir or None, volumes=volumes, limits=self._limits(service), detach=True,
            cap_add=list(service.cap_add), cap_drop=list(service.cap_drop), privileged=service.privileged,
            network=network, publish=[p.docker_spelling() for p in service.ports], dns=list(service.dns),
            user=service.user or None, group_add=list(service.group_add), read_only=service.read_only,
            tmpfs=tmpfs, mounts=mounts, ulimits=[f"{k}={s}:{h}" for k, (s, h) in service.ulimits.items()],
            oom_score_adj=service.oom_score_adj, sysctls=[f"{k}={v}" for k, v in service.sysctls.items()],
            devices=list(service.devices), security_opt=list(service.security_opt),
            interactive=service.stdin_open, tty=service.tty, entrypoint=entrypoint,
            labels=[f"{k}={v}" for k, v in labels.items()], pid=service.pid or None, ipc=service.ipc or None,
            uts=service.uts or None, stop_signal=service.stop_signal or None,
            stop_timeout=int(service.stop_grace_period) if service.stop_grace_period is not None else None,
            init=service.init, restart=service.restart if service.restart != "no" else None)
        self._extend_options(options, service)
        return options

    def _extend_options(self, options, service: Service) -> None:
        """The service's networks (the first at create, the others attached as eth1...), its
        name and aliases on each (and a static address where ipv4_address gives one), its
        healthcheck."""
        attach = [(self.project.networks[key].name, net) for key, net in service.networks.items()]
        if not service.network_mode and attach:
            first, *more = attach
            options.network_aliases = list(dict.fromkeys([service.name, *first[1].aliases]))
            options.ip = first[1].ipv4_address or None
            options.more_networks = [{"name": name, "aliases": list(dict.fromkeys([service.name, *net.aliases])),
                                      "ip": net.ipv4_address} for name, net in more]
        else:
            options.network_aliases = [service.name]
        check = service.healthcheck
        if check is not None:
            options.health = {k: v for k, v in (("test", check.test or None), ("interval", check.interval),
                                                ("timeout", check.timeout), ("retries", check.retries),
                                                ("start_period", check.start_period)) if v is not None}
        options.no_healthcheck = service.healthcheck_disabled

    @staticmethod
    def command_of(service: Service) -> list[str] | None:
        """The command to run: an entrypoint of several words puts the rest before the command
        (Docker's --entrypoint takes the program only), and resets the image's CMD as Docker does."""
        if service.entrypoint is None:
            return service.command
        return [*service.entrypoint[1:], *(service.command or [])]

    def _limits(self, service: Service):
        if not (service.mem_limit or service.cpus or service.cpu_shares or service.pids_limit):
            return None
        from ..limits import Limits
        from .sizes import parse_size

        limits = Limits(memory=parse_size(service.mem_limit) if service.mem_limit else None,
                        cpu_shares=service.cpu_shares, cpus=service.cpus, pids=service.pids_limit)
        try:
            limits.validate()
        except InvalidArgument as e:
            raise InvalidArgument(f"service {service.name}: {e}") from None
        return limits

    def wait_healthy(self, started: list[ServiceContainer], timeout: float) -> None:
        """`up --wait`: every container running, and healthy where it has a healthcheck."""
        deadline = time.monotonic() + timeout
        for sc in started:
            c = self.engine.container(sc.container.id)
            if self.health_of(c) is not None:
                self._wait_condition(sc.service, c.id, "service_healthy", deadline)
            elif not c.running:
                raise StackError(f"container {c.name} exited ({c.status_text})")

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

    def log_lines(self, services: list[str] | None = None, *, tail: int | None = None, follow: bool = False,
                  started: list[ServiceContainer] | None = None):
        """Every container's log as Compose prints it: (prefix, stream, line) with the prefix
        `SERVICE-N`, lines of all the containers merged as they come; following: until every
        one has stopped."""
        import queue
        import threading

        chosen = started if started is not None else self._pick(services)
        if not chosen:
            return
        width = max(len(f"{sc.service}-{sc.number}") for sc in chosen)
        lines: queue.Queue = queue.Queue()
        done = object()
        stop = threading.Event()

        def read(sc: ServiceContainer) -> None:
            prefix = f"{sc.service}-{sc.number}".ljust(width)
            partial: dict[str, bytes] = {}
            try:
                for r in self.engine.log_records(sc.container.id, tail=tail, follow=follow):
                    if stop.is_set():
                        break
                    data = partial.pop(r.stream, b"") + r.text(False)
                    *whole, rest = data.split(b"\n")
                    for line in whole:
                        lines.put((prefix, r.stream, line))
                    if rest:
                        partial[r.stream] = rest
                for stream, rest in partial.items():
                    lines.put((prefix, stream, rest))
            except BockerError:
                pass  # removed while we read it
            finally:
                lines.put(done)

        threads = [threading.Thread(target=read, args=(sc,), daemon=True) for sc in chosen]
        for t in threads:
            t.start()
        remaining = len(threads)
        try:
            while remaining:
                try:
                    item = lines.get(timeout=0.2)
                except queue.Empty:
                    continue
                if item is done:
                    remaining -= 1
                else:
                    yield item
        finally:
            stop.set()


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
