#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A layer of src/core sees its own headers and those of the layers below
it, nothing else (src/core/README.md). Takes the exact compiler command
meson uses for one source file of each layer's library and for one unit
test of that layer (from compile_commands.json), swaps the source for a
one-line file that includes a header, and runs the preprocessor: every
header of a layer that is not below must not be found, one header of each
layer that is must be. Fails when someone widens a layer's include
directories (in its static_library or its declare_dependency), or moves a
header into the wrong folder.

usage: check-layer-includes.py BUILD_ROOT SOURCE_ROOT
"""
import glob
import json
import os
import shlex
import subprocess
import sys
import tempfile

# layer: the layers it may include from (itself and those below it)
VISIBLE = {
    'crypto': {'crypto'},
    'format': {'crypto', 'format'},
    'keys': {'crypto', 'keys'},
    'kit': {'crypto', 'kit'},
    'store': {'crypto', 'keys', 'store'},
    'engine': {'crypto', 'format', 'keys', 'store', 'engine'},
}
# One unit test per layer (tests/core/meson.build links it to that layer).
UNIT_TESTS = {
    'crypto': 'tests/core/test-crypto.c',
    'format': 'tests/core/test-chunker.c',
    'keys': 'tests/core/test-device.c',
    'kit': 'tests/core/test-emergency-kit.c',
    'store': 'tests/core/test-store-local.c',
    'engine': 'tests/core/test-backup.c',
}


def preprocess_command(entry, probe):
    """The entry's command, preprocessing probe instead of compiling."""
    args = shlex.split(entry['command']) if 'command' in entry else list(entry['arguments'])
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ('-o', '-c', '-MQ', '-MF', '-MT'):
            skip = True
            continue
        if a in ('-MD', '-MMD'):
            continue
        out.append(a)
    return out + ['-fdiagnostics-color=never', '-E', probe, '-o', os.devnull]


def main():
    build_root, source_root = (os.path.abspath(p) for p in sys.argv[1:3])
    with open(os.path.join(build_root, 'compile_commands.json')) as f:
        entries = json.load(f)

    def entry_for(rel):
        want = os.path.join(source_root, rel)
        for e in entries:
            if os.path.normpath(os.path.join(e['directory'], e['file'])) == want:
                return e
        return None

    headers = {}
    for layer in VISIBLE:
        found = sorted(glob.glob(os.path.join(source_root, 'src/core', layer, '*.h')))
        if not found:
            print(f'no headers in src/core/{layer}')
            return 1
        headers[layer] = [os.path.basename(h) for h in found]

    failures = 0
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, 'probe.c')
        for layer, visible in VISIBLE.items():
            library_source = sorted(glob.glob(os.path.join(source_root, 'src/core', layer, '*.c')))[0]
            consumers = [os.path.relpath(library_source, source_root), UNIT_TESTS[layer]]
            for consumer in consumers:
                entry = entry_for(consumer)
                if entry is None:
                    print(f'{consumer}: not in compile_commands.json')
                    failures += 1
                    continue
                for other, names in headers.items():
                    # Every header of a layer it must not see; the first of a
                    # layer it sees (so that a failure means "not found", not
                    # "these flags do not work").
                    for name in (names[:1] if other in visible else names):
                        with open(probe, 'w') as f:
                            f.write(f'#include "{name}"\n')
                        r = subprocess.run(preprocess_command(entry, probe),
                                           cwd=entry['directory'],
                                           capture_output=True, text=True)
                        checked += 1
                        # gcc: "x.h: No such file or directory", clang:
                        # "'x.h' file not found", about this header itself
                        # (not about one it includes in turn).
                        missing = r.returncode != 0 and (
                            f'{name}: No such file' in r.stderr
                            or f"'{name}' file not found" in r.stderr)
                        if other in visible and r.returncode != 0:
                            print(f'{consumer} ({layer}) cannot include {other}/{name}:\n{r.stderr}')
                            failures += 1
                        elif other not in visible and not missing:
                            what = 'includes' if r.returncode == 0 else 'fails otherwise on'
                            print(f'{consumer} ({layer}) {what} {other}/{name}, '
                                  f'a header of a layer that is not below it')
                            if r.returncode != 0:
                                print(r.stderr)
                            failures += 1
    if failures:
        print(f'{failures} of {checked} includes break the layering')
        return 1
    print(f'each layer sees only itself and the layers below ({checked} includes checked)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
