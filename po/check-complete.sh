#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails when a translation has untranslated or fuzzy messages.
set -eu
out=$(msgfmt --statistics -o /dev/null "$1" 2>&1)
echo "$out"
case $out in
  *untranslated*|*fuzzy*) exit 1 ;;
esac
