#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs every Debian/Ubuntu package Coffer needs to build, run and test.
# usage: build-aux/install-deps.sh [build|test|bench]
set -euo pipefail
what=${1:-build}
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

build_pkgs=(
  build-essential meson ninja-build pkg-config gettext
  libglib2.0-dev libglib2.0-bin libsodium-dev libzstd-dev libsqlite3-dev
  libsecret-1-dev libsoup-3.0-dev libxml2-dev libcairo2-dev nettle-dev
  libgtk-4-dev libadwaita-1-dev desktop-file-utils appstream libxml2-utils
)
test_pkgs=(
  dbus dbus-x11 gnome-keyring xvfb xauth
  apache2 rclone python3 time curl
  iproute2 util-linux   # own-loopback.sh: ip, unshare
  btrfs-progs xfsprogs  # test-restore-sync: btrfs and XFS images
  openssh-server
  libsecret-tools poppler-utils fonts-dejavu-core
  at-spi2-core python3-pyatspi
  # build-aux/fuzz.sh: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
)
bench_pkgs=(restic borgbackup time python3)

pkgs=("${build_pkgs[@]}")
case $what in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${bench_pkgs[@]}") ;;
  all) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

# Node.js and npm (for the S3 test server) may come from Debian or be on the
# machine already; Debian's npm conflicts with a newer one that is installed.
if [ "$what" = test ] || [ "$what" = all ]; then
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The S3 test server (an npm package that verifies SigV4), pinned by
# tests/integration/package-lock.json.
if [ "$what" = test ] || [ "$what" = all ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  if [ ! -d "$here/tests/integration/node_modules/@20minutes/s3rver" ]; then
    npm ci --prefix "$here/tests/integration" --no-audit --no-fund
  fi
fi
