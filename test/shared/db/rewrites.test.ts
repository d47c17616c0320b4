// The page writer's pending rewrites across restarts, once per dialect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, useFreshDatabase } from '../../helpers/db.ts';

for (const dialect of DIALECTS) {
  describe(`rewrites pending (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('rewrites pending: saved, replaced, loaded oldest first', async () => {
      await s.db.saveRewritesPending([
        { package: 'b', addedAt: new Date('2025-01-02T00:00:00Z'), command: 'BOTH' },
        { package: 'a', addedAt: new Date('2025-01-03T00:00:00Z'), command: 'PROJECT' },
      ]);
      await s.db.saveRewritesPending([
        { package: 'c', addedAt: new Date('2025-01-05T00:00:00Z'), command: 'PROJECT' },
        { package: 'd', addedAt: new Date('2025-01-04T00:00:00.250Z'), command: 'BOTH' },
      ]);
      assert.deepEqual(await s.db.loadRewritesPending(), [
        { package: 'd', addedAt: new Date('2025-01-04T00:00:00.250Z'), command: 'BOTH' },
        { package: 'c', addedAt: new Date('2025-01-05T00:00:00Z'), command: 'PROJECT' },
      ]);
      await assert.rejects(
        s.db.saveRewritesPending([{ package: 'e', addedAt: new Date(), command: 'NOPE' as 'BOTH' }]),
      );
      assert.equal((await s.db.loadRewritesPending()).length, 2, 'a refused save leaves the stored queue alone');
      await s.db.saveRewritesPending([]);
      assert.deepEqual(await s.db.loadRewritesPending(), []);
    });
  });
}
