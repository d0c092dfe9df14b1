#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a test program against a real keyring in a throw-away HOME.
#   run-with-keyring.sh service PROGRAM [ARGS...]
#     a private D-Bus session (dbus-run-session) with gnome-keyring-daemon's
#     Secret Service, its login keyring created and unlocked with a test
#     password read from stdin;
#   run-with-keyring.sh file PROGRAM [ARGS...]
#     libsecret's file backend (the one used inside Flatpak) with a test
#     password, and no session bus at all.
set -eu

mode=$1
shift

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coffer-keyring-XXXXXX")
cleanup () {
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/home" "$tmp/data" "$tmp/config" "$tmp/cache" "$tmp/runtime"
chmod 700 "$tmp/runtime"
export HOME="$tmp/home"
export XDG_DATA_HOME="$tmp/data"
export XDG_CONFIG_HOME="$tmp/config"
export XDG_CACHE_HOME="$tmp/cache"
export XDG_RUNTIME_DIR="$tmp/runtime"
unset COFFER_KEYRING DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS
unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK

case $mode in
  service)
    unset SECRET_BACKEND
    # Inside the private bus: start the daemon (it forks and prints its
    # environment), wait until it owns the Secret Service name, then run.
    # The tests' G_DEBUG=fatal-warnings is for Coffer's code: the daemon
    # (someone else's) runs without it, or one of its own warnings would
    # take the keyring away in the middle of a test.
    dbus-run-session -- sh -c '
      set -eu
      printf "coffer-test-password" |
        env -u G_DEBUG gnome-keyring-daemon --unlock --components=secrets >"$XDG_RUNTIME_DIR/gkd.env"
      gdbus wait --session --timeout 20 org.freedesktop.secrets
      status=0
      "$@" || status=$?
      # The daemon is a child of this bus session; stop it with the bus.
      exit $status
    ' run-with-keyring "$@"
    ;;
  file)
    export SECRET_BACKEND=file
    export SECRET_FILE_TEST_PATH="$tmp/data/keyrings/coffer-test.keyring"
    export SECRET_FILE_TEST_PASSWORD=coffer-test-password
    mkdir -p "$tmp/data/keyrings"
    "$@"
    ;;
  *)
    echo "usage: $0 service|file PROGRAM [ARGS...]" >&2
    exit 2
    ;;
esac
