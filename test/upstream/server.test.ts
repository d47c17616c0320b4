import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseDistFilename, UpstreamServer, SYSTEM_WHEELS_DIR } from '../../upstream/server.ts';
import { SyntheticLog, readNames } from '../../upstream/synthetic.ts';
import { startFromArgs } from '../../upstream/cli.ts';
import { UserError } from '../../shared/cli.ts';

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('piw-upstream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-upstream-'));
  writeFileSync(join(dir, 'demo_pkg-0.1.tar.gz'), 'sdist bytes');
  writeFileSync(join(dir, 'demo_pkg-0.1-py3-none-any.whl'), 'wheel bytes');
  writeFileSync(join(dir, 'README.txt'), 'not a distribution');
  const server = new UpstreamServer({ dir });
  let url = '';

  before(async () => {
    url = await server.start();
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('announces the directory\'s files in the changelog', () => {
    assert.equal(server.serial, 3);
  });

  test('serves a PEP 503 page with hashes that match the files', async () => {
    const page = await (await fetch(`${url}/simple/demo-pkg/`)).text();
    const links = [...page.matchAll(/href="([^"#]+)#sha256=([0-9a-f]{64})"/g)];
    assert.equal(links.length, 2);
    for (const [, href, hash] of links) {
      const bytes = Buffer.from(await (await fetch(`${url}${href}`)).arrayBuffer());
      assert.equal(createHash('sha256').update(bytes).digest('hex'), hash);
    }
    const redirect = await fetch(`${url}/simple/Demo_Pkg/`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal((await fetch(`${url}/simple/absent/`)).status, 404);
    assert.match(await (await fetch(`${url}/simple/`)).text(), /href="\/simple\/demo-pkg\/"/);
  });

  test('scripted events through the admin endpoint, with yanks shown on the page', async () => {
    const content = Buffer.from('real content').toString('base64');
    let r = await post(`${url}/admin/upload`, { name: 'Scripted', version: '2.0', content, summary: 'A scripted one', timestamp: 500 });
    assert.equal(r.status, 200);
    assert.equal(r.json.serial, 5, 'create then upload');
    r = await post(`${url}/admin/yank`, { name: 'scripted', version: '2.0', timestamp: 400 });
    assert.equal(r.json.serial, 6);
    assert.match(await (await fetch(`${url}/simple/scripted/`)).text(), /data-yanked=""/);
    const json = (await (await fetch(`${url}/pypi/scripted/json`)).json()) as { info: { summary: string }; releases: Record<string, Array<{ yanked: boolean }>> };
    assert.equal(json.info.summary, 'A scripted one');
    assert.equal(json.releases['2.0']?.[0]?.yanked, true);
    r = await post(`${url}/admin/remove`, { name: 'scripted' });
    assert.equal((await fetch(`${url}/pypi/scripted/json`)).status, 404);
  });

  test('a withheld file answers 404 until its time while the index still lists it', async () => {
    const r = await post(`${url}/admin/withhold`, { filename: 'demo_pkg-0.1.tar.gz', until: Date.now() + 3_600_000 });
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${url}/files/demo_pkg-0.1.tar.gz`)).status, 404);
    assert.match(await (await fetch(`${url}/simple/demo-pkg/`)).text(), /demo_pkg-0\.1\.tar\.gz/);
    assert.equal((await fetch(`${url}/files/demo_pkg-0.1-py3-none-any.whl`)).status, 200, 'other files are served');
    server.withhold('demo_pkg-0.1.tar.gz', Date.now() - 1);
    assert.equal((await fetch(`${url}/files/demo_pkg-0.1.tar.gz`)).status, 200, 'served once the time has come');
    assert.equal((await post(`${url}/admin/withhold`, { filename: '../x', until: 1 })).status, 400);
    assert.equal((await post(`${url}/admin/withhold`, { filename: 'x.tar.gz', until: -1 })).status, 400);
    assert.equal((await post(`${url}/admin/withhold`, { filename: 'x.tar.gz' })).status, 400);
  });

  test("one release's JSON lists its files as PyPI does: hash, type, upload time", async () => {
    type Release = { info: { version: string }; urls: Array<{ filename: string; digests: { sha256: string }; packagetype: string; upload_time_iso_8601: string; requires_python: null }> };
    const release = (await (await fetch(`${url}/pypi/Demo_Pkg/0.1/json`)).json()) as Release;
    assert.equal(release.info.version, '0.1');
    const byName = new Map(release.urls.map((u) => [u.filename, u]));
    assert.deepEqual([...byName.keys()].sort(), ['demo_pkg-0.1-py3-none-any.whl', 'demo_pkg-0.1.tar.gz']);
    const wheel = byName.get('demo_pkg-0.1-py3-none-any.whl')!;
    assert.equal(wheel.packagetype, 'bdist_wheel');
    assert.equal(wheel.digests.sha256, createHash('sha256').update('wheel bytes').digest('hex'));
    assert.match(wheel.upload_time_iso_8601, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(byName.get('demo_pkg-0.1.tar.gz')?.packagetype, 'sdist');
    assert.equal((await fetch(`${url}/pypi/demo-pkg/9.9/json`)).status, 404, 'unknown release');
    assert.equal((await fetch(`${url}/pypi/absent/0.1/json`)).status, 404, 'unknown project');
  });

  test('refuses bad admin requests with a reason', async () => {
    assert.equal((await post(`${url}/admin/upload`, { name: 'x' })).status, 400);
    assert.equal((await post(`${url}/admin/explode`, {})).status, 400);
    assert.equal((await post(`${url}/admin/create`, 'not json')).status, 400);
    const unsafe = await post(`${url}/admin/upload`, { name: 'x', version: '1', filename: '../etc/passwd' });
    assert.equal(unsafe.status, 409);
    assert.match(String(unsafe.json.error), /unsafe/);
  });

  test('answers XML-RPC faults for unknown methods and bad parameters', async () => {
    const call = (body: string) => fetch(`${url}/pypi`, { method: 'POST', body }).then((r) => r.text());
    assert.match(await call('<methodCall><methodName>nope</methodName></methodCall>'), /-32601/);
    assert.match(await call('<methodCall><methodName>changelog_since_serial</methodName><params><param><value><string>x</string></value></param></params></methodCall>'), /-32602/);
    assert.match(await call('garbage'), /-32700/);
    assert.match(await call('<methodCall><methodName>changelog_last_serial</methodName></methodCall>'), /<int>\d+<\/int>/);
  });

  test('serves Debian\'s setuptools wheel', async () => {
    const wheel = readdirSync(SYSTEM_WHEELS_DIR).find((n) => n.startsWith('setuptools-'));
    assert.ok(wheel, 'python3-setuptools-whl is installed');
    assert.match(await (await fetch(`${url}/simple/setuptools/`)).text(), new RegExp(wheel.replace(/\./g, '\\.')));
  });

  test('real pip downloads setuptools from it, offline', async () => {
    const dest = mkdtempSync(join(tmpdir(), 'piw-pip-'));
    try {
      // Asynchronously: the server answering pip lives in this process.
      const pip = spawn(
        '/usr/bin/python3',
        ['-m', 'pip', 'download', '--isolated', '--no-deps', '--disable-pip-version-check', '--index-url', `${url}/simple`, '--dest', dest, 'setuptools'],
        { env: { ...process.env, PIP_FIND_LINKS: '', PIP_CONFIG_FILE: '/dev/null' }, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      pip.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [status] = (await once(pip, 'exit')) as [number];
      assert.equal(status, 0, stderr);
      const files = readdirSync(dest);
      assert.equal(files.length, 1);
      assert.match(files[0] as string, /^setuptools-.*\.whl$/);
      assert.deepEqual(readFileSync(join(dest, files[0] as string)), readFileSync(join(SYSTEM_WHEELS_DIR, files[0] as string)));
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  });
});

describe('distribution filenames', () => {
  test('sdists and wheels give name and version; anything else null', () => {
    assert.deepEqual(parseDistFilename('foo_bar-1.2.tar.gz'), { name: 'foo_bar', version: '1.2', packagetype: 'sdist', pyTag: 'source' });
    assert.equal(parseDistFilename('foo-1.0-py3-none-any.whl')?.pyTag, 'py3');
    assert.equal(parseDistFilename('foo.txt'), null);
    assert.equal(parseDistFilename('foo-1.0-bad.whl'), null);
  });
});

describe('synthetic history', () => {
  test('is deterministic, gap-free, and creates each package before other events', () => {
    const log = new SyntheticLog(['a', 'b', 'c'], 1000, 3);
    const rows = log.since(0, 5000);
    assert.equal(rows.length, 1000);
    assert.deepEqual(rows.map((r) => r.serial), Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.deepEqual(rows.slice(0, 2).map((r) => r.action), ['create', 'add source file a-1.0.tar.gz']);
    assert.deepEqual(new SyntheticLog(['a', 'b', 'c'], 1000, 3).since(500, 10), rows.slice(500, 510));
    assert.ok(rows.some((r, i) => i > 0 && r.timestamp < (rows[i - 1] as { timestamp: number }).timestamp), 'some timestamps go backwards');
    assert.deepEqual(log.since(998, 10).map((r) => r.serial), [999, 1000]);
  });

  test('reads names from the TSV layout or plain lines', () => {
    assert.deepEqual(readNames('name\tversion\nfoo\t1.0\nbar\t2.0\n'), ['foo', 'bar']);
    assert.deepEqual(readNames('foo\n\nbar\n'), ['foo', 'bar']);
  });
});

describe('piw-upstream command line', () => {
  test('refuses a missing directory and --synthetic without names', async () => {
    await assert.rejects(startFromArgs(['--dir', '/nonexistent/dir']), UserError);
    await assert.rejects(startFromArgs(['--synthetic', '10']), /--names/);
    await assert.rejects(startFromArgs(['--port', 'abc']));
  });

  test('the bin prints its URL and serves until SIGTERM', async () => {
    const names = join(mkdtempSync(join(tmpdir(), 'piw-names-')), 'names.txt');
    writeFileSync(names, 'alpha\nbeta\n');
    const child = spawn(process.execPath, ['bin/piw-upstream.js', '--synthetic', '10', '--names', names, '--no-system-wheels'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    assert.match(line, /^http:\/\/127\.0\.0\.1:\d+$/);
    const body = await (await fetch(`${line}/pypi`, { method: 'POST', body: '<methodCall><methodName>changelog_last_serial</methodName></methodCall>' })).text();
    assert.match(body, /<int>10<\/int>/);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
  });
});
