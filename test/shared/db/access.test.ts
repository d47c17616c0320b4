// The pure pieces of the bulk access-log path: rows checked and cut to their
// columns, COPY's text format, timestamps, the bounded cache and the batch
// builder piw-logger sends with.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileLogFormat, LogBatchBuilder, processLine, type LogRecord } from '../../../coordinator/access/access-log.ts';
import { BoundedCache } from '../../../shared/cache.ts';
import { accessRows, copyText, emptyBatch } from '../../../shared/db/access.ts';
import { sanitize, toDbTimestamp } from '../../../shared/db/values.ts';

const at = new Date('2026-11-25T10:00:00.250Z');

describe('access rows', () => {
  test('each record becomes its table row, cut to the columns and cleaned', () => {
    const tables = accessRows({
      ...emptyBatch(),
      downloads: [{ filename: 'a-1-py3-none-any.whl', host: '192.0.2.1', timestamp: at, installerName: 'p'.repeat(30), arch: null }],
      pages: [{ page: 'faq', host: '2001:db8::1', timestamp: at, userAgent: 'x\x07y', bot: true }],
    });
    assert.deepEqual(tables.map((t) => t.table), ['downloads', 'web_page_hits']);
    const [download] = tables[0]!.rows;
    assert.deepEqual(download!.slice(0, 3), ['a-1-py3-none-any.whl', '192.0.2.1', '2026-11-25 10:00:00.250']);
    assert.equal(download![tables[0]!.columns.indexOf('installer_name')], 'p'.repeat(20));
    assert.deepEqual(tables[1]!.rows[0], ['faq', '2001:db8::1', '2026-11-25 10:00:00.250', 'x\ufffdy', 1]);
  });

  test('a bad record refuses the batch, naming it', () => {
    const good = { filename: 'a.whl', host: '192.0.2.1', timestamp: at };
    assert.throws(() => accessRows({ ...emptyBatch(), downloads: [good, { ...good, host: 'example.org' }] }), /^RangeError: download 1: not an IP address: "example.org"$/);
    assert.throws(() => accessRows({ ...emptyBatch(), pages: [{ page: 'p'.repeat(31), host: '192.0.2.1', timestamp: at }] }), /page hit 0: page: Too big/);
    assert.throws(() => accessRows({ ...emptyBatch(), searches: [{ package: 'x', host: '192.0.2.1', timestamp: new Date('nope') }] }), /search 0: timestamp/);
    assert.deepEqual(accessRows(emptyBatch()), []);
  });

  test("COPY's text format escapes what would split a row or a column", () => {
    assert.equal(copyText([['a\tb', null, 3], ['c\\d\ne\rf', 'plain', 0]]), 'a\\tb\t\\N\t3\nc\\\\d\\ne\\rf\tplain\t0\n');
  });
});

describe('values', () => {
  test('timestamps read as the ISO form does, for any day', () => {
    for (const ms of [0, -1, 951_782_400_000, 951_868_799_999, 1_795_600_000_123, 253_402_300_799_999, -62_135_596_800_000]) {
      const date = new Date(ms);
      assert.equal(toDbTimestamp(date), date.toISOString().replace('T', ' ').slice(0, 23), String(ms));
    }
    assert.throws(() => toDbTimestamp(new Date(253_402_300_800_000)), /year 10000/);
    assert.throws(() => toDbTimestamp(new Date(Number.NaN)), /invalid date/);
  });

  test('control characters become U+FFFD; tabs and newlines stay', () => {
    assert.equal(sanitize('a\x00b\x7fc\td\ne'), 'a\ufffdb\ufffdc\td\ne');
    assert.equal(sanitize(null), null);
  });
});

describe('bounded cache', () => {
  test('keeps what is used, forgets the rest, never holds more than twice its size', () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    assert.equal(cache.get('a'), 1, 'in the older generation, and moved back');
    cache.set('d', 4);
    cache.set('e', 5);
    assert.equal(cache.get('b'), undefined, 'not used since two generations');
    assert.ok(cache.size <= 4);
    assert.throws(() => new BoundedCache(0), RangeError);
  });
});

describe('batch builder', () => {
  test("records grouped by kind, each agent's pip details sent once", () => {
    const parser = compileLogFormat('combined');
    const pip = (cpu: string) => `pip/24.0 {"cpu":"${cpu}","installer":{"name":"pip","version":"24.0"}}`.replace(/"/g, '\\"');
    const line = (path: string, ua: string) => `192.0.2.7 - - [25/Nov/2026:10:00:00 +0000] "GET ${path} HTTP/1.1" 200 1 "-" "${ua}"`;
    const builder = new LogBatchBuilder();
    for (const l of [
      line('/simple/a/a-1-py3-none-any.whl', pip('armv7l')),
      line('/simple/a/', pip('aarch64')),
      line('/simple/b/b-1-py3-none-any.whl', pip('armv7l')),
      line('/faq.html', 'Mozilla/5.0 (compatible; Googlebot/2.1)'),
    ]) {
      const outcome = processLine(parser, l);
      assert.equal(outcome.kind, 'record');
      builder.add((outcome as { record: LogRecord }).record);
    }
    assert.equal(builder.size, 4);
    const [clients, downloads, searches, projects, json, pages] = builder.take();
    assert.deepEqual(clients.map((c) => c[0]), ['armv7l', 'aarch64']);
    const when = Date.UTC(2026, 10, 25, 10) / 1000;
    assert.deepEqual(downloads, [['a-1-py3-none-any.whl', '192.0.2.7', when, 0], ['b-1-py3-none-any.whl', '192.0.2.7', when, 0]]);
    assert.deepEqual(searches, [['a', '192.0.2.7', when, 1]]);
    assert.deepEqual([projects, json], [[], []]);
    assert.deepEqual(pages, [['faq', '192.0.2.7', when, 'googlebot']]);
    assert.equal(builder.size, 0);
    assert.deepEqual(builder.take(), [[], [], [], [], [], []]);
  });
});
