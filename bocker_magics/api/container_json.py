"""A container as Docker shows it: the inspect JSON (`/containers/{id}/json`), the list's
summary (`/containers/json`), its status words and the stats sample, made from the engine's
records in named steps (State, HostConfig, Mounts, Config, NetworkSettings), as moby's
daemon/inspect.go builds its ContainerJSON apart from the routes."""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from typing import Any

from ..errors import BockerError
from .ids import docker_id, image_id, short

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


def _port_key(p: dict[str, Any]) -> str:
    return f"{p['container_port']}/{p.get('proto', 'tcp')}"


def _ports_json(c, exposed: dict[str, Any], publish: list[dict[str, Any]]) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed port, with its host bindings while it runs."""
    ports: dict[str, Any] = {p: None for p in exposed}
    if c.status in LIVE:
        for p in publish:
            key = _port_key(p)
            ports[key] = (ports.get(key) or []) + [{"HostIp": p["host_ip"], "HostPort": str(p["host_port"])}]
    return ports


def _networks_json(c, mode: str, net: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """NetworkSettings.Networks: host or none as one empty endpoint, else each attachment."""
    networks = {}
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
    return networks


def _state_json(c, info: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    return {"Status": docker_status(c), "Running": c.status in ("running", "paused"),
            "Paused": c.status == "paused", "Restarting": c.status == "restarting",
            "OOMKilled": bool(c.oom_killed), "Dead": c.status == "dead", "Pid": c.pid or 0
            if c.status in LIVE else 0, "ExitCode": c.exit_code or 0, "Error": state.get("Error") or "",
            "StartedAt": rfc3339(c.started_at), "FinishedAt": rfc3339(c.finished_at),
            **({"Health": info["State"]["Health"]} if "Health" in info.get("State", {}) else {})}


def _host_config_json(info: dict[str, Any], record: dict[str, Any], spec: dict[str, Any],
                      mounts: list[dict[str, Any]]) -> dict[str, Any]:
    plan = record.get("network") or {}
    mode = plan.get("mode") or "none"
    publish = plan.get("publish") or []
    restart = record.get("restart") or {}
    limits = info.get("Limits") or {}
    mode_name = "default" if mode == "bridge" and plan.get("name") == "bridge" else (
        plan.get("name") if mode == "bridge" else mode)
    binds = [f"{m['Source']}:{m['Destination']}{'' if m['RW'] else ':ro'}" for m in mounts if m["Type"] == "bind"]
    return {
        "Binds": binds or None, "NetworkMode": mode_name, "PortBindings": {
            _port_key(p): [{"HostIp": p["host_ip"], "HostPort": str(p["host_port"])}]
            for p in publish}, "RestartPolicy": {"Name": restart.get("name") or "no",
                                                 "MaximumRetryCount": restart.get("max_retries") or 0},
        "AutoRemove": bool(record.get("auto_remove")), "LogConfig": {"Type": "json-file", "Config": {}},
        "Privileged": bool(info.get("Privileged")), "ReadonlyRootfs": bool(
            (spec.get("root") or {}).get("readonly")), "Memory": limits.get("memory") or 0,
        "NanoCpus": int((limits.get("cpus") or 0) * 1e9), "CpuShares": limits.get("cpu_shares") or 0,
        "PidsLimit": limits.get("pids"), "CapAdd": None, "CapDrop": None, "Dns": plan.get("dns") or [],
        "Init": None, "PublishAllPorts": False, "Tmpfs": None, "Mounts": None}


def _config_json(c, record: dict[str, Any], spec: dict[str, Any], exposed: dict[str, Any],
                 labels: dict[str, str]) -> dict[str, Any]:
    process = spec.get("process") or {}
    return {
        "Hostname": spec.get("hostname") or short(c.id), "Domainname": "",
        "User": "" if not (process.get("user") or {}).get("uid") else str(process["user"]["uid"]),
        "AttachStdin": False, "AttachStdout": True, "AttachStderr": True,
        "ExposedPorts": exposed or None, "Tty": bool(record.get("tty")),
        "OpenStdin": bool(record.get("stdin")), "StdinOnce": False, "Env": process.get("env") or [],
        "Cmd": process.get("args") or [], "Image": c.image_name, "Volumes": None,
        "WorkingDir": process.get("cwd") or "/", "Entrypoint": None, "OnBuild": None, "Labels": labels,
        "StopSignal": record.get("stop_signal"), "StopTimeout": record.get("stop_timeout")}


def _network_settings_json(net: dict[str, Any], ports: dict[str, Any], networks: dict[str, Any]) -> dict[str, Any]:
    return {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": ports, "SandboxKey": "", "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": net.get("Gateway") or "",
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": net.get("Address") or "",
        "IPPrefixLen": net.get("PrefixLen") or 0, "IPv6Gateway": "", "MacAddress": net.get("MacAddress") or "",
        "Networks": networks}


class ContainerJson:
    """Mixed into the Api: the shapes that need the engine (the image's exposed ports, the
    volumes behind the mounts)."""

    engine: Any

    def _exposed(self, info: dict[str, Any], img_config: dict[str, Any]) -> dict[str, Any]:
        ports = {p: {} for p in (img_config.get("ExposedPorts") or {})}
        for p in (info.get("Config") or {}).get("network", {}).get("publish") or []:
            ports.setdefault(_port_key(p), {})
        return ports

    def _image_config(self, c) -> dict[str, Any]:
        try:
            img = self.engine.image(c.image)
            return dict(img.config or {})
        except BockerError:
            return {}

    def _mounts_json(self, info: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
        """The mounts past the root, as binds; those inside a named volume, as that volume."""
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
        return mounts

    def container_json(self, c) -> dict[str, Any]:
        info = self.engine.inspect(c.id)
        record = info.get("Config") or {}
        spec = info.get("Spec") or {}
        cmd = (spec.get("process") or {}).get("args") or []
        net = info.get("Network") or {}
        plan = record.get("network") or {}
        exposed = self._exposed(info, self._image_config(c))
        ports = _ports_json(c, exposed, plan.get("publish") or [])
        labels = dict(record.get("labels") or {})
        networks = _networks_json(c, plan.get("mode") or "none", net, labels)
        state = info.get("State") or {}
        mounts = self._mounts_json(info, record)
        return {
            "Id": docker_id(c.id), "Created": rfc3339(c.created), "Path": cmd[0] if cmd else "", "Args": cmd[1:],
            "State": _state_json(c, info, state),
            "Image": image_id(c.image), "ResolvConfPath": "", "HostnamePath": "", "HostsPath": "",
            "LogPath": info.get("LogPath", ""), "Name": "/" + (c.name or short(c.id)),
            "RestartCount": state.get("RestartCount") or 0, "Driver": "overlay2", "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
            "HostConfig": _host_config_json(info, record, spec, mounts),
            "GraphDriver": {"Name": "overlay2", "Data": None},
            "Mounts": mounts,
            "Config": _config_json(c, record, spec, exposed, labels),
            "NetworkSettings": _network_settings_json(net, ports, networks),
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
