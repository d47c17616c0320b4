// What upstream serves of each release, and how the pages see it, once per dialect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, useFreshDatabase, logBuild } from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, HASH, queueOf, wheel } from '../../helpers/db-records.ts';

const upstreamWheel = (filename: string, hash: number, uploaded = '2026-02-01T10:00:00.123Z') => ({
  filename,
  filehash: HASH(hash),
  requiresPython: '>=3.8',
  uploadedAt: new Date(uploaded),
});

for (const dialect of DIALECTS) {
  describe(`upstream records (${dialect})`, () => {
    const s = useFreshDatabase(dialect);

    test('a release never asked about reads null; an answer replaces the last one', async () => {
      await addVersions(s.db, 'up-files', ['1.0', '2.0']);
      assert.equal(await s.db.getUpstreamFiles('up-files', '1.0'), null);
      const at = new Date('2026-03-01T00:00:00Z');
      assert.ok(await s.db.recordUpstreamFiles('up-files', '1.0', [], at));
      assert.deepEqual(await s.db.getUpstreamFiles('up-files', '1.0'), { checkedAt: at, files: [] }, 'asked, no wheels');
      const later = new Date('2026-03-02T00:00:00Z');
      const files = [upstreamWheel('up_files-1.0-py3-none-any.whl', 7), upstreamWheel('up_files-1.0-cp311-cp311-linux_aarch64.whl', 8)];
      assert.ok(await s.db.recordUpstreamFiles('up-files', '1.0', files, later));
      const stored = await s.db.getUpstreamFiles('up-files', '1.0');
      assert.deepEqual(stored?.checkedAt, later);
      assert.deepEqual(stored?.files.map((f) => f.filename), ['up_files-1.0-cp311-cp311-linux_aarch64.whl', 'up_files-1.0-py3-none-any.whl']);
      assert.deepEqual(stored?.files[1], files[0], 'hash, Requires-Python and upload time kept to the millisecond');
      assert.ok(await s.db.recordUpstreamFiles('up-files', '1.0', [files[0]!], later));
      assert.equal((await s.db.getUpstreamFiles('up-files', '1.0'))?.files.length, 1, 'a file upstream no longer lists goes');
      assert.equal(await s.db.getUpstreamFiles('up-files', '2.0'), null, 'other releases untouched');
    });

    test('a release is worth asking about when the farm builds it', async () => {
      await addVersions(s.db, 'up-build', ['1.0', '2.0']);
      assert.ok(await s.db.isBuildable('up-build', '1.0'));
      await s.db.skipPackageVersion('up-build', '2.0', 'binary only');
      assert.equal(await s.db.isBuildable('up-build', '2.0'), false);
      await s.db.skipPackage('up-build', 'not allowed');
      assert.equal(await s.db.isBuildable('up-build', '1.0'), false);
      assert.equal(await s.db.isBuildable('up-nowhere', '1.0'), false);
    });

    test('unknown releases are not recorded; bad records are refused', async () => {
      assert.equal(await s.db.recordUpstreamFiles('up-nowhere', '1.0', []), false);
      await addVersions(s.db, 'up-bad', ['1.0']);
      await assert.rejects(s.db.recordUpstreamFiles('up-bad', '1.0', [{ ...upstreamWheel('x-1.0-py3-none-any.whl', 1), filehash: 'nothex' }]));
      await assert.rejects(s.db.recordUpstreamFiles('up-bad', '1.0', [upstreamWheel('../x-1.0-py3-none-any.whl', 1)]));
      assert.equal(await s.db.getUpstreamFiles('up-bad', '1.0'), null, 'nothing half-written');
      assert.equal(await s.db.recordServedByUpstream('up-nowhere', '1.0', { abiTag: 'cp311', platformTag: 'linux_armv7l', filename: 'x' }), false);
    });

    test('deleting a version takes its upstream records with it', async () => {
      await addVersions(s.db, 'up-gone', ['1.0']);
      await s.db.recordUpstreamFiles('up-gone', '1.0', [upstreamWheel('up_gone-1.0-py3-none-any.whl', 3)]);
      await s.db.recordServedByUpstream('up-gone', '1.0', { abiTag: 'cp311', platformTag: 'linux_armv7l', filename: 'up_gone-1.0-py3-none-any.whl' });
      await s.db.deleteVersion('up-gone', '1.0');
      await s.db.addNewPackageVersion('up-gone', '1.0');
      assert.equal(await s.db.getUpstreamFiles('up-gone', '1.0'), null);
      assert.deepEqual((await s.db.getProjectData('up-gone'))?.releases[0]?.servedUpstream, []);
    });

    test('a build whose only file clashed: recorded with the file withheld, shown as served upstream', async () => {
      await addVersions(s.db, 'up-clash', ['1.0']);
      const ours = wheel('up-clash', '1.0', 'none');
      const buildId = await logBuild(s.db, {
        ...build('up-clash', '1.0', 'cp311', []),
        status: true,
        withheld: [{ filename: ours.filename, filehash: HASH(1), upstreamFilehash: HASH(2) }],
      });
      const release = (await s.db.getProjectData('up-clash'))?.releases[0];
      assert.deepEqual(release?.files, {});
      assert.deepEqual(release?.withheld, [{ filename: ours.filename, hash: HASH(1), upstreamHash: HASH(2), buildId, abiBuilder: 'cp311' }]);
      assert.deepEqual(release?.abis.cp311, { status: 'upstream', buildId });
      assert.deepEqual(release?.abis.cp39, { status: 'pending', buildId: null });
      // the build counts for its ABI as any other: the queue does not hand it out again there
      assert.deepEqual(await queueOf(s.db, 'up-clash'), { cp39: ['1.0'] });
      await assertConsistent(s.db);
      await s.db.deleteBuild('up-clash', '1.0');
      assert.deepEqual((await s.db.getProjectData('up-clash'))?.releases[0]?.withheld, [], 'withheld files go with their build');
    });

    test('a build mixing published and withheld files, and a failed one withholding something, refused', async () => {
      await addVersions(s.db, 'up-mixed', ['1.0']);
      const published = wheel('up-mixed', '1.0', 'cp311');
      const buildId = await logBuild(s.db, {
        ...build('up-mixed', '1.0', 'cp311', [published]),
        withheld: [{ filename: 'up_mixed-1.0-py3-none-any.whl', filehash: HASH(1), upstreamFilehash: HASH(2) }],
      });
      const release = (await s.db.getProjectData('up-mixed'))?.releases[0];
      assert.deepEqual(Object.keys(release?.files ?? {}), [published.filename]);
      assert.deepEqual(release?.abis.cp311, { status: 'success', buildId }, 'a wheel of ours decides');
      await assert.rejects(
        s.db.logBuilds([{ ...build('up-mixed', '1.0', 'cp39', []), withheld: [{ filename: 'x.whl', filehash: HASH(1), upstreamFilehash: HASH(2) }] }]),
        /withholds nothing/,
      );
      await assert.rejects(s.db.logBuilds([{ ...build('up-mixed', '1.0', 'cp39', []), status: true }]), /at least one file/);
    });

    test('a published file upstream now contradicts is withdrawn: recorded withheld, counters and queue following', async () => {
      await addVersions(s.db, 'up-late', ['1.0']);
      const pure = wheel('up-late', '1.0', 'none', { dependencies: { apt: [], pip: ['six'] } });
      const other = wheel('up-late', '1.0', 'cp311');
      const pureBuild = await logBuild(s.db, build('up-late', '1.0', 'cp39', [pure]));
      const otherBuild = await logBuild(s.db, build('up-late', '1.0', 'cp311', [other]));
      assert.deepEqual(await s.db.getPublishedFiles('up-late', '1.0'), [
        { buildId: otherBuild, filename: other.filename, filehash: HASH(1) },
        { buildId: pureBuild, filename: pure.filename, filehash: HASH(1) },
      ].sort((a, b) => (a.filename < b.filename ? -1 : 1)));
      assert.deepEqual(await queueOf(s.db, 'up-late'), {}, 'the none wheel covers every ABI');
      const withdrawn = await s.db.withdrawFiles('up-late', '1.0', [
        { buildId: pureBuild, filename: pure.filename, filehash: HASH(1), upstreamFilehash: HASH(9) },
        { buildId: pureBuild, filename: 'up_late-1.0-py2-none-any.whl', filehash: HASH(1), upstreamFilehash: HASH(9) },
      ]);
      assert.deepEqual(withdrawn, [pure.filename], 'only what is stored');
      const release = (await s.db.getProjectData('up-late'))?.releases[0];
      assert.deepEqual(Object.keys(release?.files ?? {}), [other.filename]);
      assert.deepEqual(release?.withheld.map((w) => [w.filename, w.buildId, w.upstreamHash]), [[pure.filename, pureBuild, HASH(9)]]);
      assert.deepEqual(release?.abis.cp39, { status: 'upstream', buildId: pureBuild });
      assert.deepEqual(await queueOf(s.db, 'up-late'), { cp313: ['1.0'] }, 'without the none wheel, cp313 is to build');
      await assertConsistent(s.db);
      assert.deepEqual(await s.db.withdrawFiles('up-late', '1.0', []), []);
    });

    test('a release served by upstream on a target reads so where nothing of ours decides', async () => {
      await addVersions(s.db, 'up-served', ['1.0']);
      const served = { abiTag: 'cp39', platformTag: 'linux_armv7l', filename: 'up_served-1.0-py3-none-any.whl' };
      assert.ok(await s.db.recordServedByUpstream('up-served', '1.0', served));
      assert.ok(await s.db.recordServedByUpstream('up-served', '1.0', served), 'recording again is harmless');
      const failed = await logBuild(s.db, build('up-served', '1.0', 'cp311', []));
      const release = (await s.db.getProjectData('up-served'))?.releases[0];
      assert.deepEqual(release?.servedUpstream, [{ abi: 'cp39', platform: 'linux_armv7l', filename: served.filename }]);
      assert.deepEqual(release?.abis, {
        cp39: { status: 'upstream', buildId: null },
        cp311: { status: 'fail', buildId: failed },
        cp313: { status: 'pending', buildId: null },
      });
    });
  });
}
