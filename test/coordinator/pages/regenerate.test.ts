// The site from the real database: a farm recorded through the Database API
// (SQLite and PostgreSQL) rendered by a full regeneration and by the
// secretary-and-scribe path the coordinator uses.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'node-html-parser';
import type { Database } from '../../../shared/db/index.ts';
import { regenerate } from '../../../coordinator/pages/regenerate.ts';
import { Scribe } from '../../../coordinator/pages/scribe.ts';
import { Secretary } from '../../../coordinator/pages/secretary.ts';
import { DIALECTS, freshDatabase, logBuild } from '../../helpers/db.ts';
import { tempDir } from '../../helpers/site-fixture.ts';
import { pep691ProjectSchema, projectJsonSchema } from '../../helpers/page-schemas.ts';

const HASH = 'ab'.repeat(32);

async function recordFarm(db: Database): Promise<void> {
  await db.addBuildAbi('cp39');
  await db.addBuildAbi('cp311');
  await db.addNewPackage('sample-pkg', '', 'Reads <sensor> data');
  await db.addPackageName('sample-pkg', 'Sample_Pkg', new Date('2026-11-01T00:00:00Z'));
  await db.addNewPackageVersion('sample-pkg', '1.0', new Date('2026-10-01T00:00:00Z'));
  await db.addNewPackageVersion('sample-pkg', '1.1', new Date('2026-11-10T00:00:00Z'));
  await db.addNewPackageVersion('sample-pkg', '0.9', new Date('2026-09-01T00:00:00Z'));
  await db.yankVersion('sample-pkg', '1.1');
  await db.skipPackageVersion('sample-pkg', '0.9', 'binary only');
  await logBuild(db, {
    package: 'sample-pkg',
    version: '1.0',
    abiTag: 'cp39',
    status: true,
    duration: 12.5,
    slaveId: 1,
    builtAt: new Date('2026-10-02T00:00:00Z'),
    files: [
      {
        filename: 'sample_pkg-1.0-cp39-cp39-linux_armv7l.whl',
        filesize: 4096,
        filehash: HASH,
        packageTag: 'sample_pkg',
        packageVersionTag: '1.0',
        pyVersionTag: 'cp39',
        abiTag: 'cp39',
        platformTag: 'linux_armv7l',
        requiresPython: '>=3.7',
        dependencies: { apt: ['libopenjp2-7'], pip: ['numpy'] },
        metadataHash: null,
      },
    ],
  });
  await logBuild(db, {
    package: 'sample-pkg',
    version: '1.0',
    abiTag: 'cp311',
    status: false,
    duration: 3,
    slaveId: 1,
    builtAt: new Date('2026-10-02T00:01:00Z'),
    files: [],
  });
}

for (const dialect of DIALECTS) {
  describe(`site from the ${dialect} database`, () => {
    test('full regeneration renders what the database recorded', async () => {
      const scratch = await freshDatabase(dialect);
      const out = await tempDir(`db-${dialect}`);
      try {
        await recordFarm(scratch.db);
        const result = await regenerate(scratch.db, { output: out.path, workers: 0 });
        assert.deepEqual(result, { packages: 1, missing: 0, resumed: 0 });

        const json = projectJsonSchema.parse(JSON.parse(await readFile(join(out.path, 'project', 'sample-pkg', 'json', 'index.json'), 'utf8')));
        assert.equal(json.summary, 'Reads <sensor> data');
        assert.deepEqual(Object.keys(json.releases).sort(), ['0.9', '1.0', '1.1']);
        assert.equal(json.releases['1.1']?.yanked, true);
        assert.equal(json.releases['0.9']?.skip_reason, 'binary only');
        assert.equal(json.releases['1.0']?.abis.cp39?.status, 'success');
        assert.equal(json.releases['1.0']?.abis.cp311?.status, 'fail');
        const file = json.releases['1.0']?.files['sample_pkg-1.0-cp39-cp39-linux_armv7l.whl'];
        assert.deepEqual(file?.apt_dependencies, ['libopenjp2-7']);
        assert.equal(file?.filehash, HASH);

        const simple = pep691ProjectSchema.parse(JSON.parse(await readFile(join(out.path, 'simple', 'sample-pkg', 'index.json'), 'utf8')));
        assert.deepEqual(simple.files.map((f) => f.filename), ['sample_pkg-1.0-cp39-cp39-linux_armv7l.whl']);
        const page = parse(await readFile(join(out.path, 'project', 'sample-pkg', 'index.html'), 'utf8'));
        assert.equal(page.querySelector('pre.install')?.text, 'sudo apt install libopenjp2-7\npip3 install sample-pkg');
        assert.equal(await readlink(join(out.path, 'project', 'Sample_Pkg')), 'sample-pkg');
        const search = JSON.parse(await readFile(join(out.path, 'packages.json'), 'utf8')) as unknown[][];
        assert.deepEqual(search.map((row) => row[0]), ['sample-pkg']);
      } finally {
        await out.cleanup();
        await scratch.drop();
      }
    });

    test('secretary and scribe write a package the database learns about', async () => {
      const scratch = await freshDatabase(dialect);
      const out = await tempDir(`db-sec-${dialect}`);
      try {
        await recordFarm(scratch.db);
        const scribe = await Scribe.create({ output: out.path, db: scratch.db });
        await scribe.writeStaticPages();
        // A package the farm hears of after the scribe started.
        await scratch.db.addNewPackage('late-pkg', '', 'Arrived later');
        await scratch.db.addNewPackageVersion('late-pkg', '0.1', new Date('2026-11-24T00:00:00Z'));
        let written = 0;
        const secretary = new Secretary({
          sink: async (request) => {
            await scribe.handle(request);
            written += 1;
          },
          store: scratch.db,
          windowMs: 20,
        });
        await secretary.start();
        await secretary.request({ kind: 'PROJECT', package: 'sample-pkg' });
        await secretary.request({ kind: 'BOTH', package: 'sample-pkg' });
        await secretary.request({ kind: 'BOTH', package: 'late-pkg' });
        while (written < 2) await new Promise((r) => setTimeout(r, 10));
        await secretary.stop();
        assert.equal(written, 2);
        assert.ok((await lstat(join(out.path, 'simple', 'sample-pkg', 'index.html'))).isFile());
        const index = parse(await readFile(join(out.path, 'simple', 'index.html'), 'utf8'));
        // late-pkg has no file yet: a project page, but no place in the index (pip goes on to PyPI)
        assert.deepEqual(index.querySelectorAll('a').map((a) => a.getAttribute('href')), ['sample-pkg/']);
        await assert.rejects(lstat(join(out.path, 'simple', 'late-pkg')), { code: 'ENOENT' });
        const late = projectJsonSchema.parse(JSON.parse(await readFile(join(out.path, 'project', 'late-pkg', 'json', 'index.json'), 'utf8')));
        assert.equal(late.releases['0.1']?.abis.cp39?.status, 'pending');
        const latePage = await readFile(join(out.path, 'project', 'late-pkg', 'index.html'), 'utf8');
        assert.match(latePage, /id="unpublished">No file of this package is published here, so the index does not list it/);
      } finally {
        await out.cleanup();
        await scratch.drop();
      }
    });
  });
}
