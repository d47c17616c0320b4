// One farm for 32-bit and 64-bit Pis: with two platforms of one ABI, a new
// version goes to a build machine of each platform and both wheels land in
// the index; a py3-none-any wheel built on one platform covers the other.
// Scripted slaves say HELLO with their platform, as the Python piw-slave does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../shared/db/index.ts';
import { fixtureProject } from '../fixtures/packages/sdist.ts';
import { DIALECTS } from '../helpers/db.ts';
import { FakeSlave, fakeWheel, sendChunks } from '../helpers/fake-slave.ts';
import { startFarm, waitFor, type Farm } from '../helpers/farm.ts';

const ARM7 = 'linux_armv7l';
const ARM64 = 'linux_aarch64';

/** Gives the farm two platforms, then waits until the coordinator's queues hold the fixture on both. */
async function twoPlatforms(farm: Farm): Promise<void> {
  const db = await openDatabase(farm.config.dsn);
  try {
    await db.addBuildPlatform(ARM7);
    await db.addBuildPlatform(ARM64);
  } finally {
    await db.close();
  }
  const queues = farm.coordinator.architect.queues;
  await waitFor('a queue per platform, each with the version', () => {
    farm.coordinator.architect.nudge();
    return queues.size(`${farm.abi}-${ARM7}`) === 1 && queues.size(`${farm.abi}-${ARM64}`) === 1 ? true : undefined;
  });
}

/** The slave builds `filename` (any bytes) and sends it; resolves when the master says DONE. */
async function buildAndSend(farm: Farm, slave: FakeSlave, filename: string): Promise<void> {
  const data = randomBytes(70_000);
  let reply = await slave.built(true, [fakeWheel(filename, data)]);
  while (reply.msg === 'SEND') {
    assert.equal(await sendChunks(farm.fileEndpoint, slave.id, data), 'DONE');
    reply = await slave.sent();
  }
  assert.equal(reply.msg, 'DONE');
}

for (const dialect of DIALECTS) {
  describe(`build targets, one farm for 32-bit and 64-bit Pis (${dialect})`, () => {
    test('one version is built once per platform and both wheels land in simple/<pkg>/', async () => {
      const farm = await startFarm(dialect, ['e2e-pure']);
      const { version } = fixtureProject('e2e-pure');
      const arm7 = new FakeSlave(farm.slaveEndpoint, farm.abi, 3, 30, ARM7);
      const arm64 = new FakeSlave(farm.slaveEndpoint, farm.abi, 3, 30, ARM64);
      const x86 = new FakeSlave(farm.slaveEndpoint, farm.abi, 3, 30, 'linux_x86_64');
      try {
        await twoPlatforms(farm);
        for (const slave of [arm7, arm64, x86]) assert.equal((await slave.hello()).msg, 'ACK');
        assert.deepEqual(await arm7.untilBuild(), ['e2e-pure', version]);
        assert.deepEqual(await arm64.untilBuild(), ['e2e-pure', version], 'the same version again, for the other platform');
        assert.equal((await x86.idle()).msg, 'SLEEP', 'a machine of no build platform gets nothing');
        const v7 = `e2e_pure-${version}-${farm.abi}-${farm.abi}-${ARM7}.whl`;
        const v8 = `e2e_pure-${version}-${farm.abi}-${farm.abi}-${ARM64}.whl`;
        await buildAndSend(farm, arm7, v7);
        await buildAndSend(farm, arm64, v8);
        const index = readdirSync(join(farm.output, 'simple', 'e2e-pure')).filter((n) => n.endsWith('.whl')).sort();
        assert.deepEqual(index, [v8, v7.replace(ARM7, 'linux_armv6l'), v7].sort(), 'both wheels, and the armv7l one\'s armv6l twin');
        const builds = await farm.tables.selectFrom('builds').select(['abi_tag', 'platform_tag']).orderBy('build_id').execute();
        assert.deepEqual(builds, [{ abi_tag: farm.abi, platform_tag: ARM7 }, { abi_tag: farm.abi, platform_tag: ARM64 }]);
        const queue = await farm.tables.selectFrom('build_queue').selectAll().execute();
        assert.deepEqual(queue, [], 'nothing more to build on either platform');
      } finally {
        for (const slave of [arm7, arm64, x86]) slave.close();
        await farm.stop();
      }
    });

    test('a py3-none-any wheel built on one platform covers the other', async () => {
      const farm = await startFarm(dialect, ['e2e-pure']);
      const { version } = fixtureProject('e2e-pure');
      const arm64 = new FakeSlave(farm.slaveEndpoint, farm.abi, 3, 30, ARM64);
      const arm7 = new FakeSlave(farm.slaveEndpoint, farm.abi, 3, 30, ARM7);
      try {
        await twoPlatforms(farm);
        assert.equal((await arm64.hello()).msg, 'ACK');
        assert.deepEqual(await arm64.untilBuild(), ['e2e-pure', version]);
        await buildAndSend(farm, arm64, `e2e_pure-${version}-py3-none-any.whl`);
        const queue = await farm.tables.selectFrom('build_queue').selectAll().execute();
        assert.deepEqual(queue, [], 'the armv7l target wants it no more');
        // the in-memory queue of armv7l still held the version: a refresh drops it
        farm.coordinator.architect.nudge();
        await waitFor('the armv7l queue refreshed', () => farm.coordinator.architect.queues.size(`${farm.abi}-${ARM7}`) === 0 || undefined);
        assert.equal((await arm7.hello()).msg, 'ACK');
        assert.equal((await arm7.idle()).msg, 'SLEEP');
      } finally {
        arm64.close();
        arm7.close();
        await farm.stop();
      }
    });
  });
}
