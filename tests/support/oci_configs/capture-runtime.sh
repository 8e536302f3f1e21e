#!/bin/sh
# A stand-in OCI runtime that keeps the bundle's config.json and refuses to run anything:
# how podman-*.json and containerd-run.json here were captured (podman 4.3.1, containerd
# 1.6.20, Debian 12), each engine in a network namespace of its own and with its own
# storage, cgroup parent and state in a temp dir:
#   CAPTURE_DIR=/tmp/cap podman --root ... --runroot ... --runtime $PWD/capture-runtime.sh \
#       --cgroup-manager cgroupfs run --rm --network none --rootfs ROOTFS /bin/sh -c 'echo hi'
#   ctr --address ... run --rm --rootfs --runc-binary $PWD/capture-runtime.sh ROOTFS ID ...
dir=${CAPTURE_DIR:-/tmp}
bundle=""
prev=""
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle="$a";; esac
  case "$a" in --bundle=*) bundle="${a#--bundle=}";; esac
  prev="$a"
done
[ -n "$bundle" ] && cp "$bundle/config.json" "$dir/captured-$(date +%s%N).json"
echo "capture-runtime: keeps config.json, runs nothing" >&2
exit 1
