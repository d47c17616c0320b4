// Debian's file index on this machine: apt-file over the Contents indexes apt
// fetched (.ci/run installs apt-file and refreshes them), a Contents file,
// and no index at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DebianIndex } from '../../../coordinator/builds/debian-index.ts';
import { silentLogger } from '../../../shared/log.ts';

test('apt-file names the package of a header this machine lacks', async () => {
  const index = new DebianIndex({ source: { kind: 'apt-file', command: 'apt-file' }, logger: silentLogger() });
  assert.equal(await index.lookup({ kind: 'header', name: 'zstd.h' }), 'libzstd-dev');
  assert.equal(await index.lookup({ kind: 'header', name: 'no-such-header-anywhere-4711.h' }), null, 'nothing provides it');
});

test('a Contents file, plain or gzipped, gives the same answers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-contents-'));
  try {
    const text = [
      'usr/include/zstd.h                                      libdevel/libzstd-dev',
      'usr/lib/x86_64-linux-gnu/libffi.so                     libdevel/libffi-dev',
      'usr/lib/x86_64-linux-gnu/pkgconfig/libffi.pc           libdevel/libffi-dev',
      'usr/share/doc/zstd/zstd.h.txt                          doc/zstd-doc',
    ].join('\n');
    writeFileSync(join(dir, 'Contents'), text);
    writeFileSync(join(dir, 'Contents.gz'), gzipSync(text));
    for (const path of [join(dir, 'Contents'), join(dir, 'Contents.gz')]) {
      const index = new DebianIndex({ source: { kind: 'contents', path }, logger: silentLogger() });
      assert.equal(await index.lookup({ kind: 'header', name: 'zstd.h' }), 'libzstd-dev');
      assert.equal(await index.lookup({ kind: 'library', name: 'ffi' }), 'libffi-dev');
      assert.equal(await index.lookup({ kind: 'pkg-config', name: 'libffi' }), 'libffi-dev');
      assert.equal(await index.lookup({ kind: 'header', name: 'missing.h' }), null);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without an index the answer is unknown, logged once', async () => {
  const warnings: unknown[] = [];
  const logger = silentLogger();
  logger.warn = ((...args: unknown[]) => void warnings.push(args)) as typeof logger.warn;
  const index = new DebianIndex({ source: { kind: 'apt-file', command: '/nonexistent/apt-file' }, logger });
  assert.equal(await index.lookup({ kind: 'header', name: 'zstd.h' }), null);
  assert.equal(await index.lookup({ kind: 'header', name: 'other.h' }), null);
  assert.equal(warnings.length, 1);
  const missingFile = new DebianIndex({ source: { kind: 'contents', path: '/nonexistent/Contents' }, logger: silentLogger() });
  assert.equal(await missingFile.lookup({ kind: 'header', name: 'zstd.h' }), null);
  assert.equal(await new DebianIndex({ source: { kind: 'none' }, logger: silentLogger() }).lookup({ kind: 'header', name: 'zstd.h' }), null);
});
