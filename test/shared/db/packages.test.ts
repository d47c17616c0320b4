// Packages, versions and name spellings, once per dialect against a real
// SQLite file and a real PostgreSQL server, with the same assertions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../shared/db/index.ts';
import {
  DIALECTS,
  freshDatabase,
  getPackageName,
  getVersionsDeleted,
  getVersionSkip,
  packageMarkedDeleted,
  type TestDatabase,
} from '../../helpers/db.ts';
import { addVersions } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`packages and versions (${dialect})`, () => {
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

    test('addNewPackage: true once, then false on a duplicate', async () => {
      assert.equal(await db.addNewPackage('alpha', '', 'The first'), true);
      assert.equal(await db.addNewPackage('alpha', '', 'Again'), false);
      assert.equal(await db.testPackage('alpha'), true);
      assert.equal(await db.testPackage('nothing-here'), false);
      assert.ok((await db.getAllPackages()).has('alpha'));
    });

    test('addNewPackageVersion: true once, false on a duplicate, refused for an unknown package', async () => {
      assert.equal(await db.addNewPackageVersion('alpha', '1.0', new Date('2025-01-01T00:00:00Z')), true);
      assert.equal(await db.addNewPackageVersion('alpha', '1.0'), false);
      const before = Date.now();
      assert.equal(await db.addNewPackageVersion('alpha', '1.1'), true);
      const data = await db.getProjectData('alpha');
      const released = data?.releases.find((r) => r.version === '1.1')?.released.getTime() ?? 0;
      assert.ok(released >= before - 1000 && released <= Date.now() + 1000, 'released defaults to now');
      assert.equal(await db.testPackageVersion('alpha', '1.0'), true);
      assert.equal(await db.testPackageVersion('alpha', '9.9'), false);
      await assert.rejects(db.addNewPackageVersion('no-such-package', '1.0'));
      assert.deepEqual([...((await db.getAllPackageVersions()).get('alpha') ?? [])].sort(), ['1.0', '1.1']);
    });

    test('names: aliases and the last seen spelling', async () => {
      await db.addNewPackage('my-pkg');
      await db.addPackageName('my-pkg', 'my-pkg', new Date('2020-01-01T00:00:00Z'));
      await db.addPackageName('my-pkg', 'My_Pkg', new Date('2021-01-01T00:00:00Z'));
      await db.addPackageName('my-pkg', 'my.pkg', new Date('2019-01-01T00:00:00Z'));
      assert.deepEqual(await db.getPackageAliases('my-pkg'), ['My_Pkg', 'my.pkg']);
      assert.equal(await getPackageName(t.kysely, 'my-pkg'), 'My_Pkg');
      await db.addPackageName('my-pkg', 'my.pkg', new Date('2022-01-01T00:00:00Z'));
      assert.equal(await getPackageName(t.kysely, 'my-pkg'), 'my.pkg');
      assert.equal(await getPackageName(t.kysely, 'unknown-pkg'), null);
      assert.deepEqual(await db.getPackageAliases('unknown-pkg'), []);
    });

    test('descriptions are stored, cut to the column width and cleaned', async () => {
      await db.addNewPackage('described');
      await db.setPackageDescription('described', `A\x00 ${'x'.repeat(300)}`);
      const entry = (await db.getSearchIndex()).find((e) => e.package === 'described');
      assert.equal(entry?.description.length, 200);
      assert.ok(entry?.description.startsWith('A\ufffd x'));
    });

    test('skip reasons and deletion marks', async () => {
      await addVersions(db, 'skippy', ['1.0', '2.0']);
      assert.equal(await getVersionSkip(t.kysely, 'skippy', '1.0'), '');
      await db.skipPackageVersion('skippy', '1.0', 'deleted');
      assert.equal(await getVersionSkip(t.kysely, 'skippy', '1.0'), 'deleted');
      assert.equal(await getVersionSkip(t.kysely, 'skippy', '9.0'), null);
      assert.deepEqual(await getVersionsDeleted(t.kysely, 'skippy'), new Set(['1.0']));
      assert.equal(await packageMarkedDeleted(t.kysely, 'skippy'), false);
      await db.skipPackage('skippy', 'deleted');
      assert.equal(await packageMarkedDeleted(t.kysely, 'skippy'), true);
      const data = await db.getProjectData('skippy');
      assert.equal(data?.skip, 'deleted');
      assert.equal(data?.releases.find((r) => r.version === '2.0')?.skip, 'deleted', 'a version inherits the package skip');
    });

    test('yank and unyank', async () => {
      await addVersions(db, 'yanky', ['1.0']);
      await db.yankVersion('yanky', '1.0');
      assert.equal((await db.getProjectData('yanky'))?.releases[0]?.yanked, true);
      await db.unyankVersion('yanky', '1.0');
      assert.equal((await db.getProjectData('yanky'))?.releases[0]?.yanked, false);
    });
  });
}
