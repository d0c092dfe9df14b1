#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Recovery drills (issue #3), driving the real `coffer` CLI. Every restoring
# computer is a fresh HOME (fresh XDG directories, so no local state and no
# device key). The first computer always keeps its key in the password-
# sealed local file (COFFER_KEYRING=none); the computer of drill (c) uses
# whatever keyring the environment offers, so under run-with-keyring.sh it
# stores its device key in a fresh, empty gnome-keyring and restores
# without any password.
#   test-drills.sh PATH/TO/coffer        (TAP on stdout)
set -u

COFFER=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffer-drills-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export COFFER_TESTING=1 COFFER_TEST_FAST_KDF=1
unset COFFER_PASSWORD COFFER_RECOVERY_KEY COFFER_REPO
keyring_mode=${COFFER_KEYRING-service}

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
check () { # description, then a command
  desc=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$tmp/err"; fi
}
check_fails () {
  desc=$1; shift
  if "$@" >"$tmp/out" 2>"$tmp/err"; then not_ok "$desc (succeeded)"; else ok "$desc"; fi
}

# on COMPUTER COMMAND...: runs COMMAND with that computer's fresh HOME.
on () {
  h="$tmp/computers/$1"; shift
  mkdir -p "$h/home" "$h/data" "$h/cache" "$h/config"
  HOME="$h/home" XDG_DATA_HOME="$h/data" XDG_CACHE_HOME="$h/cache" XDG_CONFIG_HOME="$h/config" "$@"
}
nokeyring () { COFFER_KEYRING=none "$@"; }
asis () { "$@"; }
pw () { COFFER_PASSWORD='drill password 1' "$@"; }

repo="$tmp/repo"
src="$tmp/src"
mkdir -p "$src/photos/2024" "$src/diary"
head -c 300000 /dev/urandom >"$src/photos/2024/beach.jpg"
echo "a photo caption" >"$src/photos/caption.txt"
echo "dear diary" >"$src/diary/day1.txt"
head -c 20000 /dev/urandom >"$src/diary/voice.ogg"

echo "1..17"

# ---- the first computer: repository, a Standard and an Advanced category
on first nokeyring pw "$COFFER" init --repo "$repo" --recovery-key-file "$tmp/rk" --device-name First >/dev/null 2>&1
on first nokeyring pw "$COFFER" category add Photos --repo "$repo" --level standard "$src/photos" >/dev/null 2>&1
on first nokeyring pw "$COFFER" category add Diary --repo "$repo" --level advanced \
   --recovery-key-file "$tmp/rk" "$src/diary" >/dev/null 2>&1
check "setup: first backup of both categories" on first nokeyring pw "$COFFER" backup --repo "$repo"

# ---- (a) a Standard category restored with the password alone
check "(a) Standard category restored with the password alone" \
  on a nokeyring pw "$COFFER" restore --repo "$repo" --category Photos --target "$tmp/a"
check "(a) restored files are identical" diff -r "$src/photos" "$tmp/a$src/photos"

# ---- (b) every category restored with the recovery key alone
on b nokeyring "$COFFER" restore --repo "$repo" --recovery-key-file "$tmp/rk" --category Photos --target "$tmp/b" >/dev/null 2>&1
check "(b) every category restored with the recovery key alone" \
  on b nokeyring "$COFFER" restore --repo "$repo" --recovery-key-file "$tmp/rk" --category Diary --target "$tmp/b"
check "(b) restored files are identical" sh -c "diff -r '$src/photos' '$tmp/b$src/photos' && diff -r '$src/diary' '$tmp/b$src/diary'"

# ---- (b2) a new computer trusted with the recovery key needs it only once
check "(b2) a new computer becomes trusted with the recovery key" \
  on b2 nokeyring pw "$COFFER" devices trust --repo "$repo" --recovery-key-file "$tmp/rk" --name Spare
check "(b2) afterwards it restores the Advanced category without the recovery key" \
  on b2 nokeyring pw "$COFFER" restore --repo "$repo" --category Diary --target "$tmp/b2"
check "(b2) restored files are identical" diff -r "$src/diary" "$tmp/b2$src/diary"

# ---- (c) a second computer joined by code restores everything
join_by_code () { # computer wrapper...
  who=$1; shift
  id=$(on "$who" "$@" pw "$COFFER" devices join --repo "$repo" --name "$who" --no-wait --json | sed -n 's/.*"id":"\([a-z0-9]*\)".*/\1/p')
  [ -n "$id" ] || return 1
  on first nokeyring pw "$COFFER" devices approve "$id" --repo "$repo" >/dev/null || return 1
  code=$(on "$who" "$@" pw "$COFFER" devices join --repo "$repo" --status --json | sed -n 's/.*"verification_code":"\([0-9 ]*\)".*/\1/p')
  [ -n "$code" ] || return 1
  on first nokeyring pw "$COFFER" devices approve "$id" --repo "$repo" --code "$code" >/dev/null || return 1
  on "$who" "$@" pw "$COFFER" devices join --repo "$repo" --complete >/dev/null || return 1
  echo "$id"
}
if [ "$keyring_mode" = none ]; then c_env="nokeyring"; c_pw="pw"; else c_env="asis"; c_pw="asis"; fi
keyring_used () { # in keyring mode the joined computer's key must be in the keyring
  [ "$keyring_mode" = none ] || grep -qs '^storage=keyring' "$tmp"/computers/second/data/coffer/repositories/*/state.ini
}
if id_c=$(join_by_code second $c_env 2>"$tmp/err") && keyring_used; then ok "(c) a second computer joins by code"
else not_ok "(c) a second computer joins by code"; sed 's/^/# /' "$tmp/err"; fi
# With a keyring the joined computer needs no password at all.
check "(c) the joined computer restores the Advanced category with its own key" \
  on second $c_env $c_pw "$COFFER" restore --repo "$repo" --category Diary --target "$tmp/c"
check "(c) restored files are identical" diff -r "$src/diary" "$tmp/c$src/diary"

# ---- (d) a removed computer cannot read a backup made after its removal
if id_d=$(join_by_code removed nokeyring 2>"$tmp/err"); then ok "(d) another computer joins"
else not_ok "(d) another computer joins"; sed 's/^/# /' "$tmp/err"; fi
check "(d) removal with the recovery key" \
  on first nokeyring pw "$COFFER" devices remove "$id_d" --yes --repo "$repo" --recovery-key-file "$tmp/rk"
echo "written after the removal" >"$src/diary/day2.txt"
on first nokeyring pw "$COFFER" backup --repo "$repo" --category Diary >/dev/null 2>&1
check_fails "(d) the removed computer cannot read the new backup" \
  on removed nokeyring pw "$COFFER" restore --repo "$repo" --category Diary --target "$tmp/d"

# ---- (e) an Advanced category refuses the password, and says what is needed
on e nokeyring pw "$COFFER" restore --repo "$repo" --category Diary --target "$tmp/e" >"$tmp/out" 2>"$tmp/err"
if [ $? -ne 0 ] && grep -qi "recovery key" "$tmp/err" && grep -qi "trusted" "$tmp/err"; then
  ok "(e) Advanced category refuses the password, naming the recovery key and trusted devices"
else
  not_ok "(e) Advanced category refuses the password"; sed 's/^/# /' "$tmp/err"
fi

# ---- (f) a wrong recovery key is told apart from a typo
key=$(head -n 1 "$tmp/rk")
first=$(printf %s "$key" | cut -c1)
if [ "$first" = A ] || [ "$first" = a ]; then sub=B; else sub=A; fi
printf '%s%s\n' "$sub" "$(printf %s "$key" | cut -c2-)" >"$tmp/rk-typo"
on other nokeyring "$COFFER" init --repo "$tmp/other" --recovery-key-file "$tmp/rk-other" --no-password >/dev/null 2>&1
on f nokeyring "$COFFER" recovery-key verify --repo "$repo" --recovery-key-file "$tmp/rk-typo" >"$tmp/out" 2>"$tmp/err-typo"
typo_status=$?
on f nokeyring "$COFFER" recovery-key verify --repo "$repo" --recovery-key-file "$tmp/rk-other" >"$tmp/out" 2>"$tmp/err-wrong"
wrong_status=$?
if [ $typo_status -ne 0 ] && grep -qi "typo" "$tmp/err-typo"; then
  ok "(f) a mistyped recovery key is reported as a typo"
else
  not_ok "(f) typo"; sed 's/^/# /' "$tmp/err-typo"
fi
if [ $wrong_status -ne 0 ] && ! grep -qi "typo" "$tmp/err-wrong"; then
  ok "(f) a wrong recovery key is reported as wrong, not as a typo"
else
  not_ok "(f) wrong key"; sed 's/^/# /' "$tmp/err-wrong"
fi

exit $failed
