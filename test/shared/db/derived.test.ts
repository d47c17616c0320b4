// Checking and rebuilding the derived tables, once per dialect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../shared/db/index.ts';
import { DIALECTS, freshDatabase, logBuild, type TestDatabase } from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, queueOf, wheel } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`derived tables (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    before(async () => {
      t = await freshDatabase(dialect);
      db = t.db;
      for (const abi of ['cp313', 'cp39', 'cp311']) await db.addBuildAbi(abi);
      // a queued version and a built one, so that the queue and the counters have rows to drift
      await addVersions(db, 'q-new', ['1.0']);
      await addVersions(db, 'built', ['1.0']);
      await logBuild(db, build('built', '1.0', 'cp39', [wheel('built', '1.0', 'cp39')]));
    });
    after(async () => {
      await t.drop();
    });

    test('verifyDerived notices drift and rebuildDerived repairs it', async () => {
      await assertConsistent(db);
      await t.kysely.updateTable('farm_counters').set({ value: 12345 }).where('name', '=', 'files_count').execute();
      await t.kysely.deleteFrom('build_queue').where('package', '=', 'q-new').execute();
      await t.kysely.insertInto('package_downloads').values({ package: 'q-new', downloads_all: 7, downloads_recent: 7 }).execute();
      const problems = await db.verifyDerived();
      assert.ok(problems.some((p) => p.startsWith('package_downloads')), problems.join('; '));
      assert.ok(problems.some((p) => p.includes('files_count')), problems.join('; '));
      assert.ok(problems.some((p) => p.startsWith('build_queue')), problems.join('; '));
      await db.rebuildDerived();
      await assertConsistent(db);
      assert.deepEqual(await queueOf(db, 'q-new'), { cp39: ['1.0'] });
    });
  });
}
