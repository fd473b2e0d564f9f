#!/usr/bin/env bash
# Installs the Debian 12 packages Strata builds, tests and runs with.
# Idempotent and quiet when everything is present; runs apt-get only for
# what is missing. `--ci` adds what CI needs beyond `make test` (clang and
# its sanitizer/libFuzzer runtime).
set -euo pipefail

packages=(
  g++ make cmake ninja-build pkg-config
  libuv1-dev libhiredis-dev librocksdb-dev libmsgpack-dev catch2 node-llhttp
  libtomlplusplus-dev
  redis-server redis-tools
  python3 python3-msgpack python3-yaml
)
if [[ "${1:-}" == "--ci" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
