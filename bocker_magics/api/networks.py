"""`/networks/...`: user networks (a bridge, a subnet, NAT) over the engine's network verbs;
`host` and `none` are listed as dockerd lists them. A container joins one network, at create
(NetworkingConfig or NetworkMode): connect and disconnect answer for that network only."""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import Any

from ..errors import Conflict, NotFound
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
        prefix = ipaddress.ip_network(info["subnet"]).prefixlen
        for cid, address in (info.get("Containers") or {}).items():
            with contextlib.suppress(NotFound):
                c = self.engine.container(cid)
                out["Containers"][docker_id(cid)] = {
                    "Name": c.name or cid, "EndpointID": docker_id("ep_" + cid), "IPv4Address": f"{address}/{prefix}",
                    "IPv6Address": "", "MacAddress": "02:42:" + ":".join(
                        f"{b:02x}" for b in ipaddress.ip_address(address).packed)}
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
        if body.get("Internal"):
            raise ApiError(501, "bocker does not make internal networks (with no way out) yet")
        subnet = gateway = None
        for conf in ((body.get("IPAM") or {}).get("Config") or [])[:1]:
            subnet, gateway = conf.get("Subnet") or None, conf.get("Gateway") or None
        try:
            # Docker's bridge name: br- and the network's short id (a long name never collides)
            self.engine.network_create(name, subnet, gateway, "br-" + network_id(name)[:12],
                                       {str(k): str(v) for k, v in (body.get("Labels") or {}).items()})
        except Conflict as err:
            raise ApiError(409, str(err)) from None
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

    def _on_network(self, name: str, c) -> bool:
        return c.record is not None and c.record.network.name == name

    @route("POST", "/networks/(?P<ref>[^/]+)/connect")
    def network_connect(self, r, ref: str) -> None:
        name = self._network(ref)
        body = r.json_body({}) or {}
        c = self.ids.container(body.get("Container") or "")
        if not self._on_network(name, c):
            raise ApiError(501, f"bocker joins a container to one network, when it is created: create it with "
                                f"--network {name} instead")
        r.reply(200, b"", "text/plain")

    @route("POST", "/networks/(?P<ref>[^/]+)/disconnect")
    def network_disconnect(self, r, ref: str) -> None:
        name = self._network(ref)
        body = r.json_body({}) or {}
        c = self.ids.container(body.get("Container") or "")
        if not self._on_network(name, c):
            raise ApiError(404, f"container {docker_id(c.id)} is not connected to network {name}")
        raise ApiError(501, "bocker does not take a container off its network: remove the container instead")
