// A project's page data, once per dialect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, useFreshDatabase, logBuild } from '../../helpers/db.ts';
import { addVersions, build, queueOf, wheel } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`project data (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('the project page agrees with the queue', async () => {
      await addVersions(s.db, 'q-page', ['1.0']);
      const failed = await logBuild(s.db, build('q-page', '1.0', 'cp39', []));
      const ok = await logBuild(s.db, build('q-page', '1.0', 'cp311', [wheel('q-page', '1.0', 'cp311')]));
      const abis = (await s.db.getProjectData('q-page'))?.releases[0]?.abis;
      assert.deepEqual(abis, {
        cp39: { status: 'fail', buildId: failed },
        cp311: { status: 'success', buildId: ok },
        cp313: { status: 'pending', buildId: null },
      });
      assert.deepEqual(await queueOf(s.db, 'q-page'), { cp313: ['1.0'] });
    });
  });
}
