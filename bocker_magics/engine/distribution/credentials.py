"""Registry credentials: docker-style config files (~/.docker/config.json, BOCKER_ROOT/auth.json)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from .reference import _HUB_ALIASES, DOCKER_HUB

HUB_AUTH_KEY = "https://index.docker.io/v1/"


def _auth_key(registry: str) -> str:
    if registry in _HUB_ALIASES or registry == DOCKER_HUB:
        return HUB_AUTH_KEY
    return registry


def _normalize_key(key: str) -> str:
    key = re.sub(r"^https?://", "", key).split("/", 1)[0]
    return DOCKER_HUB if key in _HUB_ALIASES else key


def docker_config_paths() -> list[Path]:
    base = os.environ.get("DOCKER_CONFIG")
    return [Path(base) / "config.json"] if base else [Path.home() / ".docker" / "config.json"]


def find_credentials(registry: str, files: Iterable[Path]) -> tuple[str, str] | None:
    """(user, password) for `registry` from docker-style config files, the first that has it."""
    want = _normalize_key(registry)
    for path in files:
        try:
            auths = json.loads(Path(path).read_text()).get("auths") or {}
        except (OSError, ValueError):
            continue
        for key, entry in auths.items():
            if _normalize_key(key) != want or not isinstance(entry, dict):
                continue
            if entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
                return user, password
            if entry.get("username"):
                return entry["username"], entry.get("password", "")
    return None


def save_credentials(path: Path, registry: str, user: str, password: str) -> None:
    """Add `registry`'s credentials to a docker-style config file (0600)."""
    from ..fileio import atomic_write
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    data.setdefault("auths", {})[_auth_key(registry)] = {"auth": token}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=1).encode() + b"\n")
    os.chmod(path, 0o600)
