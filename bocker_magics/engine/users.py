"""Users and groups as a container sees them: names looked up in the container's own
/etc/passwd and /etc/group (read from the image's layers, or from a running container's
root), never through the host's NSS. Docker's rules for `-u`:

    -u NAME          its uid, its primary gid, and every group that lists it
    -u UID           that uid; its passwd entry's gid if it has one, else 0
    -u X:GROUP       the group by name (or number) instead of the primary one
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgument, NotFound
from .changes import is_opaque

MAX_ID = 2**31 - 2


@dataclass
class ExecUser:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


def _entries(text: bytes | None, width: int) -> list[list[str]]:
    out = []
    for line in (text or b"").decode(errors="replace").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= width:
            out.append(parts)
    return out


def _number(text: str) -> int | None:
    if text.isdigit():
        n = int(text)
        if n <= MAX_ID:
            return n
    return None


def resolve(user: str, passwd: bytes | None, group: bytes | None, group_add: list[str] = ()) -> ExecUser:
    """`-u` (and --group-add) against the container's passwd and group files."""
    if not user or "\0" in user or user.count(":") > 1:
        raise InvalidArgument(f"Invalid user '{user}': use NAME, UID, NAME:GROUP or UID:GID")
    name, _, grp = user.partition(":")
    users = _entries(passwd, 7)
    groups = _entries(group, 4)
    uid = _number(name)
    entry = next((e for e in users if (e[0] == name if uid is None else _number(e[2]) == uid)), None)
    if entry is None and uid is None:
        raise NotFound(f"Unable to find user '{name}': no matching entry in the container's /etc/passwd "
                       "(give a number, e.g. -u 1000)")
    if entry is not None:
        uid = _number(entry[2])
        if uid is None:
            raise InvalidArgument(f"The container's /etc/passwd has a bad uid for '{entry[0]}'")
        gid = _number(entry[3]) or 0
        home = entry[5] or "/"
        login = entry[0]
    else:
        gid, home, login = 0, "/", None
    if grp:
        gid = group_id(grp, groups)
    extra = []
    if login is not None and not grp:
        extra = [_number(g[2]) for g in groups if login in g[3].split(",") and _number(g[2]) is not None]
    for g in group_add:
        extra.append(group_id(g, groups))
    # the primary group first, then the others: what podman and buildah write (their
    # config.json, tests/support/oci_configs/podman-options.json), so `id` lists it among the groups
    extra = [gid] + sorted({g for g in extra if g is not None and g != gid})
    return ExecUser(uid, gid, extra, home)


def group_id(text: str, groups: list[list[str]]) -> int:
    gid = _number(text)
    if gid is not None:
        return gid
    entry = next((g for g in groups if g[0] == text), None)
    if entry is None or _number(entry[2]) is None:
        raise NotFound(f"Unable to find group '{text}': no matching entry in the container's /etc/group")
    return _number(entry[2])  # type: ignore[return-value]


# -- reading a file of an image or a container ------------------------------------------------
def image_file(layer_dirs_top_first: list[Path], path: str, depth: int = 0) -> bytes | None:
    """A file as the image's merged view shows it, read from its layers (overlay form: a
    whiteout is a char device 0/0, an opaque directory hides what is below it). Symlinks are
    followed inside the image only; None when the image has no such regular file."""
    if depth > 16:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".", "..")]
    layers = list(layer_dirs_top_first)   # the layers in which the directory so far is visible
    done: list[str] = []
    for i, name in enumerate(parts):
        found = None
        below: list[Path] = []
        for layer in layers:
            candidate = layer.joinpath(*done, name)
            try:
                st = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                break  # a whiteout: gone here and below
            if found is None:
                found = (candidate, st)
            if not stat.S_ISDIR(st.st_mode):
                break  # a file hides whatever is below it
            below.append(layer)
            if is_opaque(candidate):
                break
        if found is None:
            return None
        candidate, st = found
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(candidate)
            base = "/" if target.startswith("/") else "/" + "/".join(done)
            rest = parts[i + 1:]
            return image_file(layer_dirs_top_first, os.path.normpath(os.path.join(base, target, *rest)), depth + 1)
        if i == len(parts) - 1:
            return candidate.read_bytes() if stat.S_ISREG(st.st_mode) else None
        if not stat.S_ISDIR(st.st_mode):
            return None
        done.append(name)
        layers = below
    return None


def container_file(root: str, path: str) -> bytes | None:
    """A file of a running container, through /proc/PID/root, resolved inside it (a symlink
    in the container can never make us read a host file)."""
    from .kernel.rootfs import secure_join
    try:
        target = secure_join(root, path)
        with open(target, "rb") as f:
            return f.read(1 << 20)
    except OSError:
        return None


def resolve_owner(spec: str, passwd: bytes | None, group: bytes | None) -> tuple[int, int]:
    """COPY/ADD --chown=USER[:GROUP] against the image's files: a name takes its passwd
    entry's uid and, without a group, its primary gid; a bare UID is its own GID too (the
    Dockerfile reference; BuildKit and buildah do both)."""
    if not spec or "\0" in spec or spec.count(":") > 1 or spec.startswith(":") or spec.endswith(":"):
        raise InvalidArgument(f"Invalid --chown={spec}: use USER[:GROUP], names or numbers")
    name, _, grp = spec.partition(":")
    uid = _number(name)
    gid = uid
    if uid is None:
        entry = next((e for e in _entries(passwd, 7) if e[0] == name), None)
        if entry is None or _number(entry[2]) is None:
            raise NotFound(f"--chown={spec}: no user named '{name}' in the image's /etc/passwd "
                           "(use a number, or add the user first)")
        uid, gid = _number(entry[2]), _number(entry[3]) or 0
    if grp:
        gid = group_id(grp, _entries(group, 4))
    return uid, gid  # type: ignore[return-value]
