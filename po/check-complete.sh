#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a translation lacks a message of the current sources: extracts
# a fresh template from POTFILES.in, merges the .po into it and counts
# untranslated and fuzzy messages.
# usage: check-complete.sh SOURCE_ROOT LANG.po
set -eu
root=$1
po=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
grep -v '^#' po/POTFILES.in | sed '/^$/d' > "$tmp/files"
xgettext --package-name=coffer --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  -f "$tmp/files" -o "$tmp/coffer.pot"
msgmerge --quiet --no-fuzzy-matching -o "$tmp/merged.po" "$po" "$tmp/coffer.pot"
out=$(msgfmt --check --statistics -o /dev/null "$tmp/merged.po" 2>&1)
echo "$(basename "$po"): $out"
case $out in
  *untranslated*|*fuzzy*)
    msgattrib --untranslated --no-obsolete "$tmp/merged.po" | grep '^msgid' | head -20
    exit 1 ;;
esac
