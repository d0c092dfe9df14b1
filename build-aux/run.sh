#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Sets up a fresh Debian 12 / Ubuntu machine, builds Coffer into _build,
# installs it under _install and starts it:
#   build-aux/run.sh          the desktop app (needs a graphical session)
#   build-aux/run.sh demo     a command-line demo in a temporary folder: creates
#                             a repository, backs up a sample folder, lists the
#                             snapshot and restores it
#   build-aux/run.sh cli ARGS the `coffer` command line
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build-aux/install-deps.sh build
if [ ! -f _build/build.ninja ]; then
  meson setup _build --prefix="$top/_install" -Dbuildtype=debugoptimized
else
  # The test command may have set up _build: install here all the same.
  meson configure _build --prefix="$top/_install" -Dapp=true >/dev/null
fi
meson install -C _build --quiet >/dev/null
export PATH="$top/_install/bin:$PATH"
export XDG_DATA_DIRS="$top/_install/share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
export GSETTINGS_SCHEMA_DIR="$top/_install/share/glib-2.0/schemas"

demo() {
  local dir; dir=$(mktemp -d /tmp/coffer-demo.XXXXXX)
  echo "== Demo in $dir"
  mkdir -p "$dir/Pictures/2024" "$dir/Documents"
  head -c 3000000 /dev/urandom > "$dir/Pictures/2024/beach.jpg"
  printf 'Shopping list\n- coffee\n' > "$dir/Documents/notes.txt"
  export COFFER_PASSWORD=demo-password
  export XDG_DATA_HOME="$dir/state" XDG_CACHE_HOME="$dir/cache"
  set -x
  coffer init --repo "$dir/backup"
  coffer category add Photos --repo "$dir/backup" --level standard "$dir/Pictures"
  coffer category add Documents --repo "$dir/backup" --level standard "$dir/Documents"
  coffer backup --repo "$dir/backup"
  coffer snapshots --repo "$dir/backup"
  coffer ls --repo "$dir/backup" --category Photos --recursive
  coffer restore --repo "$dir/backup" --category Photos --snapshot latest --target "$dir/restored"
  diff -r "$dir/Pictures" "$dir/restored$dir/Pictures"
  coffer check --repo "$dir/backup" --read-data
  { set +x; } 2>/dev/null
  echo "== The restored photos match the originals. Everything is in $dir"
}

case ${1:-app} in
  demo) demo ;;
  cli) shift; exec coffer "$@" ;;
  app)
    if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
      echo "No graphical session (DISPLAY/WAYLAND_DISPLAY unset): running the command-line demo instead." >&2
      echo "Start the app from a desktop session with: build-aux/run.sh" >&2
      demo
    else
      exec coffer-app
    fi ;;
  *) echo "usage: $0 [app|demo|cli ARGS...]" >&2; exit 2 ;;
esac
