// Failure triage end to end, on both databases, against the local upstream
// and real slaves: a release whose file is not served yet is built without
// an operator once it is; a C extension missing a header names the Debian
// package from this machine's Debian file index; a slave short of disk gets
// no build and the monitor says why.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MonitorModel, monitorProtocol } from '../../coordinator/tools/monitor-state.ts';
import { masterControl, reverse } from '../../shared/wire/protocols.ts';
import { createSocket } from '../../shared/wire/transport.ts';
import { DIALECTS } from '../helpers/db.ts';
import { FakeSlave } from '../helpers/fake-slave.ts';
import { startFarm, waitFor } from '../helpers/farm.ts';
import { projectJsonSchema } from '../helpers/page-schemas.ts';
import { fixtureProject } from '../fixtures/packages/sdist.ts';

/** Retries a couple of seconds after a transient failure, looked for every second. */
const FAST_RETRIES = { retryBase: 2, retryMax: 10, retryTries: 5, retryInterval: 1 };

function logText(output: string, buildId: number): string {
  const digits = String(buildId).padStart(12, '0');
  return gunzipSync(readFileSync(join(output, 'logs', digits.slice(0, 4), digits.slice(4, 8), `${digits.slice(8)}.txt.gz`))).toString();
}

/** True when this machine could compile against zstd.h (the zstd test needs a builder that cannot). */
function hasZstdHeader(): boolean {
  try {
    execFileSync('dpkg-query', ['-W', '-f=${Status}', 'libzstd-dev'], { stdio: ['ignore', 'pipe', 'ignore'] });
    return true;
  } catch {
    return existsSync('/usr/include/zstd.h');
  }
}

for (const dialect of DIALECTS) {
  describe(`failure triage end to end on ${dialect}`, () => {
    test('a release whose sdist answers 404 at first ends built with no operator action, its first failure recorded as transient', async () => {
      const farm = await startFarm(dialect, ['e2e-pure'], FAST_RETRIES);
      try {
        const { name, version } = fixtureProject('e2e-pure');
        const sdist = `${name}-${version}.tar.gz`;
        // in the changelog and the index, but the file is not served yet
        farm.upstream.withhold(sdist, Date.now() + 3_600_000);
        farm.startSlave();
        const db = farm.tables;
        const failure = await waitFor('the first, failed try', () =>
          db.selectFrom('build_failures as f').innerJoin('builds as b', 'b.build_id', 'f.build_id').selectAll('f').where('b.package', '=', 'e2e-pure').executeTakeFirst(),
        );
        assert.equal(failure.kind, 'upstream');
        assert.equal(failure.attempt, 1);
        assert.ok(failure.retry_at !== null, 'a transient failure has a retry time');
        assert.match(logText(farm.output, failure.build_id), /404/, 'the log shows why');
        // now upstream serves it
        farm.upstream.withhold(sdist, 0);
        const built = await waitFor('the build to succeed on a later try', () =>
          db.selectFrom('builds').selectAll().where('package', '=', 'e2e-pure').where('status', '=', 1).executeTakeFirst(), 180_000);
        assert.equal(built.version, version);
        const attempts = await db.selectFrom('build_attempts').selectAll().where('package', '=', 'e2e-pure').orderBy('attempt').execute();
        assert.ok(attempts.length >= 1);
        assert.deepEqual([attempts[0]!.attempt, attempts[0]!.kind, attempts[0]!.log_build_id], [1, 'upstream', failure.build_id], 'the first try is kept as a transient failure');
        const failed = await db.selectFrom('builds').select('build_id').where('package', '=', 'e2e-pure').where('status', '=', 0).execute();
        assert.deepEqual(failed, [], 'no failed build is left standing');
        const env = await waitFor('the environment of the successful build', () =>
          db.selectFrom('build_environments').selectAll().where('build_id', '=', built.build_id).executeTakeFirst());
        assert.match(env.python, /^3\./);
        assert.ok(env.reproduce.includes(`pip wheel e2e-pure==${version}`), env.reproduce);
        const json = await waitFor('the project JSON with the earlier try', () => {
          const path = join(farm.output, 'project', 'e2e-pure', 'json', 'index.json');
          if (!existsSync(path)) return undefined;
          const parsed = projectJsonSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
          return parsed.releases[version]?.abis[farm.abi]?.status === 'success' ? parsed : undefined;
        }, 30_000);
        assert.equal(json.releases[version]?.attempts[0]?.kind, 'upstream');
        assert.equal(json.releases[version]?.abis[farm.abi]?.environment?.python, env.python);
      } finally {
        await farm.stop();
      }
    });

    test('a C extension failing on a missing header names the Debian package on its project page and JSON', async () => {
      assert.equal(hasZstdHeader(), false, 'this test needs a builder without libzstd-dev (zstd.h must be missing)');
      const farm = await startFarm(dialect, ['e2e-zstd'], FAST_RETRIES);
      try {
        farm.startSlave();
        const db = farm.tables;
        const failure = await waitFor('the missing header named', () =>
          db
            .selectFrom('build_failures as f')
            .innerJoin('builds as b', 'b.build_id', 'f.build_id')
            .selectAll('f')
            .where('b.package', '=', 'e2e-zstd')
            .where('f.debian_package', 'is not', null)
            .executeTakeFirst(), 240_000);
        assert.deepEqual([failure.kind, failure.missing_kind, failure.missing_name, failure.debian_package, failure.retry_at], ['package', 'header', 'zstd.h', 'libzstd-dev', null]);
        const log = logText(farm.output, failure.build_id);
        assert.match(log, /fatal error: zstd\.h: No such file or directory/, "the log keeps pip's output");
        assert.match(log, /^== piwheels build environment ==\nos: /, 'and states the environment');
        assert.match(log, /== piwheels build ended: exit status 1 ==\n$/);
        const json = await waitFor('the project JSON naming the package', () => {
          const path = join(farm.output, 'project', 'e2e-zstd', 'json', 'index.json');
          if (!existsSync(path)) return undefined;
          const parsed = projectJsonSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
          return parsed.releases['1.0']?.abis[farm.abi]?.failure?.debian_package === 'libzstd-dev' ? parsed : undefined;
        }, 30_000);
        assert.deepEqual(json.releases['1.0']?.abis[farm.abi]?.failure?.missing, { kind: 'header', name: 'zstd.h' });
        const html = readFileSync(join(farm.output, 'project', 'e2e-zstd', 'index.html'), 'utf8');
        assert.match(html, /<code>zstd\.h<\/code>: provided by the Debian package <code class="debian-package">libzstd-dev<\/code>/);
        assert.match(html, /Reproduce/);
        // a genuine failure stays failed: nothing is queued again
        await farm.coordinator.architect.nudge();
        assert.deepEqual(farm.coordinator.architect.queues.sizes(), { [farm.abi]: 0 });
      } finally {
        await farm.stop();
      }
    });

    test('a slave reporting a nearly full disk gets no build and the monitor says why', async () => {
      const farm = await startFarm(dialect, ['e2e-pure'], { ...FAST_RETRIES, minFreeDisk: 1024 });
      const slave = new FakeSlave(farm.slaveEndpoint, farm.abi);
      const status = createSocket('SUB', { protocol: monitorProtocol, linger: 0 });
      const control = createSocket('PUSH', { protocol: reverse(masterControl), linger: 0 });
      try {
        await waitFor('the version queued', () => (farm.coordinator.architect.queues.sizes()[farm.abi] ?? 0) > 0 || undefined, 60_000);
        status.subscribe('');
        status.connect(farm.config.statusQueue);
        control.connect(farm.config.controlQueue);
        const model = new MonitorModel();
        assert.equal((await slave.hello()).msg, 'ACK');
        slave.diskFree = 50 * 1024 ** 2;
        for (let i = 0; i < 3; i++) {
          const reply = await slave.idle();
          assert.equal(reply.msg, 'SLEEP', 'no build for a slave short of disk');
        }
        assert.equal(farm.coordinator.architect.queues.sizes()[farm.abi], 1, 'the build is still waiting');
        // the monitor, attached now, is replayed the slave's state, reason included
        const reason = await waitFor('the monitor to say why', async () => {
          await control.send('HELLO');
          for (let message = await status.recv(0.5); message !== null; message = await status.recv(0.5)) model.apply(message);
          const shown = model.slaves.get(slave.id)?.status;
          return shown?.startsWith('no builds: disk') ? shown : undefined;
        }, 30_000);
        assert.match(reason, /^no builds: disk 50\.0 MB free of 32\.0 GB, needs 1\.0 GB$/);
        // space returns: it builds
        slave.diskFree = 8 * 1024 ** 3;
        assert.deepEqual(await slave.untilBuild(30_000), ['e2e-pure', fixtureProject('e2e-pure').version]);
      } finally {
        status.close();
        control.close();
        slave.close();
        await farm.stop();
      }
    });
  });
}
