import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pkgInfo, readProjectMetadata, setupCfgMetadata, writeSdist } from '../../upstream/sdist.ts';

test('setup.cfg metadata: only the [metadata] table counts', () => {
  const text = '[options]\nname = wrong\n[metadata]\nname = legacy\nversion = 2.0\ndescription = A legacy project\npython_requires = >=3.9\n';
  assert.deepEqual(setupCfgMetadata(text), { name: 'legacy', version: '2.0', summary: 'A legacy project', requiresPython: '>=3.9' });
  assert.throws(() => setupCfgMetadata('[metadata]\nname = legacy\n'), /needs name and version/);
});

test('PKG-INFO leaves out what the project does not say', () => {
  assert.equal(pkgInfo({ name: 'a', version: '1', summary: null, requiresPython: null }), 'Metadata-Version: 2.1\nName: a\nVersion: 1\n');
  assert.equal(
    pkgInfo({ name: 'a', version: '1', summary: 'S', requiresPython: '>=3.7' }),
    'Metadata-Version: 2.1\nName: a\nVersion: 1\nSummary: S\nRequires-Python: >=3.7\n',
  );
});

test('an sdist of a setup.cfg project carries the version asked for, and is reproducible', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-sdist-test-'));
  try {
    const source = join(dir, 'src');
    mkdirSync(join(source, '__pycache__'), { recursive: true });
    writeFileSync(join(source, 'setup.cfg'), '[metadata]\nname = legacy\nversion = 1.0\n');
    writeFileSync(join(source, 'setup.py'), 'from setuptools import setup\nsetup()\n');
    writeFileSync(join(source, '__pycache__', 'x.pyc'), 'stale');
    const project = readProjectMetadata(source);
    const out = join(dir, 'out');
    mkdirSync(out);
    const sdist = writeSdist(source, out, { ...project, version: '1.5' });
    assert.equal(sdist.filename, 'legacy-1.5.tar.gz');
    assert.deepEqual(readdirSync(out), ['legacy-1.5.tar.gz']);
    const members = execFileSync('tar', ['-tzf', sdist.path], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(members, ['legacy-1.5/', 'legacy-1.5/PKG-INFO', 'legacy-1.5/setup.cfg', 'legacy-1.5/setup.py']);
    const cfg = execFileSync('tar', ['-xzOf', sdist.path, 'legacy-1.5/setup.cfg'], { encoding: 'utf8' });
    assert.match(cfg, /^version = 1\.5$/m);
    const first = readFileSync(sdist.path);
    assert.deepEqual(readFileSync(writeSdist(source, out, { ...project, version: '1.5' }).path), first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a version that could leave the output folder is refused', () => {
  const project = { name: 'x', version: '../../evil', summary: null, requiresPython: null };
  assert.throws(() => writeSdist(tmpdir(), tmpdir(), project), /not a usable version/);
});
