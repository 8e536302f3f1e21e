"""The engine's config file, in the shape of Docker's daemon.json.

    /etc/bocker/daemon.json        (or the file BOCKER_CONFIG names; no file: the defaults)
    {
      "registry-mirrors": ["https://mirror.example.com"],   # Docker Hub pulls try these first
      "insecure-registries": ["registry.lan:5000", "10.0.0.0/8"],
      "default-address-pools": [{"base": "10.123.0.0/16", "size": 24}],
      "log-driver": "json-file",
      "certs-d": ["/srv/certs.d"]                            # bocker's own: where certs.d dirs are
    }

A key bocker does not know, a value of the wrong type or a file that is not JSON is one line
naming the file and the key: never silently ignored. `bocker info` shows what was read.

Environment knobs read here too (for tests and odd set-ups):
- BOCKER_CERTS_D: certs.d directories (':'-separated), instead of /etc/docker/certs.d and
  /etc/containers/certs.d.
- BOCKER_HUB_ENDPOINT: where Docker Hub is reached (`http://127.0.0.1:5000`): the tests point
  docker.io at a loopback registry, so that no test can reach the real one.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument

DEFAULT_PATH = Path("/etc/bocker/daemon.json")
DEFAULT_CERTS_D = (Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d"))
LOG_DRIVERS = ("json-file", "local", "none")  # what a container's log is written as here


@dataclass
class AddressPool:
    base: str        # a network: 10.123.0.0/16
    size: int        # the prefix length of each network taken from it: 24


@dataclass
class EngineConfig:
    path: str | None = None                                    # the file read (None: none was)
    registry_mirrors: list[str] = field(default_factory=list)  # URLs: https://host[:port]
    insecure_registries: list[str] = field(default_factory=list)  # host[:port] or a CIDR
    default_address_pools: list[AddressPool] = field(default_factory=list)
    log_driver: str | None = None
    certs_d: list[str] = field(default_factory=list)            # certs.d directories, in order
    hub_endpoint: str | None = None                            # BOCKER_HUB_ENDPOINT

    def is_insecure(self, registry: str) -> bool:
        """Whether `registry` (host[:port]) is one of insecure-registries, by name or by a
        network its address is in (as Docker matches them)."""
        host = _host_of(registry)
        for entry in self.insecure_registries:
            if entry == registry or entry == host:
                return True
            if "/" in entry:
                try:
                    if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def lines(self) -> list[tuple[str, str]]:
        """What `bocker info` shows of it."""
        out = [("Engine Config", self.path or "none (defaults)")]
        out.append(("Registry Mirrors", ", ".join(self.registry_mirrors) or "none"))
        out.append(("Insecure Registries", ", ".join(["127.0.0.0/8", *self.insecure_registries])))
        if self.default_address_pools:
            out.append(("Default Address Pools",
                        ", ".join(f"{p.base} (/{p.size})" for p in self.default_address_pools)))
        if self.log_driver:
            out.append(("Logging Driver", self.log_driver))
        out.append(("Registry Certificates", ", ".join(self.certs_d)))
        if self.hub_endpoint:
            out.append(("Docker Hub Endpoint", self.hub_endpoint))
        return out


def _host_of(registry: str) -> str:
    if registry.startswith("["):
        return registry[1:registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def _strings(path: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidArgument(f"{path}: '{key}' must be a list of strings")
    return list(value)


def _mirror(path: str, url: str) -> str:
    import urllib.parse
    parts = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise InvalidArgument(f"{path}: registry mirror '{url}' is not a URL like https://host[:port]")
    return f"{parts.scheme}://{parts.netloc}"


def _pools(path: str, value: Any) -> list[AddressPool]:
    if not isinstance(value, list):
        raise InvalidArgument(f"{path}: 'default-address-pools' must be a list of {{\"base\": CIDR, \"size\": N}}")
    pools = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"base", "size"} or "base" not in item:
            raise InvalidArgument(f"{path}: each of 'default-address-pools' is {{\"base\": CIDR, \"size\": N}}")
        try:
            net = ipaddress.ip_network(item["base"], strict=True)
        except (ValueError, TypeError):
            raise InvalidArgument(f"{path}: '{item.get('base')}' in 'default-address-pools' is not a network "
                                  "like 10.123.0.0/16") from None
        size = item.get("size", 24)
        if not isinstance(size, int) or isinstance(size, bool) or not net.prefixlen <= size <= net.max_prefixlen - 2:
            raise InvalidArgument(f"{path}: the size {size!r} of pool {net} must be a prefix length between "
                                  f"{net.prefixlen} and {net.max_prefixlen - 2}")
        pools.append(AddressPool(str(net), size))
    return pools


def parse(text: str, path: str) -> EngineConfig:
    """An EngineConfig from daemon.json text; InvalidArgument (one line) for anything wrong."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"{path} is not valid JSON ({e}): fix it or point BOCKER_CONFIG elsewhere") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path} must hold a JSON object, as Docker's daemon.json does")
    cfg = EngineConfig(path=path)
    for key, value in doc.items():
        if key == "registry-mirrors":
            cfg.registry_mirrors = [_mirror(path, u) for u in _strings(path, key, value)]
        elif key == "insecure-registries":
            cfg.insecure_registries = [v.removeprefix("http://").removeprefix("https://").rstrip("/")
                                       for v in _strings(path, key, value)]
        elif key == "default-address-pools":
            cfg.default_address_pools = _pools(path, value)
        elif key == "log-driver":
            if value not in LOG_DRIVERS:
                raise InvalidArgument(f"{path}: log-driver {value!r} is not one bocker has "
                                      f"({', '.join(LOG_DRIVERS)})")
            cfg.log_driver = value
        elif key == "certs-d":
            cfg.certs_d = _strings(path, key, value)
        else:
            known = "registry-mirrors, insecure-registries, default-address-pools, log-driver, certs-d"
            raise InvalidArgument(f"{path}: unknown key '{key}' (bocker reads {known})")
    return cfg


def load(path: str | os.PathLike[str] | None = None) -> EngineConfig:
    """The engine's config: `path`, else BOCKER_CONFIG, else /etc/bocker/daemon.json when it
    exists; then the environment's knobs (BOCKER_CERTS_D, BOCKER_HUB_ENDPOINT)."""
    named = path or os.environ.get("BOCKER_CONFIG")
    file = Path(named) if named else DEFAULT_PATH
    try:
        text = file.read_text()
    except FileNotFoundError:
        if named:
            raise InvalidArgument(f"The engine config {file} (BOCKER_CONFIG) does not exist") from None
        cfg = EngineConfig()
    except OSError as e:
        raise InvalidArgument(f"Could not read the engine config {file}: {e.strerror}") from None
    else:
        cfg = parse(text, str(file))
    env_certs = os.environ.get("BOCKER_CERTS_D")
    if env_certs:
        cfg.certs_d = [d for d in env_certs.split(":") if d]
    elif not cfg.certs_d:
        cfg.certs_d = [str(d) for d in DEFAULT_CERTS_D]
    hub = os.environ.get("BOCKER_HUB_ENDPOINT")
    if hub:
        cfg.hub_endpoint = _mirror("BOCKER_HUB_ENDPOINT", hub)
    return cfg
