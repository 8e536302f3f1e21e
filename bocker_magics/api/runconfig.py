"""A create request's body -> a RunOptions: Docker's Config (the process), HostConfig (mounts,
limits, security, restart, ports) and NetworkingConfig, in named steps, as `bocker run`'s flags
become one in commands.py (moby decodes the same three in its runconfig package)."""

from __future__ import annotations

import shlex
from typing import Any

from .routing import ApiError


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def _process_options(o, config: dict[str, Any]) -> Any:
    """Config's process fields; returns the command (the entrypoint's arguments with Cmd)."""
    o.hostname = config.get("Hostname") or None
    o.env = list(config.get("Env") or [])
    o.workdir = config.get("WorkingDir") or None
    o.user = config.get("User") or None
    o.tty = bool(config.get("Tty"))
    o.interactive = bool(config.get("OpenStdin"))
    o.labels = [f"{k}={v}" for k, v in (config.get("Labels") or {}).items()]
    o.stop_signal = config.get("StopSignal") or None
    if config.get("StopTimeout") is not None:
        o.stop_timeout = int(config["StopTimeout"])
    entrypoint = _as_list(config.get("Entrypoint"))
    cmd = _as_list(config.get("Cmd"))
    command: Any = cmd
    if entrypoint is not None:
        if entrypoint and entrypoint != [""]:
            o.entrypoint, command = entrypoint[0], entrypoint[1:] + (cmd or [])
        else:
            o.entrypoint = ""
    return command


def _mount_options(o, config: dict[str, Any], host: dict[str, Any]) -> None:
    """Binds, Mounts, Config.Volumes (anonymous volumes) and Tmpfs."""
    o.volumes = list(host.get("Binds") or [])
    targets = set()
    for m in host.get("Mounts") or []:
        kind = (m.get("Type") or "volume").lower()
        text = f"type={kind},target={m.get('Target', '')}"
        targets.add(m.get("Target", ""))
        if m.get("Source"):
            text += f",source={m['Source']}"
        if m.get("ReadOnly"):
            text += ",readonly"
        o.mounts.append(text)
    targets |= {b.split(":")[1] if ":" in b else b for b in o.volumes}
    # `docker run -v /path` sends Config.Volumes: an anonymous volume (the engine's -v /path)
    o.volumes += [path for path in (config.get("Volumes") or {}) if path not in targets]
    o.tmpfs = [f"{p}:{opts}" if opts else p for p, opts in (host.get("Tmpfs") or {}).items()]


def _limit_options(o, host: dict[str, Any]) -> None:
    """Memory, NanoCpus (or CpuQuota/CpuPeriod), CpuShares, PidsLimit -> the engine's Limits."""
    from ..engine import Limits
    memory, cpus = host.get("Memory") or None, None
    if host.get("NanoCpus"):
        cpus = host["NanoCpus"] / 1e9
    elif host.get("CpuQuota") and host.get("CpuQuota", 0) > 0:
        cpus = host["CpuQuota"] / (host.get("CpuPeriod") or 100000)
    shares, pids = host.get("CpuShares") or None, host.get("PidsLimit") or None
    if pids is not None and pids <= 0:
        pids = None
    if memory or cpus or shares or pids:
        o.limits = Limits(memory=memory, cpus=cpus, cpu_shares=shares, pids=pids)


def _host_options(o, host: dict[str, Any]) -> None:
    """Capabilities, security, devices, namespaces, --rm and the restart policy."""
    o.cap_add = list(host.get("CapAdd") or [])
    o.cap_drop = list(host.get("CapDrop") or [])
    o.privileged = bool(host.get("Privileged"))
    o.read_only = bool(host.get("ReadonlyRootfs"))
    o.dns = list(host.get("Dns") or [])
    o.group_add = [str(g) for g in host.get("GroupAdd") or []]
    o.security_opt = list(host.get("SecurityOpt") or [])
    o.sysctls = [f"{k}={v}" for k, v in (host.get("Sysctls") or {}).items()]
    o.ulimits = [f"{u['Name']}={u.get('Soft', -1)}:{u.get('Hard', u.get('Soft', -1))}"
                 for u in host.get("Ulimits") or []]
    o.devices = [":".join(filter(None, (d.get("PathOnHost"), d.get("PathInContainer"),
                                        d.get("CgroupPermissions")))) for d in host.get("Devices") or []]
    if host.get("OomScoreAdj"):
        o.oom_score_adj = int(host["OomScoreAdj"])
    o.init = bool(host.get("Init"))
    o.pid = host.get("PidMode") or None
    o.ipc = host.get("IpcMode") if host.get("IpcMode") not in (None, "", "private", "shareable") else None
    o.uts = host.get("UTSMode") or None
    o.remove = bool(host.get("AutoRemove"))
    policy = host.get("RestartPolicy") or {}
    if policy.get("Name") and policy["Name"] != "no":
        count = policy.get("MaximumRetryCount") or 0
        o.restart = f"on-failure:{count}" if policy["Name"] == "on-failure" and count else policy["Name"]


def _health_options(o, config: dict[str, Any]) -> None:
    """Config.Healthcheck (durations in nanoseconds); ["NONE"] turns the image's off."""
    check = config.get("Healthcheck") or {}
    if check.get("Test") and check["Test"][0] == "NONE":
        o.no_healthcheck = True
    elif check:
        given = (("test", list(check["Test"]) if check.get("Test") else None),
                 ("interval", check.get("Interval", 0) / 1e9 or None),
                 ("timeout", check.get("Timeout", 0) / 1e9 or None),
                 ("start_period", check.get("StartPeriod", 0) / 1e9 or None),
                 ("retries", check.get("Retries") or None))
        o.health = {k: v for k, v in given if v is not None}


def _port_options(o, host: dict[str, Any]) -> None:
    """PortBindings -> -p's words; PublishAllPorts -> -P."""
    for port, bindings in (host.get("PortBindings") or {}).items():
        number, _, proto = port.partition("/")
        for b in bindings or [{}]:
            ip = (b or {}).get("HostIp") or "0.0.0.0"
            o.publish.append(f"{ip}:{(b or {}).get('HostPort') or ''}:{number}/{proto or 'tcp'}")
    o.publish_all = bool(host.get("PublishAllPorts"))


class RunConfig:
    """Mixed into the Api: `_networking` resolves network names through networks.py."""

    def run_options(self, name: str | None, config: dict[str, Any], host: dict[str, Any],
                    networking: dict[str, Any]) -> tuple[Any, Any]:
        """Docker's Config/HostConfig/NetworkingConfig -> (RunOptions, command)."""
        from ..engine import RunOptions
        o = RunOptions(name=name)
        command = _process_options(o, config)
        _mount_options(o, config, host)
        _limit_options(o, host)
        _host_options(o, host)
        self._networking(o, host.get("NetworkMode") or "default", (networking or {}).get("EndpointsConfig") or {})
        _health_options(o, config)
        _port_options(o, host)
        return o, command

    def _networking(self, o, mode: str, endpoints: dict[str, Any]) -> None:
        """NetworkMode and EndpointsConfig -> the first network (its aliases, its static address)
        and the others (API 1.41 clients give one; a later API's several are attached as eth1...)."""
        def name_of(ref: str) -> str:
            resolve = getattr(self, "_network", None)  # networks.py: a name or an id prefix
            try:
                return resolve(ref) if resolve is not None and ref not in ("default", "bridge") else ref
            except ApiError:
                return ref  # the engine says it is missing, in its words
        named = {name_of(n): cfg or {} for n, cfg in endpoints.items() if n not in ("default",)}
        if mode in ("default", "bridge"):
            users = [n for n in named if n != "bridge"]
            o.network = users[0] if users else None
        else:
            o.network = name_of(mode)
        first = named.get(o.network or "", named.get(mode, {}))
        o.network_aliases = [str(a) for a in first.get("Aliases") or []]  # compose: the service's name
        o.ip = ((first.get("IPAMConfig") or {}).get("IPv4Address")) or None
        o.more_networks = [{"name": n, "aliases": [str(a) for a in cfg.get("Aliases") or []],
                            "ip": (cfg.get("IPAMConfig") or {}).get("IPv4Address") or ""}
                           for n, cfg in named.items() if n not in (o.network, "bridge")]
