#!/usr/bin/env bash
# bocker-magics quick start, as root on a fresh Debian/Ubuntu VM:
#   sudo ./quickstart.sh demo   set up, build the built-in busybox image, run a container that
#                               prints its namespace links beside the host's, then execute every
#                               notebook of the article and write reports/ (index.html + one per notebook)
#   sudo ./quickstart.sh test   set up, run the whole test suite
# Set-up installs what it needs (apt packages, a venv in .venv) and is quick when done before.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(busybox-static runc iptables iproute2 util-linux procps python3-venv)
# the tests also compile a static C program (the chroot-escape check)
# pull/push/save/load tests: a real registry (docker-registry) filled by skopeo and umoci
# the spec tests: the OCI runtime spec's JSON schema (golang-github-opencontainers-specs-dev)
TEST_APT_PACKAGES=(gcc libc6-dev docker-registry skopeo umoci chromium golang-github-opencontainers-specs-dev)
# the notebooks: 06 pulls from a loopback registry (docker-registry); 02 uses ipcmk/nsenter (util-linux)
DEMO_APT_PACKAGES=(docker-registry)

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
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ -x tests/v2vm/setup.sh ] && [ "${1:-}" = test ]; then
    tests/v2vm/setup.sh
  fi
  local py; py=$(pick_python)
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import bocker_magics, pytest' 2>/dev/null \
     || [ pyproject.toml -nt .venv/.installed ]; then
    "$py" -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test,notebooks]'
    touch .venv/.installed
  fi
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
  *)
    echo "usage: sudo $0 demo | test [PYTEST ARGS] | report [NOTEBOOK...] [--write-notebooks] | setup" >&2
    exit 2
    ;;
esac
