// Opening the farm's database: the schema version checked, missing and
// unreachable databases refused with one clear message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../../shared/db/index.ts';
import { LATEST_VERSION } from '../../../shared/db/migrate.ts';
import { UserError } from '../../../shared/cli.ts';
import { DIALECTS, migrateTo, scratchDatabase } from '../../helpers/db.ts';

for (const dialect of DIALECTS) {
  describe(`openDatabase (${dialect})`, () => {
    test('opens a current database and refuses an older one', async () => {
      const scratch = await scratchDatabase(dialect);
      try {
        await migrateTo(scratch.dsn, 1);
        await assert.rejects(openDatabase(scratch.dsn), new RegExp(`schema version 1, this software needs schema version ${LATEST_VERSION}: run piw-initdb`));
        await migrateTo(scratch.dsn);
        const db = await openDatabase(scratch.dsn);
        assert.deepEqual(await db.getBuildAbis(), []);
        await db.close();
      } finally {
        await scratch.drop();
      }
    });
  });
}

describe('openDatabase: missing or unreachable', () => {
  test('a missing SQLite file is not created', async () => {
    await assert.rejects(openDatabase('/nonexistent-dir/piwheels.sqlite'), (e: unknown) => e instanceof UserError && /run piw-initdb|create it with piw-initdb/.test(e.message));
  });
  test('an unreachable server is one clear user error', async () => {
    await assert.rejects(openDatabase('postgres://postgres@127.0.0.1:59999/none'), (e: unknown) => e instanceof UserError && /cannot connect to .*ECONNREFUSED/.test(e.message));
  });
});
