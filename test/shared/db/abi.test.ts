// ABI tags in interpreter order.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAbis, sortAbis } from '../../../shared/db/abi.ts';

describe('ABI order', () => {
  test('orders by interpreter version, not text', () => {
    assert.deepEqual(sortAbis(['cp313', 'cp311', 'cp39']), ['cp39', 'cp311', 'cp313']);
    assert.ok(compareAbis('cp39', 'cp311') < 0, 'text order would put cp311 first');
  });
  test('old-style tags with flags, other implementations and odd tags', () => {
    assert.deepEqual(sortAbis(['cp35m', 'cp34m', 'cp27mu', 'cp27m', 'cp310']), ['cp27m', 'cp27mu', 'cp34m', 'cp35m', 'cp310']);
    assert.deepEqual(sortAbis(['pp73', 'cp39']), ['cp39', 'pp73']);
    assert.deepEqual(sortAbis(['weird-tag', 'cp39', 'Zed']), ['cp39', 'Zed', 'weird-tag']);
    assert.equal(compareAbis('cp39', 'cp39'), 0);
  });
});
