// The Database API, run once per dialect against a real SQLite file and a
// real PostgreSQL server, with the same assertions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../../shared/db/index.ts';
import { openDatabase, type BuildFileRecord, type BuildRecord } from '../../../shared/db/index.ts';
import { UserError } from '../../../shared/cli.ts';
import {
  DIALECTS,
  freshDatabase,
  getPackageFiles,
  getPackageName,
  getVersionFiles,
  getVersionsDeleted,
  getVersionSkip,
  logBuild,
  logDownload,
  logDownloads,
  logJson,
  logPage,
  logProject,
  logSearch,
  migrateTo,
  packageMarkedDeleted,
  scratchDatabase,
  type TestDatabase,
} from '../../helpers/db.ts';
import { LATEST_VERSION } from '../../../shared/db/migrate.ts';

const HASH = (n: number): string => n.toString(16).padStart(64, '0');

function wheel(pkg: string, version: string, abi: string, extra: Partial<BuildFileRecord> = {}): BuildFileRecord {
  const platform = abi === 'none' ? 'any' : 'linux_armv7l';
  const py = abi === 'none' ? 'py3' : abi === 'abi3' ? 'cp37' : abi;
  return {
    filename: `${pkg.replace(/-/g, '_')}-${version}-${py}-${abi}-${platform}.whl`,
    filesize: 1000,
    filehash: HASH(1),
    packageTag: pkg.replace(/-/g, '_'),
    packageVersionTag: version,
    pyVersionTag: py,
    abiTag: abi,
    platformTag: platform,
    requiresPython: null,
    dependencies: { apt: [], pip: [] },
    metadataHash: null,
    ...extra,
  };
}

let clock = Date.parse('2026-01-01T00:00:00Z');
function build(pkg: string, version: string, abiTag: string, files: BuildFileRecord[], extra: Partial<BuildRecord> = {}): BuildRecord {
  clock += 1000;
  return {
    package: pkg,
    version,
    abiTag,
    status: files.length > 0,
    duration: 10,
    slaveId: 1,
    builtAt: new Date(clock),
    files,
    ...extra,
  };
}

async function queueOf(db: Database, pkg: string): Promise<Record<string, string[]>> {
  const queue = await db.getBuildQueue(100_000);
  const out: Record<string, string[]> = {};
  for (const [abi, entries] of queue) {
    const mine = entries.filter((e) => e.package === pkg).map((e) => e.version);
    if (mine.length > 0) out[abi] = mine;
  }
  return out;
}

async function addVersions(db: Database, pkg: string, versions: string[], firstRelease = '2025-01-01T00:00:00Z'): Promise<void> {
  await db.addNewPackage(pkg);
  let t = Date.parse(firstRelease);
  for (const v of versions) {
    await db.addNewPackageVersion(pkg, v, new Date(t));
    t += 86_400_000;
  }
}

async function assertConsistent(db: Database): Promise<void> {
  assert.deepEqual(await db.verifyDerived(), []);
}

for (const dialect of DIALECTS) {
  describe(`Database (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    before(async () => {
      t = await freshDatabase(dialect);
      db = t.db;
      for (const abi of ['cp313', 'cp39', 'cp311']) await db.addBuildAbi(abi);
    });
    after(async () => {
      await t.drop();
    });

    describe('packages and versions', () => {
      test('addNewPackage: true once, then false on a duplicate', async () => {
        assert.equal(await db.addNewPackage('alpha', '', 'The first'), true);
        assert.equal(await db.addNewPackage('alpha', '', 'Again'), false);
        assert.equal(await db.testPackage('alpha'), true);
        assert.equal(await db.testPackage('nothing-here'), false);
        assert.ok((await db.getAllPackages()).has('alpha'));
      });

      test('addNewPackageVersion: true once, false on a duplicate, refused for an unknown package', async () => {
        assert.equal(await db.addNewPackageVersion('alpha', '1.0', new Date('2025-01-01T00:00:00Z')), true);
        assert.equal(await db.addNewPackageVersion('alpha', '1.0'), false);
        const before = Date.now();
        assert.equal(await db.addNewPackageVersion('alpha', '1.1'), true);
        const data = await db.getProjectData('alpha');
        const released = data?.releases.find((r) => r.version === '1.1')?.released.getTime() ?? 0;
        assert.ok(released >= before - 1000 && released <= Date.now() + 1000, 'released defaults to now');
        assert.equal(await db.testPackageVersion('alpha', '1.0'), true);
        assert.equal(await db.testPackageVersion('alpha', '9.9'), false);
        await assert.rejects(db.addNewPackageVersion('no-such-package', '1.0'));
        assert.deepEqual([...((await db.getAllPackageVersions()).get('alpha') ?? [])].sort(), ['1.0', '1.1']);
      });

      test('names: aliases and the last seen spelling', async () => {
        await db.addNewPackage('my-pkg');
        await db.addPackageName('my-pkg', 'my-pkg', new Date('2020-01-01T00:00:00Z'));
        await db.addPackageName('my-pkg', 'My_Pkg', new Date('2021-01-01T00:00:00Z'));
        await db.addPackageName('my-pkg', 'my.pkg', new Date('2019-01-01T00:00:00Z'));
        assert.deepEqual(await db.getPackageAliases('my-pkg'), ['My_Pkg', 'my.pkg']);
        assert.equal(await getPackageName(t.kysely, 'my-pkg'), 'My_Pkg');
        await db.addPackageName('my-pkg', 'my.pkg', new Date('2022-01-01T00:00:00Z'));
        assert.equal(await getPackageName(t.kysely, 'my-pkg'), 'my.pkg');
        assert.equal(await getPackageName(t.kysely, 'unknown-pkg'), null);
        assert.deepEqual(await db.getPackageAliases('unknown-pkg'), []);
      });

      test('descriptions are stored, cut to the column width and cleaned', async () => {
        await db.addNewPackage('described');
        await db.setPackageDescription('described', `A\x00 ${'x'.repeat(300)}`);
        const entry = (await db.getSearchIndex()).find((e) => e.package === 'described');
        assert.equal(entry?.description.length, 200);
        assert.ok(entry?.description.startsWith('A\ufffd x'));
      });

      test('skip reasons and deletion marks', async () => {
        await addVersions(db, 'skippy', ['1.0', '2.0']);
        assert.equal(await getVersionSkip(t.kysely, 'skippy', '1.0'), '');
        await db.skipPackageVersion('skippy', '1.0', 'deleted');
        assert.equal(await getVersionSkip(t.kysely, 'skippy', '1.0'), 'deleted');
        assert.equal(await getVersionSkip(t.kysely, 'skippy', '9.0'), null);
        assert.deepEqual(await getVersionsDeleted(t.kysely, 'skippy'), new Set(['1.0']));
        assert.equal(await packageMarkedDeleted(t.kysely, 'skippy'), false);
        await db.skipPackage('skippy', 'deleted');
        assert.equal(await packageMarkedDeleted(t.kysely, 'skippy'), true);
        const data = await db.getProjectData('skippy');
        assert.equal(data?.skip, 'deleted');
        assert.equal(data?.releases.find((r) => r.version === '2.0')?.skip, 'deleted', 'a version inherits the package skip');
      });

      test('yank and unyank', async () => {
        await addVersions(db, 'yanky', ['1.0']);
        await db.yankVersion('yanky', '1.0');
        assert.equal((await db.getProjectData('yanky'))?.releases[0]?.yanked, true);
        await db.unyankVersion('yanky', '1.0');
        assert.equal((await db.getProjectData('yanky'))?.releases[0]?.yanked, false);
      });

      test('PyPI serial moves forward only', async () => {
        assert.equal(await db.getPypiSerial(), 0);
        await db.setPypiSerial(100);
        await db.setPypiSerial(100);
        await db.setPypiSerial(150);
        await assert.rejects(db.setPypiSerial(120), /cannot go backwards/);
        await assert.rejects(db.setPypiSerial(-1), RangeError);
        assert.equal(await db.getPypiSerial(), 150);
      });

      test('build ABIs in interpreter order, skipped ones on request', async () => {
        assert.deepEqual(await db.getBuildAbis(), ['cp39', 'cp311', 'cp313']);
        assert.deepEqual(await db.getBuildAbis(true), ['cp39', 'cp311', 'cp313']);
        await assert.rejects(db.addBuildAbi('none'), UserError);
        await assert.rejects(db.addBuildAbi('CP 3'), UserError);
        await assert.rejects(db.skipBuildAbi('cp27', 'old'), /no build ABI/);
      });

      test('rewrites pending: saved, replaced, loaded oldest first', async () => {
        await db.saveRewritesPending([
          { package: 'b', addedAt: new Date('2025-01-02T00:00:00Z'), command: 'BOTH' },
          { package: 'a', addedAt: new Date('2025-01-03T00:00:00Z'), command: 'PROJECT' },
        ]);
        await db.saveRewritesPending([
          { package: 'c', addedAt: new Date('2025-01-05T00:00:00Z'), command: 'PROJECT' },
          { package: 'd', addedAt: new Date('2025-01-04T00:00:00.250Z'), command: 'BOTH' },
        ]);
        assert.deepEqual(await db.loadRewritesPending(), [
          { package: 'd', addedAt: new Date('2025-01-04T00:00:00.250Z'), command: 'BOTH' },
          { package: 'c', addedAt: new Date('2025-01-05T00:00:00Z'), command: 'PROJECT' },
        ]);
        await assert.rejects(
          db.saveRewritesPending([{ package: 'e', addedAt: new Date(), command: 'NOPE' as 'BOTH' }]),
        );
        assert.equal((await db.loadRewritesPending()).length, 2, 'a refused save leaves the stored queue alone');
        await db.saveRewritesPending([]);
        assert.deepEqual(await db.loadRewritesPending(), []);
      });
    });

    describe('builds', () => {
      test('a successful build with files and dependencies, in one record', async () => {
        await addVersions(db, 'built', ['1.0']);
        await t.kysely
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
        const id = await logBuild(db, build('built', '1.0', 'cp39', [file, twin]));
        assert.ok(Number.isInteger(id) && id > 0);
        assert.deepEqual(await getPackageFiles(t.kysely, 'built'), new Map([[file.filename, HASH(2)], [twin.filename, HASH(2)]]));
        assert.deepEqual(await getVersionFiles(t.kysely, 'built', '1.0'), new Set([file.filename, twin.filename]));
        const info = (await db.getProjectData('built'))?.releases[0]?.files[file.filename];
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
        await assertConsistent(db);
      });

      test('a failed build returns its id and records no files', async () => {
        await addVersions(db, 'broken', ['1.0']);
        const id = await logBuild(db, build('broken', '1.0', 'cp39', []));
        assert.ok(id > 0);
        assert.deepEqual(await getPackageFiles(t.kysely, 'broken'), new Map());
        assert.deepEqual((await db.getProjectData('broken'))?.releases[0]?.abis.cp39, { status: 'fail', buildId: id });
      });

      test('bad build records are refused and change nothing', async () => {
        await addVersions(db, 'refused', ['1.0']);
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
        for (const [why, record] of bad) await assert.rejects(logBuild(db, record), why);
        await assert.rejects(logBuild(db, build('refused', '9.9', 'cp39', [good])), 'unknown version');
        assert.deepEqual(await getPackageFiles(t.kysely, 'refused'), new Map());
        assert.deepEqual(await queueOf(db, 'refused'), { cp39: ['1.0'] });
        await assertConsistent(db);
      });

      test('a rebuilt file replaces the earlier one with its dependencies', async () => {
        await addVersions(db, 'rebuilt', ['1.0']);
        const first = wheel('rebuilt', '1.0', 'cp39', { dependencies: { apt: ['libold'], pip: [] } });
        const id1 = await logBuild(db, build('rebuilt', '1.0', 'cp39', [first]));
        const second = { ...first, filehash: HASH(9), filesize: 2000, dependencies: { apt: ['libnew'], pip: [] } };
        const id2 = await logBuild(db, build('rebuilt', '1.0', 'cp39', [second]));
        const files = (await db.getProjectData('rebuilt'))?.releases[0]?.files ?? {};
        assert.deepEqual(Object.keys(files), [first.filename]);
        assert.equal(files[first.filename]?.buildId, id2);
        assert.equal(files[first.filename]?.size, 2000);
        assert.deepEqual(files[first.filename]?.aptDependencies, ['libnew']);
        assert.notEqual(id1, id2);
        await assertConsistent(db);
      });

      test('deleteBuild, deleteVersion, deletePackage cascade to builds, files and dependencies', async () => {
        await addVersions(db, 'doomed', ['1.0', '2.0', '3.0']);
        for (const v of ['1.0', '2.0', '3.0']) {
          await logBuild(db, build('doomed', v, 'cp39', [wheel('doomed', v, 'cp39', { dependencies: { apt: ['libx'], pip: [] } })]));
        }
        const rows = async (table: 'builds' | 'versions') =>
          (await t.kysely.selectFrom(table).select('version').where('package', '=', 'doomed').execute()).map((r) => r.version).sort();
        const deps = async () =>
          (await t.kysely.selectFrom('dependencies').select('filename').where('filename', 'like', 'doomed-%').execute()).length;
        await db.deleteBuild('doomed', '1.0');
        assert.deepEqual(await rows('builds'), ['2.0', '3.0']);
        assert.deepEqual(await rows('versions'), ['1.0', '2.0', '3.0']);
        assert.deepEqual(await queueOf(db, 'doomed'), { cp39: ['1.0'], cp311: ['2.0', '3.0'] }, 'a version without builds is queued again');
        assert.equal(await deps(), 2);
        await db.deleteVersion('doomed', '2.0');
        assert.deepEqual(await rows('versions'), ['1.0', '3.0']);
        assert.deepEqual(await rows('builds'), ['3.0']);
        assert.deepEqual(await queueOf(db, 'doomed'), { cp39: ['1.0'], cp311: ['3.0'] });
        assert.equal(await deps(), 1);
        await assertConsistent(db);
        await db.deletePackage('doomed');
        assert.equal(await db.testPackage('doomed'), false);
        assert.deepEqual(await rows('builds'), []);
        assert.deepEqual(await rows('versions'), []);
        assert.equal(await deps(), 0);
        assert.deepEqual(await getPackageFiles(t.kysely, 'doomed'), new Map());
        assert.deepEqual(await queueOf(db, 'doomed'), {});
        await assertConsistent(db);
      });
    });

    describe('build queue', () => {
      test('a new version is tried on the lowest active ABI only', async () => {
        await addVersions(db, 'q-new', ['1.0']);
        assert.deepEqual(await queueOf(db, 'q-new'), { cp39: ['1.0'] });
      });

      test('a none wheel covers every ABI', async () => {
        await addVersions(db, 'q-none', ['1.0']);
        await logBuild(db, build('q-none', '1.0', 'cp39', [wheel('q-none', '1.0', 'none')]));
        assert.deepEqual(await queueOf(db, 'q-none'), {});
      });

      test('an abi3 wheel covers every ABI', async () => {
        await addVersions(db, 'q-abi3', ['1.0']);
        await logBuild(db, build('q-abi3', '1.0', 'cp39', [wheel('q-abi3', '1.0', 'abi3')]));
        assert.deepEqual(await queueOf(db, 'q-abi3'), {});
      });

      test('a failure moves the version to the next ABI, until none is left', async () => {
        await addVersions(db, 'q-fail', ['1.0']);
        await logBuild(db, build('q-fail', '1.0', 'cp39', []));
        assert.deepEqual(await queueOf(db, 'q-fail'), { cp311: ['1.0'] });
        await logBuild(db, build('q-fail', '1.0', 'cp311', []));
        assert.deepEqual(await queueOf(db, 'q-fail'), { cp313: ['1.0'] });
        await logBuild(db, build('q-fail', '1.0', 'cp313', []));
        assert.deepEqual(await queueOf(db, 'q-fail'), {});
      });

      test('an ABI-specific wheel moves the version to the next ABI', async () => {
        await addVersions(db, 'q-spec', ['1.0']);
        await logBuild(db, build('q-spec', '1.0', 'cp39', [wheel('q-spec', '1.0', 'cp39')]));
        assert.deepEqual(await queueOf(db, 'q-spec'), { cp311: ['1.0'] });
        await logBuild(db, build('q-spec', '1.0', 'cp311', [wheel('q-spec', '1.0', 'cp311')]));
        assert.deepEqual(await queueOf(db, 'q-spec'), { cp313: ['1.0'] });
        await logBuild(db, build('q-spec', '1.0', 'cp313', [wheel('q-spec', '1.0', 'none', { filename: 'q_spec-1.0-py3-none-any.whl' })]));
        assert.deepEqual(await queueOf(db, 'q-spec'), {});
        await assertConsistent(db);
      });

      test('skipped packages and versions never appear; un-skipping brings them back', async () => {
        await addVersions(db, 'q-skip', ['1.0', '2.0']);
        await db.skipPackageVersion('q-skip', '1.0', 'broken upstream');
        assert.deepEqual(await queueOf(db, 'q-skip'), { cp39: ['2.0'] });
        await db.skipPackage('q-skip', 'too big');
        assert.deepEqual(await queueOf(db, 'q-skip'), {});
        await db.addNewPackageVersion('q-skip', '3.0');
        assert.deepEqual(await queueOf(db, 'q-skip'), {}, 'new versions of a skipped package stay out');
        await db.skipPackage('q-skip', '');
        assert.deepEqual(await queueOf(db, 'q-skip'), { cp39: ['2.0', '3.0'] });
        await db.skipPackageVersion('q-skip', '1.0', '');
        assert.deepEqual(await queueOf(db, 'q-skip'), { cp39: ['1.0', '2.0', '3.0'] });
        await db.addNewPackage('q-skip-born', 'skipped from the start');
        await db.addNewPackageVersion('q-skip-born', '1.0');
        await db.addNewPackageVersion('q-skip', '4.0', new Date(), 'skipped version');
        assert.deepEqual(await queueOf(db, 'q-skip-born'), {});
        assert.deepEqual(await queueOf(db, 'q-skip'), { cp39: ['1.0', '2.0', '3.0'] });
        await assertConsistent(db);
      });

      test('a batch of builds lands whole, ids in order, the queue moved once for all; a bad record refuses it all', async () => {
        await addVersions(db, 'q-batch', ['1.0', '2.0', '3.0']);
        await addVersions(db, 'q-batch-b', ['1.0']);
        const ids = await db.logBuilds([
          build('q-batch', '1.0', 'cp39', []),
          build('q-batch', '2.0', 'cp39', [wheel('q-batch', '2.0', 'none')]),
          build('q-batch-b', '1.0', 'cp39', []),
          build('q-batch', '1.0', 'cp311', []),
        ]);
        assert.equal(ids.length, 4);
        assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'ids follow the order of the records');
        const rows = await t.kysely.selectFrom('builds').select(['build_id', 'package', 'version', 'abi_tag']).where('build_id', 'in', ids).orderBy('build_id').execute();
        assert.deepEqual(rows.map((r) => [r.package, r.version, r.abi_tag]), [
          ['q-batch', '1.0', 'cp39'], ['q-batch', '2.0', 'cp39'], ['q-batch-b', '1.0', 'cp39'], ['q-batch', '1.0', 'cp311'],
        ]);
        assert.deepEqual(await queueOf(db, 'q-batch'), { cp39: ['3.0'], cp313: ['1.0'] });
        assert.deepEqual(await queueOf(db, 'q-batch-b'), { cp311: ['1.0'] });
        await assertConsistent(db);

        await assert.rejects(db.logBuilds([build('q-batch', '3.0', 'cp39', []), build('q-batch', '9.9', 'cp39', [])]), 'unknown version');
        assert.deepEqual(await queueOf(db, 'q-batch'), { cp39: ['3.0'], cp313: ['1.0'] }, 'nothing of the refused batch stayed');
        assert.deepEqual(await db.logBuilds([]), []);
        await assertConsistent(db);
      });

      test('the project page agrees with the queue', async () => {
        await addVersions(db, 'q-page', ['1.0']);
        const failed = await logBuild(db, build('q-page', '1.0', 'cp39', []));
        const ok = await logBuild(db, build('q-page', '1.0', 'cp311', [wheel('q-page', '1.0', 'cp311')]));
        const abis = (await db.getProjectData('q-page'))?.releases[0]?.abis;
        assert.deepEqual(abis, {
          cp39: { status: 'fail', buildId: failed },
          cp311: { status: 'success', buildId: ok },
          cp313: { status: 'pending', buildId: null },
        });
        assert.deepEqual(await queueOf(db, 'q-page'), { cp313: ['1.0'] });
      });
    });

    describe('access logs, downloads and statistics', () => {
      const now = new Date('2026-06-30T12:00:00Z');
      test('each log lands in its table; bad addresses are refused', async () => {
        const count = async (table: 'downloads' | 'searches' | 'project_page_hits' | 'project_json_downloads' | 'web_page_hits') =>
          Number((await t.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
        const before = {
          searches: await count('searches'),
          project: await count('project_page_hits'),
          json: await count('project_json_downloads'),
          page: await count('web_page_hits'),
        };
        await logSearch(db, { package: 'numpy', host: '192.0.2.7', timestamp: now, installerName: 'pip', installerVersion: '24.0' });
        await logProject(db, { package: 'numpy', host: '2001:db8::7', timestamp: now, userAgent: 'Mozilla\x07' });
        await logJson(db, { package: 'numpy', host: '192.0.2.7', timestamp: now, userAgent: null });
        await logPage(db, { page: 'faq.html', host: '192.0.2.7', timestamp: now, userAgent: 'x'.repeat(3000) });
        assert.equal(await count('searches'), before.searches + 1);
        assert.equal(await count('project_page_hits'), before.project + 1);
        assert.equal(await count('project_json_downloads'), before.json + 1);
        assert.equal(await count('web_page_hits'), before.page + 1);
        const ua = await t.kysely.selectFrom('project_page_hits').select('user_agent').where('package', '=', 'numpy').executeTakeFirst();
        assert.equal(ua?.user_agent, 'Mozilla\ufffd');
        await assert.rejects(logSearch(db, { package: 'numpy', host: 'not-an-ip', timestamp: now }), /not an IP address/);
        await assert.rejects(logPage(db, { page: '', host: '192.0.2.7', timestamp: now }));
        await assert.rejects(logDownload(db, { filename: 'x.whl', host: '192.0.2.7', timestamp: new Date('nope') }));
      });

      test('downloads count per package, recent and all time', async () => {
        await addVersions(db, 'popular', ['1.0']);
        const file = wheel('popular', '1.0', 'none');
        await logBuild(db, build('popular', '1.0', 'cp39', [file]));
        const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * 86_400_000);
        for (const daysAgo of [0, 1, 29, 30, 45]) {
          await logDownload(db, { filename: file.filename, host: '192.0.2.1', timestamp: at(daysAgo), pyVersion: '3.11.2' });
        }
        await logDownload(db, { filename: 'unknown-1.0-py3-none-any.whl', host: '192.0.2.1', timestamp: at(0) });
        const data = await db.getProjectData('popular', now);
        assert.equal(data?.downloadsRecent, 3, 'today and the 29 days before');
        assert.equal(data?.downloadsAll, 5);
        const entry = (await db.getSearchIndex(now)).find((e) => e.package === 'popular');
        assert.deepEqual(entry, { package: 'popular', description: '', downloadsRecent: 3, downloadsAll: 5 });
        await assertConsistent(db);
      });

      test('the search index follows the clock: the recent window moves forward and back', async () => {
        await addVersions(db, 'windowed', ['1.0']);
        const file = wheel('windowed', '1.0', 'none');
        await logBuild(db, build('windowed', '1.0', 'cp39', [file]));
        const day = (n: number) => new Date(now.getTime() + n * 86_400_000);
        for (const n of [-40, -20, -5, 0]) {
          await logDownload(db, { filename: file.filename, host: '192.0.2.1', timestamp: day(n) });
        }
        const entryAt = async (at: Date) => (await db.getSearchIndex(at)).find((e) => e.package === 'windowed');
        const expectations: Array<[number, number]> = [[0, 3], [10, 2], [30, 0], [-15, 4], [0, 3]];
        for (const [shift, recent] of expectations) {
          assert.deepEqual(await entryAt(day(shift)), { package: 'windowed', description: '', downloadsRecent: recent, downloadsAll: 4 }, `${shift} days on`);
          assert.equal((await db.getProjectData('windowed', day(shift)))?.downloadsRecent, recent);
          await assertConsistent(db);
        }
        await entryAt(day(10));
        await logDownloads(db, [
          { filename: file.filename, host: '192.0.2.1', timestamp: day(-30) },
          { filename: file.filename, host: '192.0.2.1', timestamp: day(5) },
        ]);
        assert.deepEqual(await entryAt(day(10)), { package: 'windowed', description: '', downloadsRecent: 3, downloadsAll: 6 });
        await assertConsistent(db);
        await db.deleteBuild('windowed', '1.0');
        assert.equal((await entryAt(day(10)))?.downloadsAll, 0);
        await assertConsistent(db);
      });

      test('downloads of a file logged before it was built count once it exists, and go with it', async () => {
        await addVersions(db, 'early', ['1.0']);
        const file = wheel('early', '1.0', 'none');
        await logDownload(db, { filename: file.filename, host: '192.0.2.1', timestamp: now });
        assert.equal((await db.getProjectData('early', now))?.downloadsAll, 0);
        await logBuild(db, build('early', '1.0', 'cp39', [file]));
        assert.equal((await db.getProjectData('early', now))?.downloadsAll, 1);
        await assertConsistent(db);
        await db.deleteBuild('early', '1.0');
        assert.equal((await db.getProjectData('early', now))?.downloadsAll, 0);
        await assertConsistent(db);
      });
    });

    describe('batched downloads', () => {
      test('a batch lands whole, counted per package and day; a bad record refuses it all', async () => {
        await addVersions(db, 'batched', ['1.0']);
        const file = wheel('batched', '1.0', 'none');
        await logBuild(db, build('batched', '1.0', 'cp39', [file]));
        const now = new Date('2026-06-30T12:00:00Z');
        const batch = Array.from({ length: 1200 }, (_, i) => ({
          filename: i % 3 === 0 ? 'not-ours-1.0-py3-none-any.whl' : file.filename,
          host: '192.0.2.5',
          timestamp: new Date(now.getTime() - (i % 40) * 86_400_000),
        }));
        await logDownloads(db, batch);
        const data = await db.getProjectData('batched', now);
        assert.equal(data?.downloadsAll, 800);
        assert.equal(data?.downloadsRecent, batch.filter((d, i) => i % 3 !== 0 && now.getTime() - d.timestamp.getTime() < 30 * 86_400_000).length);
        await assert.rejects(logDownloads(db, [batch[1]!, { ...batch[1]!, host: 'nope' }]));
        assert.equal((await db.getProjectData('batched', now))?.downloadsAll, 800);
        await logDownloads(db, []);
        await assertConsistent(db);
      });
    });

    describe('derived tables', () => {
      test('verifyDerived notices drift and rebuildDerived repairs it', async () => {
        await assertConsistent(db);
        await t.kysely.updateTable('farm_counters').set({ value: 12345 }).where('name', '=', 'files_count').execute();
        await t.kysely.deleteFrom('build_queue').where('package', '=', 'q-new').execute();
        await t.kysely.insertInto('package_downloads').values({ package: 'q-new', downloads_all: 7, downloads_recent: 7 }).execute();
        const problems = await db.verifyDerived();
        assert.ok(problems.some((p) => p.startsWith('package_downloads')), problems.join('; '));
        assert.ok(problems.some((p) => p.includes('files_count')), problems.join('; '));
        assert.ok(problems.some((p) => p.startsWith('build_queue')), problems.join('; '));
        await db.rebuildDerived();
        await assertConsistent(db);
        assert.deepEqual(await queueOf(db, 'q-new'), { cp39: ['1.0'] });
      });
    });
  });

  describe(`Database queue order, limits and ABI changes (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    before(async () => {
      t = await freshDatabase(dialect);
      db = t.db;
      for (const abi of ['cp39', 'cp311']) await db.addBuildAbi(abi);
      await addVersions(db, 'late', ['1.0'], '2025-03-01T00:00:00Z');
      await addVersions(db, 'early', ['1.0', '2.0'], '2025-01-01T00:00:00Z');
      await addVersions(db, 'middle', ['1.0'], '2025-01-02T12:00:00Z');
    });
    after(async () => {
      await t.drop();
    });

    test('per ABI, oldest release first, up to the limit', async () => {
      const all = await db.getBuildQueue();
      assert.deepEqual([...all.keys()], ['cp39', 'cp311']);
      assert.deepEqual(all.get('cp39'), [
        { package: 'early', version: '1.0' },
        { package: 'early', version: '2.0' },
        { package: 'middle', version: '1.0' },
        { package: 'late', version: '1.0' },
      ]);
      assert.deepEqual(all.get('cp311'), []);
      assert.deepEqual((await db.getBuildQueue(2)).get('cp39'), [
        { package: 'early', version: '1.0' },
        { package: 'early', version: '2.0' },
      ]);
      assert.deepEqual((await db.getBuildQueue(0)).get('cp39'), []);
      await assert.rejects(db.getBuildQueue(-1), RangeError);
    });

    test('each ABI is limited separately', async () => {
      await logBuild(db, build('early', '1.0', 'cp39', []));
      await logBuild(db, build('early', '2.0', 'cp39', []));
      const q = await db.getBuildQueue(1);
      assert.deepEqual(q.get('cp39'), [{ package: 'middle', version: '1.0' }]);
      assert.deepEqual(q.get('cp311'), [{ package: 'early', version: '1.0' }]);
    });

    test('retiring an ABI moves its versions on; adding one in between takes its place', async () => {
      await db.skipBuildAbi('cp39', 'retired');
      let q = await db.getBuildQueue();
      assert.deepEqual([...q.keys()], ['cp311']);
      assert.equal(q.get('cp311')?.length, 4);
      assert.deepEqual(await db.getBuildAbis(true), ['cp311']);
      assert.deepEqual(await db.getBuildAbis(), ['cp39', 'cp311']);
      await db.addBuildAbi('cp39');
      await db.addBuildAbi('cp310');
      q = await db.getBuildQueue();
      assert.deepEqual([...q.keys()], ['cp39', 'cp310', 'cp311']);
      assert.deepEqual(q.get('cp310'), [
        { package: 'early', version: '1.0' },
        { package: 'early', version: '2.0' },
      ]);
      const stats = await db.getStatistics();
      assert.deepEqual(stats.buildsPending, { cp39: 2, cp310: 2, cp311: 0 });
      await assertConsistent(db);
    });

    test('statistics from the counters', async () => {
      await db.addNewPackageVersion('late', '2.0', new Date());
      const a = wheel('late', '1.0', 'cp39', { filesize: 100 });
      const twin = { ...a, filename: a.filename.replace('armv7l', 'armv6l'), platformTag: 'linux_armv6l' };
      await logBuild(db, build('late', '1.0', 'cp39', [a, twin], { duration: 30.25, builtAt: new Date() }));
      await logBuild(db, build('middle', '1.0', 'cp39', [], { duration: 8 * 86400 }));
      await logDownload(db, { filename: a.filename, host: '192.0.2.1', timestamp: new Date() });
      const stats = await db.getStatistics();
      assert.equal(stats.filesCount, 2);
      assert.equal(stats.buildsSize, 100, 'armv6l twins are not counted');
      assert.equal(stats.packagesBuilt, 1);
      assert.equal(stats.buildsTime, 20 + 30.25, 'builds of a week or more are left out');
      assert.equal(stats.newLastHour, 1);
      assert.equal(stats.buildsLastHour.cp39, 1);
      assert.equal(stats.downloadsLastHour, 1);
      assert.equal(stats.downloadsLastMonth, 1);
      assert.equal(stats.downloadsAll, 1);
      await assertConsistent(db);
    });
  });

  describe(`openDatabase (${dialect})`, () => {
    test('opens a current database and refuses an older one', async () => {
      const scratch = await scratchDatabase(dialect);
      try {
        await migrateTo(scratch.dsn, 1);
        await assert.rejects(openDatabase(scratch.dsn), new RegExp(`schema version 1, this software needs schema version ${LATEST_VERSION}: run piw-initdb`));
        await migrateTo(scratch.dsn);
        const db = await openDatabase(scratch.dsn);
        assert.deepEqual(await db.getBuildAbis(), []);
        await db.close();
      } finally {
        await scratch.drop();
      }
    });
  });
}

describe('openDatabase: missing or unreachable', () => {
  test('a missing SQLite file is not created', async () => {
    await assert.rejects(openDatabase('/nonexistent-dir/piwheels.sqlite'), (e: unknown) => e instanceof UserError && /run piw-initdb|create it with piw-initdb/.test(e.message));
  });
  test('an unreachable server is one clear user error', async () => {
    await assert.rejects(openDatabase('postgres://postgres@127.0.0.1:59999/none'), (e: unknown) => e instanceof UserError && /cannot connect to .*ECONNREFUSED/.test(e.message));
  });
});
