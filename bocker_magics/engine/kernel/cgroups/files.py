"""The cgroup filesystem: its files read and written (one clear error for a refused limit),
and its mounts found in mountinfo. Stdlib only (common.py's rule: the shim imports it)."""

from __future__ import annotations

import errno
import os

from bocker_magics._record import Value
from bocker_magics.errors import BockerError, InvalidArgument

from ..cgroupfs import read as read_text  # the file's text, or None when it does not exist


def read_int(path: str) -> int | None:
    """An integer file; None when missing, or when it holds "max"."""
    text = read_text(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    return int(text)


def read_keyed(path: str) -> dict[str, int] | None:
    """A flat keyed file ("key value" lines: cpu.stat, memory.events, memory.oom_control)."""
    text = read_text(path)
    if text is None:
        return None
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def write_file(path: str, value: str) -> None:
    """Write a control file with one write(2), so the kernel's error surfaces here.

    (A buffered ``open().write`` would report it only at close, if at all.)
    """
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def write_limit(path: str, value: str, label: str) -> None:
    """Write one limit; the kernel's refusal becomes one line naming the limit and value."""
    try:
        write_file(path, value)
    except OSError as e:
        name = os.path.basename(path)
        cls = InvalidArgument if e.errno in (errno.EINVAL, errno.ERANGE, errno.EBUSY) else BockerError
        raise cls(
            f"the kernel refused {label} ({name}={value.strip()}: {e.strerror}); choose another value"
        ) from None


def rmdir_quiet(path: str) -> bool:
    """rmdir; True when the directory is gone (or never was)."""
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- mounts


class Mount(Value):
    """One line of /proc/self/mountinfo."""

    __slots__ = ("mount_point", "root", "fstype", "super_options")

    def __init__(self, mount_point: str, root: str, fstype: str, super_options: tuple[str, ...]) -> None:
        self.mount_point = mount_point
        self.root = root
        self.fstype = fstype
        self.super_options = super_options


def _unescape(s: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 3 < len(s) and s[i + 1 : i + 4].isdigit():
            out.append(chr(int(s[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def read_mounts(path: str = "/proc/self/mountinfo") -> list[Mount]:
    """The cgroup and cgroup2 mounts of this mount namespace, in mountinfo order."""
    mounts = []
    with open(path) as f:
        for line in f:
            if "cgroup" not in line:
                continue
            left, sep, right = line.partition(" - ")
            if not sep:
                continue
            lf, rf = left.split(), right.split()
            if len(lf) < 5 or len(rf) < 3 or rf[0] not in ("cgroup", "cgroup2"):
                continue
            mounts.append(Mount(_unescape(lf[4]), _unescape(lf[3]), rf[0], tuple(rf[2].split(","))))
    return mounts
