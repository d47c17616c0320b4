// A slave that stops at any point hands its build back within 30 s, not
// after its 5-minute busy timeout: SIGTERM while the master holds its IDLE
// (the master's BUILD then finds no connection), and SIGKILL mid-build (no
// BUSY comes).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSdist } from '../fixtures/packages/sdist.ts';
import { DIALECTS } from '../helpers/db.ts';
import { startFarm, waitFor, type Farm } from '../helpers/farm.ts';

function upload(farm: Farm, fixture: 'e2e-pure' | 'e2e-slow', version?: string): void {
  const sdist = buildSdist(fixture, mkdtempSync(join(farm.dir, 'later-')), version);
  farm.upstream.upload(sdist.name, sdist.version, { filename: sdist.filename, content: readFileSync(sdist.path) });
}

const holding = (farm: Farm, id: number): boolean =>
  farm.coordinator.slaveDriver.list().some((s) => s.id === id && s.inFlight && s.lastReply !== 'BUILD');

describe('builds handed back by stopped slaves', () => {
  for (const dialect of DIALECTS) test(`a slave stopped while its IDLE is held: a version arriving after goes to a slave started later within 30 s (${dialect})`, async () => {
    // a long hold: the stopped slave's IDLE is still held when the version arrives
    const farm = await startFarm(dialect, ['e2e-pure'], { idleHold: 60 });
    try {
      const db = farm.tables;
      const first = farm.startSlave([], 'stopped');
      await waitFor('e2e-pure built', async () =>
        (await db.selectFrom('builds').selectAll().where('package', '=', 'e2e-pure').executeTakeFirst()) ?? undefined, 240_000);
      const firstId = await waitFor('the first slave waiting for work', () =>
        farm.coordinator.slaveDriver.list().find((s) => s.label === 'stopped' && holding(farm, s.id))?.id, 60_000);
      await first.kill('SIGTERM');
      assert.equal(await first.exited, 0);
      assert.ok(holding(farm, firstId), 'the master still holds the IDLE of the stopped slave');
      upload(farm, 'e2e-pure', '2.0');
      const second = farm.startSlave([], 'later');
      const taker = await waitFor('version 2.0 handed to the slave started later', () =>
        farm.coordinator.slaveDriver.list().find((s) => s.label === 'later' && s.currentBuild?.[1] === '2.0'), 30_000);
      assert.ok(!farm.coordinator.slaveDriver.list().some((s) => s.id === firstId), 'the stopped slave is forgotten');
      const built = await waitFor('version 2.0 built', async () =>
        (await db.selectFrom('builds').selectAll().where('package', '=', 'e2e-pure').where('version', '=', '2.0').executeTakeFirst()) ?? undefined, 240_000);
      assert.equal(built.built_by, taker.id);
      assert.ok(built.status);
      await second.kill();
    } finally {
      await farm.stop();
    }
  });

  test('a slave killed mid-build: its build is back in the queue within 30 s', async () => {
    const farm = await startFarm('sqlite', [], { idleHold: 2 });
    try {
      const first = farm.startSlave([], 'killed');
      await waitFor('the slave connected', () => farm.coordinator.slaveDriver.list().some((s) => s.label === 'killed') || undefined, 60_000);
      upload(farm, 'e2e-slow');
      const building = await waitFor('the slave building e2e-slow', () =>
        farm.coordinator.slaveDriver.list().find((s) => s.currentBuild?.[0] === 'e2e-slow'), 120_000);
      // a few BUSY/CONT rounds: the slave is well into its build
      const since = building.lastSeen;
      await waitFor('a BUSY from the slave', () => building.lastSeen > since || undefined, 30_000);
      await first.kill('SIGKILL');
      const queues = farm.coordinator.architect.queues;
      await waitFor('e2e-slow back in the queue', () =>
        (!farm.coordinator.slaveDriver.list().some((s) => s.id === building.id) && queues.size(farm.abi) > 0) || undefined, 30_000);
      assert.equal(queues.next(farm.abi, Date.now() + 60_000)?.[0], 'e2e-slow');
    } finally {
      await farm.stop();
    }
  });
});
