// Version keys sort as versions do.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersionKeys, keyIsPrerelease, versionKey } from '../../../shared/db/versions.ts';
import { compareVersions, isPrerelease } from '../../../shared/names.ts';

describe('version ordering', () => {
  const versions = [
    '1.0', '1.0.0', '1.0.post1', '1.0a1', '1.0b2', '1.0rc1', '1.0.dev1', '1.0a1.dev1', '0.9', '2!0.1',
    '1.0+local.1', '1.0+local.a', '1.0+2', '1.1', '1.10', '1.2', 'not a version', 'also-legacy', '1.0.post1.dev2',
    '1.0rc1.post1', '10', '1.0c2',
  ];
  test('sorts exactly as compareVersions does', () => {
    const expected = [...versions].sort(compareVersions);
    const keyed = versions.map(versionKey).sort(compareVersionKeys).map((k) => k.version);
    // Equal versions (1.0 and 1.0.0) may come in either order; compare by rank.
    assert.equal(keyed.length, expected.length);
    for (let i = 0; i < keyed.length; i += 1) {
      assert.equal(compareVersions(keyed[i] ?? '', expected[i] ?? ''), 0, `position ${i}: ${keyed[i]} vs ${expected[i]}`);
    }
  });
  test('pre-release flag agrees with isPrerelease', () => {
    for (const v of versions) assert.equal(keyIsPrerelease(versionKey(v)), isPrerelease(v), v);
  });
});
