// Failure triage in the database, once per dialect: kinds and retry times
// stored with the build, due retries moved into the attempts history (their
// versions queued again by the usual rule), lost slaves noted, environments
// kept, and an operator's rebuild starting the tries afresh.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FailureHistory } from '../../../shared/failure.ts';
import { DIALECTS, useFreshDatabase } from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, queueOf } from '../../helpers/db-records.ts';

const ENV = {
  os: 'Debian GNU/Linux 12 (bookworm)',
  python: '3.11.2',
  pip: '23.0.1',
  setuptools: '66.1.1',
  wheel: '0.38.4',
  dpkgDigest: `sha256:${'b'.repeat(64)}`,
  reproduce: "python3 -m pip wheel 'x==1.0'",
};

/** Retries a minute after each failure, at most three counted tries; records what it was asked. */
function schedule(asked: FailureHistory[] = []) {
  return (f: FailureHistory): Date | null => {
    asked.push(f);
    return f.kind === 'package' || f.countedBefore + 1 >= 3 ? null : new Date(f.failedAt.getTime() + 60_000);
  };
}

for (const dialect of DIALECTS) {
  describe(`build triage (${dialect})`, () => {
    const s = useFreshDatabase(dialect, ['cp311']);

    test('a transient failure keeps its version out of the queue until its retry time, then goes back in', async () => {
      await addVersions(s.db, 'flaky', ['1.0']);
      const failed = build('flaky', '1.0', 'cp311', [], { failure: { kind: 'upstream', missing: null }, environment: ENV });
      const [id] = await s.db.logBuilds([failed], schedule());
      const failure = await s.db.getBuildFailure(id!);
      assert.equal(failure?.kind, 'upstream');
      assert.equal(failure?.attempt, 1);
      assert.equal(failure?.retryAt?.getTime(), failed.builtAt.getTime() + 60_000);
      assert.deepEqual(await queueOf(s.db, 'flaky'), {}, 'a failed build keeps the version out of the queue');

      assert.deepEqual(await s.db.retryDueBuilds(new Date(failed.builtAt.getTime() + 59_000)), [], 'not yet');
      const retried = await s.db.retryDueBuilds(new Date(failed.builtAt.getTime() + 60_000));
      assert.deepEqual(retried, [{ package: 'flaky', version: '1.0', abi: 'cp311', buildId: id!, kind: 'upstream' }]);
      assert.deepEqual(await queueOf(s.db, 'flaky'), { cp311: ['1.0'] }, 'queued again by the usual rule');
      assert.equal(await s.db.getBuildFailure(id!), null);
      const attempts = await s.t.kysely.selectFrom('build_attempts').selectAll().where('package', '=', 'flaky').execute();
      assert.equal(attempts.length, 1);
      assert.equal(attempts[0]!.kind, 'upstream');
      assert.equal(attempts[0]!.attempt, 1);
      assert.equal(attempts[0]!.log_build_id, id, 'its log stays under the old build id');
      assert.equal((await s.t.kysely.selectFrom('build_environments').selectAll().where('build_id', '=', id!).execute()).length, 0);
      const data = await s.db.getProjectData('flaky');
      assert.equal(data?.releases[0]?.abis.cp311?.status, 'pending');
      assert.deepEqual(data?.releases[0]?.attempts.map((a) => [a.attempt, a.kind, a.logBuildId]), [[1, 'upstream', id]]);
      await assertConsistent(s.db);
    });

    test('tries are numbered and bounded; disk failures and lost slaves are counted as the policy says', async () => {
      await addVersions(s.db, 'bounded', ['1.0']);
      const asked: FailureHistory[] = [];
      const at = (n: number) => build('bounded', '1.0', 'cp311', [], { failure: { kind: n === 1 ? 'disk' : 'killed', missing: null } });
      assert.ok(await s.db.recordLostBuild({ package: 'bounded', version: '1.0', abiTag: 'cp311', slaveId: 7, at: new Date('2026-01-01T00:00:00Z') }));
      for (let n = 1; n <= 3; n++) {
        const record = at(n);
        const [id] = await s.db.logBuilds([record], schedule(asked));
        const failure = await s.db.getBuildFailure(id!);
        assert.equal(failure?.attempt, n + 1, 'the lost slave was the first try');
        if (n < 3) {
          assert.ok(failure?.retryAt);
          assert.equal((await s.db.retryDueBuilds(failure.retryAt)).length, 1);
        } else {
          assert.equal(failure?.retryAt, null, 'out of tries: it stays failed');
        }
      }
      assert.deepEqual(
        asked.map((a) => [a.kind, a.attemptsBefore, a.countedBefore]),
        [['disk', 1, 1], ['killed', 2, 1], ['killed', 3, 2]],
        'the disk failure was not counted against the package',
      );
      assert.equal(await s.db.recordLostBuild({ package: 'bounded', version: '9.9', abiTag: 'cp311', slaveId: 7, at: new Date() }), false, 'unknown versions are not noted');
      // an operator's rebuild starts afresh
      await s.db.deleteBuild('bounded', '1.0');
      assert.equal((await s.t.kysely.selectFrom('build_attempts').selectAll().where('package', '=', 'bounded').execute()).length, 0);
      assert.deepEqual(await queueOf(s.db, 'bounded'), { cp311: ['1.0'] });
      await assertConsistent(s.db);
    });

    test("a package's own failure names its missing dependency and is not retried", async () => {
      await addVersions(s.db, 'needs-zstd', ['1.0']);
      const [id] = await s.db.logBuilds(
        [build('needs-zstd', '1.0', 'cp311', [], { failure: { kind: 'package', missing: { kind: 'header', name: 'zstd.h' } }, environment: ENV })],
        schedule(),
      );
      await s.db.setDebianPackage(id!, 'libzstd-dev');
      assert.deepEqual(await s.db.getBuildFailure(id!), {
        kind: 'package', attempt: 1, retryAt: null, missing: { kind: 'header', name: 'zstd.h' }, debianPackage: 'libzstd-dev',
      });
      const data = await s.db.getProjectData('needs-zstd');
      assert.equal(data?.builds[id!]?.failure?.debianPackage, 'libzstd-dev');
      assert.deepEqual(data?.builds[id!]?.environment, ENV);
      assert.deepEqual(await s.db.retryDueBuilds(new Date('2100-01-01T00:00:00Z')), []);
    });

    test('a successful build may carry an environment but never a failure', async () => {
      await addVersions(s.db, 'fine', ['1.0']);
      await assert.rejects(s.db.logBuilds([build('fine', '1.0', 'cp311', [], { status: true, failure: { kind: 'disk', missing: null } })]));
      const [id] = await s.db.logBuilds([build('fine', '1.0', 'cp311', [], { environment: ENV })]);
      assert.equal(await s.db.getBuildFailure(id!), null, 'a failure recorded without triage has none');
    });
  });
}
