#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Walks the AT-SPI tree of one application (by process id) and lists every
control a screen reader would announce without a name: buttons, toggles and
switches, check and radio buttons, entries, combo boxes / drop-downs, spin
buttons, sliders and progress bars. Only visible widgets count: hidden stack
pages are walked when the test shows them.

usage: a11y-walk.py PID [WINDOW-TITLE...]
Exit status 0 when every control has a name, 1 when some have none, 2 when
the application or a window did not appear on the accessibility bus.
A11Y_LIST=1 prints every control with its name, A11Y_DUMP=1 the whole tree.
A11Y_EXPECT="NAME|NAME…" also fails (exit 1) when no control has one of
these names, to check that a given control is read out as it should be."""
import os
import re
import sys
import time

import pyatspi

CONTROL_ROLES = {
    pyatspi.ROLE_PUSH_BUTTON, pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_CHECK_BOX,
    pyatspi.ROLE_RADIO_BUTTON, pyatspi.ROLE_ENTRY, pyatspi.ROLE_PASSWORD_TEXT,
    pyatspi.ROLE_COMBO_BOX, pyatspi.ROLE_PROGRESS_BAR, pyatspi.ROLE_SPIN_BUTTON,
    pyatspi.ROLE_SLIDER, pyatspi.ROLE_MENU_ITEM, pyatspi.ROLE_CHECK_MENU_ITEM,
    pyatspi.ROLE_RADIO_MENU_ITEM, pyatspi.ROLE_LINK,
}
for extra in ("ROLE_SWITCH", "ROLE_TOGGLE_BUTTON"):
    if hasattr(pyatspi, extra):
        CONTROL_ROLES.add(getattr(pyatspi, extra))

DEADLINE_S = 30
TYPE_NAME = re.compile(r"(Gtk|Adw|Coffer)[A-Z][A-Za-z]*")
DUMP = bool(os.environ.get("A11Y_DUMP"))
LIST = bool(os.environ.get("A11Y_LIST"))


def find_app(pid):
    desktop = pyatspi.Registry.getDesktop(0)
    for i in range(desktop.childCount):
        app = desktop.getChildAtIndex(i)
        try:
            if app is not None and app.get_process_id() == pid:
                return app
        except Exception:  # an application that went away meanwhile
            continue
    return None


def walk(acc, path, problems, counts, depth=0):
    try:
        role = acc.getRole()
        name = acc.name or ""
        states = acc.getState()
        n = acc.childCount
    except Exception as e:  # the widget went away while walking
        return
    if DUMP:
        print("  " * depth + f"{acc.getRoleName()} [{name}] showing={states.contains(pyatspi.STATE_SHOWING)} "
              f"visible={states.contains(pyatspi.STATE_VISIBLE)} children={n}")
    # GTK 4.8 does not keep "showing" up to date below the window; hidden
    # widgets (and stack pages not shown) are not "visible".
    if not states.contains(pyatspi.STATE_VISIBLE):
        return
    here = path + [f"{acc.getRoleName()}[{name}]" if name else acc.getRoleName()]
    # Entry rows and text fields: editable text (labels are not editable).
    is_control = role in CONTROL_ROLES or (role == pyatspi.ROLE_TEXT and states.contains(pyatspi.STATE_EDITABLE))
    if is_control:
        counts[0] += 1
        counts.append(name.strip())
        if LIST:
            print(f"{acc.getRoleName()}: {name!r}")
        # Without a name GTK 4.8 falls back to the type name of the widget
        # (or of an icon-only button's image): "GtkImage" is not a name.
        if not name.strip() or TYPE_NAME.fullmatch(name.strip()):
            desc = ""
            try:
                desc = acc.description or ""
            except Exception:
                pass
            problems.append(" > ".join(here) + (f" (description: {desc})" if desc else ""))
    if depth > 60:
        return
    for i in range(n):
        try:
            child = acc.getChildAtIndex(i)
        except Exception:
            continue
        if child is not None:
            walk(child, here, problems, counts, depth + 1)


def main():
    pid = int(sys.argv[1])
    titles = sys.argv[2:]
    deadline = time.monotonic() + DEADLINE_S
    # The application registers with the accessibility registry on its own
    # schedule; poll (bounded) until it and its windows are there.
    while True:
        app = find_app(pid)
        windows = []
        if app is not None:
            for i in range(app.childCount):
                w = app.getChildAtIndex(i)
                if w is None:
                    continue
                if not titles or w.name in titles:
                    windows.append(w)
        found = {w.name for w in windows}
        if app is not None and windows and all(t in found for t in titles):
            break
        if time.monotonic() > deadline:
            names = [] if app is None else [app.getChildAtIndex(i).name for i in range(app.childCount)]
            print(f"application {pid} or windows {titles} not on the accessibility bus; "
                  f"windows there: {names}")
            return 2
        time.sleep(0.1)
    problems = []
    counts = [0]
    for w in windows:
        walk(w, [], problems, counts)
    print(f"{counts[0]} controls in {len(windows)} window(s): {sorted(found)}")
    for p in problems:
        print("NO NAME: " + p)
    named = set(counts[1:])
    missing = [n for n in os.environ.get("A11Y_EXPECT", "").split("|") if n and n not in named]
    for n in missing:
        print(f"NO CONTROL NAMED: {n!r}")
    return 1 if problems or missing else 0


if __name__ == "__main__":
    sys.exit(main())
