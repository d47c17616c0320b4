import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllowList, allowListChanges, NOT_ALLOWED, parseAllowList } from '../../../coordinator/upstream/allow-list.ts';

describe('parseAllowList', () => {
  test('reads names and requirement lines, canonicalised', () => {
    const parsed = parseAllowList([
      'numpy',
      'Requests[socks]==2.31 ; python_version > "3.8"',
      'scipy>=1.10  # pinned below',
      '  Pillow ~= 10.0',
      'zope.interface',
      'foo @ https://example.org/foo.tar.gz',
      '# a comment',
      '',
      '-r other.txt',
      '--index-url https://example.org',
    ].join('\n'));
    assert.deepEqual([...parsed.names].sort(), ['foo', 'numpy', 'pillow', 'requests', 'scipy', 'zope-interface']);
    assert.deepEqual(parsed.problems, []);
  });

  test('reports lines that name no package', () => {
    const parsed = parseAllowList('good\n!!bad\n.dot\nok-name\n');
    assert.deepEqual(parsed.problems, [{ line: 2, text: '!!bad' }, { line: 3, text: '.dot' }]);
    assert.deepEqual([...parsed.names].sort(), ['good', 'ok-name']);
  });
});

describe('allowListChanges', () => {
  test('un-skips newly listed packages and skips unlisted ones, leaving other reasons alone', () => {
    const stored = [
      { package: 'a', skip: NOT_ALLOWED },
      { package: 'b', skip: '' },
      { package: 'c', skip: '' },
      { package: 'd', skip: 'deleted' },
      { package: 'e', skip: NOT_ALLOWED },
    ];
    assert.deepEqual(allowListChanges(stored, new Set(['a', 'c', 'd'])), [
      { package: 'a', skip: '' },
      { package: 'b', skip: NOT_ALLOWED },
    ]);
  });
});

describe('AllowList', () => {
  test('re-reads only when the file changes, and keeps the last list when it vanishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piw-allow-'));
    const path = join(dir, 'allow.txt');
    try {
      writeFileSync(path, 'alpha\n');
      const list = new AllowList(path);
      assert.ok(await list.refresh());
      assert.ok(list.allows('alpha'));
      assert.equal(await list.refresh(), null);
      writeFileSync(path, 'beta\ngamma\n');
      utimesSync(path, new Date(), new Date(Date.now() + 5000));
      const again = await list.refresh();
      assert.deepEqual([...(again?.names ?? [])].sort(), ['beta', 'gamma']);
      assert.ok(!list.allows('alpha'));
      unlinkSync(path);
      await assert.rejects(list.refresh());
      assert.ok(list.allows('beta'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
