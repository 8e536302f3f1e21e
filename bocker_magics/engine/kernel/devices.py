"""The devices policy of a container: which device nodes it may open or make.

Rules have the OCI form (``linux.resources.devices``)::

    {"allow": false, "access": "rwm"}                                  # deny everything
    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}  # then /dev/null

and are applied in the listed order: a later rule overrides an earlier one where they
overlap (what writing them one by one to v1's devices.allow / devices.deny does).

- cgroup v1: :func:`write_v1` writes the rules to the group's ``devices.deny`` /
  ``devices.allow`` in the devices hierarchy.
- cgroup v2 has no devices files: :func:`attach_v2` (devices_bpf.py) assembles a BPF_PROG_TYPE_CGROUP_DEVICE
  program from the rules (eBPF instructions packed here: no compiler, no libbpf), loads it
  with bpf(2) and attaches it to the group's directory. The kernel runs it on every open and
  mknod of a device node by a process of the group; it returns 1 to allow, 0 to refuse
  (EPERM). The attachment holds the program: no fd has to stay open, and it goes with the
  group's directory.

Callers use :func:`apply` (or ``Cgroup.set_devices``): the cgroup driver picks v1 or v2.
:func:`parse_device` turns ``--device HOST[:CONTAINER][:rwm]`` into the node the container's
/dev gets and the rule that lets the container use it.

Stdlib + ctypes only, and ctypes is imported only when a program is loaded: the container's
monitor imports this module.
"""

from __future__ import annotations

import os
import stat

from bocker_magics._record import Value
from bocker_magics.errors import BockerError, HostUnsupported, InvalidArgument

TYPE_CHECKING = False  # not typing's: the monitor would import typing at every start for nothing
if TYPE_CHECKING:
    from typing import Any

    from bocker_magics.engine.kernel.cgroups.common import Cgroup

ACCESS = "rwm"  # read, write, mknod: the order v1 and OCI write them in
TYPES = ("a", "b", "c")
_U32_MAX = (1 << 32) - 1


# --------------------------------------------------------------------------- rules


class DeviceRule(Value):
    """One OCI devices cgroup rule. ``major``/``minor`` None mean any (v1's ``*``)."""

    __slots__ = ("allow", "type", "major", "minor", "access")

    def __init__(
        self,
        allow: bool,
        type: str = "a",
        major: int | None = None,
        minor: int | None = None,
        access: str = ACCESS,
    ) -> None:
        self.allow = allow
        self.type = type  # a (all), b (block), c (char)
        self.major = major
        self.minor = minor
        self.access = access
        self._check()

    def _check(self) -> None:
        if not isinstance(self.allow, bool):
            raise InvalidArgument(f"device rule 'allow' must be true or false, not {self.allow!r}")
        if self.type not in TYPES:
            raise InvalidArgument(f"device rule type {self.type!r} is unknown; use a, b or c")
        for name in ("major", "minor"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= _U32_MAX):
                raise InvalidArgument(f"device rule {name} {v!r} is invalid; use a number of 0 or more, or omit it")
        check_access(self.access, "device rule access")

    @classmethod
    def from_oci(cls, d: dict[str, Any]) -> DeviceRule:
        """From an OCI ``linux.resources.devices`` entry. An absent type means "a", an absent
        or empty access "rwm"; major/minor absent or -1 (runc's wildcard) mean any."""
        if not isinstance(d, dict) or "allow" not in d:
            raise InvalidArgument(f"device rule {d!r} needs at least an 'allow' field")
        unknown = set(d) - {"allow", "type", "major", "minor", "access"}
        if unknown:
            raise InvalidArgument(f"device rule {d!r} has unknown fields {sorted(unknown)}")

        def number(v: Any) -> int | None:
            return None if v is None or v == -1 else v

        return cls(
            allow=d["allow"],
            type=d.get("type") or "a",
            major=number(d.get("major")),
            minor=number(d.get("minor")),
            access=d.get("access") or ACCESS,
        )

    def to_oci(self) -> dict[str, Any]:
        out: dict[str, Any] = {"allow": self.allow, "type": self.type}
        if self.major is not None:
            out["major"] = self.major
        if self.minor is not None:
            out["minor"] = self.minor
        out["access"] = self.access
        return out

    def matches_all(self) -> bool:
        """True for ``a *:* rwm``: it decides every request, so rules before it are moot."""
        return self.type == "a" and self.major is None and self.minor is None and set(self.access) == set(ACCESS)

    def v1_lines(self) -> list[str]:
        """The lines for devices.allow / devices.deny.

        v1 reads a line of type "a" as "everything", whatever follows it, so an "a" rule
        that names a number or a part of rwm is written as its b and c halves.
        """
        if self.matches_all():
            return ["a"]
        num = f"{'*' if self.major is None else self.major}:{'*' if self.minor is None else self.minor}"
        types = ("b", "c") if self.type == "a" else (self.type,)
        return [f"{t} {num} {self.access}" for t in types]

    def __str__(self) -> str:
        verb = "allow" if self.allow else "deny"
        return f"{verb} {' / '.join(self.v1_lines())}"


def check_access(access: Any, what: str) -> str:
    """A non-empty subset of "rwm", each letter once; else one line."""
    if (
        not isinstance(access, str)
        or not access
        or len(set(access)) != len(access)
        or any(ch not in ACCESS for ch in access)
    ):
        raise InvalidArgument(f"{what} {access!r} is invalid; use one or more of r, w and m, each once (e.g. rwm)")
    return access


def rules_from_oci(entries: list[dict[str, Any]]) -> list[DeviceRule]:
    return [DeviceRule.from_oci(e) for e in entries]


def rules_to_oci(rules: list[DeviceRule]) -> list[dict[str, Any]]:
    return [r.to_oci() for r in rules]


# The nodes every container gets (Docker's and runc's default list): (name, type, major, minor).
# /dev/pts/* is 136:* (the devpts of a new instance numbers its own ptys from 0).
DEFAULT_NODES: tuple[tuple[str, str, int, int | None], ...] = (
    ("null", "c", 1, 3),
    ("zero", "c", 1, 5),
    ("full", "c", 1, 7),
    ("random", "c", 1, 8),
    ("urandom", "c", 1, 9),
    ("tty", "c", 5, 0),
    ("console", "c", 5, 1),
    ("ptmx", "c", 5, 2),
    ("pts", "c", 136, None),
)


def default_rules() -> list[DeviceRule]:
    """Deny everything, then allow rwm on the default nodes only. Unlike Docker's default
    there is no "mknod of any device" rule: a node a container may not open it may not make."""
    rules = [DeviceRule(allow=False, type="a", access=ACCESS)]
    rules += [DeviceRule(True, t, major, minor, ACCESS) for _, t, major, minor in DEFAULT_NODES]
    return rules


# What runc appends to every container's rules (libcontainer/specconv's AllowedDevices): mknod
# of any node (opening one still needs its own rule), the default nodes and /dev/net/tun.
# podman sends only "deny all" and relies on it: without these, /dev/null breaks.
RUNTIME_ALLOWS: tuple[DeviceRule, ...] = (
    DeviceRule(True, "c", None, None, "m"),
    DeviceRule(True, "b", None, None, "m"),
    *(DeviceRule(True, t, major, minor, ACCESS) for _, t, major, minor in DEFAULT_NODES),
    DeviceRule(True, "c", 10, 200, ACCESS),
)


def with_runtime_allows(rules: list[DeviceRule]) -> list[DeviceRule]:
    """An OCI runtime's policy: the spec's rules, then runc's default allow list."""
    return [*rules, *RUNTIME_ALLOWS]


def effective_rules(rules: list[DeviceRule]) -> list[DeviceRule]:
    """The rules from the last one that matches everything on (those before it decide
    nothing); the list as given when none does."""
    for i in range(len(rules) - 1, -1, -1):
        if rules[i].matches_all():
            return list(rules[i:])
    return list(rules)


# --------------------------------------------------------------------------- --device


class DeviceNode(Value):
    """An OCI ``linux.devices`` entry: a node the runtime makes in the container's /dev."""

    __slots__ = ("path", "type", "major", "minor", "file_mode", "uid", "gid")

    def __init__(
        self,
        path: str,
        type: str,
        major: int,
        minor: int,
        file_mode: int,
        uid: int,
        gid: int,
    ) -> None:
        self.path = path  # in the container
        self.type = type  # b or c
        self.major = major
        self.minor = minor
        self.file_mode = file_mode  # permission bits (st_mode without the file type)
        self.uid = uid
        self.gid = gid

    def to_oci(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "type": self.type,
            "major": self.major,
            "minor": self.minor,
            "fileMode": self.file_mode,
            "uid": self.uid,
            "gid": self.gid,
        }

    @classmethod
    def from_oci(cls, d: dict[str, Any]) -> DeviceNode:
        return cls(
            d["path"], d["type"], d["major"], d["minor"], d.get("fileMode", 0o666), d.get("uid", 0), d.get("gid", 0)
        )

    def rule(self, access: str = ACCESS) -> DeviceRule:
        return DeviceRule(True, self.type, self.major, self.minor, access)


def _is_access(text: str) -> bool:
    try:
        check_access(text, "")
        return True
    except InvalidArgument:
        return False


def parse_device(text: str) -> tuple[DeviceNode, DeviceRule]:
    """``--device HOST[:CONTAINER][:PERMISSIONS]`` -> the node for the container and its
    allow rule. As Docker: the container path defaults to the host path, the permissions to
    rwm, and with two fields the second is permissions when it reads as such."""
    if not isinstance(text, str) or not text or "\0" in text or "\n" in text:
        raise InvalidArgument(f"--device {text!r} is invalid; use HOST[:CONTAINER][:rwm], e.g. /dev/kmsg")
    parts = text.split(":")
    if len(parts) > 3:
        raise InvalidArgument(f"--device {text!r} has too many ':'; use HOST[:CONTAINER][:rwm]")
    host = parts[0]
    container = host
    access = ACCESS
    if len(parts) == 3:
        container = parts[1]
        access = check_access(parts[2], f"--device {text!r}: permissions")
    elif len(parts) == 2:
        if _is_access(parts[1]):
            access = parts[1]
        else:
            container = parts[1]
    if not host.startswith("/"):
        raise InvalidArgument(f"--device {text!r}: host path {host!r} must be absolute, e.g. /dev/kmsg")
    if not container.startswith("/"):
        raise InvalidArgument(
            f"--device {text!r}: {container!r} is neither an absolute container path (e.g. /dev/mydev) "
            "nor permissions (one or more of r, w and m)"
        )
    if ".." in container.split("/"):
        raise InvalidArgument(f"--device {text!r}: container path {container!r} may not contain '..'")
    container = os.path.normpath(container)
    if container in ("/", "/dev"):
        raise InvalidArgument(f"--device {text!r}: the container path must name a file, e.g. /dev/mydev")
    try:
        st = os.stat(host)  # follows symlinks, as Docker does (/dev/disk/by-id/...)
    except FileNotFoundError:
        raise InvalidArgument(f"--device {text!r}: no such device {host} on this host") from None
    except OSError as e:
        raise InvalidArgument(f"--device {text!r}: cannot stat {host} ({e.strerror})") from None
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidArgument(
            f"--device {text!r}: {host} is not a character or block device; name a device node such as /dev/kmsg"
        )
    node = DeviceNode(
        path=container,
        type=kind,
        major=os.major(st.st_rdev),
        minor=os.minor(st.st_rdev),
        file_mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
    )
    return node, node.rule(access)


# --------------------------------------------------------------------------- cgroup v1


def write_v1(directory: str, rules: list[DeviceRule]) -> None:
    """Write ``rules`` into the v1 devices group at ``directory``.

    "a" is denied first, so the result does not depend on what the group held before (a
    new group inherits its parent's list, usually "a *:* rwm"); then each rule in order.
    (A later policy thus passes through deny-all for a moment: an open in that window
    fails. That is the price of not diffing against devices.list.)
    """
    lines = [("devices.deny", "a")]
    for rule in rules:
        name = "devices.allow" if rule.allow else "devices.deny"
        lines += [(name, line) for line in rule.v1_lines() if (name, line) != lines[-1]]  # a spec's own deny-all once
    fds: dict[str, int] = {}  # one open per file: the kernel takes each write as one rule
    try:
        for name, line in lines:
            path = os.path.join(directory, name)
            if name not in fds:
                try:
                    fds[name] = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    raise HostUnsupported(
                        f"{path} is missing: the cgroup v1 devices controller is not mounted for this group; "
                        "mount it (mount -t cgroup -o devices none /sys/fs/cgroup/devices)"
                    ) from None
            try:
                os.write(fds[name], line.encode())
            except OSError as e:
                raise BockerError(
                    f"the kernel refused the device rule {line!r} in {path} ({e.strerror}); "
                    "check the rule, or that the parent group allows it"
                ) from None
    finally:
        for fd in fds.values():
            os.close(fd)


# --------------------------------------------------------------------------- cgroup v2
# The program and bpf(2) live in devices_bpf.py, imported on first use of one of its names.
_BPF_NAMES = frozenset((
    "BPF_F_ALLOW_MULTI", "BPF_F_REPLACE", "access_mask", "attach_v2", "attached_programs", "compile_program",
    "detach_all_v2", "load_program",
    "_insn", "_prog_fd",  # the tests' (a hand-made program, a loaded one's fd)
))


def __getattr__(name: str) -> Any:
    if name not in _BPF_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import devices_bpf
    return getattr(devices_bpf, name)


# --------------------------------------------------------------------------- entry point


def apply(rules: list[DeviceRule], cgroup: Cgroup) -> None:
    """Make ``rules`` the devices policy of the container's group, on whichever cgroup
    version its driver is (v1 files or a v2 program): ``cgroup.set_devices(rules)``."""
    cgroup.set_devices(rules)
