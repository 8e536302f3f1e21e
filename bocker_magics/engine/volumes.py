"""Named volumes: directories the engine keeps under BOCKER_ROOT/volumes/<name>/_data, made
on first use (`-v NAME:/path`), outliving the containers that mount them (until `volume rm`,
or `rm -v` of the last container that used one).

    volumes/<name>/_data        what containers see
    volumes/<name>/volume.json  {"name", "created", "labels", "driver": "local"}
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import Conflict, InvalidArgument, NotFound
from .store import Store, read_json, write_json

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}\Z")


def is_volume_name(text: str) -> bool:
    """`-v NAME:/path` names a volume; `-v /host:/path` a host directory."""
    return bool(_NAME.match(text))


@dataclass
class VolumeRecord:
    name: str
    created: float
    mountpoint: str
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


class Volumes:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.dir = store.root / "volumes"

    def _path(self, name: str) -> Path:
        if not is_volume_name(name):
            raise InvalidArgument(f"Invalid volume name '{name}': letters, digits, '_', '.', '-' "
                                  "(starting with a letter or digit)")
        return self.dir / name

    def create(self, name: str, labels: dict[str, str] | None = None, exist_ok: bool = False) -> VolumeRecord:
        path = self._path(name)
        self.dir.mkdir(exist_ok=True)
        try:
            path.mkdir()
        except FileExistsError:
            if exist_ok:
                return self.get(name)
            raise Conflict(f"Volume named '{name}' exists") from None
        data = path / "_data"
        data.mkdir(mode=0o755)
        record = VolumeRecord(name, time.time(), str(data), labels=dict(labels or {}))
        write_json(path / "volume.json", record.to_json())
        return record

    def ensure(self, name: str) -> VolumeRecord:
        """The volume, made on first use (as `docker run -v NAME:/path` does)."""
        return self.create(name, exist_ok=True)

    def get(self, name: str) -> VolumeRecord:
        path = self._path(name)
        try:
            return VolumeRecord(**read_json(path / "volume.json"))
        except FileNotFoundError:
            raise NotFound(f"No volume named '{name}' exists: create it with 'bocker volume create {name}'") from None
        except (ValueError, TypeError):
            return VolumeRecord(name, path.stat().st_mtime, str(path / "_data"))

    def list(self) -> list[VolumeRecord]:
        if not self.dir.is_dir():
            return []
        out = []
        for p in sorted(self.dir.iterdir()):
            if p.is_dir() and is_volume_name(p.name):
                try:
                    out.append(self.get(p.name))
                except NotFound:
                    continue
        return out

    def remove(self, name: str, in_use_by: list[str]) -> None:
        path = self._path(name)
        if not path.is_dir():
            raise NotFound(f"No volume named '{name}' exists")
        if in_use_by:
            raise Conflict(f"Volume '{name}' is in use by {', '.join(in_use_by)}: remove them first")
        trash = self.store.mkdtemp("rm-volume-")
        os.rename(path, trash / name)
        shutil.rmtree(trash, ignore_errors=True)


# -- the verbs (`volume create|ls|inspect|rm`; ls filters in filters.py); `users(name)` names the
# containers that mount one
def create(volumes: Volumes, name: str | None = None, labels: list[str] | None = None) -> VolumeRecord:
    """A named volume (a random name if none); an existing one is returned as it is. `labels`:
    KEY=VALUE lines, as --label gives them."""
    import secrets

    from .options import parse_env
    return volumes.create(name or secrets.token_hex(32), dict(parse_env(labels)) if labels else {}, exist_ok=True)


def ls(volumes: Volumes, containers: list, filters: list[str] | None = None) -> list[VolumeRecord]:
    """The volumes that pass `volume ls --filter`; `containers`: every container (which of
    them mount a volume answers dangling=)."""
    from . import filters as _filters
    parsed = _filters.parse_filters(filters or [], _filters.VOLUME_FILTERS, "volume ls")
    mounted = {v for c in containers if c.record is not None for v in c.record.volumes}
    return _filters.volumes(volumes.list(), parsed, mounted)


def inspect(volumes: Volumes, name: str, users) -> dict:
    v = volumes.get(name)
    return {"Name": v.name, "Driver": v.driver, "Mountpoint": v.mountpoint, "Labels": v.labels,
            "Scope": "local", "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(v.created)),
            "UsedBy": users(name)}


def rm(volumes: Volumes, name: str, users, force: bool = False) -> str:
    """Remove a volume no container uses (`force`: a missing one is no error)."""
    try:
        volumes.remove(name, users(name))
    except NotFound:
        if not force:
            raise
    return name
