import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  UnsafeNameError,
  WheelNameError,
  assertSafeFilename,
  isSafeFilename,
  parseWheelFilename,
  tryParseWheelFilename,
  wheelTags,
} from '../../../shared/wheel/name.ts';

describe('parseWheelFilename', () => {
  test('plain wheel', () => {
    const w = parseWheelFilename('e2e_pure-1.1-py3-none-any.whl');
    assert.equal(w.distribution, 'e2e_pure');
    assert.equal(w.version, '1.1');
    assert.equal(w.build, null);
    assert.deepEqual([w.pythonTag, w.abiTag, w.platformTag], ['py3', 'none', 'any']);
  });

  test('build tag and compressed tag sets', () => {
    const w = parseWheelFilename('six-1.16.0-1local-py2.py3-none-any.whl');
    assert.deepEqual(w.build, { number: 1, tag: 'local' });
    assert.deepEqual(w.pythonTags, ['py2', 'py3']);
    assert.deepEqual(wheelTags(w), [
      ['py2', 'none', 'any'],
      ['py3', 'none', 'any'],
    ]);
    const many = parseWheelFilename('numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl');
    assert.deepEqual(many.platformTags, ['manylinux_2_17_aarch64', 'manylinux2014_aarch64']);
    assert.equal(wheelTags(many).length, 2);
    assert.deepEqual(parseWheelFilename('pkg-2.0-23-cp39-cp39-linux_armv7l.whl').build, { number: 23, tag: '' });
  });

  test('local versions and upper-case suffix', () => {
    assert.equal(parseWheelFilename('foo-1.0+local.1-py3-none-any.WHL').version, '1.0+local.1');
  });

  test('refuses malformed names', () => {
    const bad = [
      'e2e_pure-1.1-py3-none-any.zip',
      'e2e_pure-py3-none-any.whl',
      'a-1-b-c-d-e-f.whl',
      'pkg-1.0-x1-py3-none-any.whl',
      'pkg-1.0-py3-none-any$.whl',
      '-1.0-py3-none-any.whl',
      'pkg-1.0-py3..py2-none-any.whl',
      '../pkg-1.0-py3-none-any.whl',
      'dir/pkg-1.0-py3-none-any.whl',
      'pkg-1.0-py3-none-any.whl\u0000.txt',
      '',
    ];
    for (const name of bad) {
      assert.throws(() => parseWheelFilename(name), WheelNameError, name);
      assert.equal(tryParseWheelFilename(name), null);
    }
  });
});

describe('safe file names', () => {
  test('accepts plain names', () => {
    for (const name of ['numpy-1.0-cp311-cp311-linux_armv7l.whl', 'index.html', '.hidden', 'a.b.c']) {
      assert.equal(isSafeFilename(name), true, name);
      assert.doesNotThrow(() => assertSafeFilename(name));
    }
  });

  test('refuses separators, dot-dot, NUL, control characters, empty and overlong names', () => {
    for (const name of ['a/b', 'a\\b', '..', '..foo', 'x..y', '.', 'a\u0000b', 'a\nb', '', 'x'.repeat(256), '/etc/passwd']) {
      assert.equal(isSafeFilename(name), false, JSON.stringify(name));
      assert.throws(() => assertSafeFilename(name), UnsafeNameError);
    }
  });
});
