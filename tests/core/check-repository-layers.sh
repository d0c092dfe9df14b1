#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The files of the repository object call each other one way
# (src/core/README.md): a file uses the functions of the files on a lower
# level, never those of its own level or above. Fails naming the call that
# goes the wrong way.
# usage: check-repository-layers.sh SOURCE_ROOT
set -eu
cd "$1/src/core/engine"

# file:level, bottom first
layers="coffer-repository-config.c:0
coffer-repository-objects.c:0
coffer-repository-keys.c:1
coffer-repository-categories.c:2
coffer-repository-snapshots.c:3
coffer-repository-devices.c:3
coffer-repository-shares.c:3
coffer-repository.c:4"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The code without comments and string literals (a name in a comment is
# not a call).
for entry in $layers; do
  f=${entry%%:*}
  [ -f "$f" ] || { echo "missing: src/core/engine/$f"; exit 1; }
  awk '
    {
      line = $0; out = ""
      while (length (line) > 0) {
        if (in_comment) {
          i = index (line, "*/")
          if (i == 0) { line = ""; break }
          line = substr (line, i + 2); in_comment = 0
        } else {
          c = index (line, "/*"); q = index (line, "\"")
          if (c > 0 && (q == 0 || c < q)) {
            out = out substr (line, 1, c - 1); line = substr (line, c + 2); in_comment = 1
          } else if (q > 0) {
            out = out substr (line, 1, q - 1); line = substr (line, q + 1)
            while (match (line, /^([^"\\]|\\.)*"/)) { line = substr (line, RLENGTH + 1); break }
          } else { out = out line; line = "" }
        }
      }
      print out
    }' "$f" > "$tmp/$f.code"
  # Functions it defines (GNU style: the name starts the line).
  sed -n 's/^\(_\{0,1\}coffer_[a-z0-9_]*\) (.*/\1/p' "$f" | sort -u > "$tmp/$f.defs"
done

status=0
for entry in $layers; do
  f=${entry%%:*}; level=${entry##*:}
  for other in $layers; do
    g=${other%%:*}; other_level=${other##*:}
    [ "$g" = "$f" ] && continue
    [ "$other_level" -lt "$level" ] && continue
    [ -s "$tmp/$g.defs" ] || continue
    for name in $(grep -owF -f "$tmp/$g.defs" "$tmp/$f.code" | sort -u); do
      echo "src/core/engine/$f (level $level) calls $name of src/core/engine/$g (level $other_level)"
      status=1
    done
  done
done
[ $status -eq 0 ] && echo "the repository files call each other one way"
exit $status
