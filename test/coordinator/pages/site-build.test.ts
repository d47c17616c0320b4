// The whole output tree regenerated from the database (what `astro build` and
// `piw-rebuild index` run) against the tree the coordinator's scribe writes
// as a farm grows package by package: the same bytes for the same data, the
// farm's own address on every page, and a run killed midway leaves a whole
// tree that a second run completes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '../../../shared/db/index.ts';
import type { SiteOptions } from '../../../shared/site-settings.ts';
import { Scribe } from '../../../coordinator/pages/scribe.ts';
import { CHECKPOINT } from '../../../coordinator/pages/regenerate.ts';
import { buildSiteFromDatabase } from '../../../coordinator/pages/site-build.ts';
import { DIALECTS, freshDatabase, logBuild } from '../../helpers/db.ts';
import { tempDir } from '../../helpers/site-fixture.ts';
import { buildWheel } from '../../helpers/wheel.ts';

const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const SITE: SiteOptions = { baseUrl: 'https://wheels.example.test/pi', name: 'Example wheels', contact: 'ops@example.test' };
const NOW = new Date('2026-12-01T10:00:00Z');

/** Records package `i`: a few versions, one yanked, one skipped, builds on two ABIs (some failed), deps, an alias. */
async function recordPackage(db: Database, i: number): Promise<string> {
  const pkg = `pkg-${String(i).padStart(4, '0')}`;
  await db.addNewPackage(pkg, '', `Package ${i} <does> & things`);
  if (i % 3 === 0) await db.addPackageName(pkg, `Pkg_${i}`, new Date('2026-11-01T00:00:00Z'));
  const versions = 1 + (i % 4);
  for (let v = 0; v < versions; v++) {
    const version = `1.${v}`;
    await db.addNewPackageVersion(pkg, version, new Date(Date.UTC(2026, 0, 1 + v)));
    for (const abi of ['cp311', 'cp313']) {
      const ok = (i + v) % 5 !== 0;
      const filename = `pkg_${String(i).padStart(4, '0')}-${version}-${abi}-${abi}-linux_armv7l.whl`;
      await logBuild(db, {
        package: pkg,
        version,
        abiTag: abi,
        status: ok,
        duration: 3,
        slaveId: abi === 'cp311' ? 1 : 2,
        builtAt: new Date(Date.UTC(2026, 1, 1 + v)),
        files: ok
          ? [
              {
                filename,
                filesize: 1000 + i,
                filehash: 'ab'.repeat(32),
                packageTag: `pkg_${i}`,
                packageVersionTag: version,
                pyVersionTag: abi,
                abiTag: abi,
                platformTag: 'linux_armv7l',
                requiresPython: '>=3.9',
                dependencies: { apt: i % 2 === 0 ? ['libopenjp2-7'] : [], pip: ['numpy'] },
                metadataHash: null,
              },
            ]
          : [],
      });
    }
  }
  if (versions > 2) await db.yankVersion(pkg, '1.1');
  if (versions > 3) await db.skipPackageVersion(pkg, '1.0', 'binary only');
  return pkg;
}

/** Every entry below `root`: files by content, links by target; temporary files of interrupted writes left out. */
function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(root, path);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) out.set(rel, `-> ${readlinkSync(path)}`);
      else if (stat.isDirectory()) walk(path);
      else if (!name.endsWith('.tmp')) out.set(rel, readFileSync(path, 'latin1'));
    }
  };
  walk(root);
  return out;
}

for (const dialect of DIALECTS) {
  describe(`site build from the ${dialect} database`, () => {
    test('a full regeneration writes what the incremental page writer wrote, byte for byte, under the farm\'s own address', async () => {
      const t = await freshDatabase(dialect);
      const out = await tempDir(`site-build-${dialect}`);
      try {
        await t.db.addBuildAbi('cp311');
        await t.db.addBuildAbi('cp313');
        const incremental = join(out.path, 'incremental');
        const full = join(out.path, 'full');
        // The farm grows: each package is recorded, then its pages are asked for, as builds finish.
        const scribe = await Scribe.create({ output: incremental, db: t.db, site: SITE, now: () => NOW });
        await scribe.writeStaticPages();
        const packages: string[] = [];
        for (let i = 0; i < 40; i++) {
          packages.push(await recordPackage(t.db, i));
          await scribe.handle({ kind: 'BOTH', package: packages[packages.length - 1] ?? '' });
        }
        // One real wheel on disk in both trees: its .metadata companion is extracted by both.
        const wheel = await buildWheel(join(out.path, 'wheels'), 'pkg_0001', '1.0', { tag: 'py3-none-any' });
        await logBuild(t.db, {
          package: 'pkg-0001', version: '1.0', abiTag: 'cp313', status: true, duration: 1, slaveId: 3,
          builtAt: new Date('2026-03-01T00:00:00Z'),
          files: [{
            filename: wheel.filename, filesize: wheel.bytes.length, filehash: wheel.sha256, packageTag: 'pkg_0001',
            packageVersionTag: '1.0', pyVersionTag: 'py3', abiTag: 'none', platformTag: 'any', requiresPython: null,
            dependencies: { apt: [], pip: [] }, metadataHash: null,
          }],
        });
        for (const root of [incremental, full]) {
          mkdirSync(join(root, 'simple', 'pkg-0001'), { recursive: true });
          copyFileSync(wheel.path, join(root, 'simple', 'pkg-0001', wheel.filename));
        }
        await scribe.handle({ kind: 'BOTH', package: 'pkg-0001' });
        // pkg-0002 loses its last file: it leaves the index.
        for (const version of ['1.0', '1.1', '1.2']) await t.db.deleteBuild('pkg-0002', version);
        await scribe.handle({ kind: 'BOTH', package: 'pkg-0002' });
        await scribe.handle({ kind: 'SEARCH', entries: await t.db.getSearchIndex() });
        await scribe.handle({ kind: 'HOME', stats: await t.db.getStatistics() });

        const result = await buildSiteFromDatabase({ dsn: t.dsn, outputPath: full, site: SITE }, { workers: 2, now: () => NOW });
        assert.deepEqual(result, { packages: 40, missing: 0, resumed: 0 });

        const a = tree(incremental);
        const b = tree(full);
        assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
        const differ = [...a].filter(([path, content]) => b.get(path) !== content).map(([path]) => path);
        assert.deepEqual(differ, [], 'every file the same');
        assert.ok(a.has('simple/pkg-0001/' + wheel.filename + '.metadata'));
        assert.equal(a.get('project/Pkg_3'), '-> pkg-0003');
        // Packages without a file (pkg-0000's builds failed; pkg-0002's are gone) are not in the index.
        for (const pkg of ['pkg-0000', 'pkg-0002']) {
          assert.ok(![...a.keys()].some((path) => path.startsWith(`simple/${pkg}/`)), `no simple page for ${pkg}`);
          assert.ok(!(a.get('simple/index.html') ?? '').includes(`"${pkg}/"`), `${pkg} not in the index`);
          assert.match(a.get(`project/${pkg}/index.html`) ?? '', /No file of this package is published here/);
        }
        assert.equal(a.get('simple/Pkg_0'), undefined, 'no alias link into a simple page that is not there');
        assert.equal(a.get('project/Pkg_0'), '-> pkg-0000');
        assert.match(a.get('simple/index.html') ?? '', /"pkg-0001\/"/);

        // No page names another farm; canonical links, sitemaps and JSON name this one.
        for (const [path, content] of b) assert.ok(!content.includes('piwheels.org'), `${path} names piwheels.org`);
        assert.match(b.get('project/pkg-0002/index.html') ?? '', /<link rel="canonical" href="https:\/\/wheels\.example\.test\/pi\/project\/pkg-0002\/"/);
        assert.match(b.get('project/pkg-0002/index.html') ?? '', /<title>Example wheels - /);
        assert.match(b.get('index.html') ?? '', /mailto:ops@example\.test/);
        assert.match(b.get('sitemap1.xml') ?? '', /<loc>https:\/\/wheels\.example\.test\/pi\/project\/pkg-0039\/<\/loc>/);
        assert.match(b.get('sitemap.xml') ?? '', /https:\/\/wheels\.example\.test\/pi\/sitemap0\.xml/);
        assert.match(b.get('robots.txt') ?? '', /Sitemap: https:\/\/wheels\.example\.test\/pi\/sitemap\.xml/);
        const json = JSON.parse(b.get('project/pkg-0002/json/index.json') ?? '{}') as { piwheels_url?: string };
        assert.equal(json.piwheels_url, 'https://wheels.example.test/pi/project/pkg-0002');
      } finally {
        await out.cleanup();
        await t.drop();
      }
    });
  });
}

describe('piw-rebuild index killed midway', () => {
  test('kill -9 leaves every served file whole, and a second run completes the tree', async () => {
    const t = await freshDatabase('sqlite');
    const out = await tempDir('site-build-kill');
    try {
      await t.db.addBuildAbi('cp311');
      await t.db.addBuildAbi('cp313');
      for (let i = 0; i < 1500; i++) await recordPackage(t.db, i);
      const www = join(out.path, 'www');
      const args = [join(REPO, 'bin', 'piw-rebuild.js'), '-y', '-d', t.dsn, '-o', www, '--base-url', SITE.baseUrl, 'index'];
      const env = { ...process.env, PIW_SITE_NAME: SITE.name, PIW_SITE_CONTACT: SITE.contact ?? '' };
      const first = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
      const exited = new Promise<void>((resolve) => first.once('exit', () => resolve()));
      // Killed as soon as its first batches are checkpointed (or when it is done, on a fast machine).
      const deadline = Date.now() + 120_000;
      while (!existsSync(join(www, CHECKPOINT)) && first.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const killedMidway = first.exitCode === null;
      first.kill('SIGKILL');
      await exited;

      // Whatever is in place is whole: every JSON parses, every page ends.
      for (const [path, content] of tree(www)) {
        if (path.endsWith('.json')) assert.doesNotThrow(() => JSON.parse(content), path);
        else if (path.endsWith('.html')) assert.match(content, /<\/html>/, path);
      }

      const second = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
      assert.equal(code, 0, stderr);
      if (killedMidway) assert.match(stderr, /written by an earlier run/);
      assert.ok(!existsSync(join(www, CHECKPOINT)), 'checkpoint removed once done');

      const fresh = join(out.path, 'fresh');
      await buildSiteFromDatabase({ dsn: t.dsn, outputPath: fresh, site: SITE }, { workers: 2 });
      const stamp = (text: string): string => text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'STAMP').replace(/<lastmod>[^<]*<\/lastmod>/g, '');
      const resumed = tree(www);
      const expected = tree(fresh);
      assert.deepEqual([...resumed.keys()].sort(), [...expected.keys()].sort());
      const differ = [...expected].filter(([path, content]) => stamp(resumed.get(path) ?? '') !== stamp(content)).map(([path]) => path);
      assert.deepEqual(differ, []);
    } finally {
      await out.cleanup();
      await t.drop();
    }
  });
});

describe('astro build', () => {
  test('with PIW_DSN, PIW_OUTPUT_PATH and PIW_BASE_URL it regenerates the farm\'s tree under that address', async () => {
    const t = await freshDatabase('sqlite');
    const out = await tempDir('site-build-astro');
    try {
      await t.db.addBuildAbi('cp311');
      await t.db.addBuildAbi('cp313');
      const packages: string[] = [];
      for (let i = 0; i < 12; i++) packages.push(await recordPackage(t.db, i));
      const www = join(out.path, 'www');
      const env = { ...process.env, PIW_DSN: t.dsn, PIW_OUTPUT_PATH: www, PIW_BASE_URL: SITE.baseUrl, PIW_SITE_NAME: SITE.name };
      const astro = spawn(process.execPath, [join(REPO, 'node_modules', 'astro', 'astro.js'), 'build'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      astro.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      astro.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => astro.once('exit', resolve));
      assert.equal(code, 0, output);
      const written = tree(www);
      for (const path of ['simple/index.html', 'index.html', 'packages.json', 'sitemap.xml', 'faq.html']) assert.ok(written.has(path), `${path} written`);
      const published = await t.db.getPackagesWithFiles();
      assert.ok(published.size > 0 && published.size < packages.length, 'some packages with files, some without');
      for (const pkg of packages) {
        for (const page of [`project/${pkg}/index.html`, `project/${pkg}/json/index.json`]) assert.ok(written.has(page), `${page} written`);
        for (const page of [`simple/${pkg}/index.html`, `simple/${pkg}/index.json`]) {
          assert.equal(written.has(page), published.has(pkg), `${page} written only for a package with files`);
        }
      }
      assert.match(written.get('sitemap.xml') ?? '', /https:\/\/wheels\.example\.test\/pi\//);
      const elsewhere = [...written].filter(([, content]) => content.includes('piwheels.org')).map(([path]) => path);
      assert.deepEqual(elsewhere, [], 'no page names another farm');
    } finally {
      await out.cleanup();
      await t.drop();
    }
  });

  test('a bad DSN is one clear error and a failed build', async () => {
    const out = await tempDir('site-build-astro-bad');
    try {
      const env = { ...process.env, PIW_DSN: 'postgres://nobody@127.0.0.1:1/none', PIW_OUTPUT_PATH: join(out.path, 'www') };
      const astro = spawn(process.execPath, [join(REPO, 'node_modules', 'astro', 'astro.js'), 'build'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      astro.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      astro.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => astro.once('exit', resolve));
      assert.notEqual(code, 0, output);
      assert.match(output, /127\.0\.0\.1:1|ECONNREFUSED|connect/i);
    } finally {
      await out.cleanup();
    }
  });
});
