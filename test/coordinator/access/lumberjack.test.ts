import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import * as zmq from 'zeromq';
import { Lumberjack } from '../../../coordinator/access/lumberjack.ts';
import { AccessStore } from '../../../coordinator/access/access-store.ts';
import { UtcDateTime } from '../../../shared/wire/cbor.ts';
import { encodeMessage, lumberjack } from '../../../shared/wire/protocols.ts';
import { createDatabase, DIALECTS, tempDir, type TestDatabase } from '../../helpers/tool-db.ts';
import { logBuild } from '../../helpers/db.ts';

const PIP_UA =
  'pip/24.0 {"cpu":"aarch64","distro":{"name":"Debian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.11.2"},"installer":{"name":"pip","version":"24.0"},"setuptools_version":"68.1.2","system":{"name":"Linux","release":"6.6.0"}}';
const WHEEL = 'foo-1.0-py3-none-any.whl';

function line(path: string, ua: string, host = '192.0.2.10', time = '25/Nov/2026:10:00:00 +0000'): string {
  return `${host} - - [${time}] "GET ${path} HTTP/1.1" 200 100 "-" "${ua.replace(/"/g, '\\"')}"`;
}

export async function seedPackage(db: TestDatabase['db'], pkg = 'foo', version = '1.0', filename = WHEEL): Promise<void> {
  await db.addNewPackage(pkg);
  await db.addNewPackageVersion(pkg, version, new Date('2026-11-01T00:00:00Z'));
  await logBuild(db, {
    package: pkg,
    version,
    abiTag: 'cp311',
    status: true,
    duration: 1,
    slaveId: 1,
    builtAt: new Date('2026-11-02T00:00:00Z'),
    output: 'ok',
    files: [
      {
        filename,
        filesize: 100,
        filehash: 'a'.repeat(64),
        packageTag: pkg,
        packageVersionTag: version,
        pyVersionTag: 'py3',
        abiTag: 'none',
        platformTag: 'any',
        requiresPython: null,
        dependencies: { apt: [], pip: [] },
        metadataHash: null,
      },
    ],
  } as Parameters<typeof logBuild>[1]);
}

function runLogger(args: string[], stdin?: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/piw-logger.js', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function count(t: TestDatabase, table: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(t.kysely);
  return Number(r.rows[0]?.n ?? 0);
}

for (const dialect of DIALECTS) {
  describe(`lumberjack and piw-logger (${dialect})`, () => {
    let t: TestDatabase;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let jack: Lumberjack;
    let endpoint: string;

    before(async () => {
      t = await createDatabase(dialect);
      dir = await tempDir();
      await seedPackage(t.db);
      endpoint = `ipc://${join(dir.path, 'logger')}`;
      jack = new Lumberjack({ endpoint, deps: { store: new AccessStore(t.db) }, flushInterval: 0.05 });
      await jack.start();
    });

    after(async () => {
      await jack.stop();
      await t.cleanup();
      await dir.cleanup();
    });

    test('a log file and a gzipped one go into every table, bad lines skipped', async () => {
      const plain = [
        line(`/simple/foo/${WHEEL}`, PIP_UA),
        line(`/simple/foo/${WHEEL}`, 'curl/8.5.0', '2001:db8::1', '24/Nov/2026:23:59:59 +0000'),
        line('/simple/Foo/', PIP_UA),
        'this is not a log line',
        line('/project/foo/', 'Mozilla/5.0 (compatible; Googlebot/2.1)'),
        line('/project/foo/json/', 'python-requests/2.31'),
        line('/faq.html', 'Mozilla/5.0 (X11)'),
        line('/styles.css', 'Mozilla/5.0 (X11)'),
        line('/', 'Mozilla/5.0 (X11)', 'not-an-ip'),
      ].join('\n');
      const zipped = gzipSync(Buffer.from(`${line(`/simple/foo/${WHEEL}`, PIP_UA)}\n${line('/', 'Mozilla/5.0')}\n`));
      await writeFile(join(dir.path, 'access.log'), `${plain}\n`);
      await writeFile(join(dir.path, 'access.log.1.gz'), zipped);
      const result = await runLogger(['--log-queue', endpoint, join(dir.path, 'access.log'), join(dir.path, 'access.log.1.gz')]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /11 lines: 8 sent, 1 not recorded, 2 bad, 0 dropped/);
      await until(async () => (await count(t, 'web_page_hits')) === 2, 'page hits');
      await until(async () => (await count(t, 'downloads')) === 3, 'downloads');
      assert.equal(await count(t, 'searches'), 1);
      assert.equal(await count(t, 'project_page_hits'), 1);
      assert.equal(await count(t, 'project_json_downloads'), 1);

      const search = await t.kysely.selectFrom('searches').selectAll().executeTakeFirstOrThrow();
      assert.equal(search.package, 'foo');
      assert.equal(search.arch, 'aarch64');
      assert.equal(search.installer_name, 'pip');
      assert.equal(search.distro_version, '12');
      const hit = await t.kysely.selectFrom('project_page_hits').selectAll().executeTakeFirstOrThrow();
      assert.equal(hit.user_agent, 'googlebot');
      assert.equal(Boolean(Number(hit.bot)) || hit.bot === true, true);
      const page = await t.kysely.selectFrom('web_page_hits').selectAll().where('page', '=', 'faq').executeTakeFirstOrThrow();
      assert.equal(Number(page.bot), 0);

      const data = await t.db.getProjectData('foo', new Date('2026-11-25T12:00:00Z'));
      assert.equal(data?.downloadsAll, 3);
      assert.deepEqual(await t.db.verifyDerived(), []);
    });

    test('stdin works as a piped log, and an unusable format is a one-line error', async () => {
      const before = await count(t, 'web_page_hits');
      const piped = await runLogger(['--log-queue', endpoint], `${line('/json.html', 'Mozilla/5.0')}\n`);
      assert.equal(piped.code, 0, piped.stderr);
      await until(async () => (await count(t, 'web_page_hits')) === before + 1, 'piped page hit');

      const bad = await runLogger(['--log-queue', endpoint, '--format', '%h %t'], '');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^piw-logger: log format "%h %t" lacks %r/m);
      const missing = await runLogger(['--log-queue', endpoint, join(dir.path, 'nope.log')]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /cannot read log file .*nope\.log: ENOENT/);
    });

    test('garbage on the endpoint is dropped and the task keeps storing', async () => {
      const before = await count(t, 'web_page_hits');
      const push = new zmq.Push();
      push.connect(endpoint);
      await push.send(Buffer.from([0xff, 0x00, 0x13]));
      await push.send(encodeMessage(lumberjack.recv, 'LOGPAGE', ['faq', 'nonsense-host', UtcDateTime.now(), 'x']));
      await push.send(Buffer.from(encodeMessage(lumberjack.recv, 'LOGPAGE', ['faq', '192.0.2.44', UtcDateTime.now(), 'mozilla'])));
      await until(async () => (await count(t, 'web_page_hits')) === before + 1, 'the good hit after garbage');
      push.close();
      assert.equal(jack.failed, 0);
    });
  });
}

describe('piw-logger --drop', () => {
  test('with no coordinator listening it drops instead of blocking', async () => {
    const dir = await tempDir();
    try {
      const lines = Array.from({ length: 30_000 }, (_, i) => line('/faq.html', 'Mozilla/5.0', `192.0.2.${i % 250}`)).join('\n');
      const result = await runLogger(['--drop', '--log-queue', `ipc://${join(dir.path, 'nobody')}`], `${lines}\n`);
      assert.equal(result.code, 0, result.stderr);
      const m = /30000 lines: (\d+) sent, 0 not recorded, 0 bad, (\d+) dropped/.exec(result.stderr);
      assert.ok(m, result.stderr);
      assert.ok(Number(m[2]) > 0, 'some records were dropped');
      assert.equal(Number(m[1]) + Number(m[2]), 30_000);
    } finally {
      await dir.cleanup();
    }
  });
});
