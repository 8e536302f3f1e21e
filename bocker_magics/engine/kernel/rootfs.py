"""The container's root, from the spec: its mounts in order, /dev, pivot_root, then the
masked and read-only paths.

Runs in the container's first process, after it has its own mount namespace and before it
execs the command. The steps are ordered and named as in runc's rootfs_linux.go; each
unusual one says why. Two modes share every step: the engine's, where the root is an overlay
of the image's layers mounted here first (never in the host's namespace), and a runtime's
(bocker-runc), where the bundle's root directory is already filled in. The mount options and
paths resolved inside the root are mounts.py's; the nodes of /dev, devfs.py's.
"""

from __future__ import annotations

import errno
import os
import stat

from ..._record import Record
from ...errors import RootfsError
from . import linux, userns
from .devfs import make_devices, populate_dev
from .linux import (
    MNT_DETACH,
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
)
from .mounts import (  # noqa: F401  (FLAGS, PROPAGATION, secure_join: the callers')
    FLAGS,
    PROPAGATION,
    MountOptions,
    mask_path,
    parse_options,
    readonly_path,
    secure_join,
)

# Mount types whose mount point must be a real directory of the root: mounting them over a
# symlink would put the kernel's files on whatever path the image points at (CVE-2019-19921).
KERNEL_FS = ("proc", "sysfs")
KERNEL_DIRS = ("/proc", "/sys", "/dev")


class Overlay(Record):
    """The image's layers, for the engine's containers: mounted at the root first."""

    __slots__ = ("layers_dir", "lowerdirs", "upper", "work")

    def __init__(self, layers_dir: str, lowerdirs: list[str], upper: str, work: str) -> None:
        self.layers_dir = layers_dir  # the directory the lowerdirs are relative to
        self.lowerdirs = lowerdirs  # top layer first, as overlay wants them
        self.upper = upper
        self.work = work


class RootContext(Record):
    """What preparing the root needs besides the spec."""

    __slots__ = ("root", "overlay", "cgroups", "no_pivot", "userns_fd", "mapped_root", "userns_maps")

    def __init__(
        self,
        root: str,
        overlay: Overlay | None = None,
        cgroups: dict[str, str] | None = None,
        no_pivot: bool = False,
        userns_fd: int | None = None,
        mapped_root: tuple[int, int] | None = None,
        userns_maps: tuple[bytes, bytes] = (b"", b""),
    ) -> None:
        self.root = root  # the root's absolute path
        self.overlay = overlay
        # the container's own cgroup directories: {"memory": dir, …} (v1) or {"unified": dir} (v2),
        # bound read-only where the spec mounts type "cgroup"
        self.cgroups = {} if cgroups is None else cgroups
        self.no_pivot = no_pivot  # bocker-runc --no-pivot (a root on a ramfs)
        # with a user namespace (kernel/userns.py): an fd of it, and the host's (uid, gid) of its
        # root; the engine's overlay is then made of idmapped layers
        self.userns_fd = userns_fd
        self.mapped_root = mapped_root
        self.userns_maps = userns_maps  # its uid_map and gid_map, as written


def _make_mount_point(target: str, source_is_dir: bool) -> None:
    """A directory (or, for a file bound over a file, an empty file) to mount on. Made by
    path walk, but a race with a symlink swap is impossible here: no container process
    runs yet."""
    if source_is_dir:
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.lexists(target):
        with open(target, "a"):
            pass


def prepare(spec, ctx: RootContext, before_pivot=None) -> None:
    """Everything up to and including pivot_root; leaves cwd at '/'. The caller sets the
    hostname, sysctls and the console, then calls finalize(). before_pivot() runs with every
    mount made, just before pivot_root: where runc runs the OCI hooks of those phases."""
    _cut_propagation(spec, ctx.root)
    _mount_root(ctx)
    dev_is_tmpfs = _mount_spec_mounts(spec, ctx)
    # 4. /dev: on a tmpfs of ours, the spec's default devices and its own (never the host's
    #    whole /dev), and the usual links.
    if dev_is_tmpfs:
        populate_dev(ctx.root, spec.linux.devices)
    else:
        make_devices(ctx.root, spec.linux.devices)
    if before_pivot is not None:
        before_pivot()
    _pivot(ctx)


def _cut_propagation(spec, root: str) -> None:
    """1. Mount propagation: nothing we mount may reach the host. Hosts with systemd mount /
    shared; the spec's choice, or runc's default rslave (the host's later mounts still reach
    binds that ask for them, ours never go back), cuts every link back first. Were it shared
    (rshared: a pod's Bidirectional mounts), the mount the root lives on is made private:
    pivot_root refuses a shared parent, and our bind of the root must not propagate to the
    host (runc's rootfsParentMountPrivate).
    An unbindable root is made so after pivot_root (finalize): an unbindable mount can't be
    bound, and the root is bound onto itself below; private until then."""
    propagation = spec.linux.rootfs_propagation
    first = MS_PRIVATE | MS_REC if "unbindable" in propagation else PROPAGATION.get(propagation, MS_SLAVE | MS_REC)
    linux.mount(None, "/", None, first)
    _parent_mount_private(root)


def _mount_root(ctx: RootContext) -> None:
    """2. The root itself: the image's layers as one overlay (engine), or the bundle's
    directory bound onto itself (pivot_root needs a mount point)."""
    root = ctx.root
    if ctx.overlay is None:
        if not os.path.isdir(root):
            raise RootfsError(f"The root {root} is not a directory: fill the bundle's root first")
        linux.mount(root, root, None, MS_BIND | MS_REC)
        return
    ov = ctx.overlay
    # lowerdirs relative to the layer store (we chdir there): the option string stays
    # under the kernel's one-page limit with many layers
    try:
        if ctx.userns_fd is not None:
            _idmap_layers(ov, ctx)
        os.chdir(ov.layers_dir)
        options = f"lowerdir={':'.join(ov.lowerdirs)},upperdir={ov.upper},workdir={ov.work}"
        linux.mount("overlay", root, "overlay", 0, options)  # overlayfs keeps its mounter's fs ids
    except RootfsError:
        raise
    except OSError as e:
        if e.errno == errno.ENODEV:
            raise RootfsError("No overlayfs on this host: load it with 'modprobe overlay'") from None
        raise RootfsError(f"Could not mount the image's layers: {os.strerror(e.errno)}") from None


def _mount_spec_mounts(spec, ctx: RootContext) -> bool:
    """3. The spec's mounts, in order; each target resolved inside the root. True when /dev
    is a tmpfs of the spec's (then populated as ours)."""
    dev_is_tmpfs = False
    for i, m in enumerate(spec.mounts):
        where = f"mounts[{i}] ({m.destination})"
        if not m.destination.startswith("/"):
            raise RootfsError(f"The mount destination '{m.destination}' is not absolute: give /path")
        _mount_one(ctx.root, m, ctx, where)
        if os.path.normpath(m.destination) == "/dev" and m.type == "tmpfs":
            dev_is_tmpfs = True
    return dev_is_tmpfs


def _pivot(ctx: RootContext) -> None:
    """5. pivot_root, not chroot: chroot leaves the host's root reachable (the classic
    mkdir + chroot + cd .. escape). pivot_root(".", ".") stacks the old root under the new
    one; unmounting "." then detaches the old root entirely (runc's trick, no temporary
    directory needed)."""
    os.chdir(ctx.root)
    if ctx.no_pivot:
        linux.mount(ctx.root, "/", None, MS_MOVE)
        os.chroot(".")
    else:
        old_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            linux.pivot_root(".", ".")
            # the old root, stacked over the new one, reached through an fd of it (runc's
            # fchdir: "." from the new root's directory is the new root): rslave before the
            # unmount, so that with a shared root propagation the unmount never reaches the host
            os.fchdir(old_root)
        finally:
            os.close(old_root)
        linux.mount(None, ".", None, MS_SLAVE | MS_REC)
        linux.umount2(".", MNT_DETACH)
    os.chdir("/")


def _parent_mount_private(path: str) -> None:
    """The mount that holds `path` (the longest mount point above it in mountinfo), made
    private when it is shared."""
    best, shared = "", False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                optional = fields[6:fields.index("-")]
                best, shared = point, any(o.startswith("shared:") for o in optional)
    if best and shared:
        linux.mount(None, best, None, MS_PRIVATE)


def _idmap_layers(ov: Overlay, ctx: RootContext) -> None:
    """--userns=remap: the layer store and the container's upper and work directories seen
    through idmapped mounts (over themselves, in this mount namespace only), so that the
    image's root files are the container's root's, and what it writes is stored as its own
    ids (kernel/userns.py)."""
    if ctx.mapped_root is None:
        raise RootfsError("The user namespace maps no host id to the container's root (0): "
                          "map 0 in linux.uidMappings and linux.gidMappings")
    own = os.path.commonpath([ov.upper, ov.work])
    for path in (ov.layers_dir, own):
        try:
            userns.idmap_over(path, ctx.userns_fd)
        except OSError as e:
            raise RootfsError(f"Could not show the image to the user namespace: {e.strerror}; "
                              "run without --userns=remap") from None


def finalize(spec) -> None:
    """After sysctls and the console: masked and read-only paths (inside the new root, so
    /dev/null is the container's), then a read-only root."""
    for path in spec.linux.masked_paths:
        mask_path(path)
    for path in spec.linux.readonly_paths:
        readonly_path(path)
    if spec.root.readonly:
        linux.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    if spec.linux.rootfs_propagation in ("shared", "rshared", "unbindable", "runbindable", "private",
                                         "rprivate"):
        linux.mount(None, "/", None, PROPAGATION[spec.linux.rootfs_propagation])


def _mount_one(root: str, m, ctx: RootContext, where: str) -> None:
    opts = parse_options(m.options, where)
    top = os.path.normpath(m.destination)
    if top in KERNEL_DIRS and os.path.islink(os.path.join(root, top.lstrip("/"))):
        raise RootfsError(f"The image's {top} is a symbolic link: refusing to mount over it")
    kind = m.type or ("bind" if opts.bind else "")
    if kind == "bind" or opts.bind:
        _bind(root, m, opts, where, ctx)
        return
    if kind == "cgroup":
        _cgroup(root, m, opts, ctx)
        return
    if not kind:
        raise RootfsError(f"The mount {where} has no type: give one (proc, tmpfs, bind, ...)")
    if m.uid_mappings or m.gid_mappings:
        raise RootfsError(f"The mount on {m.destination} has uidMappings: only bind mounts can be idmapped")
    target = secure_join(root, m.destination)
    if kind in KERNEL_FS and os.path.islink(os.path.join(root, m.destination.lstrip("/"))):
        raise RootfsError(f"The image's {m.destination} is a symbolic link: refusing to mount {kind} over it")
    if os.path.normpath(m.destination).startswith("/proc/") and kind != "proc":
        raise RootfsError(f"Refusing to mount over {m.destination}: /proc is the kernel's")
    os.makedirs(target, exist_ok=True)
    # tmpcopyup (podman's --read-only /run, /tmp): the directory, before the tmpfs covers it,
    # stays reachable through this fd, and its files are copied onto the tmpfs
    below = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if opts.copy_up and kind == "tmpfs" else None
    try:
        linux.mount(m.source or kind, target, kind, opts.flags, ",".join(opts.data) or None)
        if below is not None:
            copy_tree(f"/proc/self/fd/{below}", target)
    except OSError as e:
        raise RootfsError(f"Could not mount {kind} on {m.destination}: {os.strerror(e.errno)}") from None
    finally:
        if below is not None:
            os.close(below)
    for p in opts.propagation:
        linux.mount(None, target, None, p)


def copy_tree(source: str, target: str) -> None:
    """Copy what `source` holds into the existing directory `target`: files, directories,
    symbolic links and special files, with their modes and owners (what `cp -a` keeps, and
    runc's tmpcopyup). Runs before pivot_root, in the container's mount namespace."""
    with os.scandir(source) as entries:
        for e in entries:
            src, dst = e.path, os.path.join(target, e.name)
            st = e.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), dst)
            elif stat.S_ISDIR(st.st_mode):
                os.mkdir(dst)
                copy_tree(src, dst)
            elif stat.S_ISREG(st.st_mode):
                with open(src, "rb") as fin, open(dst, "wb") as fout:
                    while chunk := fin.read(1 << 20):
                        fout.write(chunk)
            else:  # fifos, sockets, device nodes
                os.mknod(dst, st.st_mode, st.st_rdev)
            os.lchown(dst, st.st_uid, st.st_gid)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(dst, stat.S_IMODE(st.st_mode))


def _bind(root: str, m, opts: MountOptions, where: str, ctx: RootContext) -> None:
    source = m.source
    if not source.startswith("/"):
        raise RootfsError(f"The bind mount {where} needs an absolute source, not '{source}'")
    try:
        st = os.stat(source)
    except OSError as e:
        raise RootfsError(f"The source of {m.destination}, {source}, is unusable: {e.strerror}") from None
    dest = os.path.normpath(m.destination)
    if dest == "/proc" or dest.startswith("/proc/"):
        raise RootfsError(f"Refusing to bind over {m.destination}: /proc is the kernel's")
    target = secure_join(root, m.destination)
    _make_mount_point(target, stat.S_ISDIR(st.st_mode))
    flags = MS_BIND | (opts.flags & MS_REC)
    try:
        linux.mount(source, target, None, flags)
        # a bind mount ignores most flags on creation: ro, nosuid, ... take a remount
        rest = opts.flags & ~(MS_BIND | MS_REC | MS_REMOUNT)
        if rest:
            linux.mount(None, target, None, MS_BIND | MS_REMOUNT | rest)
        if m.uid_mappings or m.gid_mappings:
            _idmap_mount(target, m, ctx)
        for p in opts.propagation:
            linux.mount(None, target, None, p)
    except OSError as e:
        raise RootfsError(f"Could not bind {source} on {m.destination}: {os.strerror(e.errno)}") from None


def _idmap_mount(target: str, m, ctx: RootContext) -> None:
    """A mount's own uidMappings/gidMappings (runtime-spec 1.1): an idmapped mount of it, on-disk
    containerID shown as hostID (the engine gives --userns=remap's named volumes and etc files
    the container's mappings: its user namespace serves, no other is made)."""
    if not (m.uid_mappings and m.gid_mappings):
        raise RootfsError(f"The mount on {m.destination} has only one of uidMappings and gidMappings: give both")
    maps = (userns.map_text(m.uid_mappings), userns.map_text(m.gid_mappings))
    ours = ctx.userns_fd is not None and maps == ctx.userns_maps
    fd = ctx.userns_fd if ours else userns.make(m.uid_mappings, m.gid_mappings)
    try:
        userns.idmap_over(target, fd)
    finally:
        if not ours:
            os.close(fd)


def _cgroup(root: str, m, opts: MountOptions, ctx: RootContext) -> None:
    """The container's own cgroups, read-only (unless the spec says rw), at the mount point:
    a process can read its limits and accounting (memory.limit_in_bytes, memory.max, ...)
    but never another group's."""
    cgroot = secure_join(root, m.destination)
    os.makedirs(cgroot, exist_ok=True)
    groups = ctx.cgroups
    if not groups:
        return
    ro = MS_RDONLY if opts.flags & MS_RDONLY else 0
    bind_flags = MS_BIND | MS_REMOUNT | ro | MS_NOSUID | MS_NODEV | MS_NOEXEC
    if set(groups) == {"unified"}:
        linux.mount(groups["unified"], cgroot, None, MS_BIND)
        linux.mount(None, cgroot, None, bind_flags)
        return
    linux.mount("cgroup", cgroot, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k")
    for name, directory in sorted(groups.items()):
        target = os.path.join(cgroot, name)
        os.mkdir(target)
        linux.mount(directory, target, None, MS_BIND)
        linux.mount(None, target, None, bind_flags)
    linux.mount(None, cgroot, None, MS_REMOUNT | ro | MS_NOSUID | MS_NODEV | MS_NOEXEC)


