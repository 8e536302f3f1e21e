"""`/networks/...`: user networks (a bridge, a subnet, NAT; internal ones without) over the
engine's network verbs; `host` and `none` are listed as dockerd lists them. A container joins
its first network at create (NetworkingConfig or NetworkMode) and others with connect, live
when it runs; disconnect takes it off one."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ..errors import Conflict, InvalidArgument, NotFound
from .containers import rfc3339
from .ids import docker_id
from .routing import ApiError, not_found, route

PSEUDO = ("host", "none")


def network_id(name: str) -> str:
    return docker_id("net_" + name)


class NetworksApi:
    engine: Any
    ids: Any

    def _network_names(self) -> list[str]:
        names = [n["name"] for n in self.engine.network_ls()]
        if "bridge" not in names:
            names.insert(0, "bridge")
        return names + [p for p in PSEUDO if p not in names]

    def _network(self, ref: str) -> str:
        names = self._network_names()
        if ref in names:
            return ref
        matches = [n for n in names if network_id(n).startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        raise not_found("network", ref)

    def network_json(self, name: str, verbose: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": name, "Id": network_id(name), "Created": rfc3339(time.time()), "Scope": "local",
                               "Driver": "bridge" if name not in PSEUDO else ("host" if name == "host" else "null"),
                               "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": []},
                               "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
                               "ConfigOnly": False, "Containers": {}, "Options": {}, "Labels": {}}
        if name in PSEUDO:
            return out
        try:
            info = self.engine.network_inspect(name)
        except NotFound:
            return out  # the default bridge before its first container
        out["IPAM"]["Config"] = [{"Subnet": info["subnet"], "Gateway": info["gateway"]}]
        out["Labels"] = dict(info.get("labels") or {})
        out["Internal"] = bool(info.get("internal"))
        out["Options"] = dict(info.get("options") or {})  # as given at create (compose compares them on up)
        for cid, endpoint in (info.get("Endpoints") or {}).items():
            out["Containers"][docker_id(cid)] = dict(endpoint)
        return out

    @route("GET", "/networks")
    def network_list(self, r) -> None:
        filters = r.filters()
        out = []
        for name in self._network_names():
            if filters.get("name") and not any(v in name for v in filters["name"]):
                continue
            if filters.get("id") and not any(network_id(name).startswith(v) for v in filters["id"]):
                continue
            if filters.get("type") and not any((v == "custom") == (name not in ("bridge", *PSEUDO))
                                               for v in filters["type"]):
                continue
            labels = self.network_json(name)["Labels"] if filters.get("label") else {}
            if not all(k in labels and (not sep or labels[k] == v)
                       for k, sep, v in (f.partition("=") for f in filters.get("label", []))):
                continue
            if filters.get("driver") and not any(v == self.network_json(name, False)["Driver"]
                                                 for v in filters["driver"]):
                continue
            out.append(self.network_json(name))
        r.reply(200, out)

    @route("GET", "/networks/(?P<ref>[^/]+)")
    def network_inspect(self, r, ref: str) -> None:
        r.reply(200, self.network_json(self._network(ref)))

    @route("POST", "/networks/create")
    def network_create(self, r) -> None:
        body = r.json_body({}) or {}
        name = body.get("Name") or ""
        if not name:
            raise ApiError(400, "network name is required")
        if (body.get("Driver") or "bridge") != "bridge":
            raise ApiError(400, f"bocker makes bridge networks only, not {body['Driver']}")
        if name in self._network_names():
            raise ApiError(409, f"network with name {name} already exists")
        subnet = gateway = None
        for conf in ((body.get("IPAM") or {}).get("Config") or [])[:1]:
            subnet, gateway = conf.get("Subnet") or None, conf.get("Gateway") or None
        try:
            options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
            # Docker's bridge name: br- and the network's short id (a long name never collides)
            bridge = None if options.get("com.docker.network.bridge.name") else "br-" + network_id(name)[:12]
            self.engine.network_create(name, subnet, gateway, bridge,
                                       {str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
                                       internal=bool(body.get("Internal")), options=options or None)
        except Conflict as err:
            raise ApiError(409, str(err)) from None
        except InvalidArgument as err:
            raise ApiError(400, str(err)) from None
        r.reply(201, {"Id": network_id(name), "Warning": ""})

    @route("DELETE", "/networks/(?P<ref>[^/]+)")
    def network_delete(self, r, ref: str) -> None:
        name = self._network(ref)
        if name in ("bridge", *PSEUDO):
            raise ApiError(403, f"{name} is a pre-defined network and cannot be removed")
        users = [c for c in self.engine.ps(["network=" + name]) if c.status in ("running", "paused", "restarting")]
        if users:
            raise ApiError(403, f"error while removing network: network {name} id {network_id(name)} has active "
                                "endpoints")
        self.engine.network_rm(name)
        r.reply(204)

    @route("POST", "/networks/prune")
    def network_prune(self, r) -> None:
        removed = []
        for name in self._network_names():
            if name in ("bridge", *PSEUDO) or self.engine.ps(["network=" + name]):
                continue
            with contextlib.suppress(Exception):
                self.engine.network_rm(name)
                removed.append(name)
        r.reply(200, {"NetworksDeleted": removed or None})

    @route("POST", "/networks/(?P<ref>[^/]+)/connect")
    def network_connect(self, r, ref: str) -> None:
        name = self._network(ref)
        if name in PSEUDO:
            raise ApiError(400, f"container cannot be disconnected from host network or connected to {name} network")
        body = r.json_body({}) or {}
        c = self.ids.container(body.get("Container") or "")
        config = body.get("EndpointConfig") or {}
        aliases = [str(a) for a in config.get("Aliases") or []]
        ip = (config.get("IPAMConfig") or {}).get("IPv4Address") or None
        try:
            self.engine.network_connect(name, c.id, aliases, ip)
        except Conflict as err:
            raise ApiError(403 if "already exists" in str(err) else 409, str(err)) from None
        except InvalidArgument as err:
            raise ApiError(400, str(err)) from None
        r.reply(200, b"", "text/plain")

    @route("POST", "/networks/(?P<ref>[^/]+)/disconnect")
    def network_disconnect(self, r, ref: str) -> None:
        name = self._network(ref)
        body = r.json_body({}) or {}
        c = self.ids.container(body.get("Container") or "")
        try:
            self.engine.network_disconnect(name, c.id, bool(body.get("Force")))
        except NotFound:
            raise ApiError(404, f"container {docker_id(c.id)} is not connected to network {name}") from None
        except InvalidArgument as err:
            raise ApiError(400, str(err)) from None
        r.reply(200, b"", "text/plain")
