"""`/volumes/...`: named volumes over the engine's volume verbs."""

from __future__ import annotations

import contextlib
from typing import Any

from ..errors import NotFound
from .routing import ApiError, not_found, route


class VolumesApi:
    engine: Any

    def volume_json(self, v) -> dict[str, Any]:
        info = self.engine.volume_inspect(v.name if hasattr(v, "name") else v)
        return {"Name": info["Name"], "Driver": info.get("Driver") or "local", "Mountpoint": info["Mountpoint"],
                "Labels": info.get("Labels") or None, "Scope": "local", "CreatedAt": info.get("CreatedAt"),
                "Options": None, "UsageData": {"RefCount": len(info.get("UsedBy") or []), "Size": -1}}

    @route("GET", "/volumes")
    def volume_list(self, r) -> None:
        filters = [f"{k}={v}" for k, vs in r.filters().items() for v in vs if k in ("name", "dangling", "label")]
        r.reply(200, {"Volumes": [self.volume_json(v) for v in self.engine.volume_ls(filters or None)],
                      "Warnings": None})

    @route("POST", "/volumes/create")
    def volume_create(self, r) -> None:
        body = r.json_body({}) or {}
        driver = body.get("Driver") or "local"
        if driver != "local":
            raise ApiError(400, f"bocker has the local volume driver only, not {driver}")
        labels = [f"{k}={v}" for k, v in (body.get("Labels") or {}).items()]
        v = self.engine.volume_create(body.get("Name") or None, labels)
        r.reply(201, self.volume_json(v))

    @route("GET", "/volumes/(?P<name>[^/]+)")
    def volume_inspect(self, r, name: str) -> None:
        try:
            r.reply(200, self.volume_json(name))
        except NotFound:
            raise not_found("volume", name) from None

    @route("DELETE", "/volumes/(?P<name>[^/]+)")
    def volume_delete(self, r, name: str) -> None:
        try:
            self.engine.volume_inspect(name)
        except NotFound:
            raise not_found("volume", name) from None
        users = self.engine.volume_users(name)
        if users and not r.flag("force"):
            raise ApiError(409, f"remove {name}: volume is in use - [{', '.join(users)}]")
        self.engine.volume_rm(name, force=r.flag("force"))
        r.reply(204)

    @route("POST", "/volumes/prune")
    def volume_prune(self, r) -> None:
        removed = []
        for v in self.engine.volume_ls(["dangling=true"]):
            with contextlib.suppress(Exception):
                self.engine.volume_rm(v.name)
                removed.append(v.name)
        r.reply(200, {"VolumesDeleted": removed or None, "SpaceReclaimed": 0})
