#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Backup throughput to loopback cloud servers compared with a local folder.
# Starts Apache mod_dav (Basic auth), rclone serve webdav and the S3 test
# server (@20minutes/s3rver) on 127.0.0.1 with tests/integration/servers.c
# (through serve-for-bench), backs the benchmark data up to each and to a
# local folder on the same disk, and prints seconds, MB/s and the ratio to
# the local folder. Each destination gets a fresh repository and fresh local
# state (a first, full backup); the data is read once beforehand so every
# run starts with the same warm page cache.
#
# usage: build-aux/bench-cloud.sh [DATA_DIR] [DESTINATIONS…]
#   DATA_DIR      default /var/tmp/coffer-bench-data (made with
#                 ../shared/bench/make-dataset.py DIR 1024 50000 if missing)
#   DESTINATIONS  any of: local apache rclone s3 (default: all four)
# environment: BUILDDIR (default _build-bench, configured as a release
#   build with the integration tests), COFFER_BENCH_TMP (where the local
#   repository goes; default the data's parent folder), ROUNDS (default 1:
#   every destination is measured ROUNDS times, round-robin, and the best
#   time counts, which filters out other load on the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
src_root=$PWD
data=${1:-/var/tmp/coffer-bench-data}
shift || true
dests=("$@")
[ ${#dests[@]} -gt 0 ] || dests=(local apache rclone s3)
builddir=${BUILDDIR:-_build-bench}
rounds=${ROUNDS:-1}
shared=${COFFER_SHARED:-../shared}

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dbuildtype=release -Dapp=false -Dintegration_tests=true
fi
meson compile -C "$builddir" src/cli/coffer tests/integration/serve-for-bench >/dev/null
coffer=$PWD/$builddir/src/cli/coffer
serve=$PWD/$builddir/tests/integration/serve-for-bench
if [ ! -d tests/integration/node_modules/@20minutes/s3rver ]; then
  (cd tests/integration && npm ci --silent)
fi

if [ ! -d "$data" ]; then
  python3 "$shared/bench/make-dataset.py" "$data.tmp" 1024 50000
  mv "$data.tmp" "$data"
fi
data=$(cd "$data" && pwd)
bytes=$(du -sb --apparent-size "$data" | cut -f1)
files=$(find "$data" -type f | wc -l)
work=$(mktemp -d "${COFFER_BENCH_TMP:-$(dirname "$data")}/coffer-bench-cloud.XXXXXX")
pids=()
cleanup() {
  # Closing a server's stdin stops it (and removes its files).
  for fd in 20 21 22; do eval "exec $fd>&-" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_server KIND FD: runs serve-for-bench with its stdin on a fifo held
# open by FD, and loads its description (LOCATION, USER, …) as SRV_*.
start_server() {
  local kind=$1 fd=$2 out="$work/$1.env"
  rm -f "$work/$1.in" "$out"
  mkfifo "$work/$1.in"
  G_TEST_SRCDIR=$src_root/tests "$serve" "$kind" <"$work/$1.in" >"$out" 2>"$work/$1.log" &
  pids+=($!)
  eval "exec $fd>\"$work/$1.in\""
  for _ in $(seq 600); do
    grep -q '^READY=1' "$out" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$1.log" >&2; return 1; }
    sleep 0.1
  done
  grep -q '^READY=1' "$out" || { echo "server $kind did not start" >&2; return 1; }
  unset LOCATION HTTP_URL USER PASSWORD S3_ENDPOINT STORAGE_DIR
  eval "$(grep -v '^#' "$out")"
  SRV_LOCATION=$LOCATION SRV_USER=$USER SRV_PASSWORD=$PASSWORD SRV_S3_ENDPOINT=${S3_ENDPOINT:-}
}

# run_backup NAME LOCATION [extra coffer options…]: prints "seconds".
run_backup() {
  local name=$1 location=$2; shift 2
  local state="$work/state-$name"
  mkdir -p "$state"
  export HOME=$state XDG_DATA_HOME=$state/data XDG_CACHE_HOME=$state/cache \
    XDG_CONFIG_HOME=$state/config COFFER_KEYRING=none COFFER_TESTING=1 \
    COFFER_TEST_FAST_KDF=1 COFFER_PASSWORD="bench password"
  "$coffer" init --repo "$location" "$@" --recovery-key-file "$state/key" >/dev/null
  "$coffer" category add Bench --repo "$location" "$@" "$data" >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  "$coffer" backup --repo "$location" "$@" --quiet
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}

echo "Data: $data ($(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }') MB, $files files);" \
     "$(nproc) cores; $(uname -sr)"
find "$data" -type f -print0 | xargs -0 cat >/dev/null

# measure DEST ROUND: one fresh full backup to DEST; prints seconds.
measure() {
  local dest=$1 round=$2 secs
  case $dest in
    local)
      secs=$(run_backup "local-$round" "$work/local-repo-$round")
      rm -rf "$work/local-repo-$round"
      ;;
    apache)
      start_server apache-basic 20
      secs=$(COFFER_WEBDAV_USER=$SRV_USER COFFER_WEBDAV_PASSWORD=$SRV_PASSWORD \
             run_backup "apache-$round" "$SRV_LOCATION")
      exec 20>&-
      wait "${pids[-1]}" 2>/dev/null || true
      ;;
    rclone)
      start_server rclone 21
      secs=$(COFFER_WEBDAV_USER=$SRV_USER COFFER_WEBDAV_PASSWORD=$SRV_PASSWORD \
             run_backup "rclone-$round" "$SRV_LOCATION")
      exec 21>&-
      wait "${pids[-1]}" 2>/dev/null || true
      ;;
    s3)
      start_server s3 22
      secs=$(AWS_ACCESS_KEY_ID=$SRV_USER AWS_SECRET_ACCESS_KEY=$SRV_PASSWORD \
             run_backup "s3-$round" "$SRV_LOCATION" --s3-endpoint "$SRV_S3_ENDPOINT" \
                        --s3-region us-east-1)
      exec 22>&-
      wait "${pids[-1]}" 2>/dev/null || true
      ;;
    *) echo "unknown destination $dest" >&2; exit 2 ;;
  esac
  rm -rf "$work/state-$dest-$round"
  echo "$secs"
}

declare -A best
for round in $(seq "$rounds"); do
  for dest in "${dests[@]}"; do
    secs=$(measure "$dest" "$round")
    echo "  round $round: $dest $secs s" >&2
    if [ -z "${best[$dest]:-}" ] || awk -v a="$secs" -v b="${best[$dest]}" 'BEGIN { exit !(a < b) }'; then
      best[$dest]=$secs
    fi
  done
done

printf '%-28s %9s %9s %9s\n' "Destination" "seconds" "MB/s" "vs local"
local_mbs=""
for dest in "${dests[@]}"; do
  case $dest in
    local) label="local folder" ;;
    apache) label="WebDAV (Apache mod_dav)" ;;
    rclone) label="WebDAV (rclone serve)" ;;
    s3) label="S3 (s3rver)" ;;
  esac
  secs=${best[$dest]}
  mbs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1e6 / s }')
  if [ "$dest" = local ]; then local_mbs=$mbs; fi
  ratio=$(awk -v m="$mbs" -v l="$local_mbs" 'BEGIN { if (l == "") print "-"; else printf "%.0f%%", 100 * m / l }')
  printf '%-28s %9s %9s %9s\n' "$label" "$secs" "$mbs" "$ratio"
done
