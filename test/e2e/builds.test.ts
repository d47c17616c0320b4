import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { DIALECTS } from '../helpers/db.ts';
import { sha256File, startFarm, waitFor } from '../helpers/farm.ts';

/** logs/AAAA/BBBB/CCCC.txt.gz for a build id, as piwheels lays them out. */
function logPath(output: string, buildId: number): string {
  const digits = String(buildId).padStart(12, '0');
  return join(output, 'logs', digits.slice(0, 4), digits.slice(4, 8), `${digits.slice(8)}.txt.gz`);
}

for (const dialect of DIALECTS) {
  describe(`end to end on ${dialect}`, () => {
    test('three upstream sdists: two wheels in the index, one failure recorded, all with logs', async () => {
      const farm = await startFarm(dialect, ['e2e-pure', 'e2e-cext', 'e2e-broken']);
      try {
        const slave = farm.startSlave();
        const db = farm.tables;
        const builds = await waitFor('three builds recorded', async () => {
          const rows = await db.selectFrom('builds').selectAll().orderBy('build_id').execute();
          return rows.length >= 3 ? rows : undefined;
        }, 300_000);
        assert.equal(builds.length, 3);
        const byPackage = new Map(builds.map((b) => [b.package, b]));
        assert.deepEqual([...byPackage.keys()].sort(), ['e2e-broken', 'e2e-cext', 'e2e-pure']);
        assert.ok(byPackage.get('e2e-pure')!.status, 'pure build succeeded');
        assert.ok(byPackage.get('e2e-cext')!.status, 'C extension build succeeded');
        assert.ok(!byPackage.get('e2e-broken')!.status, 'broken build failed');
        for (const b of builds) {
          assert.equal(b.abi_tag, farm.abi);
          assert.ok(b.duration !== null && b.duration !== undefined, 'duration recorded');
        }
        const files = await db.selectFrom('files').selectAll().execute();
        assert.equal(files.length, 2, 'one wheel per successful build');
        for (const f of files) {
          const pkg = f.filename.startsWith('e2e_pure') ? 'e2e-pure' : 'e2e-cext';
          const path = join(farm.output, 'simple', pkg, f.filename);
          assert.ok(existsSync(path), `${path} is in the index`);
          assert.equal(sha256File(path), f.filehash, 'the committed wheel has the hash the database holds');
          assert.match(f.metadata_hash ?? '', /^[0-9a-f]{64}$/, 'METADATA hash recorded');
        }
        const pure = files.find((f) => f.filename.startsWith('e2e_pure'))!;
        assert.match(pure.filename, /-py3-none-any\.whl$/);
        const deps = await db.selectFrom('dependencies').selectAll().where('tool', '=', 'apt').execute();
        assert.ok(deps.some((d) => d.dependency === 'libc6'), 'the C extension needs libc6');
        for (const b of builds) {
          const path = await waitFor(`log of build ${b.build_id}`, () => (existsSync(logPath(farm.output, b.build_id)) ? logPath(farm.output, b.build_id) : undefined), 30_000);
          assert.ok(gunzipSync(readFileSync(path)).length > 0, 'build output written');
        }
        const broken = gunzipSync(readFileSync(logPath(farm.output, byPackage.get('e2e-broken')!.build_id))).toString();
        assert.match(broken, /error|Error|fail/);
        // the failure stays failed: with one ABI nothing is queued again
        await farm.coordinator.architect.nudge();
        await waitFor('queue refreshed', () => farm.coordinator.architect.queues.targets().length > 0 || undefined);
        assert.deepEqual(farm.coordinator.architect.queues.sizes(), { [farm.abi]: 0 });
        const pages = await waitFor('project pages', () =>
          ['e2e-pure', 'e2e-cext', 'e2e-broken'].every((p) => existsSync(join(farm.output, 'project', p, 'index.html'))) || undefined, 30_000);
        assert.ok(pages);
        assert.ok(readdirSync(join(farm.output, 'simple')).every((n) => !n.startsWith('.transfer-')), 'no temp files left');
        await slave.kill();
        assert.equal(await slave.exited, 0, 'the slave exits cleanly on SIGTERM');
      } finally {
        await farm.stop();
      }
    });
  });
}
