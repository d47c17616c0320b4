import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { decideAptDependencies, parseDpkgSearch, parseLdd, pathAliases } from '../../../shared/wheel/apt-deps.ts';
import { inspectWheel, isSharedObjectName } from '../../../shared/wheel/inspect.ts';
import { BadWheelError } from '../../../shared/wheel/metadata.ts';

describe('ldd output', () => {
  test('found, not found, and lines that name no package', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffc2a5e8000)',
      '\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f1e1a000000)',
      '\tlibfoo-1a2b3c.so.2 => /tmp/x/pkg.libs/libfoo-1a2b3c.so.2 (0x00007f1e19000000)',
      '\tlibmissing.so.7 => not found',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1e18000000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f1e1b000000)',
      '\tstatically linked',
      'garbage',
    ].join('\n');
    assert.deepEqual(parseLdd(output), [
      { soname: 'libz.so.1', path: '/lib/x86_64-linux-gnu/libz.so.1' },
      { soname: 'libfoo-1a2b3c.so.2', path: '/tmp/x/pkg.libs/libfoo-1a2b3c.so.2' },
      { soname: 'libmissing.so.7', path: null },
      { soname: 'libc.so.6', path: '/lib/x86_64-linux-gnu/libc.so.6' },
    ]);
    assert.deepEqual(parseLdd(''), []);
  });
});

describe('dpkg -S output', () => {
  test('owners with and without architecture, several owners, diversions', () => {
    const output = [
      'libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6',
      'zlib1g:armhf: /lib/arm-linux-gnueabihf/libz.so.1',
      'libfoo, libfoo-compat:arm64: /usr/lib/libfoo.so',
      'diversion by dash from: /bin/sh',
      'diversion by dash to: /bin/sh.distrib',
      'dpkg-query: no path found matching pattern /nope',
      '',
    ].join('\n');
    const owners = parseDpkgSearch(output);
    assert.deepEqual(owners.get('/lib/x86_64-linux-gnu/libc.so.6'), ['libc6']);
    assert.deepEqual(owners.get('/lib/arm-linux-gnueabihf/libz.so.1'), ['zlib1g']);
    assert.deepEqual(owners.get('/usr/lib/libfoo.so'), ['libfoo', 'libfoo-compat']);
    assert.equal(owners.has('/bin/sh'), false);
    assert.equal(owners.size, 3);
  });
});

describe('deciding dependencies', () => {
  test('merged /usr aliases', () => {
    assert.deepEqual(pathAliases('/lib/x/libc.so.6', '/usr/lib/x/libc.so.6'), ['/lib/x/libc.so.6', '/usr/lib/x/libc.so.6']);
    assert.deepEqual(pathAliases('/usr/lib/libz.so'), ['/usr/lib/libz.so', '/lib/libz.so']);
    assert.deepEqual(pathAliases('/opt/lib/libq.so'), ['/opt/lib/libq.so']);
  });

  test('owned, bundled, inside the wheel, unowned and missing libraries', () => {
    const libs = [
      { soname: 'libc.so.6', path: '/lib/libc.so.6', aliases: ['/lib/libc.so.6', '/usr/lib/libc.so.6'] },
      { soname: 'libz.so.1', path: '/usr/lib/libz.so.1', aliases: ['/usr/lib/libz.so.1', '/lib/libz.so.1'] },
      { soname: 'libfoo-1a.so', path: '/w/pkg.libs/libfoo-1a.so', aliases: ['/w/pkg.libs/libfoo-1a.so'] },
      { soname: 'libbar.so', path: '/w/elsewhere/libbar.so', aliases: ['/w/elsewhere/libbar.so'] },
      { soname: 'libown.so', path: '/opt/own/libown.so', aliases: ['/opt/own/libown.so'] },
      { soname: 'libgone.so.1', path: null, aliases: [] },
      { soname: 'libbundled-but-unresolved.so', path: null, aliases: [] },
    ];
    const owners = new Map([
      ['/usr/lib/libc.so.6', ['libc6']],
      ['/lib/libz.so.1', ['zlib1g']],
    ]);
    const result = decideAptDependencies(
      libs,
      owners,
      new Set(['libfoo-1a.so', 'libbundled-but-unresolved.so']),
      (path) => path.startsWith('/w/'),
    );
    assert.deepEqual(result, { apt: ['libc6', 'zlib1g'], orphans: ['/opt/own/libown.so', 'libgone.so.1'] });
  });

  test('shared object names', () => {
    assert.equal(isSharedObjectName('pkg/_ext.cpython-311-x86_64-linux-gnu.so'), true);
    assert.equal(isSharedObjectName('pkg.libs/libfoo-1a2b.so.1.2.3'), true);
    assert.equal(isSharedObjectName('pkg/sorted.py'), false);
    assert.equal(isSharedObjectName('pkg/x.so/'), false);
  });
});

describe('inspecting real compiled wheels', () => {
  let dir = '';
  const sh = (cmd: string, args: string[], cwd = dir): void => {
    execFileSync(cmd, args, { cwd, stdio: 'pipe' });
  };
  const zipWheel = (name: string, members: Record<string, string>): string => {
    const path = join(dir, name);
    const script = [
      'import sys, json, zipfile',
      'with zipfile.ZipFile(sys.argv[1], "w") as z:',
      '    for arc, src in json.loads(sys.argv[2]).items():',
      '        z.write(src, arc) if src.startswith("/") else z.writestr(arc, src)',
    ].join('\n');
    sh('/usr/bin/python3', ['-c', script, path, JSON.stringify(members)]);
    return path;
  };
  const metadata = 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: numpy\n';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'piw-aptdeps-'));
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'bundled.c'), 'int bundled(void) { return 1; }\n');
    writeFileSync(join(dir, 'src', 'missing.c'), 'int missing(void) { return 2; }\n');
    writeFileSync(
      join(dir, 'src', 'ext.c'),
      '#include <string.h>\nint bundled(void);\nint missing(void);\nint ext(const char *s) { return bundled() + missing() + (int)strlen(s); }\n',
    );
    const src = join(dir, 'src');
    sh('gcc', ['-shared', '-fPIC', '-o', 'libbundled-abc123.so.1', 'bundled.c'], src);
    sh('gcc', ['-shared', '-fPIC', '-o', 'libmissing.so', 'missing.c'], src);
    sh(
      'gcc',
      ['-shared', '-fPIC', '-o', '_ext.so', 'ext.c', '-L.', '-l:libbundled-abc123.so.1', '-l:libmissing.so', "-Wl,-rpath,$ORIGIN/../demo.libs"],
      src,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('libc6 found, the bundled library excluded, an unfindable one reported as an orphan', async () => {
    const wheel = zipWheel('demo-1.0-cp311-cp311-linux_x86_64.whl', {
      'demo/__init__.py': '',
      'demo/_ext.so': join(dir, 'src', '_ext.so'),
      'demo/fake.so': 'not an ELF file',
      'demo.libs/libbundled-abc123.so.1': join(dir, 'src', 'libbundled-abc123.so.1'),
      'demo-1.0.dist-info/METADATA': metadata,
    });
    const inspected = await inspectWheel(wheel);
    assert.deepEqual(inspected.dependencies, { apt: ['libc6'], pip: ['numpy'], '': ['libmissing.so'] });
    assert.equal(inspected.abiTag, 'cp311');
    assert.equal(inspected.requiresPython, null);
  });

  test('bad wheels: bad name, no METADATA, not a zip', async () => {
    const noMeta = zipWheel('demo-1.0-py3-none-any.whl', { 'demo/__init__.py': '' });
    await assert.rejects(inspectWheel(noMeta), BadWheelError);
    const badName = zipWheel('demo.whl', { 'demo-1.0.dist-info/METADATA': metadata });
    await assert.rejects(inspectWheel(badName), /not a valid wheel filename/);
    const notZip = join(dir, 'junk-1.0-py3-none-any.whl');
    writeFileSync(notZip, 'junk');
    await assert.rejects(inspectWheel(notZip), BadWheelError);
  });

  test('the retired "noabi" tag is reported as "none"', async () => {
    const wheel = zipWheel('demo-1.0-py3-noabi-any.whl', { 'demo-1.0.dist-info/METADATA': metadata });
    assert.equal((await inspectWheel(wheel)).abiTag, 'none');
  });
});
