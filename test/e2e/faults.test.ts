import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as zmq from 'zeromq';
import { buildSdist, fixtureProject } from '../fixtures/packages/sdist.ts';
import { FakeSlave, fakeWheel, sendChunks } from '../helpers/fake-slave.ts';
import { sha256File, startFarm, waitFor } from '../helpers/farm.ts';

/** Everything under simple/: what pip could see. */
function indexFiles(output: string): string[] {
  const root = join(output, 'simple');
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const name of readdirSync(root)) {
    out.push(name);
    const dir = join(root, name);
    if (!name.includes('.')) for (const inner of readdirSync(dir)) out.push(`${name}/${inner}`);
  }
  return out;
}

async function sprayGarbage(endpoint: string): Promise<void> {
  const raw = new zmq.Dealer({ linger: 0 });
  raw.connect(endpoint);
  await raw.send(Buffer.from([0xff, 0xfe, 0x00]));
  await raw.send(['', Buffer.from('\x82\x65HELLO\x01', 'latin1')]);
  await raw.send(['', Buffer.from([0x9f, 0x9f, 0x9f])]);
  await raw.send(['CHUNK', 'x', 'y']);
  await raw.send(['HELLO', '424242']);
  raw.close();
}

describe('faults', () => {
  test('garbage on both endpoints, a coordinator restart mid-transfer and a corrupt chunk', async () => {
    const farm = await startFarm('sqlite', ['e2e-pure']);
    const { version } = fixtureProject('e2e-pure');
    const filename = `e2e_pure-${version}-py3-none-any.whl`;
    const data = randomBytes(3 * 1024 * 1024 + 17);
    try {
      await sprayGarbage(farm.slaveEndpoint);
      await sprayGarbage(farm.fileEndpoint);

      // first coordinator: the build is handed out and its transfer cut off by a restart
      let fake = new FakeSlave(farm.slaveEndpoint, farm.abi);
      assert.equal((await fake.hello()).msg, 'ACK', 'the slave endpoint still serves after garbage');
      assert.deepEqual(await fake.untilBuild(), ['e2e-pure', version]);
      assert.equal((await fake.busy()).msg, 'CONT');
      assert.deepEqual(await fake.built(true, [fakeWheel(filename, data)]), { msg: 'SEND', data: filename });
      assert.equal(await sendChunks(farm.fileEndpoint, fake.id, data, { stopAfter: 3 }), 'STOPPED');
      fake.close();
      await farm.restart();
      assert.deepEqual(indexFiles(farm.output).filter((n) => n.endsWith('.whl') || n.includes('.transfer-')), [], 'no partial file after the restart');
      const db = farm.tables;
      assert.equal((await db.selectFrom('builds').selectAll().execute()).length, 0, 'nothing recorded for the cut-off build');

      // second coordinator: the build is handed out again; a corrupt chunk makes it re-send
      fake = new FakeSlave(farm.slaveEndpoint, farm.abi);
      assert.equal((await fake.hello()).msg, 'ACK');
      assert.deepEqual(await fake.untilBuild(), ['e2e-pure', version], 'the build is redone');
      assert.deepEqual(await fake.built(true, [fakeWheel(filename, data)]), { msg: 'SEND', data: filename });
      assert.equal(await sendChunks(farm.fileEndpoint, fake.id, data, { corruptAt: 65536 * 7 }), 'DONE');
      assert.deepEqual(await fake.sent(), { msg: 'SEND', data: filename }, 'failed verification asks for the file again');
      assert.ok(!existsSync(join(farm.output, 'simple', 'e2e-pure', filename)), 'the corrupt file never reaches the index');
      assert.equal(await sendChunks(farm.fileEndpoint, fake.id, data), 'DONE');
      assert.deepEqual(await fake.sent(), { msg: 'DONE', data: undefined });
      const path = join(farm.output, 'simple', 'e2e-pure', filename);
      assert.deepEqual(readFileSync(path), data);
      const files = await db.selectFrom('files').selectAll().execute();
      assert.equal(files.length, 1);
      assert.equal(files[0]!.filehash, sha256File(path));
      assert.ok(indexFiles(farm.output).every((n) => !n.includes('.transfer-')), 'no temp files left');
      fake.close();
    } finally {
      await farm.stop();
    }
  });

  test('a slave killed mid-build: its build goes to another slave; a build past its timeout is recorded failed', async () => {
    const farm = await startFarm('sqlite', ['e2e-pure'], { idleHold: 2 });
    try {
      const db = farm.tables;
      const first = farm.startSlave(['--master-timeout', '6s'], 'doomed');
      const pure = await waitFor('e2e-pure built', async () =>
        (await db.selectFrom('builds').selectAll().where('package', '=', 'e2e-pure').executeTakeFirst()) ?? undefined, 240_000);
      assert.ok(pure.status, 'the first build succeeds');
      // a never-ending build turns up upstream; the same slave takes it
      const staging = mkdtempSync(join(farm.dir, 'later-'));
      const slowSdist = buildSdist('e2e-slow', staging);
      farm.upstream.upload(slowSdist.name, slowSdist.version, { filename: slowSdist.filename, content: readFileSync(slowSdist.path) });
      const building = await waitFor('a slave building e2e-slow', () => {
        const s = farm.coordinator.slaveDriver.list().find((x) => x.currentBuild?.[0] === 'e2e-slow');
        return s ? s.id : undefined;
      }, 120_000);
      await first.kill('SIGKILL');
      const second = farm.startSlave(['--master-timeout', '6s', '--timeout', '20s'], 'survivor');
      const taker = await waitFor('e2e-slow handed to another slave', () => {
        const s = farm.coordinator.slaveDriver.list().find((x) => x.currentBuild?.[0] === 'e2e-slow' && x.id !== building);
        return s ? s.id : undefined;
      }, 120_000);
      assert.ok(!farm.coordinator.slaveDriver.list().some((x) => x.id === building), 'the silent slave was dropped');
      const slow = await waitFor('e2e-slow recorded', async () =>
        (await db.selectFrom('builds').selectAll().where('package', '=', 'e2e-slow').executeTakeFirst()) ?? undefined, 120_000);
      assert.ok(!slow.status, 'a build past its timeout is recorded as failed');
      assert.equal(slow.built_by, taker);
      const digits = String(slow.build_id).padStart(12, '0');
      const log = join(farm.output, 'logs', digits.slice(0, 4), digits.slice(4, 8), `${digits.slice(8)}.txt.gz`);
      await waitFor('the timed-out build log', () => existsSync(log) || undefined, 30_000);
      assert.match(gunzipSync(readFileSync(log)).toString(), /time/i);
      await second.kill();
    } finally {
      await farm.stop();
    }
  });
});
