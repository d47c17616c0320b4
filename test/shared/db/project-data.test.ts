// A project's page data, once per dialect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../shared/db/index.ts';
import { DIALECTS, freshDatabase, logBuild, type TestDatabase } from '../../helpers/db.ts';
import { addVersions, build, queueOf, wheel } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`project data (${dialect})`, () => {
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

    test('the project page agrees with the queue', async () => {
      await addVersions(db, 'q-page', ['1.0']);
      const failed = await logBuild(db, build('q-page', '1.0', 'cp39', []));
      const ok = await logBuild(db, build('q-page', '1.0', 'cp311', [wheel('q-page', '1.0', 'cp311')]));
      const abis = (await db.getProjectData('q-page'))?.releases[0]?.abis;
      assert.deepEqual(abis, {
        cp39: { status: 'fail', buildId: failed },
        cp311: { status: 'success', buildId: ok },
        cp313: { status: 'pending', buildId: null },
      });
      assert.deepEqual(await queueOf(db, 'q-page'), { cp313: ['1.0'] });
    });
  });
}
