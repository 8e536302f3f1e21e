#!/bin/busybox sh
# Stage 1 of the v2vm guest: PID 1 inside the initramfs built by run.sh.
#
# Loads the few modules the Debian kernel has as modules (virtio, 9p, overlay,
# veth, ...), mounts the host's root (9p, read-only) under a tmpfs overlay so
# that the guest can write anywhere without touching the host, mounts the
# caller's work directory (9p, read-write) at the same path as on the host,
# mounts ONLY cgroup2 at /sys/fs/cgroup, and switch_roots into stage 2
# (init2.sh), which runs the command and powers off.
#
# Everything goes wrong loudly: a failure writes ctl/error and powers off, so
# that run.sh can tell "the VM could not boot" from "the command failed".

/bin/busybox mkdir -p /proc /sys /dev /ctl /lower /rw /newroot /usr/bin /sbin
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

KVER=$(uname -r)

die() {
    echo "v2vm stage1: $*" >/dev/console
    if mountpoint -q /ctl; then
        echo "stage1: $*" >/ctl/error
        sync
    fi
    poweroff -f
    sleep 5
    echo o >/proc/sysrq-trigger
}

# Modules that are not built into Debian's generic kernel. modprobe resolves
# their dependencies from the small modules.dep baked into the initramfs.
for m in virtio_pci virtio_console 9pnet_virtio 9p overlay; do
    modprobe "$m" || die "cannot load module $m"
done
# Nice to have early; everything else loads on demand from /lib/modules.
for m in veth bridge; do modprobe "$m" 2>/dev/null; done

P9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$P9,cache=none" v2vm_ctl /ctl || die "cannot mount the control share"

WORKDIR=$(cat /ctl/workdir)
MODDIR=$(cat /ctl/moddir)          # the unpacked kernel's modules, a host path
HOSTNAME_=$(cat /ctl/hostname 2>/dev/null)

# The host's root, read-only. cache=loose: the host's system files don't change
# under a test run, and it makes imports much faster.
mount -t 9p -o "$P9,cache=loose,ro" v2vm_root /lower || die "cannot mount the host root"

# A tmpfs overlay on top of it, so that the guest may write anywhere
# (/etc, /root, /var/...) and all of it vanishes with the VM.
mount -t tmpfs -o mode=0755 rw /rw || die "cannot mount tmpfs"
mkdir -p /rw/upper /rw/work
if mount -t overlay -o "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work" overlay /newroot 2>/dev/null; then
    echo overlay >/rw/rootmode
else
    # Fall back to the bare read-only root with tmpfs over the usual places.
    echo "v2vm stage1: overlay root failed, using the read-only 9p root" >/dev/console
    mount --bind /lower /newroot || die "cannot bind the host root"
    echo readonly >/rw/rootmode
fi

# Fresh tmpfs where tests and the engine write; empty, whatever the host has.
for d in /tmp /var/tmp /run /var/lib/bocker $(cat /ctl/tmpfs 2>/dev/null); do
    mkdir -p "/newroot$d" 2>/dev/null
    case "$d" in
        /tmp|/var/tmp) mode=1777 ;;
        *) mode=0755 ;;
    esac
    mount -t tmpfs -o "mode=$mode" tmpfs "/newroot$d" || die "cannot mount tmpfs on $d"
done
if [ "$(cat /rw/rootmode)" = readonly ]; then
    # Without the overlay nothing else is writable; /lib/modules must be, to
    # hold the mount point below.
    mount -t tmpfs -o mode=0755 tmpfs /newroot/lib/modules
fi

# The kernel's modules where modprobe expects them (host has other kernels').
mkdir -p "/newroot/lib/modules/$KVER"
mount --bind "/lower$MODDIR" "/newroot/lib/modules/$KVER" || die "cannot bind $MODDIR"

# The caller's work directory, read-write, at the same path as on the host.
mkdir -p "/newroot$WORKDIR" 2>/dev/null
mount -t 9p -o "$P9,cache=none" v2vm_work "/newroot$WORKDIR" || die "cannot mount the work directory $WORKDIR"

# The API filesystems, cgroup v2 ONLY (the kernel runs with cgroup_no_v1=all).
mount --move /proc /newroot/proc || die "cannot move /proc"
mount --move /sys /newroot/sys || die "cannot move /sys"
mount --move /dev /newroot/dev || die "cannot move /dev"
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /newroot/sys/fs/cgroup \
    || mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup || die "cannot mount cgroup2"
mkdir -p /newroot/dev/pts /newroot/dev/shm /newroot/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
mount -t mqueue mqueue /newroot/dev/mqueue 2>/dev/null

# Stage 2 and its busybox live on the guest's /run, independent of the host.
mkdir -p /newroot/run/v2vm/bin /newroot/run/v2vm/ctl
cp /bin/busybox /newroot/run/v2vm/busybox
cp /init2 /newroot/run/v2vm/init2
cp /rw/rootmode /newroot/run/v2vm/rootmode
ln -s ../busybox /newroot/run/v2vm/bin/modprobe
mount --move /ctl /newroot/run/v2vm/ctl || die "cannot move the control share"
echo /run/v2vm/bin/modprobe >/newroot/proc/sys/kernel/modprobe

[ -n "$HOSTNAME_" ] && hostname "$HOSTNAME_"
ip link set lo up

exec switch_root /newroot /run/v2vm/busybox sh /run/v2vm/init2
die "switch_root failed"
