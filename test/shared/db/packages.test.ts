// Packages, versions and name spellings, once per dialect against a real
// SQLite file and a real PostgreSQL server, with the same assertions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DIALECTS,
  useFreshDatabase,
  getPackageName,
  getVersionsDeleted,
  getVersionSkip,
  packageMarkedDeleted,
} from '../../helpers/db.ts';
import { addVersions } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`packages and versions (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('addNewPackage: true once, then false on a duplicate', async () => {
      assert.equal(await s.db.addNewPackage('alpha', '', 'The first'), true);
      assert.equal(await s.db.addNewPackage('alpha', '', 'Again'), false);
      assert.equal(await s.db.testPackage('alpha'), true);
      assert.equal(await s.db.testPackage('nothing-here'), false);
      assert.ok((await s.db.getAllPackages()).has('alpha'));
    });

    test('addNewPackageVersion: true once, false on a duplicate, refused for an unknown package', async () => {
      assert.equal(await s.db.addNewPackageVersion('alpha', '1.0', new Date('2025-01-01T00:00:00Z')), true);
      assert.equal(await s.db.addNewPackageVersion('alpha', '1.0'), false);
      const before = Date.now();
      assert.equal(await s.db.addNewPackageVersion('alpha', '1.1'), true);
      const data = await s.db.getProjectData('alpha');
      const released = data?.releases.find((r) => r.version === '1.1')?.released.getTime() ?? 0;
      assert.ok(released >= before - 1000 && released <= Date.now() + 1000, 'released defaults to now');
      assert.equal(await s.db.testPackageVersion('alpha', '1.0'), true);
      assert.equal(await s.db.testPackageVersion('alpha', '9.9'), false);
      await assert.rejects(s.db.addNewPackageVersion('no-such-package', '1.0'));
      assert.deepEqual([...((await s.db.getAllPackageVersions()).get('alpha') ?? [])].sort(), ['1.0', '1.1']);
    });

    test('names: aliases and the last seen spelling', async () => {
      await s.db.addNewPackage('my-pkg');
      await s.db.addPackageName('my-pkg', 'my-pkg', new Date('2020-01-01T00:00:00Z'));
      await s.db.addPackageName('my-pkg', 'My_Pkg', new Date('2021-01-01T00:00:00Z'));
      await s.db.addPackageName('my-pkg', 'my.pkg', new Date('2019-01-01T00:00:00Z'));
      assert.deepEqual(await s.db.getPackageAliases('my-pkg'), ['My_Pkg', 'my.pkg']);
      assert.equal(await getPackageName(s.t.kysely, 'my-pkg'), 'My_Pkg');
      await s.db.addPackageName('my-pkg', 'my.pkg', new Date('2022-01-01T00:00:00Z'));
      assert.equal(await getPackageName(s.t.kysely, 'my-pkg'), 'my.pkg');
      assert.equal(await getPackageName(s.t.kysely, 'unknown-pkg'), null);
      assert.deepEqual(await s.db.getPackageAliases('unknown-pkg'), []);
    });

    test('descriptions are stored, cut to the column width and cleaned', async () => {
      await s.db.addNewPackage('described');
      await s.db.setPackageDescription('described', `A\x00 ${'x'.repeat(300)}`);
      const entry = (await s.db.getSearchIndex()).find((e) => e.package === 'described');
      assert.equal(entry?.description.length, 200);
      assert.ok(entry?.description.startsWith('A\ufffd x'));
    });

    test('skip reasons and deletion marks', async () => {
      await addVersions(s.db, 'skippy', ['1.0', '2.0']);
      assert.equal(await getVersionSkip(s.t.kysely, 'skippy', '1.0'), '');
      await s.db.skipPackageVersion('skippy', '1.0', 'deleted');
      assert.equal(await getVersionSkip(s.t.kysely, 'skippy', '1.0'), 'deleted');
      assert.equal(await getVersionSkip(s.t.kysely, 'skippy', '9.0'), null);
      assert.deepEqual(await getVersionsDeleted(s.t.kysely, 'skippy'), new Set(['1.0']));
      assert.equal(await packageMarkedDeleted(s.t.kysely, 'skippy'), false);
      await s.db.skipPackage('skippy', 'deleted');
      assert.equal(await packageMarkedDeleted(s.t.kysely, 'skippy'), true);
      const data = await s.db.getProjectData('skippy');
      assert.equal(data?.skip, 'deleted');
      assert.equal(data?.releases.find((r) => r.version === '2.0')?.skip, 'deleted', 'a version inherits the package skip');
    });

    test('yank and unyank', async () => {
      await addVersions(s.db, 'yanky', ['1.0']);
      await s.db.yankVersion('yanky', '1.0');
      assert.equal((await s.db.getProjectData('yanky'))?.releases[0]?.yanked, true);
      await s.db.unyankVersion('yanky', '1.0');
      assert.equal((await s.db.getProjectData('yanky'))?.releases[0]?.yanked, false);
    });
  });
}
