#!/usr/bin/env bash
# Installs what bpfvm needs to build and test on Debian 12, and nothing that is already there.
# Idempotent: a second run installs nothing. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config git
  libfmt-dev libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libelf-dev zlib1g-dev libbpf-dev bpftool
  libasmjit-dev nlohmann-json3-dev
  clang clang-19 llvm-19
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
