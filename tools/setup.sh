#!/usr/bin/env bash
# setup.sh: install what vpcast needs on Debian 12 (only what is missing), then
# configure and build it into build/.
#   bash tools/setup.sh            runtime + build dependencies, release build
#   bash tools/setup.sh --test     also the test-only packages (PyTorch etc. for goldens)
#   bash tools/setup.sh --no-build only install packages
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
build=1
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential cmake pkg-config git libopenmpi-dev openmpi-bin openssh-client
      libhdf5-dev libnetcdf-dev libopenblas-dev libpng-dev libyaml-dev)
if [ "$want_test" = 1 ]; then
  pkgs+=(python3-torch python3-numpy python3-h5py python3-scipy python3-skimage python3-netcdf4 slurmctld slurmd slurm-client munge)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$build" = 1 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)"
  echo "setup.sh: built build/vpcast"
fi
