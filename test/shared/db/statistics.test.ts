// Download counts, the search index and the farm's statistics, once per
// dialect against a real SQLite file and a real PostgreSQL server.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DIALECTS,
  useFreshDatabase,
  logBuild,
  logDownload,
  logDownloads,
} from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, wheel } from '../../helpers/db-records.ts';

for (const dialect of DIALECTS) {
  describe(`downloads and the search index (${dialect})`, () => {
    const now = new Date('2026-06-30T12:00:00Z');
    const s = useFreshDatabase(dialect);

    test('downloads count per package, recent and all time', async () => {
      await addVersions(s.db, 'popular', ['1.0']);
      const file = wheel('popular', '1.0', 'none');
      await logBuild(s.db, build('popular', '1.0', 'cp39', [file]));
      const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * 86_400_000);
      for (const daysAgo of [0, 1, 29, 30, 45]) {
        await logDownload(s.db, { filename: file.filename, host: '192.0.2.1', timestamp: at(daysAgo), pyVersion: '3.11.2' });
      }
      await logDownload(s.db, { filename: 'unknown-1.0-py3-none-any.whl', host: '192.0.2.1', timestamp: at(0) });
      const data = await s.db.getProjectData('popular', now);
      assert.equal(data?.downloadsRecent, 3, 'today and the 29 days before');
      assert.equal(data?.downloadsAll, 5);
      const entry = (await s.db.getSearchIndex(now)).find((e) => e.package === 'popular');
      assert.deepEqual(entry, { package: 'popular', description: '', downloadsRecent: 3, downloadsAll: 5 });
      await assertConsistent(s.db);
    });

    test('the search index follows the clock: the recent window moves forward and back', async () => {
      await addVersions(s.db, 'windowed', ['1.0']);
      const file = wheel('windowed', '1.0', 'none');
      await logBuild(s.db, build('windowed', '1.0', 'cp39', [file]));
      const day = (n: number) => new Date(now.getTime() + n * 86_400_000);
      for (const n of [-40, -20, -5, 0]) {
        await logDownload(s.db, { filename: file.filename, host: '192.0.2.1', timestamp: day(n) });
      }
      const entryAt = async (at: Date) => (await s.db.getSearchIndex(at)).find((e) => e.package === 'windowed');
      const expectations: Array<[number, number]> = [[0, 3], [10, 2], [30, 0], [-15, 4], [0, 3]];
      for (const [shift, recent] of expectations) {
        assert.deepEqual(await entryAt(day(shift)), { package: 'windowed', description: '', downloadsRecent: recent, downloadsAll: 4 }, `${shift} days on`);
        assert.equal((await s.db.getProjectData('windowed', day(shift)))?.downloadsRecent, recent);
        await assertConsistent(s.db);
      }
      await entryAt(day(10));
      await logDownloads(s.db, [
        { filename: file.filename, host: '192.0.2.1', timestamp: day(-30) },
        { filename: file.filename, host: '192.0.2.1', timestamp: day(5) },
      ]);
      assert.deepEqual(await entryAt(day(10)), { package: 'windowed', description: '', downloadsRecent: 3, downloadsAll: 6 });
      await assertConsistent(s.db);
      await s.db.deleteBuild('windowed', '1.0');
      assert.equal((await entryAt(day(10)))?.downloadsAll, 0);
      await assertConsistent(s.db);
    });

    test('downloads of a file logged before it was built count once it exists, and go with it', async () => {
      await addVersions(s.db, 'early', ['1.0']);
      const file = wheel('early', '1.0', 'none');
      await logDownload(s.db, { filename: file.filename, host: '192.0.2.1', timestamp: now });
      assert.equal((await s.db.getProjectData('early', now))?.downloadsAll, 0);
      await logBuild(s.db, build('early', '1.0', 'cp39', [file]));
      assert.equal((await s.db.getProjectData('early', now))?.downloadsAll, 1);
      await assertConsistent(s.db);
      await s.db.deleteBuild('early', '1.0');
      assert.equal((await s.db.getProjectData('early', now))?.downloadsAll, 0);
      await assertConsistent(s.db);
    });
  });

  describe(`statistics (${dialect})`, () => {
    const s = useFreshDatabase(dialect, ['cp39', 'cp311'], async (db) => {
      await addVersions(db, 'late', ['1.0'], '2025-03-01T00:00:00Z');
      await addVersions(db, 'early', ['1.0', '2.0'], '2025-01-01T00:00:00Z');
      await addVersions(db, 'middle', ['1.0'], '2025-01-02T12:00:00Z');
      // the state the counters are read in: two failed builds, the ABIs changed since
      await logBuild(db, build('early', '1.0', 'cp39', []));
      await logBuild(db, build('early', '2.0', 'cp39', []));
      await db.skipBuildAbi('cp39', 'retired');
      await db.addBuildAbi('cp39');
      await db.addBuildAbi('cp310');
    });

    test('statistics from the counters', async () => {
      await s.db.addNewPackageVersion('late', '2.0', new Date());
      const a = wheel('late', '1.0', 'cp39', { filesize: 100 });
      const twin = { ...a, filename: a.filename.replace('armv7l', 'armv6l'), platformTag: 'linux_armv6l' };
      await logBuild(s.db, build('late', '1.0', 'cp39', [a, twin], { duration: 30.25, builtAt: new Date() }));
      await logBuild(s.db, build('middle', '1.0', 'cp39', [], { duration: 8 * 86400 }));
      await logDownload(s.db, { filename: a.filename, host: '192.0.2.1', timestamp: new Date() });
      const stats = await s.db.getStatistics();
      assert.equal(stats.filesCount, 2);
      assert.equal(stats.buildsSize, 100, 'armv6l twins are not counted');
      assert.equal(stats.packagesBuilt, 1);
      assert.equal(stats.buildsTime, 20 + 30.25, 'builds of a week or more are left out');
      assert.equal(stats.newLastHour, 1);
      assert.equal(stats.buildsLastHour.cp39, 1);
      assert.equal(stats.downloadsLastHour, 1);
      assert.equal(stats.downloadsLastMonth, 1);
      assert.equal(stats.downloadsAll, 1);
      await assertConsistent(s.db);
    });
  });
}
