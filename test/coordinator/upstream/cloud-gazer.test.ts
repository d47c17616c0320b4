import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CloudGazer, type GazerEvents } from '../../../coordinator/upstream/cloud-gazer.ts';
import type { PackageRewrite } from '../../../coordinator/pages/page-request.ts';
import { PyPIClient } from '../../../coordinator/upstream/pypi.ts';
import { AllowList, NOT_ALLOWED } from '../../../coordinator/upstream/allow-list.ts';
import { UpstreamServer } from '../../../upstream/server.ts';
import { UpstreamFiles } from '../../../coordinator/upstream/upstream-files.ts';
import { DIALECTS, freshDatabase, openTables, type TestDatabase } from '../../helpers/db.ts';
import { EXPECTED, readState, scriptHistory, T } from './history.ts';

const clientOptions = { timeoutMs: 300, retries: 1, backoffMs: 5, maxBackoffMs: 10 };

function recorder(): { events: GazerEvents; rewrites: PackageRewrite[]; deleted: string[]; nudges: number } {
  const log = { rewrites: [] as PackageRewrite[], deleted: [] as string[], nudges: 0 };
  return {
    ...log,
    get nudges() {
      return log.nudges;
    },
    events: {
      rewrite: (r) => void log.rewrites.push(r),
      deleted: (t) => void log.deleted.push(t.version === undefined ? t.package : `${t.package} ${t.version}`),
      queueChanged: () => void (log.nudges += 1),
    },
  };
}

async function pollUntil(gazer: CloudGazer, serial: number): Promise<void> {
  for (let i = 0; i < 200 && gazer.currentSerial < serial; i++) await gazer.poll();
  assert.equal(gazer.currentSerial, serial);
}

for (const dialect of DIALECTS) {
  describe(`CloudGazer on ${dialect}`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await freshDatabase(dialect);
      await t.db.addBuildAbi('cp311');
    });
    after(async () => {
      await t.drop();
    });

    test('a scripted history ends in the hand-computed state, in batches of any size', async () => {
      const up = new UpstreamServer({ systemWheels: false, batchLimit: 3 });
      const url = await up.start();
      try {
        scriptHistory(up);
        const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
        const seen = recorder();
        const gazer = new CloudGazer({ db: t.db, pypi, events: seen.events, follow: false });
        await gazer.start();
        await pollUntil(gazer, up.serial);
        await gazer.descriptionsSettled();
        await gazer.stop();
        assert.deepEqual(await readState(t.kysely), EXPECTED);
        assert.equal(await t.db.getPypiSerial(), up.serial);
        assert.deepEqual(await t.db.verifyDerived(), []);
        const alpha = await t.db.getProjectData('alpha');
        assert.equal(alpha?.description, 'Alpha summary');
        assert.ok(seen.deleted.includes('gamma'), 'the removal of gamma cancels its builds');
        assert.ok(seen.rewrites.some((r) => r.kind === 'DELPKG' && r.package === 'gamma'));
        assert.ok(seen.rewrites.some((r) => r.kind === 'BOTH' && r.package === 'alpha'));
        assert.ok(seen.rewrites.some((r) => r.kind === 'PROJECT' && r.package === 'alpha'), 'sdist lifting binary-only, and the description');
        assert.ok(seen.nudges > 0);
      } finally {
        await up.stop();
      }
    });

    test('replaying from an older serial changes nothing', async () => {
      const up = new UpstreamServer({ systemWheels: false });
      const url = await up.start();
      try {
        scriptHistory(up);
        const before = await readState(t.kysely);
        await t.kysely.updateTable('configuration').set({ pypi_serial: 3 }).execute();
        const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
        const gazer = new CloudGazer({ db: t.db, pypi, follow: false });
        await gazer.start();
        await pollUntil(gazer, up.serial);
        await gazer.stop();
        assert.deepEqual(await readState(t.kysely), before);
        assert.deepEqual(await t.db.verifyDerived(), []);
      } finally {
        await up.stop();
      }
    });

    test('a misbehaving upstream is logged, backed off and survived', async () => {
      const up = new UpstreamServer({ systemWheels: false });
      const url = await up.start();
      try {
        scriptHistory(up);
        up.upload('zeta', '1.0', { timestamp: T + 200 });
        const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
        const gazer = new CloudGazer({ db: t.db, pypi, follow: false });
        await gazer.start();
        const start = gazer.currentSerial;
        for (const kind of ['429', '500', 'hang', 'invalid-xml', 'xmlrpc-too-many'] as const) {
          up.setFault({ kind, target: 'xmlrpc' });
          assert.deepEqual(await gazer.poll(), { events: 0, serial: start }, kind);
        }
        // zeta was deleted upstream before its description could be read.
        up.setFault({ kind: '404', target: 'json' });
        await pollUntil(gazer, up.serial);
        await gazer.descriptionsSettled();
        await gazer.stop();
        up.setFault(null);
        const zeta = await t.db.getProjectData('zeta');
        assert.equal(zeta?.description, '');
        assert.equal(zeta?.releases.length, 1);
      } finally {
        await up.stop();
      }
    });

    test('after a restart, a late event is still judged against the events before the saved serial', async () => {
      const runTo = async (db: TestDatabase, serial: number, warmupSerials?: number): Promise<void> => {
        const up = new UpstreamServer({ systemWheels: false, batchLimit: 1 });
        const url = await up.start();
        try {
          scriptHistory(up);
          const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
          const changelog = warmupSerials === undefined ? {} : { epoch: 0 };
          const gazer = new CloudGazer({ db: db.db, pypi, follow: false, descriptions: false, warmupSerials, changelog });
          await gazer.start();
          await pollUntil(gazer, serial);
          await gazer.stop();
        } finally {
          await up.stop();
        }
      };
      // Serial 19 removes epsilon 1.0 (stamped T+130); serial 20 is its upload stamped T+125.
      const epsilon = async (db: TestDatabase): Promise<string[]> =>
        (await readState(db.kysely)).versions.filter((v) => v.package === 'epsilon').map((v) => v.version);
      const warm = await freshDatabase(dialect);
      const cold = await freshDatabase(dialect);
      try {
        await runTo(warm, 19);
        await runTo(warm, 22);
        assert.deepEqual(await epsilon(warm), []);
        await runTo(cold, 19, 0);
        await runTo(cold, 22, 0);
        assert.deepEqual(await epsilon(cold), ['1.0'], 'without re-reading, the late upload would resurrect it');
      } finally {
        await warm.drop();
        await cold.drop();
      }
    });

    test('a kill -9 part-way and a restart end in the same state', async () => {
      const fresh = await freshDatabase(dialect);
      await fresh.db.addBuildAbi('cp311');
      const up = new UpstreamServer({ systemWheels: false, batchLimit: 1 });
      const url = await up.start();
      try {
        scriptHistory(up);
        const target = up.serial;
        const run = async (killAt: number | null): Promise<void> => {
          const child = spawn(process.execPath, ['--import', 'tsx', 'test/coordinator/upstream/gazer-child.ts', fresh.dsn, url, String(target)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          const exited = once(child, 'exit');
          for await (const line of createInterface({ input: child.stdout })) {
            const serial = Number(line.split(' ')[1]);
            if (killAt !== null && serial >= killAt) {
              child.kill('SIGKILL');
              break;
            }
          }
          const [code, signal] = (await exited) as [number | null, string | null];
          if (killAt === null) assert.equal(code, 0);
          else assert.ok(signal === 'SIGKILL' || code === 0);
        };
        await run(Math.floor(target / 2));
        const midway = await fresh.db.getPypiSerial();
        assert.ok(midway < target, `killed part-way (at ${midway} of ${target})`);
        await run(null);
        await fresh.db.close();
        const { openDatabase } = await import('../../../shared/db/index.ts');
        const reopened = await openDatabase(fresh.dsn);
        const tables = await openTables(fresh.dsn);
        try {
          assert.deepEqual(await readState(tables.kysely), EXPECTED);
          assert.deepEqual(await reopened.verifyDerived(), []);
        } finally {
          await tables.close();
          await reopened.close();
        }
      } finally {
        await up.stop();
        await fresh.drop().catch(() => undefined);
      }
    });

    test('allow-list: unlisted packages are recorded but skipped, and an edit applies without a restart', async () => {
      const db = await freshDatabase(dialect);
      await db.db.addBuildAbi('cp311');
      const dir = mkdtempSync(join(tmpdir(), 'piw-allow-'));
      const path = join(dir, 'allow.txt');
      writeFileSync(path, 'alpha>=1.0\n');
      const up = new UpstreamServer({ systemWheels: false });
      const url = await up.start();
      try {
        scriptHistory(up);
        const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
        const gazer = new CloudGazer({ db: db.db, pypi, allowList: new AllowList(path), pollSeconds: 0.05, descriptions: false });
        await gazer.start();
        for (let i = 0; i < 400 && gazer.currentSerial < up.serial; i++) await new Promise((r) => setTimeout(r, 10));
        let state = await readState(db.kysely);
        assert.deepEqual(state.packages, EXPECTED.packages.map((p) => ({ ...p, skip: p.package === 'alpha' ? '' : NOT_ALLOWED })));
        assert.deepEqual(state.queue, ['alpha 1.0', 'alpha 1.1']);
        writeFileSync(path, 'beta\n');
        utimesSync(path, new Date(), new Date(Date.now() + 10_000));
        for (let i = 0; i < 400; i++) {
          state = await readState(db.kysely);
          if (state.queue.join() === 'beta 2.0') break;
          await new Promise((r) => setTimeout(r, 10));
        }
        await gazer.stop();
        assert.deepEqual(state.queue, ['beta 2.0']);
        assert.equal(state.packages.find((p) => p.package === 'alpha')?.skip, NOT_ALLOWED);
        assert.deepEqual(await db.db.verifyDerived(), []);
      } finally {
        await up.stop();
        await db.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('development mode skips new packages', async () => {
      const db = await freshDatabase(dialect);
      const up = new UpstreamServer({ systemWheels: false });
      const url = await up.start();
      try {
        up.upload('dev-pkg', '1.0', { timestamp: T });
        const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
        const gazer = new CloudGazer({ db: db.db, pypi, devMode: true, follow: false, descriptions: false });
        await gazer.start();
        await pollUntil(gazer, up.serial);
        await gazer.stop();
        assert.deepEqual((await readState(db.kysely)).packages, [{ package: 'dev-pkg', skip: 'development mode' }]);
      } finally {
        await up.stop();
        await db.drop();
      }
    });

    test("each recent upload asks upstream, in the background, what it serves of the release", async () => {
      const db = await freshDatabase(dialect);
      const up = new UpstreamServer({ systemWheels: false });
      const url = await up.start();
      const now = 1_800_000_000;
      try {
        up.upload('old-pkg', '1.0', { timestamp: now - 2 * 86_400 });
        up.upload('new-pkg', '1.0', { timestamp: now - 60 });
        up.upload('new-pkg', '1.0', { filename: 'new_pkg-1.0-py3-none-any.whl', content: Buffer.from('upstream wheel'), timestamp: now - 30 });
        const pypi = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions });
        const files = new UpstreamFiles({ db: db.db, pypi: new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...clientOptions }) });
        const gazer = new CloudGazer({ db: db.db, pypi, follow: false, descriptions: false, upstreamFiles: files, now: () => now * 1000 });
        await gazer.start();
        await pollUntil(gazer, up.serial);
        await files.settled();
        await gazer.stop();
        await files.close();
        const known = await db.db.getUpstreamFiles('new-pkg', '1.0');
        assert.deepEqual(known?.files.map((f) => [f.filename, f.uploadedAt.getTime() / 1000]), [['new_pkg-1.0-py3-none-any.whl', now - 30]]);
        assert.equal(await db.db.getUpstreamFiles('old-pkg', '1.0'), null, 'an old upload is asked about only before publishing');
      } finally {
        await up.stop();
        await db.drop();
      }
    });
  });
}
