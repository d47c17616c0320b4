// Opt-in: the original Python piw-slave (from a piwheels checkout named by
// PIWHEELS_SRC) building against our coordinator. It needs Debian's
// python3-zmq, python3-cbor2, python3-apt, python3-packaging,
// python3-dateutil, python3-configargparse and python3-voluptuous, refuses
// to run as root (so it runs as "nobody" when we are root) and always talks
// to ports 5555/5556 of its --master.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File, startFarm, waitFor } from '../helpers/farm.ts';
import { buildSdist } from '../fixtures/packages/sdist.ts';
import { PIWHEELS_SRC as source, piwheelsCommand, piwheelsEnv, unprivileged } from '../helpers/python-master.ts';

const title = source
  ? 'the Python piwheels slave builds a wheel against our coordinator'
  : 'Python slave interop NOT RUN: set PIWHEELS_SRC to a piwheels checkout to run it';


/** The Python piw-slave for a farm on 127.0.0.1, unprivileged, logging to DIR/python-slave.log. */
function startPythonSlave(dir: string, detached: boolean): ChildProcess {
  const home = mkdtempSync(join(dir, 'pyslave-'));
  chmodSync(dir, 0o755);
  chmodSync(home, 0o777);
  const log = openSync(join(dir, 'python-slave.log'), 'a');
  const [program, ...args] = unprivileged(piwheelsCommand('slave', ['--master', '127.0.0.1', '--dir', home, '--label', 'python-slave']));
  const child = spawn(program!, args, {
    stdio: ['ignore', log, log],
    detached,
    env: piwheelsEnv({ HOME: home, PIP_RETRIES: '0', PIP_FIND_LINKS: '', PIP_NO_INPUT: '1' }),
  });
  closeSync(log);
  return child;
}

test(title, async (t) => {
  if (!source) {
    t.diagnostic('interop with the Python slave was not run (PIWHEELS_SRC is not set)');
    return;
  }
  const farm = await startFarm('sqlite', ['e2e-pure'], { slaveQueue: 'tcp://127.0.0.1:5555', fileQueue: 'tcp://127.0.0.1:5556' });
  try {
    const child = startPythonSlave(farm.dir, false);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const db = farm.tables;
      const build = await waitFor('the Python slave\'s build', async () =>
        (await db.selectFrom('builds').selectAll().where('package', '=', 'e2e-pure').executeTakeFirst()) ?? undefined, 300_000);
      assert.ok(build.status, 'the build succeeded');
      const file = await db.selectFrom('files').selectAll().where('build_id', '=', build.build_id).executeTakeFirstOrThrow();
      const path = join(farm.output, 'simple', 'e2e-pure', file.filename);
      assert.ok(existsSync(path));
      assert.equal(sha256File(path), file.filehash);
      assert.ok(farm.coordinator.slaveDriver.list().some((s) => s.label === 'python-slave'));
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    await farm.stop();
  }
});

test(source ? 'a Python slave killed mid-build: its build is back in the queue within 30 s' : 'Python slave hand-back NOT RUN (PIWHEELS_SRC is not set)', async (t) => {
  if (!source) {
    t.diagnostic('not run: PIWHEELS_SRC is not set');
    return;
  }
  const farm = await startFarm('sqlite', [], { slaveQueue: 'tcp://127.0.0.1:5555', fileQueue: 'tcp://127.0.0.1:5556', idleHold: 2 });
  try {
    // its own process group, so the build it leaves behind when killed can be ended with it
    const child = startPythonSlave(farm.dir, true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor('the Python slave connected', () => farm.coordinator.slaveDriver.list().some((s) => s.label === 'python-slave') || undefined, 60_000);
      const sdist = buildSdist('e2e-slow', mkdtempSync(join(farm.dir, 'later-')));
      farm.upstream.upload(sdist.name, sdist.version, { filename: sdist.filename, content: readFileSync(sdist.path) });
      const building = await waitFor('the Python slave building e2e-slow', () =>
        farm.coordinator.slaveDriver.list().find((s) => s.currentBuild?.[0] === 'e2e-slow'), 120_000);
      const since = building.lastSeen;
      await waitFor('a BUSY from the Python slave', () => building.lastSeen > since || undefined, 30_000);
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
      const queues = farm.coordinator.architect.queues;
      await waitFor('e2e-slow back in the queue', () =>
        (!farm.coordinator.slaveDriver.list().some((s) => s.id === building.id) && queues.size(farm.abi) > 0) || undefined, 30_000);
      assert.equal(queues.next(farm.abi, Date.now() + 60_000)?.[0], 'e2e-slow');
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
  } finally {
    await farm.stop();
  }
});
