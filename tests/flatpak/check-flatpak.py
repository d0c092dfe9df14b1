#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Release checks for the Flatpak (suite 'flatpak'), as TAP.

The manifest flatpak/io.github.cofferapp.Coffer.json must agree with the
desktop file, the metainfo, the meson build and the sandbox table in
flatpak/README.md; the metainfo must pass `appstreamcli validate --strict
--no-net` and carry what a Flathub review asks for.

Secrets inside the sandbox go through libsecret's file backend; that path is
exercised by the integration test 'keyring-file' (tests/integration), which
this script only checks is still registered.

usage: check-flatpak.py SOURCE_ROOT APP_ID VERSION DESKTOP_FILE METAINFO_FILE [APPSTREAMCLI]
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SOURCE_ROOT, APP_ID, VERSION, DESKTOP, METAINFO = sys.argv[1:6]
APPSTREAMCLI = sys.argv[6] if len(sys.argv) > 6 else None
MANIFEST = os.path.join(SOURCE_ROOT, 'flatpak', APP_ID + '.json')
REPO_URL = 'https://github.com/cofferapp/coffer'
RAW_URL = 'https://raw.githubusercontent.com/cofferapp/coffer/main/'

# Libraries Coffer links that the GNOME runtime already has (GLib, GTK,
# libadwaita, libsecret, libsoup 3, libxml2, cairo from the GNOME layer;
# zstd and SQLite from the freedesktop SDK underneath): never bundled.
RUNTIME_PROVIDES = {'glib', 'gtk', 'gtk4', 'libadwaita', 'libsecret', 'libsoup',
                    'libsoup3', 'libxml2', 'cairo', 'zstd', 'sqlite', 'sqlite3'}
FORBIDDEN_FINISH_ARGS = {
    '--filesystem=host', '--filesystem=host-os', '--filesystem=host-etc',
    '--filesystem=home', '--filesystem=~', '--socket=session-bus',
    '--socket=system-bus', '--socket=x11', '--device=all',
    '--talk-name=org.freedesktop.secrets', '--talk-name=org.freedesktop.Flatpak',
    '--talk-name=org.gnome.SessionManager',
}
MESON_BUILTINS = {'buildtype', 'optimization', 'debug', 'b_lto', 'b_ndebug', 'b_pie'}

results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((True, name, None))
        except AssertionError as e:
            results.append((False, name, str(e)))
        except Exception as e:  # a crash is a failure with its reason
            results.append((False, name, '%s: %s' % (type(e).__name__, e)))
        return fn
    return wrap


def read(*parts):
    with open(os.path.join(SOURCE_ROOT, *parts), encoding='utf-8') as f:
        return f.read()


manifest = None


@check('the manifest parses as JSON and names the app id, runtime and command')
def _():
    global manifest
    with open(MANIFEST, encoding='utf-8') as f:
        manifest = json.load(f)
    assert manifest.get('id') == APP_ID, 'id is %r, not %r' % (manifest.get('id'), APP_ID)
    assert 'app-id' not in manifest, 'use "id", not the old "app-id"'
    assert manifest.get('runtime') == 'org.gnome.Platform', 'runtime is %r' % manifest.get('runtime')
    assert manifest.get('sdk') == 'org.gnome.Sdk', 'sdk is %r' % manifest.get('sdk')
    branch = manifest.get('runtime-version', '')
    assert re.fullmatch(r'[0-9]{2,}', branch), 'runtime-version %r is not a stable GNOME branch' % branch
    assert manifest.get('command') == 'coffer-app', 'command is %r' % manifest.get('command')


@check('the command and binaries match the desktop file, the metainfo and meson')
def _():
    desktop = {}
    for line in open(DESKTOP, encoding='utf-8'):
        if '=' in line and not line.startswith('#') and '[' not in line.split('=', 1)[0]:
            key, value = line.rstrip('\n').split('=', 1)
            desktop.setdefault(key, value)
    assert os.path.basename(DESKTOP) == APP_ID + '.desktop', 'desktop file is %s' % DESKTOP
    assert shlex.split(desktop['Exec'])[0] == manifest['command'], 'Exec=%s' % desktop['Exec']
    assert desktop['Icon'] == APP_ID, 'Icon=%s' % desktop['Icon']
    root = ET.parse(METAINFO).getroot()
    assert root.findtext('id') == APP_ID, 'metainfo id is %r' % root.findtext('id')
    launchable = root.find("launchable[@type='desktop-id']")
    assert launchable is not None and launchable.text == APP_ID + '.desktop', 'launchable'
    binaries = {b.text for b in root.findall('provides/binary')}
    assert {'coffer', manifest['command']} <= binaries, 'provides/binary is %s' % sorted(binaries)
    assert re.search(r"executable\('coffer-app'", read('src', 'app', 'meson.build')), 'no coffer-app in meson'
    assert re.search(r"executable\('coffer'", read('src', 'cli', 'meson.build')), 'no coffer in meson'
    for sub in ('scalable/apps/%s.svg' % APP_ID, 'symbolic/apps/%s-symbolic.svg' % APP_ID):
        assert os.path.isfile(os.path.join(SOURCE_ROOT, 'data', 'icons', 'hicolor', sub)), 'missing icon ' + sub


@check('modules: pinned sources, nothing the runtime has, Coffer last from this tree')
def _():
    modules = manifest['modules']
    names = [m['name'] for m in modules]
    assert names[-1] == 'coffer', 'Coffer must be the last module, not %r' % names[-1]
    assert 'libsodium' in names, 'libsodium is not bundled'
    for m in modules[:-1]:
        assert m['name'].lower() not in RUNTIME_PROVIDES, '%s is in the runtime already' % m['name']
        for src in m['sources']:
            if src['type'] in ('archive', 'file'):
                assert src['url'].startswith('https://'), '%s: not https' % m['name']
                assert re.fullmatch(r'[0-9a-f]{64}', src.get('sha256', '')), '%s: no sha256' % m['name']
            elif src['type'] == 'git':
                assert re.fullmatch(r'[0-9a-f]{40}', src.get('commit', '')), '%s: no commit' % m['name']
            else:
                raise AssertionError('%s: unexpected source type %s' % (m['name'], src['type']))
    sodium = next(m for m in modules if m['name'] == 'libsodium')
    version = re.search(r'libsodium-([0-9.]+)\.tar', sodium['sources'][0]['url']).group(1)
    required = re.search(r"dependency\('libsodium', version: '>= ([0-9.]+)'", read('meson.build')).group(1)
    assert [int(x) for x in version.split('.')] >= [int(x) for x in required.split('.')], \
        'libsodium %s is older than meson requires (%s)' % (version, required)
    coffer = modules[-1]
    assert coffer['buildsystem'] == 'meson', 'Coffer is built with %s' % coffer['buildsystem']
    [src] = coffer['sources']
    assert src['type'] == 'dir', 'Coffer source is %s' % src['type']
    tree = os.path.normpath(os.path.join(os.path.dirname(MANIFEST), src['path']))
    assert os.path.samefile(tree, SOURCE_ROOT), 'the Coffer source %s is not this tree' % tree


@check('no network while building; network only at run time')
def _():
    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == 'build-args':
                    assert not any('network' in a for a in v), 'network in %s/build-args' % path
                walk(v, path + '/' + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, '%s[%d]' % (path, i))
    walk(manifest, '')
    assert '--share=network' in manifest['finish-args'], 'the app needs the network at run time'


@check('meson options in the manifest are real options and match the tests\' build')
def _():
    options = {}
    for m in re.finditer(r"option\('(\w+)',\s*type:\s*'(\w+)'(?:.*?value:\s*([^,)]+))?",
                         read('meson_options.txt')):
        options[m.group(1)] = (m.group(2), (m.group(3) or '').strip().strip("'"))
    # The value each option has in the build the tests run in (build-aux/test.sh).
    test_setup = [l for l in read('build-aux', 'test.sh').splitlines() if 'meson setup' in l]
    assert test_setup, 'build-aux/test.sh has no meson setup line'
    tested = {name: default for name, (_, default) in options.items()}
    for m in re.finditer(r'-D(\w+)=(\S+)', test_setup[0]):
        tested[m.group(1)] = m.group(2)
    # Options read only under tests/ change which tests are registered, not what is shipped.
    meson_files = []
    for top, dirs, files in os.walk(SOURCE_ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(('build', '_build', '.', 'node_modules'))]
        meson_files += [os.path.join(top, f) for f in files if f == 'meson.build']
    readers = {}
    for path in meson_files:
        for name in re.findall(r"get_option\('(\w+)'\)", open(path, encoding='utf-8').read()):
            readers.setdefault(name, set()).add(os.path.relpath(path, SOURCE_ROOT))
    for arg in manifest['modules'][-1].get('config-opts', []):
        m = re.fullmatch(r'-D(\w+)=(\S+)', arg)
        assert m, 'config-opt %r is not of the form -Dname=value' % arg
        name, value = m.groups()
        if name in MESON_BUILTINS:
            continue
        assert name in options, '-D%s is not an option in meson_options.txt' % name
        kind = options[name][0]
        if kind == 'boolean':
            assert value in ('true', 'false'), '-D%s=%s is not a boolean' % (name, value)
        if value != tested[name]:
            only_tests = all(p.startswith('tests' + os.sep) for p in readers.get(name, {'?'}))
            assert only_tests, '-D%s=%s differs from the tested build (%s) and changes what is built' \
                % (name, value, tested[name])
    app = [a for a in manifest['modules'][-1].get('config-opts', []) if a.startswith('-Dapp=')]
    assert app == ['-Dapp=true'], 'the Flatpak must build the app as the tests do'


@check('the sandbox: no host or keyring access, each permission documented in flatpak/README.md and docs/FLATPAK.md')
def _():
    args = manifest['finish-args']
    assert len(args) == len(set(args)), 'duplicate finish-args'
    bad = [a for a in args if a in FORBIDDEN_FINISH_ARGS or a.startswith('--filesystem=home')]
    assert not bad, 'forbidden finish-args: %s' % bad
    assert '--socket=wayland' in args and '--socket=fallback-x11' in args, 'Wayland with X11 fallback'
    for doc in (('flatpak', 'README.md'), ('docs', 'FLATPAK.md')):
        documented = set(re.findall(r'^\|\s*`(--[^`]+)`\s*\|', read(*doc), re.M))
        assert documented == set(args), 'the table in %s and finish-args differ: only in the table %s, ' \
            'only in the manifest %s' % ('/'.join(doc), sorted(documented - set(args)), sorted(set(args) - documented))


@check('every default category folder of the app is reachable in the sandbox')
def _():
    args = manifest['finish-args']
    granted = []
    for a in args:
        m = re.fullmatch(r'--filesystem=([^:]+)(:ro|:rw|:create)?', a)
        if not m:
            continue
        path = m.group(1).rstrip('/')
        for prefix, home_rel in (('xdg-data', '.local/share'), ('xdg-config', '.config'),
                                 ('xdg-pictures', 'Pictures'), ('xdg-documents', 'Documents')):
            if path == prefix or path.startswith(prefix + '/'):
                path = home_rel + path[len(prefix):]
        if path.startswith('~/'):
            path = path[2:]
        granted.append(path)
    defaults = re.findall(r'add_home \(\w+, "([^"]+)"\)', read('src', 'app', 'coffer-category-item.c'))
    assert len(defaults) >= 10, 'could not read the default folders from coffer-category-item.c'
    missing = [d for d in defaults if not any(d == g or d.startswith(g + '/') for g in granted)]
    assert not missing, 'default folders not reachable in the sandbox: %s' % missing
    for removable in ('/run/media', '/media'):
        assert '--filesystem=' + removable in args, 'removable drives under %s' % removable


def metainfo_for_old_validator(path):
    """AppStream < 1.0 (Debian 12 has 0.16) does not know <developer id>, which
    Flathub requires; for those validators only, check a copy in which it is
    spelled as the older <developer_name>. Everything else is validated as is."""
    text = open(path, encoding='utf-8').read()
    m = re.search(r'<developer id="[^"]+">\s*<name>([^<]+)</name>\s*</developer>', text)
    assert m, 'no <developer id=…><name> in the metainfo'
    fd, tmp = tempfile.mkstemp(suffix='.metainfo.xml')
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(text.replace(m.group(0), '<developer_name>%s</developer_name>' % m.group(1)))
    return tmp


@check('appstreamcli validate --strict --no-net')
def _():
    assert APPSTREAMCLI, 'appstreamcli was not found at configure time'
    out = subprocess.run([APPSTREAMCLI, '--version'], capture_output=True, text=True).stdout
    version = re.search(r'(\d+)\.(\d+)\.(\d+)', out)
    target = METAINFO
    if version and int(version.group(1)) < 1:
        target = metainfo_for_old_validator(METAINFO)
    try:
        run = subprocess.run([APPSTREAMCLI, 'validate', '--strict', '--no-net', '--explain', target],
                             capture_output=True, text=True)
    finally:
        if target != METAINFO:
            os.unlink(target)
    assert run.returncode == 0, 'appstreamcli %s:\n%s%s' % (version.group(0) if version else '?',
                                                          run.stdout, run.stderr)


@check('metainfo has what a Flathub review asks for')
def _():
    root = ET.parse(METAINFO).getroot()
    assert root.get('type') == 'desktop-application'
    for tag in ('name', 'summary', 'description', 'metadata_license', 'project_license'):
        assert root.find(tag) is not None and ''.join(root.find(tag).itertext()).strip(), 'no <%s>' % tag
    dev = root.find('developer')
    assert dev is not None and dev.get('id') and dev.findtext('name'), '<developer id> with a <name>'
    assert root.findtext("url[@type='homepage']") == REPO_URL, 'homepage URL'
    assert root.findtext("url[@type='bugtracker']") == REPO_URL + '/issues', 'bugtracker URL'
    rating = root.find('content_rating')
    assert rating is not None and rating.get('type') == 'oars-1.1', 'OARS 1.1 content rating'
    colors = {c.get('scheme_preference'): c.text for c in root.findall("branding/color[@type='primary']")}
    assert set(colors) == {'light', 'dark'} and all(re.fullmatch(r'#[0-9a-f]{6}', c) for c in colors.values()), \
        'branding colours for light and dark: %s' % colors
    assert root.findall('keywords/keyword'), 'no keywords'
    releases = root.findall('releases/release')
    assert releases and releases[0].get('version') == VERSION, 'newest release is not %s' % VERSION
    for r in releases:
        assert re.fullmatch(r'\d{4}-\d{2}-\d{2}', r.get('date', '')), 'release %s has no date' % r.get('version')
        assert r.find('description') is not None, 'release %s has no description' % r.get('version')
    shots = root.findall('screenshots/screenshot')
    assert shots and sum(s.get('type') == 'default' for s in shots) == 1, 'one default screenshot'
    in_repo = sorted(f for f in os.listdir(os.path.join(SOURCE_ROOT, 'data', 'screenshots')) if f.endswith('.png'))
    referenced = []
    for s in shots:
        url = s.findtext('image')
        assert s.findtext('caption'), 'screenshot %s has no caption' % url
        assert url.startswith(RAW_URL + 'data/screenshots/'), 'screenshot %s is not in the repository' % url
        local = os.path.join(SOURCE_ROOT, url[len(RAW_URL):])
        assert os.path.isfile(local), 'screenshot %s is missing from the tree' % local
        with open(local, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n', '%s is not a PNG' % local
        referenced.append(os.path.basename(local))
    assert sorted(referenced) == in_repo, 'screenshots in data/screenshots not in the metainfo: %s' \
        % sorted(set(in_repo) - set(referenced))


@check('the libsecret file-backend test (as in the sandbox) is still registered')
def _():
    text = read('tests', 'integration', 'meson.build')
    assert re.search(r"foreach keyring_mode : \[[^\]]*'file'", text), 'keyring-file test is gone'


todo = []


@check('rclone is built from source: Go from the golang SDK extension, vendored modules, no network')
def _():
    assert 'org.freedesktop.Sdk.Extension.golang' in manifest.get('sdk-extensions', []), \
        'sdk-extensions lacks org.freedesktop.Sdk.Extension.golang'
    rclone = next((m for m in manifest['modules'] if m['name'] == 'rclone'), None)
    assert rclone is not None, 'no rclone module (the app starts rclone for cloud destinations)'
    opts = rclone.get('build-options', {})
    assert '/usr/lib/sdk/golang/bin' in opts.get('append-path', ''), 'Go is not taken from the extension'
    env = opts.get('env', {})
    assert '-mod=vendor' in env.get('GOFLAGS', ''), 'GOFLAGS lacks -mod=vendor'
    assert env.get('GOPROXY') == 'off', 'GOPROXY must be off: modules come from vendor/'
    assert any('go build' in c and '${FLATPAK_DEST}/bin/rclone' in c for c in rclone['build-commands']), \
        'no go build into ${FLATPAK_DEST}/bin/rclone'
    urls = [src['url'] for src in rclone['sources']]
    # The tag's source archive (GitHub) or a release tarball.
    source = [u for u in urls if re.search(r'/(rclone-v|archive/v)[0-9.]+\.tar\.gz$', u)]
    vendor = [src for src in rclone['sources'] if src['url'].endswith('-vendor.tar.gz')]
    assert source, 'no rclone source archive'
    assert vendor and vendor[0].get('dest') == 'vendor', 'no vendored Go modules unpacked into vendor/'
    version = re.search(r'v([0-9.]+)\.tar', source[0]).group(1)
    # 1.60: rclone serve webdav --htpasswd and authorize --auth-no-open-browser as Coffer uses them
    assert [int(x) for x in version.split('.')] >= [1, 60], 'rclone %s is older than 1.60' % version
    assert all(version in u for u in urls), 'the sources are of different rclone versions'
    for src in rclone['sources']:
        if src['sha256'] == '0' * 64:
            todo.append('rclone: the sha256 of %s is a placeholder (flatpak/README.md)'
                        % src['url'].rsplit('/', 1)[1])


print('1..%d' % (len(results) + len(todo)))
for i, (ok, name, why) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    if why:
        for line in why.splitlines():
            print('# ' + line)
# Known gaps, shown but not failing (TAP TODO): checksums that could not be
# verified where the manifest was written.
for i, what in enumerate(todo, len(results) + 1):
    print('not ok %d - %s # TODO verify before publishing' % (i, what))
sys.exit(0 if all(ok for ok, _, _ in results) else 1)
