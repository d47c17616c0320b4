// Build targets in the database, once per dialect: platforms as settings, the
// build queue kept per (ABI, platform), and the incremental queue agreeing
// with the one recomputed from the rows.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/cli.ts';
import { DIALECTS, farmCounter, logBuild, useFreshDatabase } from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, queueOf, wheel } from '../../helpers/db-records.ts';

const ARM7 = 'linux_armv7l';
const ARM64 = 'linux_aarch64';

for (const dialect of DIALECTS) {
  describe(`build targets (${dialect})`, () => {
    const s = useFreshDatabase(dialect, ['cp311', 'cp313'], async (db) => {
      await db.addBuildPlatform(ARM7);
      await db.addBuildPlatform(ARM64);
    });

    test('every ABI on every platform, each with a queue', async () => {
      assert.deepEqual(await s.db.getBuildPlatforms(), [ARM64, ARM7]);
      assert.deepEqual((await s.db.getBuildTargets()).map((t) => `${t.abi}/${t.platform}`), [
        `cp311/${ARM64}`, `cp311/${ARM7}`, `cp313/${ARM64}`, `cp313/${ARM7}`,
      ]);
      assert.deepEqual([...(await s.db.getBuildQueue()).keys()], [
        'cp311-linux_aarch64', 'cp311-linux_armv7l', 'cp313-linux_aarch64', 'cp313-linux_armv7l',
      ]);
    });

    test('a new version is queued on the lowest ABI of every platform', async () => {
      await addVersions(s.db, 'fresh', ['1.0']);
      assert.deepEqual(await queueOf(s.db, 'fresh'), { 'cp311-linux_aarch64': ['1.0'], 'cp311-linux_armv7l': ['1.0'] });
      assert.equal(await farmCounter(s.t, 'pending:cp311-linux_aarch64'), 1);
      await assertConsistent(s.db);
    });

    test('a platform wheel moves its own platform on only', async () => {
      await addVersions(s.db, 'native', ['1.0']);
      await logBuild(s.db, build('native', '1.0', 'cp311', [wheel('native', '1.0', 'cp311', { filename: 'native-1.0-cp311-cp311-linux_aarch64.whl', platformTag: ARM64 })], { platformTag: ARM64 }));
      assert.deepEqual(await queueOf(s.db, 'native'), { 'cp311-linux_armv7l': ['1.0'], 'cp313-linux_aarch64': ['1.0'] });
      await logBuild(s.db, build('native', '1.0', 'cp311', [], { platformTag: ARM7 }));
      assert.deepEqual(await queueOf(s.db, 'native'), { 'cp313-linux_aarch64': ['1.0'], 'cp313-linux_armv7l': ['1.0'] });
      await assertConsistent(s.db);
    });

    test('a py3-none-any wheel covers both platforms', async () => {
      await addVersions(s.db, 'pure', ['1.0']);
      await logBuild(s.db, build('pure', '1.0', 'cp311', [wheel('pure', '1.0', 'none')], { platformTag: ARM7 }));
      assert.deepEqual(await queueOf(s.db, 'pure'), {});
      await assertConsistent(s.db);
    });

    test('an abi3 wheel of one platform covers that platform only', async () => {
      await addVersions(s.db, 'stable', ['1.0']);
      const abi3 = wheel('stable', '1.0', 'abi3', { filename: 'stable-1.0-cp37-abi3-linux_aarch64.whl', platformTag: ARM64 });
      await logBuild(s.db, build('stable', '1.0', 'cp311', [abi3], { platformTag: ARM64 }));
      assert.deepEqual(await queueOf(s.db, 'stable'), { 'cp311-linux_armv7l': ['1.0'] });
      await assertConsistent(s.db);
    });

    test('platforms retire (never the last) and return; the queue follows', async () => {
      await addVersions(s.db, 'moving', ['1.0']);
      await s.db.skipBuildPlatform(ARM64, 'retired');
      assert.deepEqual(await s.db.getBuildPlatforms(true), [ARM7]);
      assert.deepEqual((await queueOf(s.db, 'moving')), { 'cp311-linux_armv7l': ['1.0'] });
      await assert.rejects(s.db.skipBuildPlatform(ARM7, 'retired'), /last active build platform/);
      await assert.rejects(s.db.skipBuildPlatform('linux_x86_64', 'retired'), /no build platform/);
      await assert.rejects(s.db.addBuildPlatform('any'), UserError);
      await assert.rejects(s.db.addBuildPlatform('Linux ARM'), UserError);
      await assertConsistent(s.db);
      await s.db.addBuildPlatform(ARM64);
      assert.deepEqual(await queueOf(s.db, 'moving'), { 'cp311-linux_aarch64': ['1.0'], 'cp311-linux_armv7l': ['1.0'] });
      await assertConsistent(s.db);
    });

    test('a change of targets is all or nothing', async () => {
      await assert.rejects(
        s.db.changeBuildTargets({ addPlatforms: ['linux_x86_64'], skipPlatforms: ['linux_riscv64'] }),
        /no build platform "linux_riscv64"/,
      );
      assert.deepEqual(await s.db.getBuildPlatforms(), [ARM64, ARM7], 'the addition went with the failed retirement');
      await s.db.changeBuildTargets({ addPlatforms: ['linux_x86_64'], skipPlatforms: [ARM64, ARM7] });
      assert.deepEqual(await s.db.getBuildPlatforms(true), ['linux_x86_64'], 'retiring two is fine when one is added');
      await s.db.changeBuildTargets({ addPlatforms: [ARM64, ARM7], skipPlatforms: ['linux_x86_64'] });
      assert.deepEqual(await s.db.getBuildPlatforms(true), [ARM64, ARM7]);
      await assertConsistent(s.db);
    });

    test('per-target statistics and project matrix', async () => {
      await addVersions(s.db, 'matrix', ['1.0']);
      await logBuild(s.db, build('matrix', '1.0', 'cp311', [wheel('matrix', '1.0', 'cp311')], { platformTag: ARM7, builtAt: new Date() }));
      const stats = await s.db.getStatistics();
      assert.deepEqual(Object.keys(stats.buildsPending), ['cp311-linux_aarch64', 'cp311-linux_armv7l', 'cp313-linux_aarch64', 'cp313-linux_armv7l']);
      assert.equal(stats.buildsLastHour['cp311-linux_armv7l'], 1);
      assert.equal(stats.buildsLastHour['cp311-linux_aarch64'], 0);
      const release = (await s.db.getProjectData('matrix'))?.releases[0];
      assert.equal(release?.abis['cp311-linux_armv7l']?.status, 'success');
      assert.equal(release?.abis['cp311-linux_aarch64']?.status, 'pending');
    });
  });

  describe(`a farm without platforms (${dialect})`, () => {
    const s = useFreshDatabase(dialect, ['cp311', 'cp313']);

    test('one any-platform target per ABI, named by the ABI, as piwheels', async () => {
      assert.deepEqual(await s.db.getBuildPlatforms(), []);
      assert.deepEqual([...(await s.db.getBuildQueue()).keys()], ['cp311', 'cp313']);
      await addVersions(s.db, 'plain', ['1.0']);
      await logBuild(s.db, build('plain', '1.0', 'cp311', [wheel('plain', '1.0', 'cp311')], { platformTag: ARM64 }));
      assert.deepEqual(await queueOf(s.db, 'plain'), { cp313: ['1.0'] });
      assert.equal(await farmCounter(s.t, 'pending:cp313'), 1);
      await assertConsistent(s.db);
    });

    test('adding the first platforms re-queues per platform; history of unknown platform counts where its wheels say', async () => {
      await addVersions(s.db, 'history', ['1.0']);
      await logBuild(s.db, build('history', '1.0', 'cp311', [wheel('history', '1.0', 'cp311')]));
      await logBuild(s.db, build('history', '1.0', 'cp313', []));
      assert.deepEqual(await queueOf(s.db, 'history'), {});
      await s.db.addBuildPlatform(ARM7);
      await s.db.addBuildPlatform(ARM64);
      // the armv7l wheel covers armv7l; the failure of unknown platform counts everywhere
      assert.deepEqual(await queueOf(s.db, 'history'), { 'cp311-linux_aarch64': ['1.0'] });
      await assertConsistent(s.db);
    });
  });
}
