#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Recovery contacts drill (issue #14), driving the real `coffer` CLI: the
# recovery key is split into 3 shares of which 2 are needed; a fresh
# computer (empty HOME: no keyring entry, no local state, no device key)
# restores an Advanced category byte for byte from 2 share files alone.
# Then the refusals: one share, a typo, another repository's share, and the
# shares of a replaced recovery key, each named.
#   test-shares-drill.sh PATH/TO/coffer        (TAP on stdout)
set -u

COFFER=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffer-shares-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export COFFER_TESTING=1 COFFER_TEST_FAST_KDF=1 COFFER_KEYRING=none
unset COFFER_PASSWORD COFFER_RECOVERY_KEY COFFER_REPO

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
check () { # description, then a command
  desc=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$tmp/err"; fi
}
# check_refused DESCRIPTION STATUS PATTERN COMMAND...: fails with STATUS and
# PATTERN on stderr.
check_refused () {
  desc=$1; want=$2; pattern=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" -eq "$want" ] && grep -q -- "$pattern" "$tmp/err"; then
    ok "$desc"
  else
    not_ok "$desc (status $got)"; sed 's/^/# /' "$tmp/err"
  fi
}

# on COMPUTER COMMAND...: runs COMMAND with that computer's fresh HOME.
on () {
  h="$tmp/computers/$1"; shift
  mkdir -p "$h/home" "$h/data" "$h/cache" "$h/config"
  HOME="$h/home" XDG_DATA_HOME="$h/data" XDG_CACHE_HOME="$h/cache" XDG_CONFIG_HOME="$h/config" "$@"
}
pw () { COFFER_PASSWORD='drill password 1' "$@"; }

repo="$tmp/repo"
src="$tmp/src"
mkdir -p "$src/diary/2025"
head -c 400000 /dev/urandom >"$src/diary/2025/voice.ogg"
echo "dear diary" >"$src/diary/day1.txt"
: >"$src/diary/empty"

echo "1..14"

on first pw "$COFFER" init --repo "$repo" --recovery-key-file "$tmp/rk" --device-name First >/dev/null 2>&1
on first pw "$COFFER" category add Diary --repo "$repo" --level advanced \
   --recovery-key-file "$tmp/rk" "$src/diary" >/dev/null 2>&1
check "setup: backup of an Advanced category" on first pw "$COFFER" backup --repo "$repo"

check "2 of 3 shares made with the recovery key typed now" \
  on first "$COFFER" recovery-key share --repo "$repo" --recovery-key-file "$tmp/rk" \
     --needed 2 --count 3 --output "$tmp/sheets" --owner "Drill Owner"
check "a sheet (PDF) and a text file per share, mode 0600" sh -c "
  for i in 1 2 3; do
    head -c 5 '$tmp/sheets/share-'\$i'-of-3.pdf' | grep -q '%PDF-' || exit 1
    [ \"\$(stat -c %a '$tmp/sheets/share-'\$i'-of-3.pdf')\" = 600 ] || exit 1
    [ \"\$(stat -c %a '$tmp/sheets/share-'\$i'-of-3.txt')\" = 600 ] || exit 1
  done"
cp "$tmp/sheets/share-1-of-3.txt" "$tmp/before"
check_refused "shares are never written over existing files" 1 "already exists" \
  on first "$COFFER" recovery-key share --repo "$repo" --recovery-key-file "$tmp/rk" --output "$tmp/sheets"
check "the existing share file is unchanged" cmp "$tmp/before" "$tmp/sheets/share-1-of-3.txt"

# ---- a fresh computer with 2 of the 3 share files, nothing else
check "a fresh computer restores the Advanced category from shares 1 and 3" \
  on new "$COFFER" restore --repo "$repo" --share-file "$tmp/sheets/share-1-of-3.txt" \
     --share-file "$tmp/sheets/share-3-of-3.txt" --category Diary --target "$tmp/restored"
check "restored files are byte-identical" diff -r "$src/diary" "$tmp/restored$src/diary"

check_refused "one share alone is refused, saying how many more are needed" 2 "1 more is needed" \
  on new2 "$COFFER" restore --repo "$repo" --share-file "$tmp/sheets/share-2-of-3.txt" \
     --category Diary --target "$tmp/r2"

# A typo in the 7th character (group 2, character 2).
awk 'NR == 1 { c = substr($0, 7, 1); r = (c == "X") ? "Y" : "X"; $0 = substr($0, 1, 6) r substr($0, 8) } { print }' \
  "$tmp/sheets/share-2-of-3.txt" >"$tmp/typo.txt"
check_refused "a mistyped share is located" 2 "check character 2 of group 2" \
  on new2 "$COFFER" restore --repo "$repo" --share-file "$tmp/typo.txt" \
     --share-file "$tmp/sheets/share-1-of-3.txt" --category Diary --target "$tmp/r2"

# ---- another repository's share
on other pw "$COFFER" init --repo "$tmp/other" --recovery-key-file "$tmp/rk-other" >/dev/null 2>&1
on other "$COFFER" recovery-key share --repo "$tmp/other" --recovery-key-file "$tmp/rk-other" \
   --output "$tmp/other-sheets" >/dev/null 2>&1
check_refused "a share of another repository is named as such" 2 "belongs to another repository" \
  on new2 "$COFFER" restore --repo "$repo" --share-file "$tmp/sheets/share-2-of-3.txt" \
     --share-file "$tmp/other-sheets/share-1-of-3.txt" --category Diary --target "$tmp/r2"

# ---- replacing the recovery key makes its shares useless, by name
on first pw "$COFFER" recovery-key replace --repo "$repo" --recovery-key-file "$tmp/rk2" --confirm-file "$tmp/rk2" >"$tmp/out" 2>"$tmp/err"
if grep -q "no longer work" "$tmp/err" && grep -q "recovery-key share" "$tmp/err"; then
  ok "replacing the key says the shares no longer work and how to make new ones"
else
  not_ok "replacing the key says the shares no longer work"; sed 's/^/# /' "$tmp/err"
fi
today=$(date +%-d)
check_refused "shares of the replaced key are refused with the date it was replaced" 2 "replaced on $today " \
  on new3 "$COFFER" restore --repo "$repo" --share-file "$tmp/sheets/share-1-of-3.txt" \
     --share-file "$tmp/sheets/share-2-of-3.txt" --category Diary --target "$tmp/r3"
check_refused "a wrong recovery key makes no shares" 2 "not the one of this repository" \
  on first "$COFFER" recovery-key share --repo "$repo" --recovery-key-file "$tmp/rk" --output "$tmp/none"
if [ -z "$(ls -A "$tmp/none" 2>/dev/null)" ]; then ok "no sheet was written for the wrong key"; else not_ok "sheets written for a wrong key"; fi

exit $failed
