#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark against restic and borg on the same data, in one run:
# builds an optimised coffer, makes the data set unless it exists, and runs
# ../shared/bench/compare.sh on it.
# usage: build-aux/bench.sh [ROUNDS] [SET]
#   ROUNDS  how many times each step runs; the median is reported (default 3)
#   SET     mixed    make-dataset.py 1024 50000 (1.2 GiB, 53 682 files; the default)
#           small    make-dataset.py 64 250000 (1.1 GiB in 250 000 small files)
#           real     a copy of /usr/include and /usr/lib/python3 (made once, so the
#                    data does not change under the run)
#           million  make-dataset.py 64 1000000 (memory at a million files)
#           all      mixed, small and real in turn
#           DIR      an existing folder, backed up as it is
# The sets are kept under /var/tmp (COFFER_BENCH_DIR) between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
set=${2:-mixed}
shared=${COFFER_SHARED:-../shared}
base=${COFFER_BENCH_DIR:-/var/tmp}

# make_set NAME: prints the folder holding the data set NAME, making it first
make_set() {
  local dir
  case $1 in
    mixed) dir=$base/coffer-bench-data ;;
    *) dir=$base/coffer-bench-$1 ;;
  esac
  if [ ! -d "$dir" ]; then
    rm -rf "$dir.tmp"
    case $1 in
      mixed) python3 "$shared/bench/make-dataset.py" "$dir.tmp" 1024 50000 >&2 ;;
      small) python3 "$shared/bench/make-dataset.py" "$dir.tmp" 64 250000 >&2 ;;
      million) python3 "$shared/bench/make-dataset.py" "$dir.tmp" 64 1000000 >&2 ;;
      real)
        mkdir -p "$dir.tmp/usr/lib"
        cp -a /usr/include "$dir.tmp/usr/include"
        cp -a /usr/lib/python3 "$dir.tmp/usr/lib/python3" ;;
    esac
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

case $set in
  all) sets="mixed small real" ;;
  mixed|small|real|million) sets=$set ;;
  *)
    if [ ! -d "$set" ]; then
      echo "bench.sh: $set is neither a data set (mixed, small, real, million, all) nor a folder" >&2
      exit 2
    fi
    sets=$set ;;
esac

build-aux/install-deps.sh bench
if [ ! -f _build-release/build.ninja ]; then
  meson setup _build-release -Dbuildtype=release -Dapp=false -Dintegration_tests=false
fi
meson compile -C _build-release coffer
for s in $sets; do
  case $s in
    mixed|small|real|million) data=$(make_set "$s"); echo "== $s: $data" ;;
    *) data=$s ;;
  esac
  "$shared/bench/compare.sh" _build-release/src/cli/coffer "$data" "$rounds"
done
