"""The bundle: its config.json read and checked for what bocker-runc runs (runc's
specconv refuses what it can't map, in one line each), `runc spec`'s default config and
`runc features`."""

from __future__ import annotations

import os

from ....errors import Conflict, InvalidArgument, NotFound
from .state import CONFIG, OCI_VERSION
from .words import go_strerror

NAMESPACES = ("pid", "network", "mount", "ipc", "uts", "cgroup", "user")


def read_config(bundle: str, given: str | None = None) -> bytes:
    """The bundle's config.json; a missing one in runc's words (runc chdirs to the bundle
    as given, then opens config.json there)."""
    path = os.path.join(bundle, CONFIG)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        if given and not os.path.isdir(bundle):
            try:
                os.stat(bundle)
                reason = "not a directory"
            except OSError as e2:
                reason = go_strerror(e2)
            raise NotFound(f"chdir {given}: {reason}") from None
        if isinstance(e, FileNotFoundError):
            raise NotFound(f"JSON specification file {CONFIG} not found") from None
        raise InvalidArgument(f"open {CONFIG}: {go_strerror(e)}") from None


def parse_config(text: bytes, source: str):
    from ...spec import Spec
    return Spec.from_json(text, source=source)


def load_spec(bundle: str):
    return parse_config(read_config(bundle), os.path.join(bundle, CONFIG))


def spec_terminal(bundle: str | None) -> bool:
    from .... import _cjson
    try:
        with open(os.path.join(os.path.abspath(bundle or "."), CONFIG), "rb") as f:
            return bool(_cjson.loads(f.read()).get("process", {}).get("terminal"))
    except (OSError, ValueError, AttributeError):
        return False  # create reports it


def values_at(obj, parts: list[str]):
    """The values at a set_paths() path ("a.b[].c") of a JSON object."""
    if not parts:
        yield obj
        return
    key, rest = parts[0], parts[1:]
    many = key.endswith("[]")
    key = key[:-2] if many else key
    if not isinstance(obj, dict) or key not in obj:
        return
    value = obj[key]
    for v in (value if many and isinstance(value, list) else [value]):
        yield from values_at(v, rest)


def check_supported(spec) -> None:
    """Refuse, with one line, what bocker-runc does not execute: time namespaces, a new user
    namespace without its id mappings, and any field outside HONOURED that holds more than a
    zero value."""
    from ...kernel.namespaces import check_paths
    try:
        check_paths(spec.linux.namespaces)
    except ValueError as e:
        raise InvalidArgument(f"config.json: linux.namespaces: {e}") from None
    for ns in spec.linux.namespaces:
        if ns.type not in NAMESPACES and not (ns.type == "time" and ns.path):  # a time namespace: joined only
            raise InvalidArgument(f"config.json: linux.namespaces: {ns.type} namespaces are not supported by "
                                  "bocker-runc: remove it from the configuration (or use runc)")
        if ns.type == "user" and not ns.path and not (spec.linux.uid_mappings and spec.linux.gid_mappings):
            raise InvalidArgument("config.json: linux.namespaces: a new user namespace needs linux.uidMappings "
                                  "and linux.gidMappings: map the container's ids to the host's")
    from ...spec import object_json
    from ..init import HONOURED  # what of a config.json the runtime executes (create's path only)
    document = object_json(spec)  # not to_json(): that validates again what was just read
    for path in spec.unhonoured(HONOURED):
        values = list(values_at(document, path.split(".")))
        if any(v not in (0, False, "", None, [], {}) for v in values):
            raise InvalidArgument(f"config.json: {path}: not supported by bocker-runc yet; remove it from the "
                                  "configuration")


def features() -> dict:
    """What this runtime supports, in the shape of `runc features` (runc 1.1)."""
    from .... import __version__
    from ...kernel import capabilities
    from ...kernel.rootfs import FLAGS, PROPAGATION
    from ...spec import SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_OPERATORS
    names = ["CAP_" + n for n in capabilities.NAMES[:capabilities.last_cap() + 1]]
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted({*FLAGS, *PROPAGATION, "tmpcopyup"}),
        "linux": {
            "namespaces": sorted(NAMESPACES),
            "capabilities": names,
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(SECCOMP_ACTIONS), "operators": sorted(SECCOMP_OPERATORS),
                        "archs": sorted(SECCOMP_ARCHES)},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.bocker-magics.runc.version": __version__},
    }


def write_default_spec(bundle: str | None) -> str:
    """`runc spec`: the default config.json in the bundle (never over an existing one)."""
    from ...spec import default_spec
    path = os.path.join(os.path.abspath(bundle or "."), CONFIG)
    if os.path.exists(path):
        raise Conflict(f"File {path} exists. Remove it first")
    default_spec().save(path, fsync=False)
    return path
