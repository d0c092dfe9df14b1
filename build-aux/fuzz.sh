#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Hostile input (docs/SECURITY.md, "Fuzzing"): builds Coffer with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer (plus libFuzzer coverage,
# -Dfuzzing=true), runs the core suite under them with leak detection, then
# every fuzz target in tests/fuzz for a bounded time on its seed corpus, two
# at a time. Any sanitizer report, crash, leak or hang fails the run; the
# input that caused it is kept in BUILDDIR/fuzz-findings/.
# usage: build-aux/fuzz.sh [SECONDS-PER-TARGET]   (default 20)
# build-aux/test.sh runs it after the other suites.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${COFFER_FUZZ_SECONDS:-20}}
builddir=${COFFER_SANITIZE_BUILDDIR:-_build-sanitize}
jobs=$(nproc)

# -Dwerror=false: clang warns about GLib's g_autoptr variables ("unused")
# and casts that gcc, which builds with -Werror in _build, accepts.
if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang meson setup "$builddir" -Dbuildtype=debugoptimized -Dwerror=false \
    -Db_sanitize=address,undefined -Db_lundef=false -Dfuzzing=true \
    -Dapp=false -Dintegration_tests=false
fi
meson compile -C "$builddir"

export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

start=$(date +%s)
meson test -C "$builddir" --suite core --print-errorlogs --num-processes "$jobs" \
  --timeout-multiplier 3
echo "sanitizers: core suite took $(( $(date +%s) - start )) s"

findings="$builddir/fuzz-findings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$findings"
mkdir -p "$findings"
targets=$(ls tests/fuzz/corpus)

run_target() {
  local t=$1
  mkdir -p "$work/$t"
  # New inputs go to the scratch folder (first), the seeds are only read.
  if "$builddir/tests/fuzz/fuzz-$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
       -print_final_stats=1 -artifact_prefix="$findings/$t-" \
       "$work/$t" "tests/fuzz/corpus/$t" > "$work/$t.log" 2>&1; then
    echo "ok $t"
  else
    echo "FAILED $t"
  fi
}
export -f run_target
export builddir seconds work findings

start=$(date +%s)
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'run_target {}' > "$work/results"
passed=0
failed=0
for t in $targets; do
  stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$t.log" | tail -1 || true)
  if grep -qx "ok $t" "$work/results"; then
    passed=$((passed + 1))
    echo "fuzz-$t: ${stats:-no stats}"
  else
    failed=$((failed + 1))
    echo "fuzz-$t FAILED; input kept in $findings/:" >&2
    tail -60 "$work/$t.log" >&2
  fi
done
echo "fuzzing took $(( $(date +%s) - start )) s, ${seconds} s per target"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
