#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Sign-in to an OAuth cloud and cloud errors, driving the real `coffer` CLI
# and the real rclone (TAP on stdout).
#   test-rclone-signin.sh oauth PATH/TO/coffer
#     Under run-with-keyring.sh service (a real gnome-keyring-daemon):
#     `coffer remote add gdrive` against fake-oauth.py, the one fake in the
#     tests (Google's servers cannot be reached here). The "browser" is an
#     xdg-open first in PATH that follows the redirects with curl, as a
#     browser would. Checks that the token lands in the keyring and nowhere
#     on disk or in any process's argv; then a remote whose token has
#     expired and whose refresh is refused (invalid_grant) makes `coffer
#     init` say "Sign in to Google Drive again".
#   test-rclone-signin.sh full PATH/TO/coffer
#     An rclone local remote on a 2 MiB tmpfs (needs root to mount; skipped
#     otherwise): the backup fails with "full", not with a vague error.
set -u

mode=$1
COFFER=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffer-signin-XXXXXX")
server_pid=
cleanup () {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  mountpoint -q "$tmp/small" 2>/dev/null && umount "$tmp/small"
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
export COFFER_TESTING=1 COFFER_TEST_FAST_KDF=1
unset COFFER_PASSWORD COFFER_RECOVERY_KEY COFFER_REPO
here=$(dirname "$0")

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; failed=1; }
skip () { n=$((n + 1)); echo "ok $n # SKIP $1"; }
# What a failed step printed goes to stderr, where meson shows it.
show () { sed 's/^/# /' "$1" >&2; }

# TRUE if nothing listens on 127.0.0.1:53682 (rclone authorize's port).
port_free () {
  python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", 53682))
except OSError: sys.exit(1)' 2>/dev/null
}

# Starts fake-oauth.py with ARGS; sets port and server_pid.
start_server () {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -f "$tmp/fake/port"
  python3 "$here/fake-oauth.py" "$@" "$tmp/fake/port" >/dev/null 2>>"$tmp/fake/server.log" &
  server_pid=$!
  i=0
  while [ ! -s "$tmp/fake/port" ] && [ $i -lt 200 ] && kill -0 "$server_pid" 2>/dev/null; do
    # waiting on a condition (the port file), bounded
    sleep 0.05; i=$((i + 1))
  done
  port=$(cat "$tmp/fake/port")
  export RCLONE_DRIVE_AUTH_URL="http://127.0.0.1:$port/auth"
  export RCLONE_DRIVE_TOKEN_URL="http://127.0.0.1:$port/token"
  export RCLONE_DRIVE_CLIENT_ID=coffer-test-client RCLONE_DRIVE_CLIENT_SECRET=coffer-test-secret
}

oauth () {
  echo "1..9"
  # With a loopback of its own (own-loopback.sh) the port is free; on a
  # shared one say who holds it rather than fail for no visible reason.
  if port_free; then
    ok "127.0.0.1:53682 is free for rclone authorize"
  else
    not_ok "127.0.0.1:53682 is free for rclone authorize"
    ss -tanp 2>/dev/null | grep ":53682 " | sed 's/^/# held: /' >&2
  fi
  mkdir -p "$tmp/fake" "$tmp/bin" "$tmp/src"
  # The browser: opens rclone's local address, which sends it to the
  # provider's sign-in page, which sends it back to rclone with the code.
  # It also records every process's command line while rclone authorize
  # runs (its argv is fixed from exec on).
  cat >"$tmp/bin/xdg-open" <<SH
#!/bin/sh
for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <"\$f" 2>/dev/null; echo; done >>"$tmp/fake/argv.txt"
exec curl -sS -L -o /dev/null "\$1"
SH
  # Every rclone Coffer runs goes through this shim, which records its
  # argv exactly as spawned.
  real_rclone=$(command -v rclone)
  cat >"$tmp/bin/rclone" <<SH
#!/bin/sh
echo "rclone \$*" >>"$tmp/fake/argv.txt"
exec "$real_rclone" "\$@"
SH
  chmod +x "$tmp/bin/xdg-open" "$tmp/bin/rclone"
  PATH="$tmp/bin:$PATH"
  start_server

  if "$COFFER" remote add gdrive gd >"$tmp/out" 2>"$tmp/err" && grep -q "rclone:gd:" "$tmp/out"; then
    ok "coffer remote add gdrive signs in through rclone authorize"
  else
    not_ok "coffer remote add gdrive signs in through rclone authorize"; show "$tmp/err"
  fi
  access=$(sed -n 1p "$tmp/fake/port.tokens" 2>/dev/null)
  refresh=$(sed -n 2p "$tmp/fake/port.tokens" 2>/dev/null)

  stored=$(secret-tool lookup repository rclone:gd kind rclone-remote 2>/dev/null)
  case $stored in
    *"$access"*"$refresh"*) [ -n "$access" ] && ok "the token is in the keyring" \
                              || not_ok "the fake server issued no token" ;;
    *) not_ok "the token is in the keyring"; echo "# keyring has: ${stored:+something else}" ;;
  esac

  if grep -q '^\[gd\]' "$XDG_CONFIG_HOME/coffer/remotes.ini" \
     && grep -q '^type=gdrive' "$XDG_CONFIG_HOME/coffer/remotes.ini"; then
    ok "remotes.ini names the remote and its type"
  else
    not_ok "remotes.ini names the remote and its type"
  fi

  # Serve it once (the fake server cannot serve Drive's API, so this
  # fails), so that the token also travels to `rclone serve`.
  # One low-level retry: with a loopback of its own rclone cannot reach
  # Drive's API and would retry for 30 s.
  RCLONE_LOW_LEVEL_RETRIES=1 "$COFFER" snapshots --repo rclone:gd:backup >/dev/null 2>&1

  if [ -n "$access" ] && grep -q "rclone authorize drive" "$tmp/fake/argv.txt" \
     && grep -q "rclone serve webdav gd:backup" "$tmp/fake/argv.txt" \
     && ! grep -q -e "$access" -e "$refresh" "$tmp/fake/argv.txt"; then
    ok "the token never appears in any process's argv"
  else
    not_ok "the token never appears in any process's argv"; grep -c -e "rclone authorize drive" -e "rclone serve webdav gd:" "$tmp/fake/argv.txt" | sed "s/^/# rclone seen: /"; grep -e "$access" -e "$refresh" "$tmp/fake/argv.txt" | cut -c1-200 | sed "s/^/# /"
  fi

  # Everywhere on disk this computer writes, except the fake provider's own
  # record of what it issued; the keyring file is encrypted.
  if [ -n "$access" ] && ! grep -r -q --exclude-dir=fake -e "$access" -e "$refresh" \
       "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR" "$tmp" \
       2>/dev/null; then
    ok "the token is nowhere on disk"
  else
    not_ok "the token is nowhere on disk"
    grep -r -l --exclude-dir=fake -e "$access" "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" \
      "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR" "$tmp" 2>/dev/null | sed 's/^/# found in /'
  fi

  # A token that has expired, and a provider that refuses to refresh it
  # (revoked access, or a password change): a clear "sign in again".
  start_server --expires-in -3600 --revoked
  "$COFFER" remote add gdrive gdx >/dev/null 2>"$tmp/err" || show "$tmp/err"
  echo "pw for the signin test" >"$tmp/pw"
  if "$COFFER" init --repo rclone:gdx:backup --password-file "$tmp/pw" >"$tmp/out" 2>"$tmp/err"; then
    not_ok "an expired, revoked sign-in fails (init succeeded)"
  elif grep -q "Sign in to Google Drive again" "$tmp/err" && grep -q "invalid_grant" "$tmp/err"; then
    ok "an expired, revoked sign-in says: Sign in to Google Drive again"; show "$tmp/err"
  else
    not_ok "an expired, revoked sign-in says: Sign in to Google Drive again"; show "$tmp/err"
  fi
  if pgrep -f "rclone serve webdav gdx" >/dev/null || pgrep -f "rclone authorize" >/dev/null; then
    not_ok "no rclone left running"
  else
    ok "no rclone left running"
  fi

  # Another sign-in (here: something listening) holds rclone's port: a
  # clear message at once, no crash, no remote.
  # It holds the port until its stdin (a fifo) closes.
  mkfifo "$tmp/fake/hold"
  python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 53682)); s.listen()
print("held", flush=True); sys.stdin.read()' <"$tmp/fake/hold" >"$tmp/fake/held" &
  hold_pid=$!
  exec 7>"$tmp/fake/hold"
  i=0
  while [ ! -s "$tmp/fake/held" ] && [ $i -lt 200 ] && kill -0 "$hold_pid" 2>/dev/null; do
    # waiting on a condition (the listener said so), bounded
    sleep 0.05; i=$((i + 1))
  done
  port_free && echo "# the port is not held: the listener failed" >&2
  "$COFFER" remote add gdrive gbusy >"$tmp/out" 2>"$tmp/err"
  status=$?
  exec 7>&-
  wait "$hold_pid"
  if [ $status -eq 1 ] && grep -q "Another sign-in is still waiting for its browser" "$tmp/err" \
     && grep -q "127.0.0.1:53682" "$tmp/err" && ! grep -q '^\[gbusy\]' "$XDG_CONFIG_HOME/coffer/remotes.ini"; then
    ok "a sign-in while 127.0.0.1:53682 is taken says so (exit 1, no remote)"
  else
    not_ok "a sign-in while 127.0.0.1:53682 is taken says so (exit $status)"; show "$tmp/err"
  fi
}

full () {
  echo "1..2"
  mkdir -p "$tmp/small" "$tmp/src"
  if ! mount -t tmpfs -o size=2m coffer-test "$tmp/small" 2>/dev/null; then
    skip "cannot mount a small tmpfs (not root)"; skip "cannot mount a small tmpfs (not root)"
    return
  fi
  # A remote of rclone's own configuration, given through the environment.
  export RCLONE_CONFIG_SMALL_TYPE=local
  head -c 6000000 /dev/urandom >"$tmp/src/big.bin"
  echo "pw for the full test" >"$tmp/pw"
  if "$COFFER" init --repo "rclone:small:$tmp/small/repo" --password-file "$tmp/pw" \
       >"$tmp/out" 2>"$tmp/err" \
     && "$COFFER" category add Files --repo "rclone:small:$tmp/small/repo" --password-file "$tmp/pw" \
       --level standard "$tmp/src" >"$tmp/out" 2>"$tmp/err"; then
    ok "a repository fits on the small remote"
  else
    not_ok "a repository fits on the small remote"; show "$tmp/err"
  fi
  if "$COFFER" backup --repo "rclone:small:$tmp/small/repo" --password-file "$tmp/pw" \
       >"$tmp/out" 2>"$tmp/err"; then
    not_ok "a backup bigger than the remote fails as full (it succeeded)"
  elif grep -q -i "is full\|no space" "$tmp/err"; then
    ok "a backup bigger than the remote fails as full"; show "$tmp/err"
  else
    not_ok "a backup bigger than the remote fails as full"; show "$tmp/err"
  fi
}

case $mode in
  oauth) oauth ;;
  full) full ;;
  *) echo "usage: $0 oauth|full COFFER" >&2; exit 2 ;;
esac
exit $failed
