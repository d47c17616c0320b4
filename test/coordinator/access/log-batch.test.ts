// The batched logger path (piw-logger's LOGBATCH, the Lumberjack's bulk
// writes) against piwheels' one message per record: the same rows and
// counters either way, bad batches refused whole with nothing else lost,
// records buffered at shutdown stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { pino, type Logger } from 'pino';
import * as zmq from 'zeromq';
import { Lumberjack, isRecordError } from '../../../coordinator/access/lumberjack.ts';
import { AccessStore } from '../../../coordinator/access/access-store.ts';
import { UtcDateTime, encodeCbor } from '../../../shared/wire/cbor.ts';
import { MAX_LOG_BATCH, ProtocolError, decodeMessage, encodeMessage, lumberjack, reverse, type DataOf } from '../../../shared/wire/protocols.ts';
import { createDatabase, DIALECTS, tempDir, type TestDatabase } from '../../helpers/tool-db.ts';
import { seedPackage } from './lumberjack.test.ts';
import { runTool } from '../../helpers/tool-harness.ts';

type LogBatch = DataOf<typeof lumberjack.recv, 'LOGBATCH'>;
const send = reverse(lumberjack).send;

const PIP_UA = (cpu: string) =>
  `pip/24.0 {"cpu":"${cpu}","distro":{"name":"Debian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.11.2"},"installer":{"name":"pip","version":"24.0"},"setuptools_version":"68.1.2","system":{"name":"Linux","release":"6.6.0"}}`;
const WHEEL = 'foo-1.0-py3-none-any.whl';
const OTHER = 'bar-2.0-py3-none-any.whl';

function line(path: string, ua: string, host: string, time: string): string {
  return `${host} - - [${time}] "GET ${path} HTTP/1.1" 200 100 "-" "${ua.replace(/"/g, '\\"')}"`;
}

/** A log with every kind of record, agents repeating and not, on several days. */
function sampleLog(): string {
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const host = i % 7 === 0 ? `2001:db8::${i}` : `192.0.2.${i}`;
    const time = `${String(20 + (i % 5)).padStart(2, '0')}/Nov/2026:${String(i % 24).padStart(2, '0')}:00:${String(i % 60).padStart(2, '0')} +0100`;
    const ua = PIP_UA(['armv7l', 'aarch64', 'armv6l'][i % 3]!);
    lines.push(line(`/simple/foo/${WHEEL}`, ua, host, time));
    if (i % 2 === 0) lines.push(line(`/simple/bar/${OTHER}`, 'curl/8.5.0', host, time));
    if (i % 3 === 0) lines.push(line('/simple/Foo_Bar/', ua, host, time));
    if (i % 4 === 0) lines.push(line('/project/foo/', i % 8 === 0 ? 'Mozilla/5.0 (compatible; Googlebot/2.1)' : 'Mozilla/5.0 (X11)', host, time));
    if (i % 5 === 0) lines.push(line('/project/foo/json/', 'python-requests/2.31', host, time));
    if (i % 6 === 0) lines.push(line(i % 12 === 0 ? '/' : '/faq.html', 'Mozilla/5.0 (compatible; bingbot/2.0)', host, time));
  }
  lines.push('not a log line');
  return `${lines.join('\n')}\n`;
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const ACCESS_TABLES = ['downloads', 'searches', 'project_page_hits', 'project_json_downloads', 'web_page_hits'] as const;
const COUNTER_TABLES = ['package_downloads', 'download_counts', 'downloads_daily'] as const;

/** Every row of the access and counter tables, as sorted text, for comparing two databases. */
async function contents(t: TestDatabase): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of [...ACCESS_TABLES, ...COUNTER_TABLES]) {
    const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(table)}`.execute(t.kysely);
    // booleans come back as true/false (PostgreSQL) or 1/0 (SQLite)
    out[table] = rows.rows.map((r) => JSON.stringify(Object.values(r).map((v) => (v === null ? null : String(typeof v === 'boolean' ? Number(v) : v))))).sort();
  }
  return out;
}

async function count(t: TestDatabase, table: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(t.kysely);
  return Number(r.rows[0]?.n ?? 0);
}

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const NOW = () => Date.UTC(2026, 10, 25, 10) / 1000;
const CLIENT: LogBatch[0][number] = ['armv7l', 'Raspbian GNU/Linux', '12', 'Linux', '6.1', 'CPython', '3.11.2', 'pip', '23.0.1', null];

function batch(parts: Partial<{ clients: LogBatch[0]; downloads: LogBatch[1]; searches: LogBatch[2]; pages: LogBatch[5] }>): LogBatch {
  return [parts.clients ?? [CLIENT], parts.downloads ?? [], parts.searches ?? [], [], [], parts.pages ?? []];
}

describe('LOGBATCH on the wire', () => {
  test('round trip: the records come back as sent', () => {
    const data = batch({
      downloads: [[WHEEL, '192.0.2.1', NOW() + 0.25, 0]],
      searches: [['foo', '2001:db8::1', NOW(), 0]],
      pages: [['faq', '192.0.2.2', NOW(), 'mozilla']],
    });
    assert.deepEqual(decodeMessage(lumberjack.recv, encodeMessage(send, 'LOGBATCH', data)), { msg: 'LOGBATCH', data });
  });

  test('a malformed record or an over-long batch is refused with a clear error', () => {
    const wrongHost = [[CLIENT], [[WHEEL, 7, NOW(), 0]], [], [], [], []];
    assert.throws(
      () => decodeMessage(lumberjack.recv, rawEncode(wrongHost)),
      (error: unknown) => error instanceof ProtocolError && error.kind === 'invalid-data' && /LOGBATCH: 1\.0\.1: .*string/.test(error.message),
    );
    const tooMany = batch({ downloads: Array.from({ length: MAX_LOG_BATCH + 1 }, () => [WHEEL, '192.0.2.1', NOW(), 0] as LogBatch[1][number]) });
    assert.throws(
      () => encodeMessage(send, 'LOGBATCH', tooMany),
      (error: unknown) => error instanceof ProtocolError && /LOGBATCH: 1: Too big: expected array to have <=10000 items/.test(error.message),
    );
  });
});

/** A LOGBATCH our schemas would not let us send. */
function rawEncode(data: unknown): Buffer {
  return encodeCbor(['LOGBATCH', data]);
}

test('isRecordError: validation and refused values, not outages', () => {
  assert.equal(isRecordError(new RangeError('download 3: not an IP address')), true);
  assert.equal(isRecordError(Object.assign(new Error('invalid input syntax for type inet'), { code: '22P02' })), true);
  assert.equal(isRecordError(Object.assign(new Error('duplicate key'), { code: '23505' })), true);
  assert.equal(isRecordError(Object.assign(new Error('terminating connection'), { code: '57P01' })), false);
  assert.equal(isRecordError(new Error('connect ECONNREFUSED')), false);
  assert.equal(isRecordError('nope'), false);
});

for (const dialect of DIALECTS) {
  describe(`batched and single records store the same (${dialect})`, () => {
    let dir: Awaited<ReturnType<typeof tempDir>>;
    const sides: Array<{ t: TestDatabase; jack: Lumberjack }> = [];

    before(async () => {
      dir = await tempDir();
      for (const name of ['single', 'batch']) {
        const t = await createDatabase(dialect);
        await seedPackage(t.db);
        await seedPackage(t.db, 'bar', '2.0', OTHER);
        const jack = new Lumberjack({ endpoint: `ipc://${join(dir.path, name)}`, deps: { store: new AccessStore(t.db) }, flushInterval: 0.05 });
        await jack.start();
        sides.push({ t, jack });
      }
    });

    after(async () => {
      for (const { t, jack } of sides) {
        await jack.stop();
        await t.cleanup();
      }
      await dir.cleanup();
    });

    test('piw-logger --no-batch and piw-logger (LOGBATCH) give the same rows and counters', async () => {
      const log = join(dir.path, 'access.log');
      await writeFile(log, sampleLog());
      const [single, batched] = sides as [(typeof sides)[0], (typeof sides)[0]];
      const a = await runTool('logger', ['--no-batch', '--log-queue', single.jack.endpoint!, log]);
      const b = await runTool('logger', ['--log-queue', batched.jack.endpoint!, log]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const summary = /(\d+) lines: (\d+) sent, 0 not recorded, 1 bad, 0 dropped/;
      const [, lines, sent] = summary.exec(a.stderr) ?? assert.fail(a.stderr);
      assert.match(b.stderr, new RegExp(`${lines} lines: ${sent} sent, 0 not recorded, 1 bad, 0 dropped`));
      await until(() => single.jack.stored === Number(sent) && batched.jack.stored === Number(sent), 'both sides stored');
      const left = await contents(single.t);
      assert.equal(left.downloads!.length, 90);
      assert.equal(left.web_page_hits!.length, 10);
      assert.ok(left.project_page_hits!.some((r) => r.includes('"googlebot","1"')), 'a crawler is marked as one');
      assert.deepEqual(await contents(batched.t), left);
      for (const { t } of sides) {
        assert.deepEqual(await t.db.verifyDerived(), []);
        assert.equal((await t.db.getProjectData('foo', new Date('2026-11-30T00:00:00Z')))?.downloadsAll, 60);
      }
    });
  });

  describe(`bad batches (${dialect})`, () => {
    let t: TestDatabase;
    let dir: Awaited<ReturnType<typeof tempDir>>;
    let jack: Lumberjack;
    let lines: string[];
    let push: zmq.Push;

    before(async () => {
      t = await createDatabase(dialect);
      dir = await tempDir();
      await seedPackage(t.db);
      const recorder = recordingLogger();
      lines = recorder.lines;
      jack = new Lumberjack({ endpoint: `ipc://${join(dir.path, 'logger')}`, logger: recorder.logger, deps: { store: new AccessStore(t.db) }, flushInterval: 0.05 });
      await jack.start();
      push = new zmq.Push();
      push.connect(jack.endpoint!);
    });

    after(async () => {
      push.close();
      await jack.stop();
      await t.cleanup();
      await dir.cleanup();
    });

    const page = (name: string, host = '192.0.2.9'): LogBatch[5][number] => [name, host, NOW(), 'mozilla'];

    test('a batch with one bad record is refused whole, with a clear reason; the others are stored', async () => {
      const before = await count(t, 'web_page_hits');
      await push.send(encodeMessage(send, 'LOGBATCH', batch({ pages: [page('faq')] })));
      await push.send(encodeMessage(send, 'LOGBATCH', batch({ pages: [page('faq'), page('faq', 'not-an-address'), page('faq')] })));
      await push.send(encodeMessage(send, 'LOGBATCH', batch({ downloads: [[WHEEL, '192.0.2.1', NOW(), 3]] })));
      await push.send(rawEncode(batch({ downloads: Array.from({ length: MAX_LOG_BATCH + 1 }, () => [WHEEL, '192.0.2.1', NOW(), 0] as LogBatch[1][number]) })));
      await push.send(encodeMessage(send, 'LOGBATCH', batch({ pages: [page('json'), page('stats')] })));
      await until(async () => (await count(t, 'web_page_hits')) === before + 3, 'the good batches');
      assert.equal(await count(t, 'downloads'), 0);
      assert.equal(jack.failed, 0);
      const warnings = lines.join('');
      assert.match(warnings, /pages 1: client \\"not-an-address\\" is not an IP address; none of the batch's 3 records kept/);
    });

    test('a record the store refuses costs only its own message', async () => {
      // four messages written together: the store refuses the batch, then takes it in halves
      const recorder = recordingLogger();
      const together = new Lumberjack({ endpoint: `ipc://${join(dir.path, 'together')}`, logger: recorder.logger, deps: { store: new AccessStore(t.db) }, flushInterval: 3600, batchSize: 4 });
      await together.start();
      const pusher = new zmq.Push();
      pusher.connect(together.endpoint!);
      try {
        const before = await count(t, 'web_page_hits');
        // a page name longer than the column passes the endpoint's checks but not the data layer's
        for (const name of ['faq', 'x'.repeat(40), 'stats', 'json']) {
          await pusher.send(encodeMessage(lumberjack.recv, 'LOGPAGE', [name, '192.0.2.7', UtcDateTime.fromEpoch(NOW()), 'mozilla']));
        }
        await until(() => together.stored + together.failed === 4, 'the four records');
        assert.equal(together.failed, 1);
        assert.equal(await count(t, 'web_page_hits'), before + 3);
        assert.match(recorder.lines.join(''), /store refused: page hit 0: page: Too big/);
      } finally {
        pusher.close();
        await together.stop();
      }
    });
  });

  test(`records buffered at shutdown are stored (${dialect})`, async () => {
    const t = await createDatabase(dialect);
    const dir = await tempDir();
    try {
      await seedPackage(t.db);
      // nothing would flush for an hour, nor before 1000 records
      const jack = new Lumberjack({ endpoint: `ipc://${join(dir.path, 'logger')}`, deps: { store: new AccessStore(t.db) }, flushInterval: 3600, batchSize: 1000 });
      await jack.start();
      // periodic handlers first run at start: let that flush pass (a later timer fires after it)
      await new Promise((resolve) => setTimeout(resolve, 10));
      const push = new zmq.Push();
      push.connect(jack.endpoint!);
      await push.send(encodeMessage(send, 'LOGBATCH', batch({ downloads: [[WHEEL, '192.0.2.1', NOW(), 0], [WHEEL, '192.0.2.2', NOW(), 0]] })));
      await push.send(encodeMessage(lumberjack.recv, 'LOGPAGE', ['faq', '192.0.2.7', UtcDateTime.fromEpoch(NOW()), 'mozilla']));
      await until(() => jack.pending === 3, 'the records to arrive');
      assert.equal(await count(t, 'downloads'), 0, 'nothing written yet');
      push.close();
      await jack.stop();
      assert.equal(await count(t, 'downloads'), 2);
      assert.equal(await count(t, 'web_page_hits'), 1);
      assert.equal((await t.db.getProjectData('foo', new Date('2026-11-25T12:00:00Z')))?.downloadsAll, 2);
    } finally {
      await t.cleanup();
      await dir.cleanup();
    }
  });
}
