// CURVE end to end: a master that admits only authorized keys, real slaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCertificatePair } from '../../shared/wire/curve.ts';
import { execFile } from 'node:child_process';
import { freePort, startFarm, waitFor } from '../helpers/farm.ts';

const REFUSED = /refused this slave's CURVE key/;

test('with CURVE on, only a slave with an authorized key is acknowledged and builds; a removed key is refused from then on', async () => {
  const keysDir = mkdtempSync(join(tmpdir(), 'piw-curve-keys-'));
  const clients = join(keysDir, 'clients');
  mkdirSync(clients);
  const master = writeCertificatePair(keysDir, 'master');
  const good = writeCertificatePair(keysDir, 'good-pi');
  const bad = writeCertificatePair(keysDir, 'stranger');
  copyFileSync(good.publicFile, join(clients, 'good-pi.key'));
  const tool = writeCertificatePair(keysDir, 'operator');
  copyFileSync(tool.publicFile, join(clients, 'operator.key'));
  const importQueue = `tcp://127.0.0.1:${await freePort()}`;
  const farm = await startFarm('sqlite', ['e2e-pure'], { curveSecret: master.secretFile, curveClients: clients, importQueue });
  const curveArgs = (pair: typeof good): string[] => ['--curve-secret', pair.secretFile, '--curve-server', master.publicFile];
  try {
    const stranger = farm.startSlave(curveArgs(bad), 'stranger');
    await waitFor('the stranger to be told its key is refused', () => REFUSED.test(readFileSync(stranger.logPath, 'utf8')) || undefined, 60_000);
    assert.equal(farm.coordinator.slaveDriver.list().length, 0, 'no slave was acknowledged');

    const plain = farm.startSlave([], 'plain');
    const trusted = farm.startSlave(curveArgs(good), 'good-pi');
    const db = farm.coordinator.db.kysely;
    const build = await waitFor('the trusted slave to build e2e-pure', async () =>
      (await db.selectFrom('builds').selectAll().where('package', '=', 'e2e-pure').executeTakeFirst()) ?? undefined, 300_000);
    assert.ok(build.status, 'the build succeeded');
    const wheel = await db.selectFrom('files').select('filename').where('build_id', '=', build.build_id).executeTakeFirstOrThrow();
    assert.ok(existsSync(join(farm.output, 'simple', 'e2e-pure', wheel.filename)), 'the wheel is in the index');
    assert.deepEqual(farm.coordinator.slaveDriver.list().map((s) => s.label), ['good-pi'], 'only the trusted slave is known; the plain one never got through');
    assert.doesNotMatch(readFileSync(trusted.logPath, 'utf8'), REFUSED);
    await plain.kill();

    // an operator tool over tcp:// needs its own authorized key too
    // asynchronous: the coordinator answering it runs in this process
    const yank = (args: string[]): Promise<{ status: number; stderr: string }> =>
      new Promise((resolve) =>
        execFile(process.execPath, ['bin/piw-remove.js', 'e2e-pure', build.version, '--yank', '-y', '--import-queue', importQueue, '--timeout', '3', ...args], (error, _stdout, stderr) =>
          resolve({ status: error === null ? 0 : Number(error.code), stderr }),
        ),
      );
    const refused = await yank([]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /no answer from the coordinator/);
    const done = await yank(['--curve-secret', tool.secretFile, '--curve-server', master.publicFile]);
    assert.equal(done.status, 0, done.stderr);
    const version = await db.selectFrom('versions').select('yanked').where('package', '=', 'e2e-pure').where('version', '=', build.version).executeTakeFirstOrThrow();
    assert.ok(version.yanked, 'the authorized tool yanked the version');

    unlinkSync(join(clients, 'good-pi.key'));
    const again = farm.startSlave(curveArgs(good), 'good-pi-again');
    await waitFor('the removed key to be refused', () => REFUSED.test(readFileSync(again.logPath, 'utf8')) || undefined, 60_000);
    assert.ok(!farm.coordinator.slaveDriver.list().some((s) => s.label === 'good-pi-again'));
  } finally {
    await farm.stop();
    rmSync(keysDir, { recursive: true, force: true });
  }
});
