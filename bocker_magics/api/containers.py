"""`/containers/...`: Docker's container endpoints over the engine's verbs (create, start,
attach, wait, logs, inspect, list, stop, kill, rm, top, stats, changes, archive, export,
rename, pause, resize, prune). Docker's JSON becomes a RunOptions here, as `bocker run`'s
flags do in commands.py; the engine's records become Docker's inspect and list shapes."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import BockerError, NotFound
from .ids import docker_id, image_id, local_name, short
from .routing import ApiError, route
from .streams import PtySize, SocketOutput, frame

log = logging.getLogger("bocker.api")

ZERO_TIME = "0001-01-01T00:00:00Z"
LIVE = ("running", "paused", "restarting")
DOCKER_STATUS = {"failed": "exited", "broken": "dead"}


def rfc3339(t: float | None) -> str:
    if not t:
        return ZERO_TIME
    whole = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((t - whole) * 1e9):09d}Z"


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 1:
        return "Less than a second"
    if s < 60:
        return f"{s} seconds" if s != 1 else "1 second"
    if s < 3600:
        m = s // 60
        return "About a minute" if m == 1 else f"{m} minutes"
    h = s // 3600
    if h < 48:
        return "About an hour" if h == 1 else f"{h} hours"
    return f"{h // 24} days"


def docker_status(c) -> str:
    return DOCKER_STATUS.get(c.status, c.status)


def status_line(c) -> str:
    now = time.time()
    if c.status == "running":
        return f"Up {_ago(now - (c.started_at or now))}"
    if c.status == "paused":
        return f"Up {_ago(now - (c.started_at or now))} (Paused)"
    if c.status == "restarting":
        return f"Restarting ({c.exit_code or 0}) {_ago(now - (c.finished_at or now))} ago"
    if c.status in ("exited", "failed"):
        return f"Exited ({c.exit_code or 0}) {_ago(now - (c.finished_at or now))} ago"
    return {"created": "Created", "dead": "Dead"}.get(c.status, c.status.capitalize())


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


@dataclass
class AttachSession:
    """A hijacked attach to a container not yet running (`docker run` attaches before it
    starts): the start request lets it go, and the attach's thread runs the attached start."""

    stdin: bool
    go: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class ContainersApi:
    engine: Any
    ids: Any

    # == create ===========================================================================
    def run_options(self, name: str | None, config: dict[str, Any], host: dict[str, Any],
                    networking: dict[str, Any]) -> tuple[Any, Any]:
        """Docker's Config/HostConfig/NetworkingConfig -> (RunOptions, command)."""
        from ..engine import Limits, RunOptions
        o = RunOptions(name=name)
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
        self._networking(o, host.get("NetworkMode") or "default", (networking or {}).get("EndpointsConfig") or {})
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
        for port, bindings in (host.get("PortBindings") or {}).items():
            number, _, proto = port.partition("/")
            for b in bindings or [{}]:
                ip = (b or {}).get("HostIp") or "0.0.0.0"
                o.publish.append(f"{ip}:{(b or {}).get('HostPort') or ''}:{number}/{proto or 'tcp'}")
        o.publish_all = bool(host.get("PublishAllPorts"))
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

    @route("POST", "/containers/create")
    def container_create(self, r) -> None:
        body = r.json_body({}) or {}
        name = r.arg("name") or None
        if name and name.startswith("/"):
            name = name[1:]
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise ApiError(400, "Config cannot be empty in order to create a container")
        img = self.ids.image(image_ref)
        options, command = self.run_options(name, body, body.get("HostConfig") or {},
                                            body.get("NetworkingConfig") or {})
        other = None
        if name:
            with contextlib.suppress(ApiError):
                other = self.ids.container(name)
            if other is not None and other.name == name:
                raise ApiError(409, f'Conflict. The container name "/{name}" is already in use by container '
                               f'"{docker_id(other.id)}". You have to remove (or rename) that container '
                               "to be able to reuse that name.")
        c = self.engine.create(img.id, command, options)
        self.emit(c, "create")
        r.reply(201, {"Id": docker_id(c.id), "Warnings": []})

    def emit(self, c, action: str, **extra: str) -> None:
        """A container event of the service's own verbs, when someone follows /events (the
        watcher alone can miss a container that starts and goes between two of its looks)."""
        if self._events is None:
            return
        attrs = {**(c.record.labels if c.record is not None else {}), "image": c.image_name, "name": c.name or c.id}
        self._events.emit("container", action, c.id, {**attrs, **extra})

    # == inspect and list ===================================================================
    def _exposed(self, info: dict[str, Any], img_config: dict[str, Any]) -> dict[str, Any]:
        ports = {p: {} for p in (img_config.get("ExposedPorts") or {})}
        for p in (info.get("Config") or {}).get("network", {}).get("publish") or []:
            ports.setdefault(f"{p['container_port']}/{p.get('proto', 'tcp')}", {})
        return ports

    def container_json(self, c) -> dict[str, Any]:
        info = self.engine.inspect(c.id)
        record = info.get("Config") or {}
        spec = info.get("Spec") or {}
        process = spec.get("process") or {}
        try:
            img = self.engine.image(c.image)
            img_config = dict(img.config or {})
        except BockerError:
            img_config = {}
        net = info.get("Network") or {}
        plan = record.get("network") or {}
        publish = plan.get("publish") or []
        exposed = self._exposed(info, img_config)
        ports: dict[str, Any] = {p: None for p in exposed}
        if c.status in LIVE:
            for p in publish:
                key = f"{p['container_port']}/{p.get('proto', 'tcp')}"
                ports[key] = (ports.get(key) or []) + [{"HostIp": p["host_ip"], "HostPort": str(p["host_port"])}]
        labels = dict(record.get("labels") or {})
        networks = {}
        mode = plan.get("mode") or "none"
        if mode in ("host", "none"):
            networks[mode] = {
                "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": docker_id("net_" + mode),
                "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None}
        for net_name, att in (net.get("Networks") or {}).items() if mode == "bridge" else ():
            aliases = list(dict.fromkeys([short(c.id), *(att.get("Aliases") or []), *(
                [labels["com.docker.compose.service"]] if "com.docker.compose.service" in labels else [])]))
            networks[net_name] = {
                "IPAMConfig": att.get("IPAMConfig"), "Links": None, "Aliases": aliases,
                "NetworkID": docker_id("net_" + net_name), "EndpointID": att.get("EndpointID") or "",
                "Gateway": att.get("Gateway") or "", "IPAddress": att.get("Address") or "",
                "IPPrefixLen": att.get("PrefixLen") or 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "MacAddress": att.get("MacAddress") or "", "DriverOpts": None}
        state = info.get("State") or {}
        restart = record.get("restart") or {}
        limits = info.get("Limits") or {}
        mounts = []
        for m in (info.get("Mounts") or [])[1:]:
            mounts.append({"Type": "bind", "Source": m["Source"], "Destination": m["Destination"], "Mode": "",
                           "RW": not m.get("ReadOnly"), "Propagation": "rprivate"})
        for v in record.get("volumes") or []:
            with contextlib.suppress(BockerError):
                vol = self.engine.volume_inspect(v)
                for m in mounts:
                    if m["Source"] == vol["Mountpoint"] or m["Source"].startswith(vol["Mountpoint"] + "/"):
                        m.update({"Type": "volume", "Name": v, "Driver": "local"})
        mode_name = "default" if mode == "bridge" and plan.get("name") == "bridge" else (
            plan.get("name") if mode == "bridge" else mode)
        binds = [f"{m['Source']}:{m['Destination']}{'' if m['RW'] else ':ro'}" for m in mounts if m["Type"] == "bind"]
        cmd = process.get("args") or []
        env = process.get("env") or []
        created = rfc3339(c.created)
        return {
            "Id": docker_id(c.id), "Created": created, "Path": cmd[0] if cmd else "", "Args": cmd[1:],
            "State": {"Status": docker_status(c), "Running": c.status in ("running", "paused"),
                      "Paused": c.status == "paused", "Restarting": c.status == "restarting",
                      "OOMKilled": bool(c.oom_killed), "Dead": c.status == "dead", "Pid": c.pid or 0
                      if c.status in LIVE else 0, "ExitCode": c.exit_code or 0, "Error": state.get("Error") or "",
                      "StartedAt": rfc3339(c.started_at), "FinishedAt": rfc3339(c.finished_at),
                      **({"Health": info["State"]["Health"]} if "Health" in info.get("State", {}) else {})},
            "Image": image_id(c.image), "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "",
            "LogPath": info.get("LogPath", ""), "Name": "/" + (c.name or short(c.id)),
            "RestartCount": state.get("RestartCount") or 0, "Driver": "overlay2", "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
            "HostConfig": {
                "Binds": binds or None, "NetworkMode": mode_name, "PortBindings": {
                    f"{p['container_port']}/{p.get('proto', 'tcp')}": [{"HostIp": p["host_ip"],
                                                                       "HostPort": str(p["host_port"])}]
                    for p in publish}, "RestartPolicy": {"Name": restart.get("name") or "no",
                                                         "MaximumRetryCount": restart.get("max_retries") or 0},
                "AutoRemove": bool(record.get("auto_remove")), "LogConfig": {"Type": "json-file", "Config": {}},
                "Privileged": bool(info.get("Privileged")), "ReadonlyRootfs": bool(
                    (spec.get("root") or {}).get("readonly")), "Memory": limits.get("memory") or 0,
                "NanoCpus": int((limits.get("cpus") or 0) * 1e9), "CpuShares": limits.get("cpu_shares") or 0,
                "PidsLimit": limits.get("pids"), "CapAdd": None, "CapDrop": None, "Dns": plan.get("dns") or [],
                "Init": None, "PublishAllPorts": False, "Tmpfs": None, "Mounts": None},
            "GraphDriver": {"Name": "overlay2", "Data": None},
            "Mounts": mounts,
            "Config": {
                "Hostname": spec.get("hostname") or short(c.id), "Domainname": "",
                "User": "" if not (process.get("user") or {}).get("uid") else str(process["user"]["uid"]),
                "AttachStdin": False, "AttachStdout": True, "AttachStderr": True,
                "ExposedPorts": exposed or None, "Tty": bool(record.get("tty")),
                "OpenStdin": bool(record.get("stdin")), "StdinOnce": False, "Env": env,
                "Cmd": cmd, "Image": c.image_name, "Volumes": None, "WorkingDir": process.get("cwd") or "/",
                "Entrypoint": None, "OnBuild": None, "Labels": labels,
                "StopSignal": record.get("stop_signal"), "StopTimeout": record.get("stop_timeout")},
            "NetworkSettings": {
                "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0, "Ports": ports, "SandboxKey": "", "SecondaryIPAddresses": None,
                "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": net.get("Gateway") or "",
                "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": net.get("Address") or "",
                "IPPrefixLen": net.get("PrefixLen") or 0, "IPv6Gateway": "", "MacAddress": net.get("MacAddress") or "",
                "Networks": networks},
        }

    def container_summary(self, c, info: dict[str, Any] | None = None) -> dict[str, Any]:
        info = info if info is not None else self.container_json(c)
        ports = []
        for key, bindings in (info["NetworkSettings"]["Ports"] or {}).items():
            number, _, proto = key.partition("/")
            for b in bindings or [None]:
                p = {"PrivatePort": int(number), "Type": proto or "tcp"}
                if b:
                    p.update({"IP": b["HostIp"], "PublicPort": int(b["HostPort"])})
                ports.append(p)
        return {
            "Id": info["Id"], "Names": [info["Name"]], "Image": c.image_name, "ImageID": info["Image"],
            "Command": " ".join(shlex.quote(a) for a in [info["Path"], *info["Args"]] if a) or c.command,
            "Created": int(c.created), "Ports": ports, "Labels": info["Config"]["Labels"], "State": docker_status(c),
            "Status": status_line(c), "HostConfig": {"NetworkMode": info["HostConfig"]["NetworkMode"]},
            "NetworkSettings": {"Networks": info["NetworkSettings"]["Networks"]}, "Mounts": [
                {k: m.get(k) for k in ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")}
                for m in info["Mounts"]], "SizeRw": 0, "SizeRootFs": 0}

    @route("GET", "/containers/(?P<ref>[^/]+)/json")
    def container_inspect(self, r, ref: str) -> None:
        r.reply(200, self.container_json(self.ids.container(ref)))

    @route("GET", "/containers/json")
    def container_list(self, r) -> None:
        filters = r.filters()
        engine_filters = []
        for key in ("ancestor", "volume", "network", "exited"):
            for v in filters.get(key, []):
                engine_filters.append(f"{key}={local_name(v) if key == 'ancestor' else v}")
        statuses = filters.get("status", [])
        found = self.engine.ps(engine_filters or None)
        out = []
        show_all = r.flag("all") or bool(statuses)
        for c in found:
            if not show_all and c.status not in ("running", "paused", "restarting"):
                continue
            if statuses and docker_status(c) not in statuses:
                continue
            if filters.get("id") and not any(docker_id(c.id).startswith(v) or c.id == v for v in filters["id"]):
                continue
            if filters.get("name") and not any(_name_matches("/" + (c.name or ""), v) for v in filters["name"]):
                continue
            labels = c.record.labels if c.record is not None else {}
            if not all(_label_matches(labels, v) for v in filters.get("label", [])):  # Docker ANDs labels
                continue
            if filters.get("health") and (c.health or "none") not in filters["health"]:
                continue
            with contextlib.suppress(NotFound):
                out.append(self.container_summary(c))
        out.reverse()  # newest first, as dockerd
        limit = r.integer("limit", -1)
        if limit is not None and limit > 0:
            out = out[:limit]
        r.reply(200, out)

    # == lifecycle ==========================================================================
    @route("POST", "/containers/(?P<ref>[^/]+)/start")
    def container_start(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status in LIVE:
            raise ApiError(304, "container already started")
        with self.lock:
            session = self.attaches.pop(c.id, None)
        if session is not None:
            session.go.set()
            session.started.wait(120)
            if session.error is not None:
                raise session.error
            self.emit(c, "start")
            r.reply(204)
            return
        self.engine.start(c.id)  # AutoRemove: the engine removes it when it ends (its --rm)
        self.emit(c, "start")
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/stop")
    def container_stop(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status not in LIVE:
            raise ApiError(304, "container already stopped")
        t = r.integer("t")
        self.engine.stop(c.id, None if t is None or t < 0 else t)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/restart")
    def container_restart(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        t = r.integer("t")
        self.engine.restart(c.id, None if t is None or t < 0 else t)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/kill")
    def container_kill(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status not in LIVE:
            raise ApiError(409, f"Cannot kill container: {ref}: Container {docker_id(c.id)} is not running")
        sig = r.arg("signal") or "KILL"
        self.engine.kill(c.id, int(sig) if sig.isdigit() else sig)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/pause")
    def container_pause(self, r, ref: str) -> None:
        self.engine.pause(self.ids.container(ref).id)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/unpause")
    def container_unpause(self, r, ref: str) -> None:
        self.engine.unpause(self.ids.container(ref).id)
        r.reply(204)

    @route("POST", "/containers/(?P<ref>[^/]+)/rename")
    def container_rename(self, r, ref: str) -> None:
        name = (r.arg("name") or "").lstrip("/")
        if not name:
            raise ApiError(400, "Neither old nor new names may be empty")
        self.engine.rename(self.ids.container(ref).id, name)
        r.reply(204)

    @route("DELETE", "/containers/(?P<ref>[^/]+)")
    def container_delete(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        force = r.flag("force")
        if c.status in LIVE and not force:
            raise ApiError(409, f"You cannot remove a running container {docker_id(c.id)}. Stop the container "
                                "before attempting removal or force remove")
        try:
            # `v`: its anonymous volumes too, named ones stay (the engine's rm -v)
            self.engine.rm(c.id, force=force, volumes=r.flag("v"))
        except NotFound:
            pass  # removed meanwhile (an --rm run that ended)
        self.emit(c, "destroy")
        r.reply(204)

    @route("POST", "/containers/prune")
    def container_prune(self, r) -> None:
        filters = [f"{k}={v}" for k, vs in r.filters().items() for v in vs]
        before = {c.id for c in self.engine.ps()}
        result = self.engine.container_prune(filters)
        removed = [docker_id(cid) for cid in before if cid not in {c.id for c in self.engine.ps()}]
        r.reply(200, {"ContainersDeleted": removed, "SpaceReclaimed": getattr(result, "reclaimed", 0) or 0})

    # == wait ===============================================================================
    @route("POST", "/containers/(?P<ref>[^/]+)/wait")
    def container_wait(self, r, ref: str) -> None:
        from ..engine import wait_condition
        c = self.ids.container(ref)
        condition = r.arg("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise ApiError(400, f"invalid condition: \"{condition}\"")
        stream = r.stream()  # the headers at once: `docker run` starts the container after them
        code = wait_condition(self.engine, c.id, condition, gone=self._exit_of_removed,
                              cancelled=r.client_gone)
        if code is None:  # the client left
            r.handler.close_connection = True
            return
        stream.write(json.dumps({"StatusCode": code or 0, "Error": None}).encode() + b"\n")
        stream.close()

    def _exit_of_removed(self, cid: str) -> int | None:
        """The exit code of a container removed before a wait saw it exit: an attached --rm
        run's, which the engine removes as soon as it returns its result."""
        finished = self.attached_runs.get(cid)
        if finished is not None:
            finished.wait(10)
        return self.exits.get(cid)

    # == attach =============================================================================
    @route("POST", "/containers/(?P<ref>[^/]+)/attach")
    def container_attach(self, r, ref: str) -> None:
        from .server import Hijacked
        c = self.ids.container(ref)
        record_stdin = bool(c.record is not None and (c.record.stdin or c.record.tty))
        want_stdin = r.flag("stdin") and record_stdin
        want = tuple(s for s in ("stdout", "stderr") if r.flag(s, False)) or ("stdout", "stderr")
        tty = bool(c.record is not None and c.record.tty)
        if not r.flag("stream", True) and r.flag("logs"):
            sock = r.hijack()
            out = SocketOutput(sock, tty, want)
            for rec in self.engine.log_records(c.id):
                out(rec.text(), rec.stream)
            out.finish()
            raise Hijacked
        if c.status in LIVE:
            sock = r.hijack()
            out = SocketOutput(sock, tty, want)
            with contextlib.suppress(BockerError):
                self.engine.attach(c.id, on_output=out, stdin=sock.fileno() if want_stdin else None,
                                   capture=False)
            out.finish()
            raise Hijacked
        session = AttachSession(stdin=want_stdin)
        with self.lock:
            self.attaches[c.id] = session
        sock = r.hijack()
        out = SocketOutput(sock, tty, want)
        try:
            while not session.go.wait(0.5):
                if self._attach_abandoned(c.id, session, sock):
                    return
            terminal = PtySize() if tty else None
            if terminal is not None:
                self.terminals[c.id] = terminal
            finished = self.attached_runs[c.id] = threading.Event()
            try:
                result = self.engine.start(c.id, attach=True, on_output=out, capture=False,
                                           on_start=lambda _cid: session.started.set(),
                                           stdin=sock.fileno() if want_stdin else None, terminal=terminal)
                self.exits[c.id] = result.exit_code
                self.emit(c, "die", exitCode=str(result.exit_code))
                if c.record is not None and c.record.auto_remove:
                    self.emit(c, "destroy")
            except BaseException as err:
                if session.started.is_set():  # after the start's answer: only the log can tell
                    log.warning("attached start of %s: %s: %s", c.id, type(err).__name__, err)
                session.error = err if isinstance(err, (BockerError, ApiError)) else ApiError(500, str(err))
            finally:
                finished.set()
                session.started.set()
                self.terminals.pop(c.id, None)
                if terminal is not None:
                    terminal.close()
        finally:
            with self.lock:
                if self.attaches.get(c.id) is session:
                    del self.attaches[c.id]
            out.finish()
        raise Hijacked

    def _attach_abandoned(self, cid: str, session: AttachSession, sock) -> bool:
        """Waiting for the start: the container went, or started without us, or the client left."""
        import select
        try:
            c = self.engine.container(cid)
        except NotFound:
            return True
        if c.status in LIVE:
            return True
        if not session.stdin:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):  # the client left
                        return True
                except BlockingIOError:
                    pass
                except OSError:
                    return True
        return False

    @route("POST", "/containers/(?P<ref>[^/]+)/resize")
    def container_resize(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        terminal = self.terminals.get(c.id)
        if terminal is not None:
            terminal.set(r.integer("h", 24) or 24, r.integer("w", 80) or 80)
        r.reply(200, b"", "text/plain")

    # == logs ===============================================================================
    @route("GET", "/containers/(?P<ref>[^/]+)/logs")
    def container_logs(self, r, ref: str) -> None:
        from ..engine import parse_since
        c = self.ids.container(ref)
        want = tuple(s for s in ("stdout", "stderr") if r.flag(s))
        if not want:
            raise ApiError(400, "Bad parameters: you must choose at least one stream")
        tail_text = r.arg("tail") or "all"
        tail = None if tail_text == "all" else max(0, int(tail_text)) if tail_text.lstrip("-").isdigit() else None
        since = float(r.arg("since")) if (r.arg("since") or "0") not in ("0", "") else None
        until = float(r.arg("until")) if (r.arg("until") or "0") not in ("0", "") else None
        del parse_since
        follow, stamps = r.flag("follow"), r.flag("timestamps")
        tty = bool(c.record is not None and c.record.tty)
        stream = r.stream("application/vnd.docker.raw-stream")
        try:
            for rec in self.engine.log_records(c.id, tail=tail, since=since, follow=follow):
                if until is not None and rec.seconds > until:
                    if follow:
                        break
                    continue
                if rec.stream not in want:
                    continue
                data = rec.text(timestamps=stamps)
                stream.write(data if tty else frame(rec.stream, data))
        except NotFound:
            pass  # removed while followed
        stream.close()

    # == processes, stats, changes ==========================================================
    @route("GET", "/containers/(?P<ref>[^/]+)/top")
    def container_top(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if c.status not in LIVE:
            raise ApiError(409, f"Container {docker_id(c.id)} is not running")
        rows = self.engine.top(c.id)
        titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        procs = []
        for p in rows:
            seconds = int(p.cpu_seconds)
            procs.append([p.user, str(p.pid), str(p.ppid), "0", "", "?",
                          f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", p.command])
        r.reply(200, {"Titles": titles, "Processes": procs})

    def _stats_json(self, c, s) -> dict[str, Any]:
        # the engine's CgroupStats (kernel/cgroups/common.py): the same fields on v1 and v2
        memory = getattr(s, "memory_current", 0) or 0
        limit = getattr(s, "memory_limit", 0) or 0
        cpu_ns = int((getattr(s, "cpu_seconds", 0) or 0) * 1e9)
        pids = {"current": getattr(s, "pids_current", 0) or 0}
        if getattr(s, "pids_limit", None):
            pids["limit"] = s.pids_limit
        return {"read": rfc3339(time.time()), "preread": ZERO_TIME, "id": docker_id(c.id), "name": "/" + (c.name or ""),
                "pids_stats": pids,
                "cpu_stats": {"cpu_usage": {"total_usage": cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                              "system_cpu_usage": int(time.monotonic() * 1e9), "online_cpus": os.cpu_count() or 1,
                              "throttling_data": {}},
                "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
                "memory_stats": {"usage": memory, "max_usage": getattr(s, "memory_peak", 0) or 0,
                                 "limit": limit or (1 << 62), "stats": {}},
                "blkio_stats": {}, "num_procs": 0, "storage_stats": {}, "networks": {}}

    @route("GET", "/containers/(?P<ref>[^/]+)/stats")
    def container_stats(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        if not r.flag("stream", True) or r.flag("one-shot"):
            s = self.engine.stats([c.id]).get(c.id)
            r.reply(200, self._stats_json(c, s))
            return
        stream = r.stream()
        while True:
            try:
                c = self.engine.container(c.id)
                s = self.engine.stats([c.id]).get(c.id)
            except NotFound:
                break
            stream.json(self._stats_json(c, s))
            if c.status not in LIVE:
                break
            time.sleep(1)
        stream.close()

    @route("GET", "/containers/(?P<ref>[^/]+)/changes")
    def container_changes(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        kinds = {"C": 0, "A": 1, "D": 2}
        out = []
        for ch in self.engine.diff(c.id):
            kind = getattr(ch, "kind", None) or getattr(ch, "type", "C")
            out.append({"Path": ch.path, "Kind": kinds.get(str(kind)[:1].upper(), 0)})
        r.reply(200, out or None)

    # == files ==============================================================================
    def _path_stat_header(self, cid: str, path: str) -> str:
        from ..engine import path_stat
        st = path_stat(self.engine.containers, cid, path)
        mode = st.mode & 0o7777
        import stat as _stat
        if _stat.S_ISDIR(st.mode):
            mode |= 1 << 31
        elif _stat.S_ISLNK(st.mode):
            mode |= 1 << 27
        value = {"name": st.name, "size": st.size, "mode": mode, "mtime": rfc3339(st.mtime),
                 "linkTarget": st.link_target}
        return base64.b64encode(json.dumps(value).encode()).decode()

    @route("HEAD", "/containers/(?P<ref>[^/]+)/archive")
    def container_archive_head(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        path = r.arg("path") or ""
        if not path:
            raise ApiError(400, "path is empty")
        try:
            header = self._path_stat_header(c.id, path)
        except NotFound:
            raise ApiError(404, f"Could not find the file {path} in container {ref}") from None
        r.reply(200, b"", "application/json", {"X-Docker-Container-Path-Stat": header})

    @route("GET", "/containers/(?P<ref>[^/]+)/archive")
    def container_archive_get(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        path = r.arg("path") or ""
        if not path:
            raise ApiError(400, "path is empty")
        try:
            header = self._path_stat_header(c.id, path)
        except NotFound:
            raise ApiError(404, f"Could not find the file {path} in container {ref}") from None
        stream = r.stream("application/x-tar", headers={"X-Docker-Container-Path-Stat": header})
        self.engine.cp(f"{c.id}:{path}", "-", archive=True, stdout=_StreamWriter(stream))
        stream.close()

    @route("PUT", "/containers/(?P<ref>[^/]+)/archive")
    def container_archive_put(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        path = r.arg("path") or ""
        if not path:
            raise ApiError(400, "path is empty")
        body = r.body_file()
        try:
            self.engine.cp("-", f"{c.id}:{path}", archive=True, stdin=body)
        except NotFound as err:
            raise ApiError(404, f"Could not find the file {path} in container {ref}: {err}") from None
        finally:
            body.drain()
        r.reply(200, b"", "text/plain")

    @route("GET", "/containers/(?P<ref>[^/]+)/export")
    def container_export(self, r, ref: str) -> None:
        c = self.ids.container(ref)
        from ..engine import export
        stream = r.stream("application/octet-stream")
        export(self.engine.containers, c.id, _StreamWriter(stream))
        stream.close()


class _StreamWriter:
    """A binary file over a chunked reply, for what writes tar streams."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, data) -> int:
        self.stream.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _name_matches(name: str, pattern: str) -> bool:
    import re
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name
