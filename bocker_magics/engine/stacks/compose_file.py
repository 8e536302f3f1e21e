"""Compose files -> a Project: found as Docker Compose finds them, read with their lines,
interpolated from the environment and `.env`, checked key by key (one line naming the file,
the line and the key for every mistake), merged when several `-f` files are given, normalised
(model.py). Nothing here starts anything: the stack's verbs take the Project."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import normalize, schema
from .interpolate import InterpolationError, interpolate, parse_env_file
from .model import Dependency, NetworkDef, Project, VolumeDef
from .yamlfile import ComposeFileError, Located, dotted_path, load

FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def find_file(cwd: Path) -> Path:
    """The first of Compose's file names in `cwd` or the nearest directory above it."""
    for directory in (cwd, *cwd.parents):
        for name in FILE_NAMES:
            if (directory / name).is_file():
                return directory / name
    raise ComposeFileError(f"no compose file ({', '.join(FILE_NAMES)}) in {cwd} or above it: "
                           "give one with -f FILE")


def project_name(explicit: str | None, environ: Mapping[str, str], top_name: str | None, working_dir: Path) -> str:
    """-p, then COMPOSE_PROJECT_NAME, then the file's `name:`, then the directory's name;
    lower case, with what Compose does not allow in a name taken out."""
    for candidate, given in ((explicit, True), (environ.get("COMPOSE_PROJECT_NAME"), True), (top_name, True),
                             (working_dir.name, False)):
        if not candidate:
            continue
        name = re.sub(r"[^a-z0-9_-]", "", str(candidate).lower())
        if name and re.match(r"[a-z0-9]", name):
            return name
        if given:
            raise ComposeFileError(f"project name '{candidate}' is not valid: use lower-case letters, digits, "
                                   "'-' and '_', starting with a letter or digit")
    return "default"


def _interpolate_tree(value: Any, env: Mapping[str, str], located: Located, path: tuple) -> Any:
    if isinstance(value, str):
        try:
            return interpolate(value, env)
        except InterpolationError as e:
            raise located.error(path, str(e)) from None
    if isinstance(value, dict):
        return {k: _interpolate_tree(v, env, located, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_tree(v, env, located, (*path, i)) for i, v in enumerate(value)]
    return value


def _check_keys(located: Located, mapping: Any, path: tuple, allowed, refused=frozenset(), what="key") -> None:
    if not isinstance(mapping, dict):
        raise located.error(path, "must be a mapping")
    for key in mapping:
        if not isinstance(key, str):
            raise located.error(path, f"{what} {key!r} must be a string")
        if key in allowed or key.startswith("x-"):
            continue
        if key in refused:
            raise located.error((*path, key), f"'{key}' is not supported by bocker compose (remove it, "
                                "or run this file with Docker Compose)")
        hint = schema.nearest(key, allowed)
        raise located.error((*path, key), f"unknown {what} '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""))


def check(located: Located) -> None:
    """Every key known and every value of the right shape (before any merge, so a mistake
    names the file it is in)."""
    data = located.data
    if not isinstance(data, dict):
        raise located.error((), "a compose file is a mapping (services:, networks:, volumes:)")
    _check_keys(located, data, (), schema.TOP_KEYS, schema.TOP_KEYS_REFUSED, "top-level key")
    services = data.get("services") or {}
    if not isinstance(services, dict):
        raise located.error(("services",), "must be a mapping of service names to services")
    for name, service in services.items():
        path = ("services", name)
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", str(name)):
            raise located.error(path, f"service name '{name}' is not valid: use letters, digits, '_', '.', '-'")
        if service is None:
            service = services[name] = {}
        _check_keys(located, service, path, schema.SERVICE_KEYS, schema.SERVICE_KEYS_REFUSED)
        for key, value in service.items():
            shape = schema.SERVICE_TYPES.get(key)
            if shape and not schema.is_type(value, shape):
                raise located.error((*path, key), f"must be {shape}, not {type(value).__name__} {value!r}")
        for key, allowed in (("healthcheck", schema.HEALTHCHECK_KEYS), ("deploy", schema.DEPLOY_KEYS)):
            if isinstance(service.get(key), dict):
                _check_keys(located, service[key], (*path, key), allowed)
        if isinstance(service.get("build"), dict):
            _check_keys(located, service["build"], (*path, "build"), schema.BUILD_KEYS)
        if isinstance(service.get("depends_on"), dict):
            for dep, spec in service["depends_on"].items():
                dpath = (*path, "depends_on", dep)
                if spec is None:
                    continue
                _check_keys(located, spec, dpath, schema.DEPENDS_KEYS)
                if spec.get("condition", "service_started") not in schema.CONDITIONS:
                    raise located.error((*dpath, "condition"), f"condition '{spec.get('condition')}' is not one of "
                                        + ", ".join(schema.CONDITIONS))
        if isinstance(service.get("networks"), dict):
            for net, spec in service["networks"].items():
                if spec is not None:
                    _check_keys(located, spec, (*path, "networks", net), schema.SERVICE_NETWORK_KEYS)
    for section, allowed in (("networks", schema.NETWORK_KEYS), ("volumes", schema.VOLUME_KEYS)):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise located.error((section,), "must be a mapping")
        for name, spec in entries.items():
            if spec is not None:
                _check_keys(located, spec, (section, name), allowed)


def _shown(path: Path, cwd: Path) -> str:
    """A file's name as the user sees it: relative to where they are when it is below it."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def read_files(files: list[Path], env: Mapping[str, str], cwd: Path) -> list[tuple[Located, dict[str, Any]]]:
    """Each file loaded, interpolated and checked."""
    out = []
    for path in files:
        try:
            text = path.read_text()
        except OSError as e:
            raise ComposeFileError(f"{_shown(path, cwd)}: can't read it: {e.strerror}") from None
        located = load(text, _shown(path, cwd))
        located.data = _interpolate_tree(located.data or {}, env, located, ())
        check(located)
        out.append((located, located.data))
    return out


def load_project(files: list[str | Path] | None = None, *, project: str | None = None, cwd: Path | None = None,
                 environ: Mapping[str, str] | None = None, env_file: str | None = None,
                 profiles: list[str] | None = None, text: str | None = None) -> Project:
    """The project of these files (or the one Compose finds from `cwd`; or a file's `text`, as a
    notebook cell gives it). Later files override and extend earlier ones, as Compose merges them."""
    cwd = (cwd or Path.cwd()).resolve()
    environ = dict(os.environ if environ is None else environ)
    located_files: list[tuple[Located, dict]]
    if text is not None:
        paths = [cwd / "compose.yaml"]
    else:
        paths = [(cwd / f) if not Path(f).is_absolute() else Path(f) for f in files] if files else [find_file(cwd)]
    working_dir = paths[0].parent
    dotenv_path = Path(env_file) if env_file else working_dir / ".env"
    if env_file and not dotenv_path.is_absolute():
        dotenv_path = cwd / dotenv_path
    dotenv: dict[str, str] = {}
    if dotenv_path.is_file():
        dotenv = parse_env_file(dotenv_path.read_text(), str(dotenv_path))
    elif env_file:
        raise ComposeFileError(f"--env-file {env_file}: no such file")
    variables = {**dotenv, **environ}  # the shell's environment wins over .env, as in Compose
    if text is not None:
        located = load(text, "compose.yaml")
        located.data = _interpolate_tree(located.data or {}, variables, located, ())
        check(located)
        located_files = [(located, located.data)]
    else:
        located_files = read_files(paths, variables, cwd)
    name = project_name(project, environ, next((d.get("name") for _, d in reversed(located_files) if d.get("name")),
                                                None), working_dir)
    services_raw: dict[str, dict] = {}
    where: dict[str, Located] = {}
    for located, data in located_files:
        for sname, sdata in (data.get("services") or {}).items():
            norm = normalize.service(located, sname, sdata or {}, working_dir, variables)
            services_raw[sname] = normalize.merge_service(services_raw.get(sname), norm)
            where.setdefault(sname, located)
    networks = _networks(located_files, name)
    volumes = _volumes(located_files, name)
    services = {n: normalize.to_service(n, raw) for n, raw in services_raw.items()}
    active = set(profiles or [p for p in environ.get("COMPOSE_PROFILES", "").split(",") if p])
    enabled = {n: s for n, s in services.items() if not s.profiles or active & set(s.profiles)}
    disabled = {n: s for n, s in services.items() if n not in enabled}
    proj = Project(name, str(working_dir), [str(p) for p in paths], enabled, networks, volumes, disabled)
    _check_references(proj, services, where)
    return proj


def _networks(located_files, project: str) -> dict[str, NetworkDef]:
    raw: dict[str, dict] = {}
    for _, data in located_files:
        for key, spec in (data.get("networks") or {}).items():
            raw[key] = {**raw.get(key, {}), **(spec or {})}
    out = {}
    for key, spec in raw.items():
        external = spec.get("external")
        external_name = external.get("name") if isinstance(external, dict) else None
        ipam = (spec.get("ipam") or {}).get("config") or []
        out[key] = NetworkDef(
            name=str(spec.get("name") or external_name or (key if external else f"{project}_{key}")),
            external=bool(external), internal=bool(spec.get("internal")),
            subnets=[str(c["subnet"]) for c in ipam if isinstance(c, dict) and c.get("subnet")],
            gateways=[str(c["gateway"]) for c in ipam if isinstance(c, dict) and c.get("gateway")],
            driver_opts={str(k): str(v) for k, v in (spec.get("driver_opts") or {}).items()},
            labels=normalize.mapping(spec.get("labels")))
    return out


def _volumes(located_files, project: str) -> dict[str, VolumeDef]:
    raw: dict[str, dict] = {}
    for _, data in located_files:
        for key, spec in (data.get("volumes") or {}).items():
            raw[key] = {**raw.get(key, {}), **(spec or {})}
    out = {}
    for key, spec in raw.items():
        external = spec.get("external")
        external_name = external.get("name") if isinstance(external, dict) else None
        out[key] = VolumeDef(name=str(spec.get("name") or external_name or (key if external else f"{project}_{key}")),
                             external=bool(external), labels=normalize.mapping(spec.get("labels")))
    return out


def _check_references(project: Project, every: dict, where: dict[str, Located]) -> None:
    """depends_on names a service of the file, networks and named volumes are declared, no cycle."""
    for name, service in project.services.items():
        located = where[name]
        for dep, d in service.depends_on.items():
            if dep not in every and d.required:
                raise located.error(("services", name, "depends_on"), f"depends on undefined service '{dep}'")
            if dep in project.disabled and d.required:
                raise located.error(("services", name, "depends_on"),
                                    f"depends on '{dep}', which is in a profile that is not enabled: add --profile")
        for net in service.networks:
            if net != "default" and net not in project.networks:
                raise located.error(("services", name, "networks"), f"network '{net}' is not declared under "
                                    "the top-level networks:")
        for mount in service.mounts:
            if mount.type == "volume" and mount.source and mount.source not in project.volumes:
                raise located.error(("services", name, "volumes"), f"named volume '{mount.source}' is not declared "
                                    "under the top-level volumes:")
    if any("default" in s.networks for s in project.services.values()) and "default" not in project.networks:
        project.networks["default"] = NetworkDef(name=f"{project.name}_default")
    _check_cycles(project, where)


def _check_cycles(project: Project, where: dict[str, Located]) -> None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for dep in project.services[name].depends_on:
            if dep not in project.services:
                continue
            if state.get(dep) == 1:
                cycle = trail[trail.index(dep):] + [dep] if dep in trail else [name, dep]
                raise where[name].error(("services", name, "depends_on"),
                                        "a cycle in depends_on: " + " -> ".join(cycle))
            if not state.get(dep):
                visit(dep, [*trail, dep])
        state[name] = 2

    for name in sorted(project.services):
        if not state.get(name):
            visit(name, [name])


__all__ = ["ComposeFileError", "Dependency", "FILE_NAMES", "dotted_path", "find_file", "load_project"]
