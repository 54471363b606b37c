#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and tests with, and only
# those that are missing (idempotent: a second run changes nothing).
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache git ca-certificates
  libssh-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev
  libboost-dev libfmt-dev catch2 libspdlog-dev
  libtomlplusplus-dev libsodium-dev openssh-server curl procps iproute2 coreutils util-linux
  # The report browser test: headless Chromium renders report.html; zlib.h to decode its PNG; a font to draw text with.
  chromium zlib1g-dev fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (or with sudo) to install them" >&2
  exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
