"""A compose project as the engine uses it: services, networks and volumes, every value in one
normal form (a service's `environment` a mapping, its ports and mounts typed, its networks a
mapping with aliases), whatever spelling the file used. `Project.to_config()` is the resolved
model that `bocker compose config` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PortBinding:
    target: int
    published: str = ""  # "" : a free port; "8080" or "8080-8081"
    host_ip: str = ""
    protocol: str = "tcp"

    def docker_spelling(self) -> str:
        """`-p`'s form: [IP:][HOSTPORT:]CTRPORT[/PROTO]."""
        text = str(self.target)
        if self.published or self.host_ip:
            text = f"{self.published}:{text}"
        if self.host_ip:
            text = f"[{self.host_ip}]:{text}" if ":" in self.host_ip else f"{self.host_ip}:{text}"
        return text if self.protocol == "tcp" else f"{text}/{self.protocol}"


@dataclass
class Mount:
    type: str  # volume, bind, tmpfs
    target: str
    source: str = ""  # a volume's name (the file's, before the project prefix) or a host path
    read_only: bool = False
    propagation: str = ""
    tmpfs_size: int | None = None


@dataclass
class Dependency:
    condition: str = "service_started"
    required: bool = True
    restart: bool = False


@dataclass
class Healthcheck:
    test: list[str]  # ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]
    interval: float | None = None  # seconds
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None


@dataclass
class ServiceNetwork:
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str = ""


@dataclass
class Build:
    context: str
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    network: str = ""
    no_cache: bool = False
    pull: bool = False


@dataclass
class Service:
    name: str
    image: str = ""
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: list[PortBinding] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    networks: dict[str, ServiceNetwork] = field(default_factory=dict)
    network_mode: str = ""
    depends_on: dict[str, Dependency] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    healthcheck_disabled: bool = False
    restart: str = "no"
    user: str = ""
    working_dir: str = ""
    hostname: str = ""
    container_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    read_only: bool = False
    init: bool = False
    privileged: bool = False
    tty: bool = False
    stdin_open: bool = False
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    stop_signal: str = ""
    stop_grace_period: float | None = None
    mem_limit: str = ""
    memswap_limit: str = ""
    cpus: float | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None
    replicas: int = 1
    profiles: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    extra_hosts: dict[str, str] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)
    group_add: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    oom_score_adj: int | None = None
    ipc: str = ""
    pid: str = ""
    uts: str = ""
    platform: str = ""
    pull_policy: str = ""

    def to_config(self) -> dict[str, Any]:
        """This service as `compose config` shows it: the normal form, empty values left out."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if key == "name" or value in (None, "", [], {}, False) or (key == "replicas" and value == 1) \
                    or (key == "restart" and value == "no"):
                continue
            out[key] = value
        if "mounts" in out:
            out["volumes"] = [{k: v for k, v in m.items() if v not in ("", None, False)} for m in out.pop("mounts")]
        if "ports" in out:
            out["ports"] = [{k: v for k, v in p.items() if v != ""} for p in out["ports"]]
        if "networks" in out:
            out["networks"] = {n: {k: v for k, v in net.items() if v} for n, net in out["networks"].items()}
        if "ulimits" in out:
            out["ulimits"] = {k: {"soft": s, "hard": h} for k, (s, h) in out["ulimits"].items()}
        return _without_none(out)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


@dataclass
class NetworkDef:
    name: str  # the network's real name (PROJECT_KEY unless `name:` or external)
    external: bool = False
    internal: bool = False
    subnets: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class VolumeDef:
    name: str
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Project:
    name: str
    working_dir: str
    files: list[str]
    services: dict[str, Service]
    networks: dict[str, NetworkDef]
    volumes: dict[str, VolumeDef]
    disabled: dict[str, Service] = field(default_factory=dict)  # in a profile not active

    def to_config(self) -> dict[str, Any]:
        def plain(d):
            return {k: v for k, v in asdict(d).items() if v not in ("", [], {}, False)}
        return {"name": self.name,
                "services": {n: s.to_config() for n, s in sorted(self.services.items())},
                **({"networks": {k: plain(v) for k, v in sorted(self.networks.items())}} if self.networks else {}),
                **({"volumes": {k: plain(v) for k, v in sorted(self.volumes.items())}} if self.volumes else {})}

    def container_name(self, service: Service, number: int) -> str:
        return service.container_name or f"{self.name}-{service.name}-{number}"

    def order(self, names: list[str] | None = None) -> list[str]:
        """Services in an order where each comes after what it depends on (the named ones and
        what they need, or all)."""
        wanted = list(names) if names else sorted(self.services)
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            for dep in sorted(self.services[name].depends_on):
                if dep in self.services:
                    visit(dep)
            done.append(name)

        for name in wanted:
            visit(name)
        return done
