// The PyPI serial and the build ABIs, once per dialect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/cli.ts';
import type { Database } from '../../../shared/db/index.ts';
import { DIALECTS, freshDatabase, type TestDatabase } from '../../helpers/db.ts';
import { build } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`settings (${dialect})`, () => {
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

    test('PyPI serial moves forward only', async () => {
      assert.equal(await db.getPypiSerial(), 0);
      await db.setPypiSerial(100);
      await db.setPypiSerial(100);
      await db.setPypiSerial(150);
      await assert.rejects(db.setPypiSerial(120), /cannot go backwards/);
      await assert.rejects(db.setPypiSerial(-1), RangeError);
      assert.equal(await db.getPypiSerial(), 150);
    });

    test('build ABIs in interpreter order, skipped ones on request', async () => {
      assert.deepEqual(await db.getBuildAbis(), ['cp39', 'cp311', 'cp313']);
      assert.deepEqual(await db.getBuildAbis(true), ['cp39', 'cp311', 'cp313']);
      await assert.rejects(db.addBuildAbi('none'), UserError);
      await assert.rejects(db.addBuildAbi('CP 3'), UserError);
      await assert.rejects(db.skipBuildAbi('cp27', 'old'), /no build ABI/);
    });
  });
}
