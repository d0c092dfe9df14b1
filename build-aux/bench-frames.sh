#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Responsiveness of the app's window during a backup (tests/ui/bench-frames.c):
# the real window under Xvfb backs up DATA_DIR to a repository in a
# temporary folder while the frame clock's intervals and the main loop's
# stalls are recorded, then prints the report. Makes the data set with
# ../shared/bench/make-dataset.py (1024 MB, no small files) unless it exists.
# An instrument: it reports, it does not pass or fail on a time.
# usage: build-aux/bench-frames.sh [DATA_DIR]   (COFFER_BUILD: the build folder, default _build)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-/var/tmp/coffer-frames-data}
shared=${COFFER_SHARED:-../shared}
build=${COFFER_BUILD:-_build}
build-aux/install-deps.sh build
if ! command -v xvfb-run >/dev/null; then
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get install -y -qq --no-install-recommends xvfb xauth
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=release -Dintegration_tests=false
fi
ninja -C "$build" tests/ui/bench-frames src/cli/coffer data/gschemas.compiled
if [ ! -d "$data" ]; then
  python3 "$shared/bench/make-dataset.py" "$data.tmp" 1024 0
  mv "$data.tmp" "$data"
fi
COFFER_BENCH_DATA=$(cd "$data" && pwd) \
  meson test -C "$build" --benchmark --no-rebuild --verbose bench-frames
