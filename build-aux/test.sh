#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Sets up a fresh Debian 12 / Ubuntu machine and runs every test suite:
# installs the packages (apt-get), the S3 test server (npm), builds with
# -Werror and runs `meson test` (suites core, integration, ui). The tests
# start their own servers (Apache mod_dav, rclone, the S3 server,
# gnome-keyring-daemon, Xvfb) on 127.0.0.1 and stop them. Then
# build-aux/fuzz.sh: the core suite again under ASan/UBSan and every fuzz
# target for a bounded time (skipped when arguments select tests, or with
# COFFER_SANITIZE=0).
# usage: build-aux/test.sh [meson test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
build-aux/install-deps.sh test
if [ -f tests/integration/package.json ] && [ ! -d tests/integration/node_modules ]; then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
builddir=${COFFER_BUILDDIR:-_build}
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dwerror=true -Dbuildtype=debugoptimized
fi
meson compile -C "$builddir"
meson test -C "$builddir" --print-errorlogs --num-processes "$(nproc)" "$@"
if [ $# -eq 0 ] && [ "${COFFER_SANITIZE:-1}" != 0 ]; then
  build-aux/fuzz.sh
fi
