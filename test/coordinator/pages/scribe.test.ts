import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink, rm, writeFile, mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'node-html-parser';
import { Scribe } from '../../../coordinator/pages/scribe.ts';
import { regenerate } from '../../../coordinator/pages/regenerate.ts';
import { loadSiteRenderer } from '../../../coordinator/pages/site-bundle.ts';
import { FixtureDatabase, otherProject, sampleProject, sampleStats, tempDir } from '../../helpers/site-fixture.ts';
import { pep691IndexSchema, pep691ProjectSchema, projectJsonSchema } from '../../helpers/page-schemas.ts';
import { buildWheel } from '../../helpers/wheel.ts';

const FIXED = new Date('2026-11-25T09:00:00Z');
const fixedClock = (): Date => FIXED;

async function treeFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await treeFiles(root, path)));
    else if (entry.isSymbolicLink()) out.push(`${relative(root, path)} -> ${await readlink(path)}`);
    else out.push(relative(root, path));
  }
  return out.sort();
}

describe('scribe start', () => {
  test("a killed writer's half-made alias links beside the packages are cleared", async () => {
    const dir = await tempDir('scribe-sweep');
    try {
      // a pid no process has: the writer that left these is dead
      for (const area of ['simple', 'project']) {
        await mkdir(join(dir.path, area), { recursive: true });
        await writeFile(join(dir.path, area, '.Alias.999999999-1-3.tmp'), 'x');
      }
      const scribe = await Scribe.create({ output: dir.path, db: new FixtureDatabase([]), now: fixedClock });
      await scribe.writeStaticPages();
      for (const area of ['simple', 'project']) assert.deepEqual((await readdir(join(dir.path, area))).filter((n) => n.endsWith('.tmp')), [], area);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('scribe', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let db: FixtureDatabase;
  let scribe: Scribe;
  let metadataRaw: Buffer;

  before(async () => {
    dir = await tempDir('scribe');
    db = new FixtureDatabase([sampleProject(), otherProject('numpy')]);
    scribe = await Scribe.create({ output: dir.path, db, now: fixedClock });
    // A real wheel on disk for 1.0, so the .metadata companion gets extracted.
    const wheel = await buildWheel(join(dir.path, 'wheels'), 'sample_pkg', '1.0', { tag: 'cp39-cp39-linux_armv7l', requiresPython: '>=3.7' });
    await mkdir(join(dir.path, 'simple', 'sample-pkg'), { recursive: true });
    await writeFile(join(dir.path, 'simple', 'sample-pkg', 'sample_pkg-1.0-cp39-cp39-linux_armv7l.whl'), wheel.bytes);
    metadataRaw = wheel.metadata;
    await scribe.writeStaticPages();
    await scribe.handle({ kind: 'BOTH', package: 'sample-pkg' });
  });

  after(async () => {
    await dir.cleanup();
  });

  test('simple page: links, hashes, escaped attributes, yank and metadata', async () => {
    const html = await readFile(join(dir.path, 'simple', 'sample-pkg', 'index.html'), 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /data-requires-python="&gt;=3\.9"/);
    assert.doesNotMatch(html, /data-requires-python=">=/);
    const root = parse(html);
    assert.equal(root.querySelector('h1')?.text, 'Links for sample-pkg');
    const links = root.querySelectorAll('a');
    assert.equal(links.length, 3);
    const byName = new Map(links.map((a) => [a.text, a]));
    const yanked = byName.get('sample_pkg-1.1-cp311-cp311-linux_armv7l.whl');
    assert.equal(yanked?.getAttribute('data-yanked'), '');
    const stable = byName.get('sample_pkg-1.0-cp39-cp39-linux_armv7l.whl');
    assert.equal(stable?.getAttribute('href'), `/simple/sample-pkg/sample_pkg-1.0-cp39-cp39-linux_armv7l.whl#sha256=${'e'.repeat(64)}`);
    assert.equal(stable?.getAttribute('data-yanked'), undefined);
    const metaHash = createHash('sha256').update(metadataRaw).digest('hex');
    assert.equal(stable?.getAttribute('data-core-metadata'), `sha256=${metaHash}`);
    assert.equal(stable?.getAttribute('data-dist-info-metadata'), `sha256=${metaHash}`);
    // The database had a hash for the pre-release but no wheel is on disk: nothing to serve, nothing advertised.
    assert.equal(byName.get('sample_pkg-2.0rc1-py3-none-any.whl')?.getAttribute('data-core-metadata'), undefined);
  });

  test('the .metadata file beside the wheel is its METADATA byte for byte', async () => {
    const written = await readFile(join(dir.path, 'simple', 'sample-pkg', 'sample_pkg-1.0-cp39-cp39-linux_armv7l.whl.metadata'));
    assert.deepEqual(written, metadataRaw);
  });

  test('PEP 691 JSON beside the simple page agrees with the HTML', async () => {
    const json = pep691ProjectSchema.parse(JSON.parse(await readFile(join(dir.path, 'simple', 'sample-pkg', 'index.json'), 'utf8')));
    assert.equal(json.name, 'sample-pkg');
    const stable = json.files.find((f) => f.filename.startsWith('sample_pkg-1.0-'));
    assert.deepEqual(stable?.['core-metadata'], { sha256: createHash('sha256').update(metadataRaw).digest('hex') });
    assert.equal(json.files.find((f) => f.filename.startsWith('sample_pkg-1.1-'))?.yanked, true);
    assert.equal(stable?.['requires-python'], '>=3.7');
  });

  test('project page: escaped description, releases table, statuses, files', async () => {
    const html = await readFile(join(dir.path, 'project', 'sample-pkg', 'index.html'), 'utf8');
    assert.match(html, /Reads &lt;sensor&gt; data &amp; more/);
    assert.doesNotMatch(html, /<sensor>/);
    const root = parse(html);
    assert.equal(root.querySelector('h1#package')?.text, 'Sample_Pkg');
    assert.equal(root.querySelector('h1#package')?.getAttribute('data-package'), 'sample-pkg');
    assert.equal(root.querySelector('pre.install')?.text, 'sudo apt install libatlas3-base libopenjp2-7\npip3 install sample-pkg');
    const headers = root.querySelectorAll('table.releases thead th').map((th) => th.text.trim());
    assert.deepEqual(headers, ['Version', 'Released', 'Bullseye\nPython 3.9', 'Bookworm\nPython 3.11', 'Files']);
    const rows = root.querySelectorAll('table.releases tbody tr');
    assert.equal(rows.length, 4);
    const [pre, yanked, stable, skipped] = rows;
    assert.match(pre?.querySelector('th')?.text ?? '', /2\.0rc1\s*pre-release/);
    assert.ok(yanked?.classList.contains('yanked'));
    assert.match(yanked?.querySelector('th')?.text ?? '', /yanked/);
    const cells = stable?.querySelectorAll('td.st') ?? [];
    assert.deepEqual(cells.map((c) => c.classList.value.join(' ')), ['st st-success', 'st st-fail']);
    assert.equal(cells[1]?.querySelector('a')?.getAttribute('href'), '/logs/0000/0000/0013.txt.gz');
    assert.equal(cells[1]?.getAttribute('title'), "Build failed: the package's own error");
    const failure = root.querySelector('li.failure');
    assert.equal(failure?.getAttribute('data-kind'), 'package');
    assert.equal(failure?.querySelector('code.debian-package')?.text, 'libzstd-dev', 'the missing header names its Debian package');
    assert.match(failure?.text ?? '', /Reproduce/);
    assert.match(skipped?.querySelector('th')?.text ?? '', /skipped/);
    assert.equal(skipped?.querySelectorAll('td.st a').length, 0);
    assert.equal(root.querySelector('#downloads-all')?.text, '98,765');
    const details = root.querySelectorAll('details.files');
    assert.deepEqual(details.map((d) => d.id), ['v2.0rc1', 'v1.1', 'v1.0']);
    assert.equal(details[0]?.getAttribute('open'), '');
    const wheel = details[2]?.querySelector('a.wheel');
    assert.equal(wheel?.getAttribute('href'), `/simple/sample-pkg/sample_pkg-1.0-cp39-cp39-linux_armv7l.whl#sha256=${'e'.repeat(64)}`);
    const meta = details[2]?.querySelector('dl.meta')?.text ?? '';
    assert.match(meta, /1\.5 MB/);
    assert.match(meta, /Requires-Python>=3\.7/);
    assert.match(meta, /sudo apt install libatlas3-base libopenjp2-7 && pip3 install sample-pkg==1\.0/);
    assert.match(html, /Page generated 2026-11-25T09:00:00\.000Z/);
  });

  test('project JSON validates against the schema', async () => {
    const json = projectJsonSchema.parse(JSON.parse(await readFile(join(dir.path, 'project', 'sample-pkg', 'json', 'index.json'), 'utf8')));
    assert.equal(json.summary, 'Reads <sensor> data & more');
    assert.equal(Object.keys(json.releases).length, 4);
  });

  test('aliases resolve through symlinks to the canonical directories', async () => {
    for (const area of ['simple', 'project']) {
      for (const alias of ['Sample_Pkg', 'sample.pkg']) {
        const link = join(dir.path, area, alias);
        assert.ok((await lstat(link)).isSymbolicLink(), `${area}/${alias} is a symlink`);
        assert.equal(await readlink(link), 'sample-pkg');
        await readFile(join(link, 'index.html'));
      }
    }
    assert.ok((await lstat(join(dir.path, 'simple', 'sample-pkg'))).isDirectory());
  });

  test('a new package is added to the root simple index (HTML and JSON)', async () => {
    const html = await readFile(join(dir.path, 'simple', 'index.html'), 'utf8');
    assert.deepEqual(parse(html).querySelectorAll('a').map((a) => a.getAttribute('href')), ['numpy/', 'sample-pkg/']);
    await scribe.handle({ kind: 'BOTH', package: 'numpy' });
    db.projects.set('zzz-new', otherProject('zzz-new'));
    await scribe.handle({ kind: 'BOTH', package: 'zzz-new' });
    const json = pep691IndexSchema.parse(JSON.parse(await readFile(join(dir.path, 'simple', 'index.json'), 'utf8')));
    assert.deepEqual(json.projects.map((p) => p.name), ['numpy', 'sample-pkg', 'zzz-new']);
  });

  test('home, stats, search index, sitemaps, static pages and robots.txt', async () => {
    await scribe.handle({ kind: 'HOME', stats: sampleStats });
    await scribe.handle({ kind: 'SEARCH', entries: await db.getSearchIndex() });
    const home = parse(await readFile(join(dir.path, 'index.html'), 'utf8'));
    assert.equal(home.querySelector('#stat-downloads-all')?.text, '98,815');
    assert.match(home.querySelector('pre')?.text ?? '', /extra-index-url=http:\/\/localhost\/simple/);
    const stats = parse(await readFile(join(dir.path, 'stats.html'), 'utf8'));
    assert.equal(stats.querySelectorAll('#built .bar').length, 2);
    const search = JSON.parse(await readFile(join(dir.path, 'packages.json'), 'utf8')) as unknown[];
    assert.deepEqual(search.find((r) => Array.isArray(r) && r[0] === 'sample-pkg'), ['sample-pkg', 1234, 98765, 'Reads <sensor> data & more']);
    const sitemapIndex = await readFile(join(dir.path, 'sitemap.xml'), 'utf8');
    assert.match(sitemapIndex, /sitemap1\.xml/);
    assert.match(await readFile(join(dir.path, 'sitemap1.xml'), 'utf8'), /\/project\/sample-pkg\//);
    for (const page of ['faq.html', 'json.html', 'packages.html', '404.html', 'styles.css', 'search.js', 'robots.txt']) {
      assert.ok((await readFile(join(dir.path, page))).length > 0, page);
    }
    assert.match(await readFile(join(dir.path, 'packages.html'), 'utf8'), /<script src="\/search\.js"><\/script>/);
  });

  test('build logs are gzipped at the split-id path', async () => {
    await scribe.handle({ kind: 'LOG', buildId: 123456, log: 'Building wheel\n\u00e9 done\n' });
    const gz = await readFile(join(dir.path, 'logs', '0000', '0012', '3456.txt.gz'));
    assert.equal(gunzipSync(gz).toString('utf8'), 'Building wheel\n\u00e9 done\n');
  });

  test('a log directory removed behind the scribe\'s back is made again', async () => {
    await scribe.handle({ kind: 'LOG', buildId: 123457, log: 'one\n' });
    await rm(join(dir.path, 'logs', '0000', '0012'), { recursive: true });
    await scribe.handle({ kind: 'LOG', buildId: 123458, log: 'two\n' });
    assert.equal(gunzipSync(await readFile(join(dir.path, 'logs', '0000', '0012', '3458.txt.gz'))).toString('utf8'), 'two\n');
  });

  test('no temporary files are left behind', async () => {
    const files = await treeFiles(dir.path);
    assert.deepEqual(files.filter((f) => f.endsWith('.tmp')), []);
  });

  test('bad requests are refused before touching the tree', async () => {
    await assert.rejects(scribe.handle({ kind: 'BOTH', package: '../etc' }));
    await assert.rejects(scribe.handle({ kind: 'BOTH', package: 'Not_Canonical' }));
    await assert.rejects(scribe.handle({ kind: 'DELPKG', package: '' }));
    await assert.rejects(scribe.handle({ kind: 'LOG', buildId: -4, log: 'x' }));
    const home = await readFile(join(dir.path, 'index.html'), 'utf8');
    const search = await readFile(join(dir.path, 'packages.json'), 'utf8');
    await assert.rejects(scribe.handle({ kind: 'HOME', stats: { ...sampleStats, downloadsAll: -1 } }), /HOME page request refused: stats\.downloadsAll/);
    const entry = { package: 'numpy', description: '', downloadsRecent: 0, downloadsAll: 1.5 };
    await assert.rejects(scribe.handle({ kind: 'SEARCH', entries: [entry] }), /SEARCH page request refused: entries\[0\]\.downloadsAll/);
    assert.equal(await readFile(join(dir.path, 'index.html'), 'utf8'), home);
    assert.equal(await readFile(join(dir.path, 'packages.json'), 'utf8'), search);
    const bad = sampleProject();
    bad.releases[0]!.files = { '../escape.whl': { ...Object.values(sampleProject().releases[0]!.files)[0]!, filename: '../escape.whl' } };
    await assert.rejects(scribe.writeProject(bad, { both: true }), /unsafe filename/);
  });

  test('an unknown package writes nothing', async () => {
    await scribe.handle({ kind: 'PROJECT', package: 'no-such-thing' });
    await assert.rejects(lstat(join(dir.path, 'project', 'no-such-thing')));
  });

  test('deleting a version removes its wheels and metadata, and rewrites the pages without it', async () => {
    const simpleDir = join(dir.path, 'simple', 'sample-pkg');
    await writeFile(join(simpleDir, 'sample_pkg-1.1-cp311-cp311-linux_armv7l.whl'), 'x');
    await scribe.handle({ kind: 'DELVER', package: 'sample-pkg', version: '1.0' });
    const names = await readdir(simpleDir);
    assert.ok(!names.includes('sample_pkg-1.0-cp39-cp39-linux_armv7l.whl'));
    assert.ok(!names.includes('sample_pkg-1.0-cp39-cp39-linux_armv7l.whl.metadata'));
    assert.ok(names.includes('sample_pkg-1.1-cp311-cp311-linux_armv7l.whl'));
    const html = await readFile(join(simpleDir, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /sample_pkg-1\.0-/);
    const json = projectJsonSchema.parse(JSON.parse(await readFile(join(dir.path, 'project', 'sample-pkg', 'json', 'index.json'), 'utf8')));
    assert.ok(!('1.0' in json.releases));
  });

  test('deleting files removes them and their metadata, and rewrites the pages from the database', async () => {
    const simpleDir = join(dir.path, 'simple', 'sample-pkg');
    await writeFile(join(simpleDir, 'withdrawn-1.0-py3-none-any.whl'), 'x');
    await writeFile(join(simpleDir, 'withdrawn-1.0-py3-none-any.whl.metadata'), 'x');
    const before = (await readdir(simpleDir)).filter((n) => !n.startsWith('withdrawn-'));
    await scribe.handle({ kind: 'DELFILES', package: 'sample-pkg', filenames: ['withdrawn-1.0-py3-none-any.whl', 'never-there-1.0-py3-none-any.whl'] });
    assert.deepEqual((await readdir(simpleDir)).sort(), before.sort());
    await assert.rejects(scribe.handle({ kind: 'DELFILES', package: 'sample-pkg', filenames: ['../../index.html'] }), /not a plain file name/);
  });

  test('deleting a package removes its directories, wheels and alias links', async () => {
    await scribe.handle({ kind: 'DELPKG', package: 'sample-pkg' });
    for (const path of ['simple/sample-pkg', 'project/sample-pkg', 'simple/Sample_Pkg', 'project/sample.pkg']) {
      await assert.rejects(lstat(join(dir.path, path)), path);
    }
    const html = await readFile(join(dir.path, 'simple', 'index.html'), 'utf8');
    assert.doesNotMatch(html, /sample-pkg/);
  });

  test('a former alias that becomes a package of its own replaces the link with a directory', async () => {
    const db2 = new FixtureDatabase([{ ...otherProject('old-name'), aliases: ['new-name'] }]);
    const out = await tempDir('alias');
    try {
      const s = await Scribe.create({ output: out.path, db: db2, now: fixedClock });
      await s.handle({ kind: 'BOTH', package: 'old-name' });
      assert.ok((await lstat(join(out.path, 'project', 'new-name'))).isSymbolicLink());
      db2.projects.set('new-name', otherProject('new-name'));
      await s.handle({ kind: 'BOTH', package: 'new-name' });
      assert.ok((await lstat(join(out.path, 'project', 'new-name'))).isDirectory());
      assert.ok((await lstat(join(out.path, 'simple', 'new-name'))).isDirectory());
    } finally {
      await out.cleanup();
    }
  });
});

describe('full regeneration', () => {
  test('produces the same bytes as incremental rewrites, in worker threads or not', async () => {
    const projects = [sampleProject(), otherProject('numpy'), otherProject('scipy', 'Science <fast>')];
    const threaded = await tempDir('full');
    const inline = await tempDir('inline');
    const incr = await tempDir('incr');
    try {
      const db = new FixtureDatabase(projects);
      assert.deepEqual(await regenerate(db, { output: threaded.path, now: fixedClock, workers: 2 }), { packages: 3, missing: 0, resumed: 0 });
      assert.deepEqual(await regenerate(db, { output: inline.path, now: fixedClock, workers: 0 }), { packages: 3, missing: 0, resumed: 0 });

      const scribe = await Scribe.create({ output: incr.path, db, now: fixedClock });
      await scribe.writeStaticPages();
      for (const p of projects) await scribe.handle({ kind: 'PROJECT', package: p.package });
      for (const p of [...projects].reverse()) await scribe.handle({ kind: 'BOTH', package: p.package });
      await scribe.handle({ kind: 'SEARCH', entries: await db.getSearchIndex() });
      await scribe.handle({ kind: 'HOME', stats: await db.getStatistics() });

      const files = await treeFiles(incr.path);
      assert.ok(files.includes('project/scipy/json/index.json'));
      assert.ok(files.includes('simple/Sample_Pkg -> sample-pkg'));
      for (const other of [threaded.path, inline.path]) {
        assert.deepEqual(await treeFiles(other), files);
        for (const file of files.filter((f) => !f.includes(' -> '))) {
          assert.deepEqual(await readFile(join(other, file)), await readFile(join(incr.path, file)), file);
        }
      }
    } finally {
      await threaded.cleanup();
      await inline.cleanup();
      await incr.cleanup();
    }
  });

  test('a package that vanished from the database is counted, not written', async () => {
    const out = await tempDir('vanish');
    try {
      const db = new FixtureDatabase([otherProject('numpy')]);
      const listed = db.getAllPackages.bind(db);
      db.getAllPackages = async () => [...(await listed()), 'gone'];
      const result = await regenerate(db, { output: out.path, now: fixedClock, renderer: await loadSiteRenderer() });
      assert.deepEqual(result, { packages: 1, missing: 1, resumed: 0 });
      await assert.rejects(lstat(join(out.path, 'project', 'gone')));
    } finally {
      await out.cleanup();
    }
  });
});

describe('scribe on a farm with platforms', () => {
  test('project page and JSON: a column and a key per build target', async () => {
    const dir = await tempDir('scribe-targets');
    const project = otherProject('twoplat');
    project.releases[0]!.abis = {
      'cp311-linux_aarch64': { status: 'success', buildId: 5 },
      'cp311-linux_armv7l': { status: 'fail', buildId: 6 },
    };
    const scribe = await Scribe.create({ output: dir.path, db: new FixtureDatabase([project]), now: fixedClock });
    try {
      await scribe.handle({ kind: 'BOTH', package: 'twoplat' });
      const root = parse(await readFile(join(dir.path, 'project', 'twoplat', 'index.html'), 'utf8'));
      const headers = root.querySelectorAll('table.releases thead th').map((th) => th.text.trim());
      assert.deepEqual(headers, ['Version', 'Released', 'Bookworm\nPython 3.11\n64-bit (aarch64)', 'Bookworm\nPython 3.11\n32-bit (armv7l)', 'Files']);
      const cells = root.querySelectorAll('table.releases tbody td.st').map((c) => c.classList.value.join(' '));
      assert.deepEqual(cells, ['st st-success', 'st st-fail']);
      const json = projectJsonSchema.parse(JSON.parse(await readFile(join(dir.path, 'project', 'twoplat', 'json', 'index.json'), 'utf8')));
      assert.deepEqual(Object.keys(json.releases['0.1']?.abis ?? {}), ['cp311-linux_aarch64', 'cp311-linux_armv7l']);
    } finally {
      await dir.cleanup();
    }
  });
});
