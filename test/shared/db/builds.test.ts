// Builds, their files and the build queue, once per dialect against a real
// SQLite file and a real PostgreSQL server, with the same assertions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuildRecord } from '../../../shared/db/index.ts';
import { DIALECTS, getPackageFiles, getVersionFiles, logBuild, useFreshDatabase } from '../../helpers/db.ts';
import { HASH, addVersions, assertConsistent, build, queueOf, wheel } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`builds (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('a successful build with files and dependencies, in one record', async () => {
      await addVersions(s.db, 'built', ['1.0']);
      await s.t.kysely
        .insertInto('preinstalled_apt_packages')
        .values([{ abi_tag: 'cp39', apt_package: 'libc6' }])
        .onConflict((oc) => oc.doNothing())
        .execute();
      const file = wheel('built', '1.0', 'cp39', {
        filehash: HASH(2),
        requiresPython: '>=3.9',
        metadataHash: HASH(3),
        dependencies: { apt: ['libc6', 'libfoo1', 'libfoo1'], pip: ['requests'] },
      });
      const twin = { ...file, filename: file.filename.replace('armv7l', 'armv6l'), platformTag: 'linux_armv6l', dependencies: { apt: [], pip: [] } };
      const id = await logBuild(s.db, build('built', '1.0', 'cp39', [file, twin]));
      assert.ok(Number.isInteger(id) && id > 0);
      assert.deepEqual(await getPackageFiles(s.t.kysely, 'built'), new Map([[file.filename, HASH(2)], [twin.filename, HASH(2)]]));
      assert.deepEqual(await getVersionFiles(s.t.kysely, 'built', '1.0'), new Set([file.filename, twin.filename]));
      const info = (await s.db.getProjectData('built'))?.releases[0]?.files[file.filename];
      assert.ok(info);
      assert.equal(info.hash, HASH(2));
      assert.equal(info.size, 1000);
      assert.equal(info.abiBuilder, 'cp39');
      assert.equal(info.abiFile, 'cp39');
      assert.equal(info.platform, 'linux_armv7l');
      assert.equal(info.requiresPython, '>=3.9');
      assert.equal(info.metadataHash, HASH(3));
      assert.equal(info.buildId, id);
      assert.deepEqual(info.aptDependencies, ['libfoo1'], 'preinstalled packages are left out');
      assert.deepEqual(info.pipDependencies, ['requests']);
      await assertConsistent(s.db);
    });

    test('the packages with a file stored are those the index lists', async () => {
      await addVersions(s.db, 'wf-built', ['1.0']);
      await addVersions(s.db, 'wf-failed', ['1.0']);
      await addVersions(s.db, 'wf-none', ['1.0']);
      await logBuild(s.db, build('wf-built', '1.0', 'cp311', [wheel('wf-built', '1.0', 'cp311')]));
      await logBuild(s.db, build('wf-failed', '1.0', 'cp311', []));
      const listed = await s.db.getPackagesWithFiles();
      assert.ok(listed.has('wf-built'));
      assert.ok(!listed.has('wf-failed') && !listed.has('wf-none'));
      await s.db.deleteBuild('wf-built', '1.0');
      assert.ok(!(await s.db.getPackagesWithFiles()).has('wf-built'), 'its last file gone, it leaves');
    });

    test('a failed build returns its id and records no files', async () => {
      await addVersions(s.db, 'broken', ['1.0']);
      const id = await logBuild(s.db, build('broken', '1.0', 'cp39', []));
      assert.ok(id > 0);
      assert.deepEqual(await getPackageFiles(s.t.kysely, 'broken'), new Map());
      assert.deepEqual((await s.db.getProjectData('broken'))?.releases[0]?.abis.cp39, { status: 'fail', buildId: id });
    });

    test('bad build records are refused and change nothing', async () => {
      await addVersions(s.db, 'refused', ['1.0']);
      const good = wheel('refused', '1.0', 'none');
      const bad: Array<[string, BuildRecord]> = [
        ['success without files', build('refused', '1.0', 'cp39', [], { status: true })],
        ['failure with files', build('refused', '1.0', 'cp39', [good], { status: false })],
        ['bad hash', build('refused', '1.0', 'cp39', [{ ...good, filehash: 'xyz' }])],
        ['path in file name', build('refused', '1.0', 'cp39', [{ ...good, filename: '../evil.whl' }])],
        ['negative size', build('refused', '1.0', 'cp39', [{ ...good, filesize: -1 }])],
        ['negative duration', build('refused', '1.0', 'cp39', [good], { duration: -5 })],
        ['duplicate file names', build('refused', '1.0', 'cp39', [good, good])],
      ];
      for (const [why, record] of bad) await assert.rejects(logBuild(s.db, record), why);
      await assert.rejects(logBuild(s.db, build('refused', '9.9', 'cp39', [good])), 'unknown version');
      assert.deepEqual(await getPackageFiles(s.t.kysely, 'refused'), new Map());
      assert.deepEqual(await queueOf(s.db, 'refused'), { cp39: ['1.0'] });
      await assertConsistent(s.db);
    });

    test('a rebuilt file replaces the earlier one with its dependencies', async () => {
      await addVersions(s.db, 'rebuilt', ['1.0']);
      const first = wheel('rebuilt', '1.0', 'cp39', { dependencies: { apt: ['libold'], pip: [] } });
      const id1 = await logBuild(s.db, build('rebuilt', '1.0', 'cp39', [first]));
      const second = { ...first, filehash: HASH(9), filesize: 2000, dependencies: { apt: ['libnew'], pip: [] } };
      const id2 = await logBuild(s.db, build('rebuilt', '1.0', 'cp39', [second]));
      const files = (await s.db.getProjectData('rebuilt'))?.releases[0]?.files ?? {};
      assert.deepEqual(Object.keys(files), [first.filename]);
      assert.equal(files[first.filename]?.buildId, id2);
      assert.equal(files[first.filename]?.size, 2000);
      assert.deepEqual(files[first.filename]?.aptDependencies, ['libnew']);
      assert.notEqual(id1, id2);
      await assertConsistent(s.db);
    });

    test('deleteBuild, deleteVersion, deletePackage cascade to builds, files and dependencies', async () => {
      await addVersions(s.db, 'doomed', ['1.0', '2.0', '3.0']);
      for (const v of ['1.0', '2.0', '3.0']) {
        await logBuild(s.db, build('doomed', v, 'cp39', [wheel('doomed', v, 'cp39', { dependencies: { apt: ['libx'], pip: [] } })]));
      }
      const rows = async (table: 'builds' | 'versions') =>
        (await s.t.kysely.selectFrom(table).select('version').where('package', '=', 'doomed').execute()).map((r) => r.version).sort();
      const deps = async () =>
        (await s.t.kysely.selectFrom('dependencies').select('filename').where('filename', 'like', 'doomed-%').execute()).length;
      await s.db.deleteBuild('doomed', '1.0');
      assert.deepEqual(await rows('builds'), ['2.0', '3.0']);
      assert.deepEqual(await rows('versions'), ['1.0', '2.0', '3.0']);
      assert.deepEqual(await queueOf(s.db, 'doomed'), { cp39: ['1.0'], cp311: ['2.0', '3.0'] }, 'a version without builds is queued again');
      assert.equal(await deps(), 2);
      await s.db.deleteVersion('doomed', '2.0');
      assert.deepEqual(await rows('versions'), ['1.0', '3.0']);
      assert.deepEqual(await rows('builds'), ['3.0']);
      assert.deepEqual(await queueOf(s.db, 'doomed'), { cp39: ['1.0'], cp311: ['3.0'] });
      assert.equal(await deps(), 1);
      await assertConsistent(s.db);
      await s.db.deletePackage('doomed');
      assert.equal(await s.db.testPackage('doomed'), false);
      assert.deepEqual(await rows('builds'), []);
      assert.deepEqual(await rows('versions'), []);
      assert.equal(await deps(), 0);
      assert.deepEqual(await getPackageFiles(s.t.kysely, 'doomed'), new Map());
      assert.deepEqual(await queueOf(s.db, 'doomed'), {});
      await assertConsistent(s.db);
    });
  });

  describe(`build queue (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('a new version is tried on the lowest active ABI only', async () => {
      await addVersions(s.db, 'q-new', ['1.0']);
      assert.deepEqual(await queueOf(s.db, 'q-new'), { cp39: ['1.0'] });
    });

    test('a none wheel covers every ABI', async () => {
      await addVersions(s.db, 'q-none', ['1.0']);
      await logBuild(s.db, build('q-none', '1.0', 'cp39', [wheel('q-none', '1.0', 'none')]));
      assert.deepEqual(await queueOf(s.db, 'q-none'), {});
    });

    test('an abi3 wheel covers every ABI', async () => {
      await addVersions(s.db, 'q-abi3', ['1.0']);
      await logBuild(s.db, build('q-abi3', '1.0', 'cp39', [wheel('q-abi3', '1.0', 'abi3')]));
      assert.deepEqual(await queueOf(s.db, 'q-abi3'), {});
    });

    test('a failure moves the version to the next ABI, until none is left', async () => {
      await addVersions(s.db, 'q-fail', ['1.0']);
      await logBuild(s.db, build('q-fail', '1.0', 'cp39', []));
      assert.deepEqual(await queueOf(s.db, 'q-fail'), { cp311: ['1.0'] });
      await logBuild(s.db, build('q-fail', '1.0', 'cp311', []));
      assert.deepEqual(await queueOf(s.db, 'q-fail'), { cp313: ['1.0'] });
      await logBuild(s.db, build('q-fail', '1.0', 'cp313', []));
      assert.deepEqual(await queueOf(s.db, 'q-fail'), {});
    });

    test('an ABI-specific wheel moves the version to the next ABI', async () => {
      await addVersions(s.db, 'q-spec', ['1.0']);
      await logBuild(s.db, build('q-spec', '1.0', 'cp39', [wheel('q-spec', '1.0', 'cp39')]));
      assert.deepEqual(await queueOf(s.db, 'q-spec'), { cp311: ['1.0'] });
      await logBuild(s.db, build('q-spec', '1.0', 'cp311', [wheel('q-spec', '1.0', 'cp311')]));
      assert.deepEqual(await queueOf(s.db, 'q-spec'), { cp313: ['1.0'] });
      await logBuild(s.db, build('q-spec', '1.0', 'cp313', [wheel('q-spec', '1.0', 'none', { filename: 'q_spec-1.0-py3-none-any.whl' })]));
      assert.deepEqual(await queueOf(s.db, 'q-spec'), {});
      await assertConsistent(s.db);
    });

    test('skipped packages and versions never appear; un-skipping brings them back', async () => {
      await addVersions(s.db, 'q-skip', ['1.0', '2.0']);
      await s.db.skipPackageVersion('q-skip', '1.0', 'broken upstream');
      assert.deepEqual(await queueOf(s.db, 'q-skip'), { cp39: ['2.0'] });
      await s.db.skipPackage('q-skip', 'too big');
      assert.deepEqual(await queueOf(s.db, 'q-skip'), {});
      await s.db.addNewPackageVersion('q-skip', '3.0');
      assert.deepEqual(await queueOf(s.db, 'q-skip'), {}, 'new versions of a skipped package stay out');
      await s.db.skipPackage('q-skip', '');
      assert.deepEqual(await queueOf(s.db, 'q-skip'), { cp39: ['2.0', '3.0'] });
      await s.db.skipPackageVersion('q-skip', '1.0', '');
      assert.deepEqual(await queueOf(s.db, 'q-skip'), { cp39: ['1.0', '2.0', '3.0'] });
      await s.db.addNewPackage('q-skip-born', 'skipped from the start');
      await s.db.addNewPackageVersion('q-skip-born', '1.0');
      await s.db.addNewPackageVersion('q-skip', '4.0', new Date(), 'skipped version');
      assert.deepEqual(await queueOf(s.db, 'q-skip-born'), {});
      assert.deepEqual(await queueOf(s.db, 'q-skip'), { cp39: ['1.0', '2.0', '3.0'] });
      await assertConsistent(s.db);
    });

    test('a batch of builds lands whole, ids in order, the queue moved once for all; a bad record refuses it all', async () => {
      await addVersions(s.db, 'q-batch', ['1.0', '2.0', '3.0']);
      await addVersions(s.db, 'q-batch-b', ['1.0']);
      const ids = await s.db.logBuilds([
        build('q-batch', '1.0', 'cp39', []),
        build('q-batch', '2.0', 'cp39', [wheel('q-batch', '2.0', 'none')]),
        build('q-batch-b', '1.0', 'cp39', []),
        build('q-batch', '1.0', 'cp311', []),
      ]);
      assert.equal(ids.length, 4);
      assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'ids follow the order of the records');
      const rows = await s.t.kysely.selectFrom('builds').select(['build_id', 'package', 'version', 'abi_tag']).where('build_id', 'in', ids).orderBy('build_id').execute();
      assert.deepEqual(rows.map((r) => [r.package, r.version, r.abi_tag]), [
        ['q-batch', '1.0', 'cp39'], ['q-batch', '2.0', 'cp39'], ['q-batch-b', '1.0', 'cp39'], ['q-batch', '1.0', 'cp311'],
      ]);
      assert.deepEqual(await queueOf(s.db, 'q-batch'), { cp39: ['3.0'], cp313: ['1.0'] });
      assert.deepEqual(await queueOf(s.db, 'q-batch-b'), { cp311: ['1.0'] });
      await assertConsistent(s.db);

      await assert.rejects(s.db.logBuilds([build('q-batch', '3.0', 'cp39', []), build('q-batch', '9.9', 'cp39', [])]), 'unknown version');
      assert.deepEqual(await queueOf(s.db, 'q-batch'), { cp39: ['3.0'], cp313: ['1.0'] }, 'nothing of the refused batch stayed');
      assert.deepEqual(await s.db.logBuilds([]), []);
      await assertConsistent(s.db);
    });
  });

  describe(`queue order, limits and ABI changes (${dialect})`, () => {
    const s = useFreshDatabase(dialect, ['cp39', 'cp311'], async (db) => {
      await addVersions(db, 'late', ['1.0'], '2025-03-01T00:00:00Z');
      await addVersions(db, 'early', ['1.0', '2.0'], '2025-01-01T00:00:00Z');
      await addVersions(db, 'middle', ['1.0'], '2025-01-02T12:00:00Z');
    });

    test('per ABI, oldest release first, up to the limit', async () => {
      const all = await s.db.getBuildQueue();
      assert.deepEqual([...all.keys()], ['cp39', 'cp311']);
      assert.deepEqual(all.get('cp39'), [
        { package: 'early', version: '1.0' },
        { package: 'early', version: '2.0' },
        { package: 'middle', version: '1.0' },
        { package: 'late', version: '1.0' },
      ]);
      assert.deepEqual(all.get('cp311'), []);
      assert.deepEqual((await s.db.getBuildQueue(2)).get('cp39'), [
        { package: 'early', version: '1.0' },
        { package: 'early', version: '2.0' },
      ]);
      assert.deepEqual((await s.db.getBuildQueue(0)).get('cp39'), []);
      await assert.rejects(s.db.getBuildQueue(-1), RangeError);
    });

    test('each ABI is limited separately', async () => {
      await logBuild(s.db, build('early', '1.0', 'cp39', []));
      await logBuild(s.db, build('early', '2.0', 'cp39', []));
      const q = await s.db.getBuildQueue(1);
      assert.deepEqual(q.get('cp39'), [{ package: 'middle', version: '1.0' }]);
      assert.deepEqual(q.get('cp311'), [{ package: 'early', version: '1.0' }]);
    });

    test('retiring an ABI moves its versions on; adding one in between takes its place', async () => {
      await s.db.skipBuildAbi('cp39', 'retired');
      let q = await s.db.getBuildQueue();
      assert.deepEqual([...q.keys()], ['cp311']);
      assert.equal(q.get('cp311')?.length, 4);
      assert.deepEqual(await s.db.getBuildAbis(true), ['cp311']);
      assert.deepEqual(await s.db.getBuildAbis(), ['cp39', 'cp311']);
      await s.db.addBuildAbi('cp39');
      await s.db.addBuildAbi('cp310');
      q = await s.db.getBuildQueue();
      assert.deepEqual([...q.keys()], ['cp39', 'cp310', 'cp311']);
      assert.deepEqual(q.get('cp310'), [
        { package: 'early', version: '1.0' },
        { package: 'early', version: '2.0' },
      ]);
      const stats = await s.db.getStatistics();
      assert.deepEqual(stats.buildsPending, { cp39: 2, cp310: 2, cp311: 0 });
      await assertConsistent(s.db);
    });
  });
}
