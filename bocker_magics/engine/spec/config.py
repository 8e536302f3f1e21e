"""A bundle's config.json: `Spec`, with its root, mounts and hooks, and the config
`runc spec` prints (default_spec)."""

from __future__ import annotations

import os

from ... import _cjson
from ...errors import InvalidArgument
from ..fileio import atomic_write
from .codec import _dump, _parse, _read, _set_paths
from .linux import IDMapping, Linux, Namespace
from .model import _OCI_VERSION, OCI_VERSION, TIMEOUT, _at, _f, _Invalid, _Model, _model, _show, _unknown
from .process import Capabilities, Process, Rlimit, User
from .resources import DeviceRule, Resources

TYPE_CHECKING = False  # not typing's, nor collections.abc at run time: bocker-runc imports this module
if TYPE_CHECKING:
    from collections.abc import Iterable


@_model
class Root(_Model):
    path: str = _f("", required=True)
    readonly: bool = _f(False)
    unknown: dict[str, object] = _unknown()


@_model
class Mount(_Model):
    destination: str = _f("", required=True)
    type: str = _f("")
    source: str = _f("")
    options: list[str] = _f(factory=list)
    uid_mappings: list[IDMapping] = _f(factory=list)
    gid_mappings: list[IDMapping] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class Hook(_Model):
    path: str = _f("", required=True)
    args: list[str] = _f(factory=list)
    env: list[str] = _f(factory=list)
    timeout: int | None = _f(range=TIMEOUT)
    unknown: dict[str, object] = _unknown()

    def _check(self, path: str, raw: dict) -> None:
        if not self.path.startswith("/"):  # the spec extends execv: path MUST be absolute
            raise _Invalid(_at(path, "path"), f"{_show(self.path)} is not an absolute path")


@_model
class Hooks(_Model):
    prestart: list[Hook] = _f(factory=list)
    create_runtime: list[Hook] = _f(factory=list)
    create_container: list[Hook] = _f(factory=list)
    start_container: list[Hook] = _f(factory=list)
    poststart: list[Hook] = _f(factory=list)
    poststop: list[Hook] = _f(factory=list)
    unknown: dict[str, object] = _unknown()


@_model
class Spec(_Model):
    """A bundle's config.json."""

    oci_version: str = _f(OCI_VERSION, required=True, pattern=_OCI_VERSION)
    process: Process = _f(factory=Process)
    root: Root = _f(factory=Root)
    hostname: str = _f("")
    domainname: str = _f("")
    mounts: list[Mount] = _f(factory=list)
    hooks: Hooks = _f(factory=Hooks)
    annotations: dict[str, str] = _f(factory=dict)
    linux: Linux = _f(factory=Linux)
    unknown: dict[str, object] = _unknown()

    def to_json(self, *, source: str = "config.json") -> dict:
        """The config.json as a dict, without the unset fields; InvalidArgument if invalid."""
        obj = _dump(self)
        _parse(Spec, obj, source)  # the one validator, on exactly what is written
        return obj

    @classmethod
    def from_json(cls, obj: dict | str | bytes, *, source: str = "config.json") -> Spec:
        """Read a config.json (its text, or its parsed dict); InvalidArgument names the field."""
        return _parse(cls, obj, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Spec:
        return cls.from_json(_read(path), source=os.fspath(path))

    def save(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        """Write it as config.json, atomically (a reader sees the old file or the new one)."""
        text = _cjson.dumps(self.to_json(source=os.fspath(path)), indent=2) + "\n"
        atomic_write(path, text.encode(), fsync=fsync)

    def set_paths(self) -> list[str]:
        """The JSON paths of every field that is set, unknown keys included: dotted, with
        `[]` for the fields of a list's items ("linux.namespaces[].path"); a map (sysctl,
        annotations, ...) is one path; ociVersion is not a setting and is left out."""
        out: list[str] = []
        _set_paths(self, "", out, in_list=False)
        return [p for p in dict.fromkeys(out) if p != "ociVersion"]

    def unhonoured(self, honoured: Iterable[str]) -> list[str]:
        """The set paths not covered by `honoured` (a path covers the paths below it)."""
        covered = tuple(honoured)
        return [p for p in self.set_paths()
                if not any(p == h or p.startswith((h + ".", h + "[")) for h in covered)]

    def check_honoured(self, honoured: Iterable[str], *, by: str = "bocker",
                       source: str = "config.json") -> None:
        """Refuse, with one line, a spec that sets a field `by` does not honour yet."""
        missing = self.unhonoured(honoured)
        if missing:
            more = f" (and {len(missing) - 1} more: {', '.join(missing[1:4])}{', ...' if len(missing) > 4 else ''})" \
                if len(missing) > 1 else ""
            raise InvalidArgument(f"{source}: {missing[0]}: not supported by {by} yet{more}; "
                                  "remove it from the configuration")


# -- a default config ------------------------------------------------------------------------

_DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec() -> Spec:
    """The config.json `runc spec` prints (not rootless): sh on a read-only rootfs/, five new
    namespaces, three capabilities, every device denied, /proc's risky files masked."""
    def mount(destination: str, type: str, source: str, *options: str) -> Mount:
        return Mount(destination=destination, type=type, source=source, options=list(options))

    return Spec(
        process=Process(
            terminal=True, user=User(uid=0, gid=0), args=["sh"],
            env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            cwd="/",
            capabilities=Capabilities(bounding=list(_DEFAULT_CAPS), effective=list(_DEFAULT_CAPS),
                                      permitted=list(_DEFAULT_CAPS), ambient=list(_DEFAULT_CAPS)),
            rlimits=[Rlimit(type="RLIMIT_NOFILE", hard=1024, soft=1024)],
            no_new_privileges=True,
        ),
        root=Root(path="rootfs", readonly=True),
        hostname="runc",
        mounts=[
            mount("/proc", "proc", "proc"),
            mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
            mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
                  "mode=0620", "gid=5"),
            mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k"),
            mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
            mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro"),
        ],
        linux=Linux(
            resources=Resources(devices=[DeviceRule(allow=False, access="rwm")]),
            namespaces=[Namespace(type=t) for t in ("pid", "network", "ipc", "uts", "mount")],
            masked_paths=["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                          "/proc/scsi"],
            readonly_paths=["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        ),
    )
