#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a UI test program with the accessibility stack on: its own D-Bus
# session bus (dbus-run-session), on which the AT-SPI bus launcher and
# registry are D-Bus activated (at-spi2-core), and GTK's AT-SPI backend
# (the common UI environment turns it off with NO_AT_BRIDGE/GTK_A11Y).
# usage: xvfb-test.sh a11y-test.sh PROGRAM [ARGS…]
set -eu
unset NO_AT_BRIDGE GTK_A11Y DBUS_SESSION_BUS_ADDRESS AT_SPI_BUS_ADDRESS
if ! command -v dbus-run-session >/dev/null 2>&1 || [ ! -x /usr/libexec/at-spi-bus-launcher ]; then
  echo "Bail out! dbus-run-session or at-spi2-core is missing (build-aux/install-deps.sh test)"
  exit 1
fi
if ! /usr/bin/python3 -c 'import pyatspi' 2>/dev/null; then
  echo "Bail out! python3-pyatspi is missing (build-aux/install-deps.sh test)"
  exit 1
fi
export COFFER_TEST_A11Y=1
# The bus daemon passes its stdout to the services it starts (the AT-SPI
# registry prints a banner there); only the test program may write TAP.
exec 3>&1
exec dbus-run-session -- sh -c 'exec "$0" "$@" >&3 3>&-' "$@" >/dev/null
