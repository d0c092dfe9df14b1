#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a UI test program under a private X server (Debian's xvfb-run).
# usage: xvfb-test.sh PROGRAM [ARGS…]
set -eu
if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "Bail out! xvfb-run is missing (apt-get install xvfb xauth)"
  exit 1
fi
exec xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" "$@"
