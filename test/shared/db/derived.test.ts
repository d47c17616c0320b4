// Checking and rebuilding the derived tables, once per dialect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, useFreshDatabase, logBuild } from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, queueOf, wheel } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`derived tables (${dialect})`, () => {
    const s = useFreshDatabase(dialect, ['cp313', 'cp39', 'cp311'], async (db) => {
      // a queued version and a built one, so that the queue and the counters have rows to drift
      await addVersions(db, 'q-new', ['1.0']);
      await addVersions(db, 'built', ['1.0']);
      await logBuild(db, build('built', '1.0', 'cp39', [wheel('built', '1.0', 'cp39')]));
    });

    test('verifyDerived notices drift and rebuildDerived repairs it', async () => {
      await assertConsistent(s.db);
      await s.t.kysely.updateTable('farm_counters').set({ value: 12345 }).where('name', '=', 'files_count').execute();
      await s.t.kysely.deleteFrom('build_queue').where('package', '=', 'q-new').execute();
      await s.t.kysely.insertInto('package_downloads').values({ package: 'q-new', downloads_all: 7, downloads_recent: 7 }).execute();
      const problems = await s.db.verifyDerived();
      assert.ok(problems.some((p) => p.startsWith('package_downloads')), problems.join('; '));
      assert.ok(problems.some((p) => p.includes('files_count')), problems.join('; '));
      assert.ok(problems.some((p) => p.startsWith('build_queue')), problems.join('; '));
      await s.db.rebuildDerived();
      await assertConsistent(s.db);
      assert.deepEqual(await queueOf(s.db, 'q-new'), { cp39: ['1.0'] });
    });
  });
}
