"""The spec's `linux` object: id mappings, namespaces, devices, seccomp, and the rest of the
platform's part (resources.py holds linux.resources)."""

from __future__ import annotations

from .model import (
    _MEM_BW_SCHEMA,
    ARG_INDEX,
    DEVICE_TYPES,
    I64,
    NAMESPACE_TYPES,
    PERSONALITY_DOMAINS,
    ROOTFS_PROPAGATIONS,
    SECCOMP_ACTIONS,
    SECCOMP_ARCHES,
    SECCOMP_FLAGS,
    SECCOMP_OPERATORS,
    TIME_CLOCKS,
    U32,
    U64,
    _at,
    _f,
    _Invalid,
    _Model,
    _model,
    _show,
    _unknown,
)
from .resources import Resources


@_model
class IDMapping(_Model):
    container_id: int = _f(0, json="containerID", range=U32, required=True)
    host_id: int = _f(0, json="hostID", range=U32, required=True)
    size: int = _f(0, range=U32, required=True)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if self.size == 0:
            raise _Invalid(_at(path, "size"), "0 maps no ids (give 1 or more)")
        for key, start in (("containerID", self.container_id), ("hostID", self.host_id)):
            if start + self.size > 2**32:  # ids are 32 bits: the kernel refuses such a range
                raise _Invalid(_at(path, "size"), f"{self.size} ids from {key} {start} pass the last id, {2**32 - 1}")


@_model
class Namespace(_Model):
    type: str = _f("", required=True, enum=NAMESPACE_TYPES, noun="a namespace type")
    path: str = _f("")  # join this namespace instead of making one
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if self.path and not self.path.startswith("/"):
            raise _Invalid(_at(path, "path"), f"{_show(self.path)} is not an absolute path")


@_model
class Device(_Model):
    """A device node to make in the container (mknod)."""

    path: str = _f("", required=True)
    type: str = _f("", required=True, enum=DEVICE_TYPES, noun="a device type")
    major: int = _f(0, range=I64, always=True)
    minor: int = _f(0, range=I64, always=True)
    file_mode: int | None = _f(range=U32)
    uid: int | None = _f(range=U32)
    gid: int | None = _f(range=U32)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.path.startswith("/"):
            raise _Invalid(_at(path, "path"), f"{_show(self.path)} is not an absolute path")
        if self.type != "p":
            for key in ("major", "minor"):
                if key not in raw:
                    raise _Invalid(_at(path, key), f"required for a '{self.type}' device but missing")


@_model
class SeccompArg(_Model):
    index: int = _f(0, range=ARG_INDEX, required=True)
    value: int = _f(0, range=U64, required=True)
    value_two: int = _f(0, range=U64)
    op: str = _f("", required=True, enum=SECCOMP_OPERATORS, noun="a seccomp operator")
    unknown: dict[str, object] = _unknown()


@_model
class Syscall(_Model):
    names: list[str] = _f(factory=list, required=True)
    action: str = _f("", required=True, enum=SECCOMP_ACTIONS, noun="a seccomp action")
    errno_ret: int | None = _f(range=U32)
    args: list[SeccompArg] = _f(factory=list)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.names:
            raise _Invalid(_at(path, "names"), "empty (name at least one system call)")
        for i, name in enumerate(self.names):
            if not name:
                raise _Invalid(f"{_at(path, 'names')}[{i}]", "an empty system call name")


@_model
class Seccomp(_Model):
    default_action: str = _f("", required=True, enum=SECCOMP_ACTIONS, noun="a seccomp action")
    default_errno_ret: int | None = _f(range=U32)
    architectures: list[str] = _f(factory=list, enum=SECCOMP_ARCHES, noun="a seccomp architecture")
    flags: list[str] = _f(factory=list, enum=SECCOMP_FLAGS, noun="a seccomp flag")
    listener_path: str = _f("")
    listener_metadata: str = _f("")
    syscalls: list[Syscall] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class IntelRdt(_Model):
    clos_id: str = _f("", json="closID")
    l3_cache_schema: str = _f("")
    mem_bw_schema: str = _f("", pattern=_MEM_BW_SCHEMA)
    enable_cmt: bool = _f(False, json="enableCMT")
    enable_mbm: bool = _f(False, json="enableMBM")
    unknown: dict[str, object] = _unknown()


@_model
class Personality(_Model):
    domain: str = _f("", always=True, enum=PERSONALITY_DOMAINS, noun="a personality domain")
    flags: list[str] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class TimeOffset(_Model):
    """A clock's offset in a new time namespace (runtime-spec 1.1)."""

    secs: int = _f(0, range=I64, always=True)
    nanosecs: int = _f(0, range=U32, always=True)
    unknown: dict[str, object] = _unknown()


@_model
class Linux(_Model):
    uid_mappings: list[IDMapping] = _f(factory=list)
    gid_mappings: list[IDMapping] = _f(factory=list)
    sysctl: dict[str, str] = _f(factory=dict)
    resources: Resources = _f(factory=Resources)
    cgroups_path: str = _f("")
    namespaces: list[Namespace] = _f(factory=list)
    devices: list[Device] = _f(factory=list)
    seccomp: Seccomp | None = _f()
    rootfs_propagation: str = _f("", enum=ROOTFS_PROPAGATIONS, noun="a rootfs propagation")
    masked_paths: list[str] = _f(factory=list)
    readonly_paths: list[str] = _f(factory=list)
    mount_label: str = _f("")
    intel_rdt: IntelRdt | None = _f()
    personality: Personality | None = _f()
    time_offsets: dict[str, TimeOffset] = _f(factory=dict)  # by clock: monotonic, boottime
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        seen: set[str] = set()
        for i, ns in enumerate(self.namespaces):
            if ns.type in seen:  # the spec: a runtime MUST refuse a type given twice
                raise _Invalid(f"{_at(path, 'namespaces')}[{i}].type", f"{ns.type} is given twice")
            seen.add(ns.type)
        for clock in self.time_offsets:
            if clock not in TIME_CLOCKS:
                raise _Invalid(f'{_at(path, "timeOffsets")}["{clock}"]',
                               f"{_show(clock)} is not a clock with an offset (use {', '.join(TIME_CLOCKS)})")

    def namespace(self, type: str) -> Namespace | None:
        """The namespace of this type, if the container has (or joins) one."""
        return next((ns for ns in self.namespaces if ns.type == type), None)
