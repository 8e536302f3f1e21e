"""Registry credentials: docker-style config files (~/.docker/config.json, BOCKER_ROOT/auth.json)
and the credential helpers they name, as Docker calls them:

    "credHelpers": {"registry.lan:5000": "pass"}   this registry's: docker-credential-pass
    "credsStore": "desktop"                        every other: docker-credential-desktop

    docker-credential-NAME get      stdin: the server URL  stdout: {"ServerURL", "Username", "Secret"}
    docker-credential-NAME store    stdin: {"ServerURL", "Username", "Secret"}
    docker-credential-NAME erase    stdin: the server URL

A helper that says it has nothing ("credentials not found") is no credentials; one that fails
otherwise, or is not on PATH, is one line naming it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from ...errors import AuthError
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


def _read(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def helper_for(registry: str, doc: dict) -> str | None:
    """The credential helper a config names for `registry`: its credHelpers entry, else credsStore."""
    want = _normalize_key(registry)
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if _normalize_key(key) == want and isinstance(name, str) and name:
                return name
    store = doc.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(name: str, action: str, stdin: str, where: Path, registry: str) -> str | None:
    """Run docker-credential-NAME ACTION; its stdout, or None when it has no credentials."""
    import shutil
    import subprocess
    program = f"docker-credential-{name}"
    try:
        # looked up first: an unreadable directory on PATH would make a missing helper an EACCES
        path = shutil.which(program)
        if path is None:
            raise FileNotFoundError(program)
        r = subprocess.run([path, action], input=stdin, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise AuthError(f"The credential helper {program} (named in {where}) is not on PATH: install it "
                        f"or remove it from {where}") from None
    except subprocess.TimeoutExpired:
        raise AuthError(f"The credential helper {program} did not answer '{action}' for {registry} "
                        "within 60 s") from None
    except OSError as e:
        raise AuthError(f"The credential helper {program} could not be run: {e.strerror}") from None
    if r.returncode:
        said = (r.stdout.strip() or r.stderr.strip()).splitlines()
        if action in ("get", "erase") and said and "credentials not found" in said[-1].lower():
            return None
        raise AuthError(f"The credential helper {program} failed to {action} the credentials of {registry}: "
                        f"{said[-1] if said else f'exit status {r.returncode}'}")
    return r.stdout


def _server_url(registry: str) -> str:
    return _auth_key(_normalize_key(registry))


def helper_get(name: str, registry: str, where: Path) -> tuple[str, str] | None:
    out = _run_helper(name, "get", _server_url(registry), where, registry)
    if out is None:
        return None
    try:
        doc = json.loads(out)
        user, secret = doc.get("Username", ""), doc.get("Secret")
        assert isinstance(user, str) and isinstance(secret, str) and secret
    except (ValueError, AttributeError, AssertionError):
        raise AuthError(f"The credential helper docker-credential-{name} answered 'get' for {registry} "
                        "with something that is not {\"Username\", \"Secret\"} JSON") from None
    return user, secret


def find_credentials(registry: str, files: Iterable[Path]) -> tuple[str, str] | None:
    """(user, password) for `registry` from docker-style config files, the first that has it:
    a credential helper the file names for it, else its `auths` entry."""
    want = _normalize_key(registry)
    for path in files:
        doc = _read(path)
        helper = helper_for(registry, doc)
        if helper is not None:
            found = helper_get(helper, registry, Path(path))
            if found is not None:
                return found
        auths = doc.get("auths") or {}
        if not isinstance(auths, dict):
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


def store_credentials(registry: str, user: str, password: str, auth_file: Path,
                      docker_files: Iterable[Path]) -> str:
    """Keep credentials where Docker would: through the credential helper a docker config
    names for `registry`, else in `auth_file`. Returns where they went (for the message)."""
    for path in docker_files:
        helper = helper_for(registry, _read(path))
        if helper is not None:
            payload = json.dumps({"ServerURL": _server_url(registry), "Username": user, "Secret": password})
            _run_helper(helper, "store", payload, Path(path), registry)
            return f"docker-credential-{helper}"
    save_credentials(auth_file, registry, user, password)
    return str(auth_file)


def erase_credentials(registry: str, auth_file: Path, docker_files: Iterable[Path]) -> bool:
    """Forget `registry`'s credentials: in its helper and in `auth_file`. Whether any were there."""
    from ..store import atomic_write
    found = False
    for path in docker_files:
        helper = helper_for(registry, _read(path))
        if helper is not None:
            found = _run_helper(helper, "erase", _server_url(registry), Path(path), registry) is not None or found
    data = _read(auth_file)
    auths = data.get("auths") or {}
    keys = [k for k in auths if _normalize_key(k) == _normalize_key(registry)]
    for k in keys:
        del auths[k]
    if keys:
        atomic_write(auth_file, json.dumps(data, indent=1).encode() + b"\n")
        found = True
    return found
