// The page writer's pending rewrites across restarts, once per dialect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../shared/db/index.ts';
import { DIALECTS, freshDatabase, type TestDatabase } from '../../helpers/db.ts';

for (const dialect of DIALECTS) {
  describe(`rewrites pending (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    before(async () => {
      t = await freshDatabase(dialect);
      db = t.db;
      for (const abi of ['cp313', 'cp39', 'cp311']) await db.addBuildAbi(abi);
    });
    after(async () => {
      await t.drop();
    });

    test('rewrites pending: saved, replaced, loaded oldest first', async () => {
      await db.saveRewritesPending([
        { package: 'b', addedAt: new Date('2025-01-02T00:00:00Z'), command: 'BOTH' },
        { package: 'a', addedAt: new Date('2025-01-03T00:00:00Z'), command: 'PROJECT' },
      ]);
      await db.saveRewritesPending([
        { package: 'c', addedAt: new Date('2025-01-05T00:00:00Z'), command: 'PROJECT' },
        { package: 'd', addedAt: new Date('2025-01-04T00:00:00.250Z'), command: 'BOTH' },
      ]);
      assert.deepEqual(await db.loadRewritesPending(), [
        { package: 'd', addedAt: new Date('2025-01-04T00:00:00.250Z'), command: 'BOTH' },
        { package: 'c', addedAt: new Date('2025-01-05T00:00:00Z'), command: 'PROJECT' },
      ]);
      await assert.rejects(
        db.saveRewritesPending([{ package: 'e', addedAt: new Date(), command: 'NOPE' as 'BOTH' }]),
      );
      assert.equal((await db.loadRewritesPending()).length, 2, 'a refused save leaves the stored queue alone');
      await db.saveRewritesPending([]);
      assert.deepEqual(await db.loadRewritesPending(), []);
    });
  });
}
