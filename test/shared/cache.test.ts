// The bounded memo for hot lookups.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedCache } from '../../shared/cache.ts';

describe('bounded cache', () => {
  test('keeps what is used, forgets the rest, never holds more than twice its size', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    assert.equal(cache.get('a'), 1, 'in the older generation, and moved back');
    cache.set('d', 4);
    cache.set('e', 5);
    assert.equal(cache.get('b'), undefined, 'not used since two generations');
    assert.ok(cache.size <= 4);
    assert.throws(() => new BoundedCache(0), RangeError);
  });
});
