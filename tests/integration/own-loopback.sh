#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs PROGRAM [ARGS...] with a loopback interface of its own (a new network
# namespace), for the sign-in tests: `rclone authorize` always listens on
# 127.0.0.1:53682, and anything else on the machine holding that port (a
# user's own `rclone config`, another test run on a shared host) would make
# them fail for a reason that has nothing to do with Coffer. Needs root
# (CI is); elsewhere it says so and shares the machine's loopback.
set -eu
# Tried first as a whole: where a namespace can be made but its loopback
# not brought up, the test must not run without one.
if command -v ip >/dev/null 2>&1 && unshare --net sh -c 'ip link set lo up' 2>/dev/null; then
  exec unshare --net sh -c 'ip link set lo up && exec "$@"' own-loopback "$@"
fi
echo "own-loopback.sh: no network namespace here (needs root and iproute2);" \
     "sharing this machine's 127.0.0.1:53682" >&2
exec "$@"
