import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBuildRecord } from '../../../shared/build.ts';
import { LogSpool } from '../../../coordinator/pages/log-spool.ts';
import { DIALECTS, freshDatabase } from '../../helpers/db.ts';

for (const dialect of DIALECTS) {
  test(`spooled logs of committed builds are written on recovery, the rest dropped (${dialect})`, async () => {
    const scratch = await freshDatabase(dialect);
    const output = mkdtempSync(join(tmpdir(), 'piw-spool-'));
    try {
      const db = scratch.db;
      await db.addBuildAbi('cp311');
      await db.addNewPackage('spooled');
      await db.addNewPackageVersion('spooled', '1.0', new Date('2026-01-01T00:00:00Z'));
      const builtAt = new Date('2026-02-03T04:05:06.789Z');
      const record = toBuildRecord(
        { slaveId: 3, package: 'spooled', version: '1.0', abiTag: 'cp311', platformTag: 'linux_armv7l', status: false, duration: 2, output: 'the log', files: [] },
        builtAt,
      );
      const spool = new LogSpool(output);
      // the first build was committed before the crash, the second never was
      const path = await spool.write([
        { package: 'spooled', version: '1.0', builtAt: builtAt.toISOString(), builtBy: 3, log: 'the log' },
        { package: 'spooled', version: '1.0', builtAt: new Date(builtAt.getTime() + 1).toISOString(), builtBy: 3, log: 'never committed' },
      ]);
      assert.ok(path.startsWith(spool.dir));
      writeFileSync(join(spool.dir, '.0123456789abcdef.json.tmp'), '{"package":');
      const [buildId] = await db.logBuilds([record]);
      const written: Array<[number, string]> = [];
      const count = await spool.recover(db, async (id, log) => {
        written.push([id, log]);
      });
      assert.equal(count, 1);
      assert.deepEqual(written, [[buildId, 'the log']]);
      assert.deepEqual(readdirSync(spool.dir), []);
    } finally {
      rmSync(output, { recursive: true, force: true });
      await scratch.drop();
    }
  });
}
