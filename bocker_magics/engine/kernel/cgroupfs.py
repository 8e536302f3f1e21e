"""What a container's status reads from its cgroup: whether it is frozen, which processes it
holds. The cgroup drivers (kernel/cgroups/: Cgroup.pids, is_frozen) read them through these
functions, and so does bocker-runc's state on its per-verb path (start, kill, delete, state),
which must not import the drivers: a caller starts an interpreter per verb.

A group's directories come as the drivers' ``paths()`` give them (and as a container's
state.json keeps them): hierarchy or controller -> directory. On v1 the freezer controller's
``freezer.state`` says FROZEN; on v2 ``cgroup.events`` says ``frozen 1`` (``cgroup.freeze``
is only the request, the kernel may still be freezing).

Stdlib only: os.
"""

from __future__ import annotations

import os

V2_HIERARCHY = "unified"  # the key of a v2 group's one directory (cgroups/v2.py's HIERARCHY)


def read(path: str) -> str | None:
    # os.open and os.read, not open(): no buffer or text layer to set up (fstat, ioctl,
    # lseek), a third of the syscalls; `ps` reads the freezer of every running container
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def v1_freezer_state(freezer_dir: str) -> str | None:
    """THAWED, FREEZING or FROZEN; None when the group (or its freezer) is gone."""
    text = read(os.path.join(freezer_dir, "freezer.state"))
    return None if text is None else text.strip()


def v2_frozen(group_dir: str) -> bool | None:
    """Whether cgroup.events says the group is frozen; None when the group is gone."""
    text = read(os.path.join(group_dir, "cgroup.events"))
    return None if text is None else _events_say_frozen(text)


def _events_say_frozen(text: str) -> bool:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "frozen":
            return value.strip() == "1"
    return False


def frozen(paths: dict[str, str]) -> bool:
    """Whether the group with these directories is frozen (False when it is gone)."""
    if "freezer" in paths:
        return v1_freezer_state(paths["freezer"]) == "FROZEN"
    if V2_HIERARCHY in paths:
        return bool(v2_frozen(paths[V2_HIERARCHY]))
    return False


def procs(dirs) -> list[int]:
    """Every process in the group's directories (any hierarchy), as this pid namespace sees them."""
    found: set[int] = set()
    for d in dict.fromkeys(dirs):
        text = read(os.path.join(d, "cgroup.procs"))
        if text:
            found.update(int(x) for x in text.split())
    return sorted(found)


def frozen_file(paths: dict[str, str]) -> str | None:
    """The file that says whether the group with these directories is frozen (v1's
    freezer.state, v2's cgroup.events), for a reader that keeps it open and reads it again
    (container/probes.py); None when the group has no freezer."""
    if "freezer" in paths:
        return os.path.join(paths["freezer"], "freezer.state")
    if V2_HIERARCHY in paths:
        return os.path.join(paths[V2_HIERARCHY], "cgroup.events")
    return None


def frozen_in(path: str, text: str) -> bool:
    """What frozen_file's `path` says, its `text` read: FROZEN (v1), "frozen 1" (v2)."""
    if path.endswith("/freezer.state"):
        return text.strip() == "FROZEN"
    return _events_say_frozen(text)
