#!/usr/bin/env bash
# Installs what tests/support/v2vm/run.sh needs, then fetches the kernel and builds the
# initramfs into the cache (run.sh --prepare). Idempotent; a second run only
# checks (no apt call when everything is there).
#   qemu-system-x86  the VM (without recommends: no GUI, no firmware extras)
#   busybox-static   the initramfs' only binary (static: the initramfs has no libc)
#   xz-utils, python3 (the project's) extract the kernel; dpkg unpacks it
# The kernel itself is a Debian package fetched with apt-get download and
# unpacked with dpkg -x into /var/cache/bocker-v2vm: nothing is installed
# onto the host's /boot or /lib/modules.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# Only a static busybox works in the initramfs.
if ! [ -x /usr/bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1; then
    need+=(busybox-static)
fi
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

"$HERE/run.sh" --prepare
