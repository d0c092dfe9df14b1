#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark against restic and borg on the same data, in one run:
# builds an optimised coffer, makes the data set with
# ../shared/bench/make-dataset.py (1024 MB plus 50000 small files) unless
# it exists, and runs ../shared/bench/compare.sh on it.
# usage: build-aux/bench.sh [ROUNDS] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
data=${2:-/var/tmp/coffer-bench-data}
shared=${COFFER_SHARED:-../shared}
build-aux/install-deps.sh bench
if [ ! -f _build-release/build.ninja ]; then
  meson setup _build-release -Dbuildtype=release -Dapp=false -Dintegration_tests=false
fi
meson compile -C _build-release coffer
if [ ! -d "$data" ]; then
  python3 "$shared/bench/make-dataset.py" "$data.tmp" 1024 50000
  mv "$data.tmp" "$data"
fi
"$shared/bench/compare.sh" _build-release/src/cli/coffer "$data" "$rounds"
