// A whole farm against a local upstream that serves a wheel of its own: the
// farm never publishes a file under a name upstream serves with other bytes,
// its index lists only packages with a file published (PEP 700 fields on
// each), and a package whose only build failed or whose last file was
// removed has no index page, while its project page says why.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIALECTS } from '../helpers/db.ts';
import { startFarm, waitFor } from '../helpers/farm.ts';
import { pep691IndexSchema, pep691ProjectSchema, projectJsonSchema } from '../helpers/page-schemas.ts';
import { runTool } from '../helpers/tool-harness.ts';
import { fixtureProject } from '../fixtures/packages/sdist.ts';

const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

for (const dialect of DIALECTS) {
  describe(`upstream and the index, end to end on ${dialect}`, () => {
    test("upstream's own wheel is never contradicted; the index lists only what it serves, with PEP 700 fields", async () => {
      const farm = await startFarm(dialect, ['e2e-pure', 'e2e-cext', 'e2e-broken']);
      try {
        const pure = fixtureProject('e2e-pure').version;
        const cext = fixtureProject('e2e-cext').version;
        // upstream ships a wheel of e2e-pure under the very name our build will have, with other bytes
        const theirs = Buffer.from('upstream built this wheel itself\n');
        const theirHash = createHash('sha256').update(theirs).digest('hex');
        const clashing = `e2e_pure-${pure}-py3-none-any.whl`;
        farm.upstream.upload('e2e-pure', pure, { filename: clashing, content: theirs });

        const slave = farm.startSlave();
        const db = farm.tables;
        const builds = await waitFor('three builds recorded', async () => {
          const rows = await db.selectFrom('builds').selectAll().execute();
          return rows.length >= 3 ? rows : undefined;
        }, 300_000);
        const byPackage = new Map(builds.map((b) => [b.package, b]));
        const pureBuild = byPackage.get('e2e-pure')!;
        assert.ok(pureBuild.status, 'the build itself succeeded');

        // after the build: the file with the clashing name is withheld, and the clash recorded
        const files = await db.selectFrom('files').select('filename').execute();
        assert.ok(!files.some((f) => f.filename === clashing), 'no file of that name stored');
        const clashes = await db.selectFrom('upstream_clashes').selectAll().execute();
        assert.equal(clashes.length, 1);
        assert.equal(clashes[0]?.filename, clashing);
        assert.equal(Number(clashes[0]?.build_id), Number(pureBuild.build_id));
        assert.equal(clashes[0]?.upstream_filehash.trim(), theirHash);
        assert.notEqual(clashes[0]?.filehash.trim(), theirHash);
        const recorded = await farm.coordinator.db.getUpstreamFiles('e2e-pure', pure);
        assert.deepEqual(recorded?.files.map((f) => [f.filename, f.filehash]), [[clashing, theirHash]], "upstream's wheels of the release are recorded");

        // nothing of that name is served, nor downloadable from our tree
        const output = farm.output;
        const projectJson = (pkg: string) => projectJsonSchema.parse(JSON.parse(read(join(output, 'project', pkg, 'json', 'index.json'))));
        const pureJson = await waitFor('the project JSON of e2e-pure shows the clash', () => {
          if (!existsSync(join(output, 'project', 'e2e-pure', 'json', 'index.json'))) return undefined;
          const json = projectJson('e2e-pure');
          return (json.releases[pure]?.withheld_files.length ?? 0) > 0 ? json : undefined;
        }, 30_000);
        assert.deepEqual(pureJson.releases[pure]?.withheld_files.map((w) => [w.filename, w.upstream_filehash]), [[clashing, theirHash]]);
        assert.equal(pureJson.releases[pure]?.abis[farm.abi]?.status, 'upstream');
        assert.deepEqual(pureJson.releases[pure]?.files, {});
        const purePage = read(join(output, 'project', 'e2e-pure', 'index.html'));
        assert.match(purePage, /Built, not published: PyPI serves e2e_pure-[^ ]+-py3-none-any\.whl with other bytes/);
        assert.match(purePage, /id="unpublished">No file of this package is published here/);
        assert.equal(existsSync(join(output, 'simple', 'e2e-pure')), false, 'no simple page, no file');

        // the package built here is listed, with PEP 700's fields
        await waitFor('the index page of e2e-cext', () => existsSync(join(output, 'simple', 'e2e-cext', 'index.json')) || undefined, 30_000);
        const detail = pep691ProjectSchema.parse(JSON.parse(read(join(output, 'simple', 'e2e-cext', 'index.json'))));
        assert.equal(detail.meta['api-version'], '1.1');
        assert.deepEqual(detail.versions, [cext]);
        assert.equal(detail.files.length, 1);
        const wheel = detail.files[0]!;
        // ISO 8601 in UTC, as PEP 700 asks: yyyy-mm-ddThh:mm:ss[.ffffff]Z
        assert.match(wheel['upload-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/);
        const cextBuild = byPackage.get('e2e-cext')!;
        assert.equal(Math.abs(Date.parse(wheel['upload-time']) - Date.parse(`${cextBuild.built_at.replace(' ', 'T')}Z`)), 0, 'the time its build was recorded');
        assert.ok(wheel.size > 0 && existsSync(join(output, 'simple', 'e2e-cext', wheel.filename)));
        assert.match(read(join(output, 'simple', 'e2e-cext', 'index.html')), /<meta name="pypi:repository-version" content="1\.1"/);

        // a package whose only build failed: not in the index, no simple page, its project page says why
        // (pages written before its build said it was still to come)
        const brokenPage = join(output, 'project', 'e2e-broken', 'index.html');
        await waitFor('the project page of e2e-broken after its build', () => /its builds failed/.test(read(brokenPage)) || undefined, 30_000);
        assert.match(read(brokenPage), /No file of this package is published here[^<]*its builds failed/);
        assert.equal(existsSync(join(output, 'simple', 'e2e-broken')), false);
        const root = () => pep691IndexSchema.parse(JSON.parse(read(join(output, 'simple', 'index.json')))).projects.map((p) => p.name);
        // the root index follows the package's own page
        await waitFor('the root index', () => root().includes('e2e-cext') || undefined, 30_000);
        assert.deepEqual(root(), ['e2e-cext']);
        assert.doesNotMatch(read(join(output, 'simple', 'index.html')), /e2e-pure|e2e-broken/);

        // the last file removed (piw-remove --builds): the package leaves the index, its page stays and says why
        const removed = await runTool('remove', ['--import-queue', farm.config.importQueue, '-y', '--builds', '--skip', 'removed by the operator', 'e2e-cext', cext]);
        assert.equal(removed.code, 0, removed.stderr);
        await waitFor('e2e-cext out of the index', () => (!existsSync(join(output, 'simple', 'e2e-cext')) && root().length === 0) || undefined, 30_000);
        assert.doesNotMatch(read(join(output, 'simple', 'index.html')), /e2e-cext/);
        assert.match(read(join(output, 'project', 'e2e-cext', 'index.html')), /No file of this package is published here/);
        await slave.kill();
      } finally {
        await farm.stop();
      }
    });

    test('a wheel upstream uploads after ours was published under the same name: ours is withdrawn', async () => {
      const farm = await startFarm(dialect, ['e2e-pure']);
      try {
        const pure = fixtureProject('e2e-pure').version;
        const slave = farm.startSlave();
        const output = farm.output;
        const published = await waitFor('our wheel of e2e-pure in the index', async () => {
          const rows = await farm.tables.selectFrom('files').select(['filename', 'filehash']).execute();
          const file = rows[0];
          return file !== undefined && existsSync(join(output, 'simple', 'e2e-pure', 'index.json')) ? file : undefined;
        }, 300_000);
        assert.ok(existsSync(join(output, 'simple', 'e2e-pure', published.filename)));
        // the maintainer uploads their own wheel of that name; the changelog reports it
        const theirs = Buffer.from('the maintainer built this one\n');
        farm.upstream.upload('e2e-pure', pure, { filename: published.filename, content: theirs });
        await waitFor('our wheel withdrawn', () => (!existsSync(join(output, 'simple', 'e2e-pure')) || undefined), 60_000);
        assert.deepEqual(await farm.tables.selectFrom('files').select('filename').execute(), []);
        const clash = await farm.tables.selectFrom('upstream_clashes').selectAll().executeTakeFirstOrThrow();
        assert.equal(clash.filename, published.filename);
        assert.equal(clash.filehash.trim(), published.filehash.trim());
        assert.equal(clash.upstream_filehash.trim(), createHash('sha256').update(theirs).digest('hex'));
        const json = await waitFor('the project JSON shows it withheld', () => {
          const parsed = projectJsonSchema.parse(JSON.parse(read(join(output, 'project', 'e2e-pure', 'json', 'index.json'))));
          return (parsed.releases[pure]?.withheld_files.length ?? 0) > 0 ? parsed : undefined;
        }, 30_000);
        assert.equal(json.releases[pure]?.abis[farm.abi]?.status, 'upstream');
        assert.doesNotMatch(read(join(output, 'simple', 'index.html')), /e2e-pure/);
        await slave.kill();
      } finally {
        await farm.stop();
      }
    });
  });
}
