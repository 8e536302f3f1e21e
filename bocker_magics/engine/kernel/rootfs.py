"""The container's root: an overlay of the image's layers, then pivot_root into it.

Runs in the container's first process, after it has its own mount namespace and before it
execs the command. The steps are ordered and named as in runc's rootfs_linux.go; each
unusual one says why.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

from . import linux
from .linux import (MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY,
                    MS_REC, MS_REMOUNT, MS_STRICTATIME)

# (name, major, minor): the minimal /dev of the OCI runtime spec.
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
           ("tty", 5, 0))
# What Docker and runc hide from a container: kernel memory, keys, timers, hardware.
MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap")
# ... and what it may read but never change: kernel tunables, interrupts, the magic SysRq key.
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))


class RootfsError(Exception):
    """A root that can't be prepared; the message is one line for the user."""


@dataclass
class Volume:
    host: str
    container: str
    readonly: bool = False


@dataclass
class RootfsSpec:
    layers_dir: str            # the directory the lowerdirs are relative to
    lowerdirs: list[str]       # top layer first, as overlay wants them
    upper: str
    work: str
    merged: str
    volumes: list[Volume] = field(default_factory=list)
    # the container's own cgroup directories: {"memory": dir, …} (v1) or {"unified": dir} (v2)
    cgroups: dict[str, str] = field(default_factory=dict)
    privileged: bool = False   # --privileged: no masked paths, /sys writable
    # files bound over /etc/NAME: {"hosts": path, "hostname": path, "resolv.conf": path}
    etc_files: dict[str, str] = field(default_factory=dict)


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved inside `root`, following symlinks as if `root` were '/'.

    A symlink in the image (say /data -> /etc) must never make a bind mount land on the
    host's own /etc: resolve each component ourselves, confined to the root.
    """
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 40:
                raise RootfsError(f"Too many symbolic links in '{unsafe}' inside the image")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _mkdir_in_root(root: str, path: str) -> str:
    target = secure_join(root, path)
    os.makedirs(target, exist_ok=True)
    # made by path walk, but a race with a symlink swap is impossible here: no container
    # process runs yet
    return target


def prepare(spec: RootfsSpec) -> None:
    """Mount the root and everything in it, then pivot into it. Leaves cwd at '/'."""
    # 1. Make every mount private, recursively. Hosts with systemd mount / shared; without
    #    this, the overlay and the mounts below would propagate back to the host.
    linux.mount(None, "/", None, MS_REC | MS_PRIVATE)

    # 2. The overlay. Lowerdirs are given relative to the layer store (we chdir there) so
    #    that the option string stays under the kernel's one-page limit with many layers.
    os.chdir(spec.layers_dir)
    options = f"lowerdir={':'.join(spec.lowerdirs)},upperdir={spec.upper},workdir={spec.work}"
    try:
        linux.mount("overlay", spec.merged, "overlay", 0, options)
    except OSError as e:
        if e.errno == errno.ENODEV:
            raise RootfsError("No overlayfs on this host: load it with 'modprobe overlay'") from None
        raise RootfsError(f"Could not mount the image's layers: {os.strerror(e.errno)}") from None
    root = spec.merged

    # 3. Refuse roots whose mount points are symlinks: mounting over /proc -> /host/x would
    #    put the container's proc on a host path (CVE-2019-19921 class).
    for name in ("proc", "dev", "sys"):
        path = os.path.join(root, name)
        if os.path.islink(path):
            raise RootfsError(f"The image's /{name} is a symbolic link: refusing to mount over it")
        os.makedirs(path, exist_ok=True)

    # 4. /proc, for the new pid namespace (we are its pid 1).
    linux.mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)

    # 5. A minimal /dev on tmpfs: the OCI default devices, never the host's whole /dev.
    dev = os.path.join(root, "dev")
    linux.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        os.mknod(os.path.join(dev, name), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(os.path.join(dev, name), 0o666)  # mknod applies the umask
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    for sub in ("pts", "shm", "mqueue"):
        os.mkdir(os.path.join(dev, sub))
    linux.mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620,gid=5")
    linux.mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=1777,size=65536k")
    linux.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)

    # 6. /sys read-only: a container must not reconfigure the host's devices.
    linux.mount("sysfs", os.path.join(root, "sys"), "sysfs",
                MS_NOSUID | MS_NODEV | MS_NOEXEC | (0 if spec.privileged else MS_RDONLY))

    # 6b. The container's own cgroups, read-only, at /sys/fs/cgroup: a process can read its
    #     limits and accounting (memory.limit_in_bytes, memory.max, ...) but never another
    #     group's, and never change them.
    if spec.cgroups:
        cgroot = os.path.join(root, "sys", "fs", "cgroup")
        ro_bind = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        if set(spec.cgroups) == {"unified"}:
            linux.mount(spec.cgroups["unified"], cgroot, None, MS_BIND)
            linux.mount(None, cgroot, None, ro_bind)
        else:
            linux.mount("cgroup", cgroot, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k")
            for name, directory in sorted(spec.cgroups.items()):
                target = os.path.join(cgroot, name)
                os.mkdir(target)
                linux.mount(directory, target, None, MS_BIND)
                linux.mount(None, target, None, ro_bind)
            linux.mount(None, cgroot, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

    # 6c. /etc/hosts, /etc/hostname, /etc/resolv.conf: the engine's files for this container
    #     (its name and address, the host's usable nameservers), bound over the image's.
    for name, source in sorted(spec.etc_files.items()):
        target = secure_join(root, f"/etc/{name}")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(target) or not os.path.isfile(target):
            if os.path.lexists(target) and not os.path.isdir(target):
                os.unlink(target)
            if not os.path.isdir(target):
                open(target, "a").close()
        if os.path.isfile(target):
            linux.mount(source, target, None, MS_BIND)

    # 7. Bind mounts (-v). The target is resolved inside the root, never through a link out.
    for vol in spec.volumes:
        target = _mkdir_in_root(root, vol.container)
        linux.mount(vol.host, target, None, MS_BIND | MS_REC)
        if vol.readonly:
            # a bind mount ignores MS_RDONLY on creation: it takes a remount
            linux.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)

    # 8. pivot_root, not chroot: chroot leaves the host's root reachable (the classic
    #    mkdir + chroot + cd .. escape). pivot_root(".", ".") stacks the old root under the
    #    new one; unmounting "." then detaches the old root entirely (runc's trick, no
    #    temporary directory needed).
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount2(".", MNT_DETACH)
    os.chdir("/")

    # 9. Masked and read-only paths, inside the new root (so /dev/null is the container's).
    if not spec.privileged:
        mask_paths()


def mask_paths() -> None:
    """Hide MASKED_PATHS (a file gets /dev/null bound over it, a directory an empty read-only
    tmpfs) and make READONLY_PATHS read-only bind mounts of themselves."""
    for path in MASKED_PATHS:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            linux.mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k")
        else:
            linux.mount("/dev/null", path, None, MS_BIND)
    for path in READONLY_PATHS:
        if not os.path.exists(path):
            continue
        linux.mount(path, path, None, MS_BIND | MS_REC)
        linux.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC)
