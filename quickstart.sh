#!/usr/bin/env bash
# bocker-magics quick start, as root on a fresh Debian/Ubuntu VM:
#   sudo ./quickstart.sh demo   set up, build the built-in busybox image, run a container that
#                               prints its namespace links beside the host's, then execute every
#                               notebook of the article and write reports/ (index.html + one per notebook)
#   sudo ./quickstart.sh test   set up, run the whole test suite (tests/unit, then tests/host)
# Set-up installs what it needs (apt packages, a venv in .venv) and is quick when done before.
set -euo pipefail
cd "$(dirname "$0")"

# gcc and libc6-dev: an idle container's monitor is a small C program built at set-up
# (bocker_magics/engine/runtime/sleeper.c; without a compiler monitors stay Python)
APT_PACKAGES=(busybox-static runc iptables iproute2 util-linux procps python3-venv gcc libc6-dev)
# the tests also compile a static C program (the chroot-escape check)
# pull/push/save/load tests: a real registry (docker-registry) filled by skopeo and umoci
# the peers bocker is tested and measured against (tests/support/peers.py): podman, containerd, docker,
# buildah, crun; tini as an init; tmux for the interactive tests; the OCI runtime spec's schemas
# (golang-github-opencontainers-specs-dev) and libseccomp for the runtime; CNI's plugins for the pods
# containerd's CRI plugin makes (tests/test_cri.py)
TEST_APT_PACKAGES=(gcc libc6-dev docker-registry skopeo umoci chromium
                   podman containerd docker.io docker-compose buildah crun tini tmux golang-github-opencontainers-specs-dev
                   libseccomp2 containernetworking-plugins)
# the notebooks: 06 pulls from a loopback registry (docker-registry); 02 uses ipcmk/nsenter (util-linux);
# 07 drives bocker-runc from containerd (containerd: containerd, ctr, containerd-shim-runc-v2).
# tests/test_demo_packages.py checks every program the notebooks and lab/ start against this list.
DEMO_APT_PACKAGES=(docker-registry containerd)

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "quickstart.sh needs root (namespaces, mounts and cgroups): run it with sudo" >&2
    exit 1
  fi
}

pick_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return
    fi
  done
  echo "Python 3.11 or newer is needed: apt-get install python3 (Debian 12 / Ubuntu 24.04 have it)" >&2
  exit 1
}

# Install packages without starting any daemon they ship (containerd, docker, the registry):
# on a host whose init runs services, a package's postinst would start them in the host's
# network namespace (docker would add its bridge and NAT rules). A policy-rc.d that says 101
# ("action not allowed") stops invoke-rc.d; one that was already there is kept as it was.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_SAVED=""
restore_policy_rc() {
  if [ -n "$POLICY_RC_SAVED" ]; then mv -f "$POLICY_RC_SAVED" "$POLICY_RC"; else rm -f "$POLICY_RC"; fi
  POLICY_RC_SAVED=""
}
apt_install() {
  if [ -e "$POLICY_RC" ] || [ -L "$POLICY_RC" ]; then
    POLICY_RC_SAVED=$(mktemp "$(dirname "$POLICY_RC")/.policy-rc.d.quickstart.XXXXXX")
    cp -a "$POLICY_RC" "$POLICY_RC_SAVED"
  fi
  trap restore_policy_rc EXIT  # also when apt-get fails (set -e) or the user interrupts
  trap 'exit 130' INT TERM
  printf '#!/bin/sh\n# quickstart.sh: no service starts while it installs packages\nexit 101\n' > "$POLICY_RC"
  chmod 755 "$POLICY_RC"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  trap - EXIT INT TERM
  restore_policy_rc
}

setup() {
  need_root
  local missing=() wanted=("${APT_PACKAGES[@]}")
  [ "${1:-}" = test ] && wanted+=("${TEST_APT_PACKAGES[@]}")
  [ "${1:-}" = demo ] && wanted+=("${DEMO_APT_PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  if [ -x tests/support/v2vm/setup.sh ] && [ "${1:-}" = test ]; then
    tests/support/v2vm/setup.sh
  fi
  local py; py=$(pick_python)
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import bocker_magics, pytest' 2>/dev/null \
     || [ pyproject.toml -nt .venv/.installed ]; then
    "$py" -m venv .venv
    # editable_mode=compat: a plain path in a .pth; the default mode's import finder costs
    # every Python start ~9 ms (it imports pathlib), a fifth of a `bocker run`
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test,notebooks]' \
      --config-settings editable_mode=compat
    touch .venv/.installed
  fi
  # Byte code made now: with PYTHONDONTWRITEBYTECODE set (as on many machines) nothing is
  # cached, and every command would compile what it imports again. Existing .pyc files are
  # still read with it set; this is quick when nothing changed.
  .venv/bin/python -m compileall -q -j 0 bocker_magics || true
  # the sleeper (an idle container's monitor), built now rather than at the first run
  .venv/bin/python -m bocker_magics.engine.runtime.sleeper >/dev/null || true
}

case "${1:-}" in
  demo)
    setup demo
    .venv/bin/python -m bocker_magics.lab.demo
    echo
    echo "Executing every notebook (each in a fresh network namespace) and writing reports/ ..."
    exec .venv/bin/python -m bocker_magics.report --out reports
    ;;
  report)
    setup demo
    shift
    exec .venv/bin/python -m bocker_magics.report "$@"
    ;;
  test)
    setup test
    shift
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  setup)
    setup "${2:-}"
    ;;
  packages)  # the apt packages a set-up installs: packages demo | packages test
    printf '%s\n' "${APT_PACKAGES[@]}"
    [ "${2:-}" = test ] && printf '%s\n' "${TEST_APT_PACKAGES[@]}"
    [ "${2:-}" = demo ] && printf '%s\n' "${DEMO_APT_PACKAGES[@]}"
    exit 0
    ;;
  *)
    echo "usage: sudo $0 demo | test [PYTEST ARGS] | report [NOTEBOOK...] [--write-notebooks] | setup | packages demo|test" >&2
    exit 2
    ;;
esac
