#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a source file with translatable strings (src/app, src/cli,
# src/core, data) is missing from po/POTFILES.in, or when POTFILES.in names
# a file that does not exist.
set -eu
root=$1
cd "$root"
status=0
listed=$(grep -v '^#' po/POTFILES.in | sed '/^$/d' | sort -u)
found=$( (grep -rlE '(^|[^A-Za-z0-9_])(_|N_|C_|NC_|g_dngettext|ngettext)\(' src/app src/cli src/core --include='*.c' ;
          grep -rl 'translatable="yes"' src/app --include='*.ui' ;
          ls data/*.desktop.in data/*.metainfo.xml.in data/*.gschema.xml) | sort -u)
for f in $found; do
  if ! printf '%s\n' "$listed" | grep -qxF "$f"; then
    echo "not in po/POTFILES.in: $f"
    status=1
  fi
done
for f in $listed; do
  if [ ! -e "$f" ]; then
    echo "listed in po/POTFILES.in but missing: $f"
    status=1
  fi
done
[ $status -eq 0 ] && echo "POTFILES.in is complete ($(printf '%s\n' "$listed" | wc -l) files)"
exit $status
