import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskShortage, formatBytes } from '../../../coordinator/builds/disk-health.ts';

const GB = 1024 ** 3;

test('a slave below the threshold is told why', () => {
  assert.equal(diskShortage({ size: 30 * GB, free: 0.2 * GB }, GB), 'no builds: disk 204.8 MB free of 30.0 GB, needs 1.0 GB');
});

test('a slave with room, or without stats yet, may build', () => {
  assert.equal(diskShortage({ size: 30 * GB, free: 2 * GB }, GB), null);
  assert.equal(diskShortage({ size: 30 * GB, free: GB }, GB), null, 'exactly the threshold is enough');
  assert.equal(diskShortage(undefined, GB), null);
});

test('a threshold of zero turns the check off; odd figures do not crash it', () => {
  assert.equal(diskShortage({ size: 10, free: 0 }, 0), null);
  assert.equal(diskShortage({ size: 0, free: -5 }, GB), 'no builds: disk 0 B free, needs 1.0 GB');
  assert.equal(diskShortage({ size: Number.NaN, free: Number.NaN }, GB), null);
});

test('bytes read as people read them', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KB');
  assert.equal(formatBytes(5 * 1024 ** 5), '5120.0 TB');
});
