#!/usr/bin/env bash
# tests/support/v2vm/run.sh COMMAND [ARG...]
#
# Runs COMMAND as root inside a small KVM virtual machine whose kernel has ONLY
# cgroup v2 (mounted at /sys/fs/cgroup, every controller enabled for the root's
# children), so that the engine's cgroup v2 driver can be tested for real on a
# host that runs cgroup v1 (or hybrid).
#
# In the guest:
#   - the host's root filesystem, read-only over 9p, under a tmpfs overlay:
#     the guest may write anywhere, and nothing of it reaches the host;
#   - fresh, empty tmpfs on /tmp, /var/tmp, /run, /var/lib/bocker (and the
#     directories listed in V2VM_TMPFS);
#   - the work directory (V2VM_WORKDIR, default: the current directory),
#     READ-WRITE over 9p at the same path as on the host; COMMAND runs there;
#   - proc, sysfs, devtmpfs, devpts, overlayfs, network namespaces, veth,
#     bridge (loopback only: the VM has no network device);
#   - the Debian kernel's modules at /lib/modules/$(uname -r) and a busybox
#     modprobe, so that the kernel loads more modules on demand.
# COMMAND's stdout and stderr come to this script's stdout, line by line (a
# virtio console; the kernel's own console goes to a log shown on failure).
# The exit status is COMMAND's; 124 if the VM ran past V2VM_TIMEOUT; 125 if the
# VM did not boot or did not report a status.
#
# A shell pipeline: tests/support/v2vm/run.sh sh -c 'cat /proc/self/cgroup && true'
#
# Environment:
#   V2VM_TIMEOUT  seconds before qemu is killed (default 300)
#   V2VM_MEM      guest memory in MiB (default 2048)
#   V2VM_CPUS     guest CPUs (default: the host's count)
#   V2VM_WORKDIR  directory shared read-write and cd'ed to (default: $PWD)
#   V2VM_TMPFS    more guest directories to cover with tmpfs (space separated)
#   V2VM_PASSENV  names of more variables to pass to COMMAND (PATH always is)
#   V2VM_CGROUP   run COMMAND in this cgroup (e.g. /test.scope) instead of the
#                 root cgroup, as under systemd
#   V2VM_CACHE    kernel and initramfs cache (default /var/cache/bocker-v2vm)
#   V2VM_KERNEL_PKG  Debian package whose kernel to fetch (linux-image-amd64)
#   V2VM_VERBOSE=1   print timings; V2VM_DEBUG=1: kernel console to stderr
#
# tests/support/v2vm/run.sh --prepare   fetches the kernel and builds the initramfs only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${V2VM_CACHE:-/var/cache/bocker-v2vm}
TIMEOUT=${V2VM_TIMEOUT:-300}
MEM=${V2VM_MEM:-2048}
CPUS=${V2VM_CPUS:-$(nproc)}
KPKG=${V2VM_KERNEL_PKG:-linux-image-amd64}
BUSYBOX=${V2VM_BUSYBOX:-/usr/bin/busybox}
# Modules the initramfs needs (they are modules, not built in, in Debian's
# kernel); init.sh modprobes them.
INITRD_MODULES="virtio_pci virtio_console 9pnet_virtio 9p overlay veth bridge"

log() { echo "v2vm: $*" >&2; }
die() { log "$*"; exit 125; }

if [ $# -lt 1 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

now() { date +%s.%N; }
T0=$(now)

# --- kernel: a Debian kernel package, unpacked (never installed) ------------
fetch_kernel() {
    local pkg tmp kver dest
    pkg=$(apt-cache depends "$KPKG" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}') || true
    if [ -z "$pkg" ]; then
        log "apt lists lack $KPKG; running apt-get update"
        apt-get update -qq >&2 || true
        pkg=$(apt-cache depends "$KPKG" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}') || true
    fi
    [ -n "$pkg" ] || die "cannot find the kernel package behind $KPKG"
    log "fetching $pkg into $CACHE (once)"
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2) \
        || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    dpkg -x "$tmp"/*.deb "$tmp/x"
    kver=$(ls "$tmp/x/lib/modules" | head -n1)
    [ -n "$kver" ] && [ -f "$tmp/x/boot/vmlinuz-$kver" ] || { rm -rf "$tmp"; die "no kernel in $pkg"; }
    dest="$CACHE/kernel-$kver"
    rm -rf "$dest"
    mkdir -p "$dest/lib/modules"
    mv "$tmp/x/boot/vmlinuz-$kver" "$dest/vmlinuz"
    mv "$tmp/x/boot/config-$kver" "$dest/config"
    mv "$tmp/x/lib/modules/$kver" "$dest/lib/modules/$kver"
    # Hardware a VM without devices never needs: saves ~250 MB of cache.
    (cd "$dest/lib/modules/$kver/kernel" && rm -rf sound drivers/gpu drivers/media \
        drivers/infiniband drivers/net/wireless drivers/net/ethernet drivers/staging \
        drivers/scsi drivers/usb drivers/iio drivers/hid drivers/input drivers/bluetooth \
        drivers/mtd drivers/video drivers/hwmon drivers/platform drivers/nfc drivers/isdn \
        drivers/mmc drivers/thunderbolt drivers/net/can drivers/net/usb drivers/misc)
    "$BUSYBOX" depmod -b "$dest" "$kver"
    echo "$kver" >"$dest/kver"
    rm -rf "$tmp"
    ln -sfn "kernel-$kver" "$CACHE/kernel.new" && mv -T "$CACHE/kernel.new" "$CACHE/kernel"
}

# --- initramfs: busybox, init.sh, init2.sh and the few modules --------------
build_initramfs() {   # $1 kernel dir, $2 kver, $3 output
    local kdir=$1 kver=$2 out=$3 stage moddir seen m rel dep
    moddir="$kdir/lib/modules/$kver"
    stage=$(mktemp -d "$CACHE/.initramfs.XXXXXX")
    mkdir -p "$stage/bin" "$stage/lib/modules/$kver"
    cp "$BUSYBOX" "$stage/bin/busybox"
    cp "$HERE/init.sh" "$stage/init"
    cp "$HERE/init2.sh" "$stage/init2"
    chmod 755 "$stage/init" "$stage/bin/busybox"
    # The modules and everything they depend on, from modules.dep.
    local -a want=($INITRD_MODULES)
    seen=" "
    while [ ${#want[@]} -gt 0 ]; do
        m=${want[0]//-/_}; want=("${want[@]:1}")
        case "$seen" in *" $m "*) continue ;; esac
        seen="$seen$m "
        rel=$(awk -v m="$m" -F: '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); if (n == m) { print $1; exit } }' "$moddir/modules.dep")
        [ -n "$rel" ] || { rm -rf "$stage"; die "module $m not in $moddir/modules.dep"; }
        mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
        cp "$moddir/$rel" "$stage/lib/modules/$kver/$rel"
        for dep in $(awk -v r="$rel:" '$1 == r { $1 = ""; print; exit }' "$moddir/modules.dep"); do
            dep=${dep##*/}; dep=${dep%%.ko*}
            want+=("${dep//-/_}")
        done
    done
    "$BUSYBOX" depmod -b "$stage" "$kver"
    (cd "$stage" && find . -mindepth 1 | "$BUSYBOX" cpio -o -H newc >"$out.tmp" 2>/dev/null)
    mv "$out.tmp" "$out"
    rm -rf "$stage"
}

prepare() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    [ -f "$CACHE/kernel/kver" ] && [ -f "$CACHE/kernel/vmlinuz" ] || fetch_kernel
    KDIR=$(readlink -f "$CACHE/kernel")
    KVER=$(cat "$KDIR/kver")
    # An uncompressed vmlinux boots seconds faster (PVH entry, no xz in guest).
    if [ ! -f "$KDIR/vmlinux" ] && [ ! -f "$KDIR/vmlinux.none" ]; then
        python3 "$HERE/extract_vmlinux.py" "$KDIR/vmlinuz" "$KDIR/vmlinux" || touch "$KDIR/vmlinux.none"
    fi
    KERNEL="$KDIR/vmlinuz"
    [ -f "$KDIR/vmlinux" ] && KERNEL="$KDIR/vmlinux"
    local sum
    sum=$(cat "$HERE/init.sh" "$HERE/init2.sh" <(echo "$KVER $INITRD_MODULES") <(stat -c '%s %Y' "$BUSYBOX") \
        | sha256sum | cut -c1-16)
    INITRD="$CACHE/initramfs-$sum.cpio"
    [ -f "$INITRD" ] || build_initramfs "$KDIR" "$KVER" "$INITRD"
    exec 9>&-
}

[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (tests/support/v2vm/setup.sh installs busybox-static)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (run tests/support/v2vm/setup.sh)"
prepare
if [ "$1" = --prepare ]; then
    log "ready: kernel $KVER, $INITRD"
    exit 0
fi

WORKDIR=$(cd "${V2VM_WORKDIR:-$PWD}" && pwd -P)

# --- the control share: what to run, and where the guest reports back -------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/v2vm.XXXXXX")
QPID= CATPID=
cleanup() {
    if [ -n "$CATPID" ]; then kill "$CATPID" 2>/dev/null || true; fi
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
        kill -TERM "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

CTL="$TMP/ctl"
mkdir -p "$CTL"
printf '%s\n' "$WORKDIR" >"$CTL/workdir"
printf '%s\n' "$KDIR/lib/modules/$KVER" >"$CTL/moddir"
hostname >"$CTL/hostname" 2>/dev/null || true
printf '%s\n' ${V2VM_TMPFS:-} >"$CTL/tmpfs"
{
    echo '#!/bin/bash'
    printf 'export PATH=%q\n' "${PATH}:/run/v2vm/bin"
    echo 'export HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8'
    echo 'export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 V2VM=1'
    for v in ${V2VM_PASSENV:-}; do
        [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    if [ -n "${V2VM_CGROUP:-}" ]; then
        printf 'mkdir -p /sys/fs/cgroup%q && echo $BASHPID >/sys/fs/cgroup%q/cgroup.procs || exit 125\n' \
            "$V2VM_CGROUP" "$V2VM_CGROUP"
    fi
    printf 'cd -- %q || exit 125\n' "$WORKDIR"
    printf 'exec'; printf ' %q' "$@"; printf '\n'
} >"$CTL/cmd.sh"

# --- boot ------------------------------------------------------------------
# KVM when it can boot a stock kernel. Some cloud sandboxes (this project's
# machines among them) expose /dev/kvm backed by kvm_pvm, a paravirtual KVM
# that runs only PVM-patched guest kernels: a Debian kernel hangs there
# before printing a line, so that counts as no KVM.
ACCEL_KIND=${V2VM_ACCEL:-}
if [ -z "$ACCEL_KIND" ]; then
    if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
        log "WARNING: /dev/kvm is missing or not usable; falling back to TCG emulation (slow)"
        ACCEL_KIND=tcg
    elif [ -d /sys/module/kvm_pvm ] && ! [ -d /sys/module/kvm_intel ] && ! [ -d /sys/module/kvm_amd ]; then
        log "WARNING: /dev/kvm is kvm_pvm (runs PVM guest kernels only); falling back to TCG emulation (slow)"
        ACCEL_KIND=tcg
    else
        ACCEL_KIND=kvm
    fi
fi
case "$ACCEL_KIND" in
    kvm) ACCEL=(-machine q35 -accel kvm -cpu host) ;;
    tcg) ACCEL=(-machine q35 -accel tcg,thread=multi -cpu max) ;;
    *) die "V2VM_ACCEL must be kvm or tcg" ;;
esac
if [ "${V2VM_DEBUG:-}" = 1 ]; then
    CONSOLE=(-serial file:/dev/stderr)
    KLOG="loglevel=7"
    QLOG=/dev/stderr
else
    CONSOLE=(-serial "file:$TMP/console.log")
    KLOG="quiet loglevel=3"
    QLOG=$TMP/qemu.log
fi
APPEND="console=ttyS0 $KLOG panic=-1 rdinit=/init cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
APPEND="$APPEND tsc=reliable no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.nokbd"

# COMMAND's output: virtio console -> a fifo -> cat -> this script's stdout.
# (qemu reopening /dev/stdout itself would get its own file offset, and the
# caller's later writes to a redirected file would overwrite the output.)
mkfifo "$TMP/out"
cat "$TMP/out" &
CATPID=$!
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
    -nodefaults -no-user-config -display none -no-reboot \
    "${ACCEL[@]}" -smp "$CPUS" -m "$MEM" \
    -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND" \
    "${CONSOLE[@]}" \
    -device virtio-serial-pci \
    -chardev "file,id=out,path=$TMP/out" -device virtconsole,chardev=out \
    -virtfs local,path=/,mount_tag=v2vm_root,security_model=passthrough,readonly=on,multidevs=remap \
    -virtfs "local,path=$WORKDIR,mount_tag=v2vm_work,security_model=passthrough,multidevs=remap" \
    -virtfs "local,path=$CTL,mount_tag=v2vm_ctl,security_model=passthrough" \
    2>"$QLOG" &
QPID=$!
QRC=0
wait "$QPID" || QRC=$?
QPID=
# cat sees EOF as soon as qemu is gone; it still blocks in open() if qemu
# never opened the fifo.
for _ in $(seq 50); do kill -0 "$CATPID" 2>/dev/null || break; sleep 0.1; done
kill "$CATPID" 2>/dev/null || true
wait "$CATPID" 2>/dev/null || true
CATPID=
T1=$(now)

if [ "${V2VM_VERBOSE:-}" = 1 ]; then
    log "$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "wall time %.2f s (prepare+boot+command+poweroff)", b - a }')"
    [ -f "$CTL/uptime" ] && log "guest ready to run the command $(cut -d' ' -f1 "$CTL/uptime") s after kernel start"
fi

if [ -f "$CTL/status" ]; then
    exit "$(cat "$CTL/status")"
fi
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
    log "timed out after ${TIMEOUT}s (V2VM_TIMEOUT); qemu killed"
    RC=124
else
    log "the VM did not report an exit status (qemu exit status $QRC)"
    RC=125
fi
[ -f "$CTL/error" ] && log "$(cat "$CTL/error")"
if [ -s "$TMP/qemu.log" ]; then log "qemu said:"; tail -n 20 "$TMP/qemu.log" >&2; fi
if [ -s "$TMP/console.log" ]; then log "kernel console (last 40 lines):"; tail -n 40 "$TMP/console.log" >&2; fi
exit "$RC"
