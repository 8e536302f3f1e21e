"""/dev in the container's root: the nodes the spec lists (and the OCI defaults on a tmpfs
of ours), the usual links; mknod refused (a user namespace) binds the host's node instead."""

from __future__ import annotations

import os
import stat

from ...errors import RootfsError
from . import linux
from .linux import MS_BIND
from .mounts import secure_join

# (name, major, minor): the devices the OCI runtime spec says every container has.
DEFAULT_DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
                   ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))


def populate_dev(root: str, devices) -> None:
    """runc's order: every device node first (the spec's defaults, then the spec's own:
    a privileged container lists every host device, /dev/ptmx among them), then /dev/ptmx
    as a link to the devpts instance's, then the other links where nothing is there yet.
    Were the links made first, /dev/ptmx would resolve through ptmx -> pts/ptmx to the
    devpts node (which can be neither unlinked nor made)."""
    # resolved inside the root, as every path of a mount step: were the image's /dev a link
    # (refused before this, in _mount_one), nodes must never be made where it points
    dev = secure_join(root, "/dev")
    for name, major, minor in DEFAULT_DEVICES:
        _mknod(os.path.join(dev, name), stat.S_IFCHR, major, minor, 0o666, 0, 0)
    make_devices(root, devices)
    ptmx = os.path.join(dev, "ptmx")
    try:
        os.unlink(ptmx)
    except FileNotFoundError:
        pass
    os.symlink("pts/ptmx", ptmx)
    for name, target in DEV_LINKS:
        if name == "ptmx" or (name == "core" and not os.path.exists("/proc/kcore")):
            continue  # as runc: no link to a file this kernel lacks
        try:
            os.symlink(target, os.path.join(dev, name))
        except FileExistsError:
            pass  # the spec's own device or a mount is there: runc leaves it


def make_devices(root: str, devices) -> None:
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for d in devices:
        # the directory resolved inside the root, the node's own name never followed: a
        # link there (an image's, or one made before) is not a way out of /dev
        parent, name = os.path.split(os.path.normpath("/" + d.path.lstrip("/")))
        if not name:
            raise RootfsError(f"The device path '{d.path}' names no file: give /dev/NAME")
        target = os.path.join(secure_join(root, parent), name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        mode = 0o666 if d.file_mode is None else d.file_mode & 0o7777
        _mknod(target, kinds[d.type], d.major, d.minor, mode, d.uid or 0, d.gid or 0, host=d.path)


def _mknod(path: str, kind: int, major: int, minor: int, mode: int, uid: int, gid: int,
           host: str | None = None) -> None:
    """A device node; one that exists is taken as made (runc: a mount or a node of the same
    name was there first). Where mknod is refused (a user namespace), the host's node of
    that path is bound over an empty file, as runc does."""
    try:
        os.mknod(path, mode | kind, os.makedev(major, minor) if kind != stat.S_IFIFO else 0)
    except FileExistsError:
        return
    except PermissionError as e:
        if host is None or not os.path.exists(host):
            raise RootfsError(f"Could not make the device {path.rsplit('/dev/', 1)[-1]}: {e.strerror}") from None
        with open(path, "a"):
            pass
        linux.mount(host, path, None, MS_BIND)
        return
    except OSError as e:
        raise RootfsError(f"Could not make the device {path.rsplit('/dev/', 1)[-1]}: {e.strerror}") from None
    os.chmod(path, mode)  # mknod applies the umask
    if uid or gid:
        os.chown(path, uid, gid)
