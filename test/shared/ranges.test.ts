import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { consolidate, exclude, intersect, range, rangeLength, split } from '../../shared/ranges.ts';

const r = range;

describe('ranges (the seed doctest examples and edge cases)', () => {
  test('consolidate', () => {
    assert.deepEqual(consolidate([r(0, 5), r(4, 10)]), [r(0, 10)]);
    assert.deepEqual(consolidate([r(0, 5), r(5, 10)]), [r(0, 10)]);
    assert.deepEqual(consolidate([r(0, 5), r(6, 10)]), [r(0, 5), r(6, 10)]);
    assert.deepEqual(consolidate([r(0, 10), r(2, 4), r(12, 14)]), [r(0, 10), r(12, 14)]);
    assert.deepEqual(consolidate([]), []);
  });

  test('split', () => {
    assert.deepEqual(split([r(0, 10)], 5), [r(0, 5), r(5, 10)]);
    assert.deepEqual(split([r(0, 10)], 0), [r(0, 10)]);
    assert.deepEqual(split([r(0, 10)], 20), [r(0, 10)]);
    assert.deepEqual(split([r(0, 10)], 10), [r(0, 10)]);
    assert.deepEqual(split([r(0, 4), r(6, 10)], 8), [r(0, 4), r(6, 8), r(8, 10)]);
  });

  test('exclude', () => {
    assert.deepEqual(exclude([r(0, 10)], r(0, 2)), [r(2, 10)]);
    assert.deepEqual(exclude([r(0, 10)], r(2, 4)), [r(0, 2), r(4, 10)]);
    assert.deepEqual(exclude([r(0, 10)], r(0, 10)), []);
    assert.deepEqual(exclude([r(0, 4), r(6, 10)], r(3, 7)), [r(0, 3), r(7, 10)]);
    assert.deepEqual(exclude([r(0, 4)], r(10, 20)), [r(0, 4)]);
    // a repeated chunk changes nothing
    assert.deepEqual(exclude(exclude([r(0, 10)], r(2, 4)), r(2, 4)), [r(0, 2), r(4, 10)]);
  });

  test('intersect', () => {
    assert.deepEqual(intersect(r(0, 10), r(0, 5)), r(0, 5));
    assert.equal(intersect(r(0, 10), r(10, 2)), null);
    assert.deepEqual(intersect(r(0, 10), r(2, 5)), r(2, 5));
    assert.equal(intersect(r(0, 5), r(5, 10)), null);
  });

  test('rangeLength', () => {
    assert.equal(rangeLength(r(3, 10)), 7);
    assert.equal(rangeLength(r(10, 3)), 0);
  });
});
