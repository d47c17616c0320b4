// The output tree as clients see it: Debian's nginx with the project's config,
// pip as the real installer, plain HTTP probes for the serving rules.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Scribe } from '../../coordinator/pages/scribe.ts';
import type { FileInfo, ProjectData } from '../../shared/model.ts';
import { FixtureDatabase, sampleStats, tempDir } from '../helpers/site-fixture.ts';
import { get, startNginx, type Nginx } from '../helpers/nginx.ts';
import { pep691IndexSchema, pep691ProjectSchema, projectJsonSchema } from '../helpers/page-schemas.ts';
import { buildWheel, type BuiltWheel } from '../helpers/wheel.ts';

const run = promisify(execFile);

function fileInfo(w: BuiltWheel, buildId: number): FileInfo {
  return {
    filename: w.filename,
    hash: w.sha256,
    size: w.bytes.length,
    abiBuilder: 'cp311',
    abiFile: 'none',
    platform: 'any',
    requiresPython: '>=3.7',
    aptDependencies: [],
    pipDependencies: [],
    metadataHash: null,
    builtAt: new Date('2026-11-20T10:00:00Z'),
    buildId,
  };
}

const DEBIAN_PYTHON = '/usr/bin/python3';

function pip(args: string[], cwd: string, python = DEBIAN_PYTHON): Promise<{ stdout: string; stderr: string }> {
  // --isolated ignores pip's configuration files and PIP_* variables; the
  // empty PIP_FIND_LINKS makes sure no machine-wide wheel directory leaks in.
  return run(python, ['-m', 'pip', ...args, '--isolated', '--no-cache-dir', '--disable-pip-version-check'], {
    cwd,
    env: { ...process.env, PIP_FIND_LINKS: '', PIP_CONFIG_FILE: '/dev/null' },
  });
}

/**
 * A Python whose pip reads PEP 714 `core-metadata` from PEP 691 JSON (pip
 * 23.2 and later). Debian's pip 23.0 only uses metadata files it finds in the
 * HTML variant, which it never asks for.
 */
async function pep714Python(): Promise<string> {
  const candidates = [process.env.PIW_TEST_PYTHON, 'python3', DEBIAN_PYTHON].filter((c): c is string => Boolean(c));
  for (const python of candidates) {
    try {
      const { stdout } = await run(python, ['-m', 'pip', '--version']);
      const m = /^pip (\d+)\.(\d+)/.exec(stdout);
      if (m && (Number(m[1]) > 23 || (Number(m[1]) === 23 && Number(m[2]) >= 2))) return python;
    } catch {
      // not installed or without pip: try the next one
    }
  }
  throw new Error('no pip >= 23.2 found (set PIW_TEST_PYTHON to a Python that has one)');
}

const JSON_ACCEPT = 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01';

describe('serving the tree with nginx', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let www: string;
  let nginx: Nginx;

  before(async () => {
    dir = await tempDir('serve');
    www = join(dir.path, 'www');
    const work = join(dir.path, 'nginx');
    await mkdir(work, { recursive: true });
    const simple = join(www, 'simple', 'tinypkg');
    await mkdir(simple, { recursive: true });
    const w1 = await buildWheel(simple, 'tinypkg', '1.0', { requiresPython: '>=3.7' });
    const w2 = await buildWheel(simple, 'tinypkg', '2.0', { requiresPython: '>=3.7' });
    const project: ProjectData = {
      package: 'tinypkg',
      name: 'TinyPkg',
      builds: {},
      description: 'A tiny package',
      skip: '',
      aliases: ['TinyPkg'],
      downloadsRecent: 1,
      downloadsAll: 2,
      releases: [
        { version: '2.0', released: new Date('2026-11-20T00:00:00Z'), prerelease: false, yanked: true, skip: '', abis: { cp311: { status: 'success', buildId: 2 } }, files: { [w2.filename]: fileInfo(w2, 2) }, attempts: [], withheld: [], servedUpstream: [] },
        { version: '1.0', released: new Date('2026-11-01T00:00:00Z'), prerelease: false, yanked: false, skip: '', abis: { cp311: { status: 'success', buildId: 1 } }, files: { [w1.filename]: fileInfo(w1, 1) }, attempts: [], withheld: [], servedUpstream: [] },
      ],
    };
    const scribe = await Scribe.create({ output: www, db: new FixtureDatabase([project]) });
    await scribe.writeStaticPages();
    await scribe.handle({ kind: 'BOTH', package: 'tinypkg' });
    await scribe.handle({ kind: 'HOME', stats: sampleStats });
    await scribe.handle({ kind: 'SEARCH', entries: [{ package: 'tinypkg', description: 'A tiny package', downloadsRecent: 1, downloadsAll: 2 }] });
    await scribe.handle({ kind: 'LOG', buildId: 1, log: 'Collecting tinypkg\nBuilt wheel\n' });
    nginx = await startNginx(www, work);
  });

  after(async () => {
    await nginx?.stop();
    await dir.cleanup();
  });

  test('the simple page is HTML by default and PEP 691 JSON when asked', async () => {
    const html = await get(`${nginx.base}/simple/tinypkg/`);
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.match(String(html.headers.vary), /Accept/);
    assert.match(html.body.toString(), /tinypkg-1\.0-py3-none-any\.whl#sha256=/);
    const json = await get(`${nginx.base}/simple/tinypkg/`, { Accept: JSON_ACCEPT });
    assert.equal(json.status, 200);
    assert.equal(json.headers['content-type'], 'application/vnd.pypi.simple.v1+json');
    assert.equal(json.headers['access-control-allow-origin'], '*');
    const parsed = pep691ProjectSchema.parse(JSON.parse(json.body.toString()));
    assert.deepEqual(parsed.versions, ['1.0', '2.0']);
    const refused = await get(`${nginx.base}/simple/tinypkg/`, { Accept: 'application/vnd.pypi.simple.v1+json;q=0, text/html' });
    assert.match(String(refused.headers['content-type']), /^text\/html/);
    const root = await get(`${nginx.base}/simple/`, { Accept: 'application/vnd.pypi.simple.v1+json' });
    assert.deepEqual(pep691IndexSchema.parse(JSON.parse(root.body.toString())).projects, [{ name: 'tinypkg' }]);
  });

  test('pip downloads through the index, skips the yanked release, and reads .metadata and JSON', async () => {
    const dest = join(dir.path, 'download');
    await pip(['download', '--index-url', `${nginx.base}/simple`, '-d', dest, 'tinypkg'], dir.path, await pep714Python());
    assert.deepEqual(await readdir(dest), ['tinypkg-1.0-py3-none-any.whl']);
    const log = await readFile(nginx.accessLog, 'utf8');
    assert.match(log, /^GET \/simple\/tinypkg\/ 200 "application\/vnd\.pypi\.simple\.v1\+json"/m);
    assert.match(log, /^GET \/simple\/tinypkg\/tinypkg-1\.0-py3-none-any\.whl\.metadata 200 "text\/plain; charset=utf-8"/m);
    assert.match(log, /^GET \/simple\/tinypkg\/tinypkg-1\.0-py3-none-any\.whl 200 "application\/zip"/m);
  });

  test("Debian's pip 23.0 resolves through the JSON API without tripping on metadata keys", async () => {
    const dest = join(dir.path, 'debian');
    const before = (await readFile(nginx.accessLog, 'utf8')).length;
    await pip(['download', '--index-url', `${nginx.base}/simple`, '-d', dest, 'tinypkg'], dir.path);
    assert.deepEqual(await readdir(dest), ['tinypkg-1.0-py3-none-any.whl']);
    const log = (await readFile(nginx.accessLog, 'utf8')).slice(before);
    assert.match(log, /^GET \/simple\/tinypkg\/ 200 "application\/vnd\.pypi\.simple\.v1\+json"/m);
  });

  test('pip still installs a yanked release when pinned exactly', async () => {
    const dest = join(dir.path, 'pinned');
    await pip(['download', '--index-url', `${nginx.base}/simple`, '-d', dest, 'tinypkg==2.0'], dir.path);
    assert.deepEqual(await readdir(dest), ['tinypkg-2.0-py3-none-any.whl']);
  });

  test('pip installs into a target directory and the package imports', async () => {
    const target = join(dir.path, 'target');
    await pip(['install', '--index-url', `${nginx.base}/simple`, '--target', target, 'TinyPkg'], dir.path);
    const { stdout } = await run('/usr/bin/python3', ['-c', 'import tinypkg; print(tinypkg.VERSION)'], { env: { ...process.env, PYTHONPATH: target } });
    assert.equal(stdout.trim(), '1.0');
  });

  test('pip refuses a package the index does not have', async () => {
    await assert.rejects(pip(['download', '--index-url', `${nginx.base}/simple`, '-d', join(dir.path, 'none'), 'no-such-package'], dir.path));
  });

  test('build logs: gzip for clients that accept it, inflated for the rest', async () => {
    const gz = await get(`${nginx.base}/logs/0000/0000/0001.txt.gz`, { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(String(gz.headers['content-type']), /^text\/plain/);
    assert.equal(gunzipSync(gz.body).toString(), 'Collecting tinypkg\nBuilt wheel\n');
    const plain = await get(`${nginx.base}/logs/0000/0000/0001.txt.gz`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), 'Collecting tinypkg\nBuilt wheel\n');
  });

  test('project pages, JSON, aliases, redirect, 404 page, CORS, no listings', async () => {
    const page = await get(`${nginx.base}/project/tinypkg/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers['access-control-allow-origin'], '*');
    const json = await get(`${nginx.base}/project/tinypkg/json/`);
    assert.match(String(json.headers['content-type']), /^application\/json/);
    projectJsonSchema.parse(JSON.parse(json.body.toString()));
    const alias = await get(`${nginx.base}/project/TinyPkg/`);
    assert.equal(alias.status, 200);
    assert.deepEqual(alias.body, page.body);
    const redirect = await get(`${nginx.base}/project/`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/packages.html');
    const missing = await get(`${nginx.base}/project/nothing-here/`);
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /<h1>Not found<\/h1>/);
    const listing = await get(`${nginx.base}/logs/0000/`);
    assert.notEqual(listing.status, 200);
    const search = await get(`${nginx.base}/packages.json`);
    assert.match(String(search.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(search.body.toString()), [['tinypkg', 1, 2, 'A tiny package']]);
    const compressed = await get(`${nginx.base}/packages.json`, { 'Accept-Encoding': 'gzip' });
    assert.equal(compressed.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(compressed.body), search.body);
  });

  test('requests that try to leave the tree get nothing from outside it', async () => {
    for (const path of ['/simple/../../etc/passwd', '/simple/%2e%2e/%2e%2e/etc/passwd', '/logs/../../../etc/hostname']) {
      const res = await get(`${nginx.base}${path}`);
      assert.ok([400, 404].includes(res.status), `${path} gave ${res.status}`);
      assert.doesNotMatch(res.body.toString(), /root:/);
    }
  });
});
