"""Each service key's spellings -> one normal form (model.py), and Compose's merge of a service
given in several files: mappings merge key by key, ports and the other lists are joined,
mounts are merged by their target, anything else is replaced by the later file."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .interpolate import parse_env_file
from .model import Build, Dependency, Healthcheck, Mount, PortBinding, Service, ServiceNetwork
from .yamlfile import Located

MAPPING_KEYS = ("environment", "labels", "sysctls", "extra_hosts", "networks", "depends_on", "ulimits")
JOINED_KEYS = ("ports", "expose", "dns", "cap_add", "cap_drop", "devices", "group_add", "security_opt",
               "profiles")


def mapping(value: Any, sep: str = "=") -> dict[str, str]:
    """A mapping, or a list of KEY=VALUE (a bare KEY: no value) as a mapping of strings."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): ("" if v is None else _scalar(v)) for k, v in value.items()}
    out = {}
    for item in value:
        key, _, val = str(item).partition(sep)
        out[key.strip()] = val
    return out


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _words(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _bool(value: Any) -> bool:
    return value is True or value in ("true", "True")


def seconds(text: Any) -> float:
    """A Compose duration ("1m30s", "10s", "500ms") or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    from ..build.instructions import parse_duration

    return parse_duration(str(text)) / 1e9


_PORT = re.compile(r"^(?:(?:\[(?P<ip6>[0-9a-fA-F:.]+)\]|(?P<ip>\d+\.\d+\.\d+\.\d+)):)?(?:(?P<pub>\d+(?:-\d+)?)?:)?"
                   r"(?P<target>\d+(?:-\d+)?)(?:/(?P<proto>tcp|udp|sctp))?$")


def ports(located: Located, path: tuple, value: list) -> list[PortBinding]:
    out = []
    for index, item in enumerate(value):
        where = (*path, index)
        if isinstance(item, dict):
            try:
                out.append(PortBinding(int(item["target"]), str(item.get("published", "") or ""),
                                       str(item.get("host_ip", "") or ""), str(item.get("protocol", "tcp"))))
            except (KeyError, ValueError):
                raise located.error(where, "a port in the long syntax needs a numeric 'target'") from None
            continue
        m = _PORT.match(str(item))
        if not m:
            raise located.error(where, f"'{item}' is not a port: use [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")
        targets = _range(m.group("target"))
        published = _range(m.group("pub")) if m.group("pub") else None
        if published and len(published) != len(targets):
            raise located.error(where, f"'{item}': the host range and the container range differ in length")
        for i, target in enumerate(targets):
            out.append(PortBinding(target, str(published[i]) if published else "",
                                   m.group("ip6") or m.group("ip") or "", m.group("proto") or "tcp"))
    return out


def _range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def mounts(located: Located, path: tuple, value: list, working_dir: Path) -> list[Mount]:
    out = []
    for index, item in enumerate(value):
        where = (*path, index)
        if isinstance(item, dict):
            kind = item.get("type", "volume")
            if kind not in ("volume", "bind", "tmpfs") or not item.get("target"):
                raise located.error(where, "a mount needs a 'target' and a type of volume, bind or tmpfs")
            source = str(item.get("source", "") or "")
            if kind == "bind":
                source = _host_path(source, working_dir)
            out.append(Mount(kind, str(item["target"]), source, _bool(item.get("read_only")),
                             str((item.get("bind") or {}).get("propagation", "")),
                             (item.get("tmpfs") or {}).get("size")))
            continue
        parts = str(item).split(":")
        if len(parts) == 1:
            out.append(Mount("volume", parts[0]))  # an anonymous volume
            continue
        source, target = parts[0], parts[1]
        options = parts[2].split(",") if len(parts) > 2 else []
        if not target.startswith("/"):
            raise located.error(where, f"'{item}': the container path must be absolute")
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind == "bind":
            source = _host_path(source, working_dir)
        propagation = next((o for o in options if o in ("shared", "rshared", "slave", "rslave", "private",
                                                         "rprivate")), "")
        out.append(Mount(kind, target, source, "ro" in options, propagation))
    return out


def _host_path(source: str, working_dir: Path) -> str:
    import os

    source = os.path.expanduser(source)
    return str((working_dir / source).resolve()) if not source.startswith("/") else source


def service(located: Located, name: str, data: dict[str, Any], working_dir: Path,
            env: Mapping[str, str]) -> dict[str, Any]:
    """One service of one file in the normal form, still as a mapping (files are merged next)."""
    path = ("services", name)
    out: dict[str, Any] = {}
    environment: dict[str, str | None] = {}
    for env_file in _as_list(data.get("env_file")):
        file = Path(env_file) if Path(env_file).is_absolute() else working_dir / env_file
        try:
            environment.update(parse_env_file(file.read_text(), str(file)))
        except OSError as e:
            raise located.error((*path, "env_file"), f"{env_file}: {e.strerror}") from None
    for key, value in mapping(data.get("environment")).items() if isinstance(data.get("environment"), dict) else [
            (str(item).partition("=")[0], str(item).partition("=")[2] if "=" in str(item) else None)
            for item in data.get("environment") or []]:
        if value is None:  # a bare KEY: its value from the shell, or left out when unset
            if key in env:
                environment[key] = env[key]
            continue
        environment[key] = value
    if environment or "environment" in data or "env_file" in data:
        out["environment"] = environment
    for key, value in data.items():
        kpath = (*path, key)
        if key in ("environment", "env_file") or key.startswith("x-"):
            continue
        if key in ("command", "entrypoint"):
            out[key] = _words(value) if value is not None else None
        elif key in ("labels", "sysctls"):
            out[key] = mapping(value)
        elif key == "extra_hosts":
            out[key] = mapping(value, sep=":") if isinstance(value, list) else mapping(value)
        elif key == "ports":
            out[key] = ports(located, kpath, value)
        elif key == "volumes":
            out["mounts"] = mounts(located, kpath, value, working_dir)
        elif key == "tmpfs":
            out.setdefault("mounts", []).extend(Mount("tmpfs", t.split(":")[0]) for t in _as_list(value))
        elif key in ("expose", "dns", "cap_add", "cap_drop", "devices", "group_add", "security_opt", "profiles"):
            out[key] = [str(v) for v in _as_list(value)]
        elif key == "networks":
            out[key] = {str(n): ServiceNetwork() for n in value} if isinstance(value, list) else {
                str(n): ServiceNetwork([str(a) for a in (s or {}).get("aliases", []) or []],
                                       str((s or {}).get("ipv4_address", "") or "")) for n, s in value.items()}
        elif key == "depends_on":
            out[key] = {str(d): Dependency() for d in value} if isinstance(value, list) else {
                str(d): Dependency(str((s or {}).get("condition", "service_started")),
                                   _bool((s or {}).get("required", True)), _bool((s or {}).get("restart")))
                for d, s in value.items()}
        elif key == "healthcheck":
            out.update(_healthcheck(located, kpath, value))
        elif key == "build":
            out[key] = _build(value, working_dir)
        elif key == "deploy":
            out.update(_deploy(located, kpath, value))
        elif key == "ulimits":
            out[key] = {str(k): ((int(v), int(v)) if not isinstance(v, dict) else (int(v.get("soft", 0)),
                                                                                   int(v.get("hard", 0))))
                        for k, v in value.items()}
        elif key == "stop_grace_period":
            out[key] = _seconds(located, kpath, value)
        elif key in ("read_only", "init", "privileged", "tty", "stdin_open"):
            out[key] = _bool(value)
        elif key in ("pids_limit", "scale", "oom_score_adj", "cpu_shares"):
            out["replicas" if key == "scale" else key] = int(value)
        elif key == "cpus":
            out[key] = float(value)
        elif key == "restart":
            if str(value).split(":")[0] not in ("no", "always", "on-failure", "unless-stopped"):
                raise located.error(kpath, f"'{value}' is not a restart policy: no, always, on-failure[:N], "
                                    "unless-stopped")
            out[key] = str(value)
        elif key == "logging":
            driver = (value or {}).get("driver", "json-file")
            if driver not in ("json-file", "local"):
                raise located.error((*kpath, "driver"), f"log driver '{driver}' is not supported by bocker: "
                                    "its log is json-file's")
        else:  # strings: image, user, working_dir, hostname, container_name, ... (pull_policy, platform: kept)
            out[key] = str(value)
    return out


def _seconds(located: Located, path: tuple, value: Any) -> float:
    try:
        return seconds(value)
    except ValueError:
        raise located.error(path, f"'{value}' is not a duration (use 30s, 1m30s, 500ms)") from None


def _healthcheck(located: Located, path: tuple, value: dict) -> dict[str, Any]:
    if _bool(value.get("disable")):
        return {"healthcheck": None, "healthcheck_disabled": True}
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    elif test is not None:
        test = [str(t) for t in test]
        if not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise located.error((*path, "test"), "a test list starts with CMD, CMD-SHELL or NONE")
    if test == ["NONE"]:
        return {"healthcheck": None, "healthcheck_disabled": True}
    durations = {k: _seconds(located, (*path, k), value[k]) for k in ("interval", "timeout", "start_period")
                 if value.get(k) is not None}
    return {"healthcheck": Healthcheck(test or [], retries=int(value["retries"]) if "retries" in value else None,
                                       **durations)}


def _build(value: Any, working_dir: Path) -> Build:
    if isinstance(value, str):
        value = {"context": value}
    context = _host_path(str(value.get("context", ".")), working_dir)
    return Build(context, str(value.get("dockerfile", "Dockerfile")), mapping(value.get("args")),
                 str(value.get("target", "") or ""), mapping(value.get("labels")), str(value.get("network", "") or ""),
                 _bool(value.get("no_cache")), _bool(value.get("pull")))


def _deploy(located: Located, path: tuple, value: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "replicas" in value:
        out["replicas"] = int(value["replicas"])
    limits = ((value.get("resources") or {}).get("limits") or {})
    if "cpus" in limits:
        out["cpus"] = float(limits["cpus"])
    if "memory" in limits:
        out["mem_limit"] = str(limits["memory"])
    if "pids" in limits:
        out["pids_limit"] = int(limits["pids"])
    return out


def merge_service(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new` (a later file's) over `old`, as Compose merges a service given twice."""
    if old is None:
        return dict(new)
    merged = dict(old)
    for key, value in new.items():
        if key in MAPPING_KEYS and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key in JOINED_KEYS and isinstance(merged.get(key), list):
            merged[key] = merged[key] + [v for v in value if v not in merged[key]]
        elif key == "mounts" and merged.get(key):
            by_target = {m.target: m for m in merged[key]}
            by_target.update({m.target: m for m in value})
            merged[key] = list(by_target.values())
        else:
            merged[key] = value
    return merged


def to_service(name: str, raw: dict[str, Any]) -> Service:
    raw = dict(raw)
    if "networks" not in raw and not raw.get("network_mode"):
        raw["networks"] = {"default": ServiceNetwork()}
    raw["environment"] = {k: v for k, v in (raw.get("environment") or {}).items() if v is not None}
    return Service(name=name, **raw)
