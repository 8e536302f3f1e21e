"""Seccomp profiles from files: Docker's format (with its conditions on capabilities,
architectures and kernel versions) or the OCI one, returned in the OCI form."""

from __future__ import annotations

import json
import os

from ...errors import InvalidArgument
from .seccomp import _MACHINES, _fault, check_profile


# -- profiles from files: Docker's format or the OCI one -----------------------------------
def docker_to_oci(config: dict, capabilities: list[str] | tuple[str, ...],
                  machine: str | None = None, kernel: str | None = None) -> dict:
    """A profile in Docker's format (archMap; syscalls with includes/excludes by caps, arches,
    minKernel) as the OCI object for a container with `capabilities` on `machine`
    (uname -m; default this host). An OCI profile passes through unchanged."""
    if not isinstance(config, dict):
        raise InvalidArgument("seccomp profile: not a JSON object with a defaultAction")
    machine = machine or os.uname().machine
    docker_arch, oci_arch = _MACHINES.get(machine, (machine, ""))
    held = {f"CAP_{c.upper().removeprefix('CAP_')}" for c in capabilities}
    release = _kernel_version(kernel or os.uname().release)
    if config.get("architectures") and config.get("archMap"):
        raise _fault("archMap", "and architectures are both given: keep one")
    out = {k: v for k, v in config.items() if k in _OCI_KEYS}
    if "archMap" in config:
        if not isinstance(config["archMap"], list):
            raise _fault("archMap", "is not a list")
        for i, entry in enumerate(config["archMap"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("architecture"), str):
                raise _fault(f"archMap[{i}]", "is not an object with an architecture")
            if entry["architecture"] == oci_arch:
                out["architectures"] = [oci_arch, *(entry.get("subArchitectures") or [])]
                break
    calls = config.get("syscalls") or []
    if not isinstance(calls, list):
        raise _fault("syscalls", "is not a list")
    out["syscalls"] = []
    for i, call in enumerate(calls):
        field = f"syscalls[{i}]"
        if not isinstance(call, dict):
            raise _fault(field, "is not an object with names and action")
        call = dict(call)
        if call.get("name"):
            if call.get("names"):
                raise _fault(field, "has both name and names: keep one")
            call["names"] = [call["name"]]
        excludes, includes = call.pop("excludes", None) or {}, call.pop("includes", None) or {}
        if _matches(excludes, held, docker_arch, release, field + ".excludes", any_cap=True):
            continue
        if includes and not _matches(includes, held, docker_arch, release, field + ".includes", any_cap=False):
            continue
        out["syscalls"].append({k: v for k, v in call.items() if k in ("names", "action", "errnoRet", "args")})
    check_profile(out)  # the faults of a file are told when it is read, not at the container's start
    return out


_OCI_KEYS = ("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata")


def _matches(cond: dict, held: set[str], arch: str, release: tuple[int, ...], field: str, any_cap: bool) -> bool:
    """Whether a Docker includes (all of it must hold) or excludes (any of it) applies."""
    if not isinstance(cond, dict):
        raise _fault(field, "is not an object with caps, arches or minKernel")
    tests = []
    if cond.get("arches"):
        tests.append(arch in cond["arches"])
    if cond.get("caps"):
        caps = {f"CAP_{c.upper().removeprefix('CAP_')}" for c in cond["caps"]}
        tests.append(bool(caps & held) if any_cap else caps <= held)
    if cond.get("minKernel"):
        tests.append(release >= _kernel_version(str(cond["minKernel"]), field + ".minKernel"))
    return any(tests) if any_cap else all(tests)


def _kernel_version(text: str, field: str = "") -> tuple[int, ...]:
    parts = text.split("-")[0].split(".")[:2]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        if field:
            raise _fault(field, f"{text!r} is not a kernel version like 5.10") from None
        return (0,)


def load_profile_file(path: str | os.PathLike, capabilities: list[str] | tuple[str, ...] = (),
                      machine: str | None = None) -> dict:
    """A profile file (Docker's format or the OCI one) as the OCI object for a container with
    `capabilities` on this host; a file that can't be read or used is one line."""
    from pathlib import Path

    try:
        text = Path(path).read_text()
    except OSError as e:
        raise InvalidArgument(f"seccomp profile {path}: {e.strerror}: give the path of a JSON profile") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidArgument(f"seccomp profile {path}: not JSON ({e.msg} at line {e.lineno})") from None
    try:
        return docker_to_oci(config, capabilities, machine)
    except InvalidArgument as e:
        raise InvalidArgument(str(e).replace("seccomp profile:", f"seccomp profile {path}:", 1)) from None
