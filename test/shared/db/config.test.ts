// The PyPI serial and the build ABIs, once per dialect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/cli.ts';
import { DIALECTS, useFreshDatabase } from '../../helpers/db.ts';

for (const dialect of DIALECTS) {
  describe(`settings (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('PyPI serial moves forward only', async () => {
      assert.equal(await s.db.getPypiSerial(), 0);
      await s.db.setPypiSerial(100);
      await s.db.setPypiSerial(100);
      await s.db.setPypiSerial(150);
      await assert.rejects(s.db.setPypiSerial(120), /cannot go backwards/);
      await assert.rejects(s.db.setPypiSerial(-1), RangeError);
      assert.equal(await s.db.getPypiSerial(), 150);
    });

    test('build ABIs in interpreter order, skipped ones on request', async () => {
      assert.deepEqual(await s.db.getBuildAbis(), ['cp39', 'cp311', 'cp313']);
      assert.deepEqual(await s.db.getBuildAbis(true), ['cp39', 'cp311', 'cp313']);
      await assert.rejects(s.db.addBuildAbi('none'), UserError);
      await assert.rejects(s.db.addBuildAbi('CP 3'), UserError);
      await assert.rejects(s.db.skipBuildAbi('cp27', 'old'), /no build ABI/);
    });
  });
}
