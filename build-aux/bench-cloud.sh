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
#   DESTINATIONS  any of: local apache rclone s3 rclone-local rclone-sftp
#                 (default: local apache rclone s3). rclone-local is
#                 --repo rclone:loc:DIR (coffer starts rclone itself, a
#                 local-disk remote), rclone-sftp is rclone:nas:DIR, a
#                 Coffer-managed SFTP remote against a real OpenSSH sshd
#                 on 127.0.0.1 (throwaway keys), as tests/integration/
#                 test-rclone.c does.
# environment: BUILDDIR (default _build-bench, configured as a release
#   build with the integration tests), COFFER_BENCH_TMP (where the local
#   repository goes; default the data's parent folder), ROUNDS (default 1:
#   every destination is measured ROUNDS times, round-robin, and the best
#   time counts, which filters out other load on the machine).
# Besides seconds it prints the CPU time (user + system) the backup cost,
# per MB of data: coffer with its children (rclone), and for rclone-sftp
# also the sshd serving it (its share measured from /proc). That figure
# holds up under other load on the machine, seconds do not. The servers of
# apache, rclone and s3 are not counted (they are not coffer's children).
set -euo pipefail
shopt -s inherit_errexit
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
if [[ " ${dests[*]} " == *" s3 "* ]] && [ ! -d tests/integration/node_modules/@20minutes/s3rver ]; then
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
sshd_pid=
cleanup() {
  # Closing a server's stdin stops it (and removes its files).
  for fd in 20 21 22; do eval "exec $fd>&-" 2>/dev/null || true; done
  # sshd runs until it is told to stop.
  [ -z "${sshd_pid:-}" ] || kill "$sshd_pid" 2>/dev/null || true
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

# run_backup NAME LOCATION [extra coffer options…]: prints "seconds cpu",
# cpu being the user + system seconds of the backup command and its
# children (rclone, which coffer starts and reaps).
run_backup() {
  local name=$1 location=$2; shift 2
  local state="$work/state-$name"
  mkdir -p "$state"
  export HOME=$state XDG_DATA_HOME=$state/data XDG_CACHE_HOME=$state/cache \
    XDG_CONFIG_HOME=$state/config COFFER_KEYRING=none COFFER_TESTING=1 \
    COFFER_TEST_FAST_KDF=1 COFFER_PASSWORD="bench password"
  case $location in
    rclone:nas:*)
      "$coffer" remote add sftp nas --host 127.0.0.1 --port "$ssh_port" --user "$(id -un)" \
        --key-file "$work/ssh/user_key" >/dev/null ;;
  esac
  "$coffer" init --repo "$location" "$@" --recovery-key-file "$state/key" >/dev/null
  "$coffer" category add Bench --repo "$location" "$@" "$data" >/dev/null
  /usr/bin/time -f '%e %U %S' -o "$state/time" "$coffer" backup --repo "$location" "$@" --quiet ||
    { echo "the backup to $location failed" >&2; return 1; }
  awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$state/time"
}

# CPU seconds (user + system, reaped children included) sshd used so far.
sshd_cpu() {
  sed 's/^.*) //' "/proc/$sshd_pid/stat" |
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13 + $14 + $15) / hz }'
}

# Waits until sshd has served every connection (its children reaped, so
# their CPU time is counted).
sshd_idle() {
  for _ in $(seq 300); do
    [ -z "$(cat /proc/"$sshd_pid"/task/*/children 2>/dev/null)" ] && return 0
    sleep 0.1
  done
}

# A real OpenSSH sshd on 127.0.0.1 as this user with throwaway keys, as
# tests/integration/test-rclone.c starts it.
start_sshd() {
  local d="$work/ssh"
  mkdir -p "$d" && chmod 700 "$d"
  ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$d/user_key"
  cp "$d/user_key.pub" "$d/authorized_keys"
  [ "$(id -u)" != 0 ] || mkdir -p /run/sshd
  ssh_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf '%s\n' "Port $ssh_port" "ListenAddress 127.0.0.1" "HostKey $d/host_key" \
    "PidFile $d/sshd.pid" "AuthorizedKeysFile $d/authorized_keys" "StrictModes no" \
    "UsePAM no" "PasswordAuthentication no" "KbdInteractiveAuthentication no" \
    "PermitRootLogin prohibit-password" "Subsystem sftp internal-sftp" >"$d/sshd_config"
  /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
  sshd_pid=$!
  pids+=("$sshd_pid")
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "sshd did not start" >&2; cat "$d/sshd.log" >&2; return 1
}

echo "Data: $data ($(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }') MB, $files files);" \
     "$(nproc) cores; $(uname -sr)"
find "$data" -type f -print0 | xargs -0 cat >/dev/null

# measure DEST ROUND: one fresh full backup to DEST; prints "seconds cpu".
measure() {
  local dest=$1 round=$2 res
  case $dest in
    local)
      res=$(run_backup "local-$round" "$work/local-repo-$round")
      rm -rf "$work/local-repo-$round"
      ;;
    apache)
      start_server apache-basic 20
      res=$(COFFER_WEBDAV_USER=$SRV_USER COFFER_WEBDAV_PASSWORD=$SRV_PASSWORD \
             run_backup "apache-$round" "$SRV_LOCATION")
      exec 20>&-
      wait "${pids[-1]}" 2>/dev/null || true
      ;;
    rclone)
      start_server rclone 21
      res=$(COFFER_WEBDAV_USER=$SRV_USER COFFER_WEBDAV_PASSWORD=$SRV_PASSWORD \
             run_backup "rclone-$round" "$SRV_LOCATION")
      exec 21>&-
      wait "${pids[-1]}" 2>/dev/null || true
      ;;
    s3)
      start_server s3 22
      res=$(AWS_ACCESS_KEY_ID=$SRV_USER AWS_SECRET_ACCESS_KEY=$SRV_PASSWORD \
             run_backup "s3-$round" "$SRV_LOCATION" --s3-endpoint "$SRV_S3_ENDPOINT" \
                        --s3-region us-east-1)
      exec 22>&-
      wait "${pids[-1]}" 2>/dev/null || true
      ;;
    rclone-local)
      res=$(RCLONE_CONFIG=/dev/null RCLONE_CONFIG_LOC_TYPE=local \
             run_backup "rclone-local-$round" "rclone:loc:$work/rclone-local-repo-$round")
      rm -rf "$work/rclone-local-repo-$round"
      ;;
    rclone-sftp)
      local before after
      before=$(sshd_cpu)
      res=$(RCLONE_CONFIG=/dev/null \
             run_backup "rclone-sftp-$round" "rclone:nas:$work/rclone-sftp-repo-$round")
      sshd_idle
      after=$(sshd_cpu)
      # sshd's share of the whole run (init, category add and backup; the
      # first two are small) is added to the backup's CPU time.
      res=$(echo "$res $before $after" | awk '{ printf "%s %.2f", $1, $2 + $4 - $3 }')
      rm -rf "$work/rclone-sftp-repo-$round"
      ;;
    *) echo "unknown destination $dest" >&2; exit 2 ;;
  esac
  rm -rf "$work/state-$dest-$round"
  echo "$res"
}

case " ${dests[*]} " in *" rclone-sftp "*) start_sshd ;; esac

declare -A best best_cpu
for round in $(seq "$rounds"); do
  for dest in "${dests[@]}"; do
    res=$(measure "$dest" "$round") || exit 1
    read -r secs cpu <<<"$res"
    echo "  round $round: $dest $secs s, CPU $cpu s" >&2
    if [ -z "${best[$dest]:-}" ] || awk -v a="$secs" -v b="${best[$dest]}" 'BEGIN { exit !(a < b) }'; then
      best[$dest]=$secs
    fi
    if [ -z "${best_cpu[$dest]:-}" ] || awk -v a="$cpu" -v b="${best_cpu[$dest]}" 'BEGIN { exit !(a < b) }'; then
      best_cpu[$dest]=$cpu
    fi
  done
done

printf '%-28s %9s %9s %9s %9s %11s\n' "Destination" "seconds" "MB/s" "vs local" "CPU s" "CPU ms/MB"
local_mbs=""
for dest in "${dests[@]}"; do
  case $dest in
    local) label="local folder" ;;
    apache) label="WebDAV (Apache mod_dav)" ;;
    rclone) label="WebDAV (rclone serve)" ;;
    s3) label="S3 (s3rver)" ;;
    rclone-local) label="rclone:loc: (local disk)" ;;
    rclone-sftp) label="rclone:nas: (SFTP, OpenSSH)" ;;
  esac
  secs=${best[$dest]}
  cpu=${best_cpu[$dest]}
  mbs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1e6 / s }')
  if [ "$dest" = local ]; then local_mbs=$mbs; fi
  ratio=$(awk -v m="$mbs" -v l="$local_mbs" 'BEGIN { if (l == "") print "-"; else printf "%.0f%%", 100 * m / l }')
  cpu_mb=$(awk -v b="$bytes" -v c="$cpu" 'BEGIN { printf "%.1f", 1000 * c / (b / 1e6) }')
  printf '%-28s %9s %9s %9s %9s %11s\n' "$label" "$secs" "$mbs" "$ratio" "$cpu" "$cpu_mb"
done
