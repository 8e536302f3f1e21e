"""Users and groups as an image names them: its own /etc/passwd and /etc/group, never the
host's NSS (a name means what it means inside the container).

    ids = resolve_user("app", view)            # UserIds(uid=1000, gid=1000, groups=(1000, 2000), home="/home/app")
    resolve_user("1000:grp", view)             # a number needs no passwd entry; a name must have one
    resolve_owner("app:grp", view)             # COPY --chown: (uid, gid)

The rules are Docker's (moby/sys/user): `USER`/`-u` takes NAME|UID[:GROUP|GID]; a UID absent
from passwd runs with gid 0 (or the given group); the supplementary groups are those of
/etc/group that list the user by name, and the primary one. `--chown=NAME` without a group
takes the user's own group; `--chown=UID` takes the UID as GID too (the Dockerfile reference;
BuildKit and buildah do both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidArgument


class RootFiles(Protocol):
    def read_file(self, path: str) -> bytes | None: ...


@dataclass(frozen=True)
class UserIds:
    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    home: str | None = None


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


def _lines(data: bytes | None) -> list[list[str]]:
    if not data:
        return []
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line.split(":"))
    return out


def passwd(files: RootFiles) -> list[PasswdEntry]:
    out = []
    for f in _lines(files.read_file("/etc/passwd")):
        if len(f) >= 4 and f[2].isdigit() and f[3].isdigit():
            out.append(PasswdEntry(f[0], int(f[2]), int(f[3]), f[5] if len(f) > 5 else ""))
    return out


def groups(files: RootFiles) -> list[GroupEntry]:
    out = []
    for f in _lines(files.read_file("/etc/group")):
        if len(f) >= 3 and f[2].isdigit():
            members = tuple(m for m in (f[3].split(",") if len(f) > 3 else []) if m)
            out.append(GroupEntry(f[0], int(f[2]), members))
    return out


def _number(text: str) -> int | None:
    if text.isascii() and text.isdigit():
        value = int(text)
        if value < 1 << 32:
            return value
    return None


def _group_id(group: str, files: RootFiles, what: str) -> int:
    gid = _number(group)
    if gid is not None:
        return gid
    for g in groups(files):
        if g.name == group:
            return g.gid
    raise InvalidArgument(f"{what}: no group named '{group}' in the image's /etc/group "
                          "(use a number, or add the group first)")


def resolve_user(spec: str, files: RootFiles) -> UserIds:
    """USER / -u: NAME|UID[:GROUP|GID] -> the ids the process runs with."""
    user, _, group = spec.partition(":")
    what = f"user '{spec}'"
    if not user or (":" in spec and not group):
        raise InvalidArgument(f"Invalid {what}: use NAME|UID[:GROUP|GID]")
    entries = passwd(files)
    uid = _number(user)
    entry = next((p for p in entries if (p.uid == uid if uid is not None else p.name == user)), None)
    if entry is None and uid is None:
        raise InvalidArgument(f"{what}: no user named '{user}' in the image's /etc/passwd "
                              "(use a number, or add the user first)")
    if uid is None:
        uid = entry.uid
    gid = _group_id(group, files, what) if group else (entry.gid if entry is not None else 0)
    extra: list[int] = [gid]
    if not group and entry is not None:
        extra += [g.gid for g in groups(files) if entry.name in g.members]
    return UserIds(uid, gid, tuple(dict.fromkeys(extra)), entry.home if entry is not None else None)


def resolve_owner(spec: str, files: RootFiles) -> tuple[int, int]:
    """COPY/ADD --chown=USER[:GROUP]: the owner of the copied files."""
    user, _, group = spec.partition(":")
    what = f"--chown={spec}"
    if not user or (":" in spec and not group):
        raise InvalidArgument(f"Invalid {what}: use USER[:GROUP], names or numbers")
    uid = _number(user)
    gid = uid
    if uid is None:
        entry = next((p for p in passwd(files) if p.name == user), None)
        if entry is None:
            raise InvalidArgument(f"{what}: no user named '{user}' in the image's /etc/passwd "
                                  "(use a number, or add the user first)")
        uid, gid = entry.uid, entry.gid
    if group:
        gid = _group_id(group, files, what)
    return uid, gid
