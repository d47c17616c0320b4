// Access logs: the records checked and cut to their table rows, COPY's
// text format, and every kind of access stored once per dialect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessRows, copyText, emptyBatch } from '../../../shared/db/access.ts';
import {
  DIALECTS,
  useFreshDatabase,
  logBuild,
  logDownload,
  logDownloads,
  logJson,
  logPage,
  logProject,
  logSearch,
} from '../../helpers/db.ts';
import { addVersions, assertConsistent, build, wheel } from '../../helpers/db-records.ts';

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

for (const dialect of DIALECTS) {
  describe(`access logs (${dialect})`, () => {
    const now = new Date('2026-06-30T12:00:00Z');
    const s = useFreshDatabase(dialect);

    test('each log lands in its table; bad addresses are refused', async () => {
      const count = async (table: 'downloads' | 'searches' | 'project_page_hits' | 'project_json_downloads' | 'web_page_hits') =>
        Number((await s.t.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst())?.n ?? 0);
      const before = {
        searches: await count('searches'),
        project: await count('project_page_hits'),
        json: await count('project_json_downloads'),
        page: await count('web_page_hits'),
      };
      await logSearch(s.db, { package: 'numpy', host: '192.0.2.7', timestamp: now, installerName: 'pip', installerVersion: '24.0' });
      await logProject(s.db, { package: 'numpy', host: '2001:db8::7', timestamp: now, userAgent: 'Mozilla\x07' });
      await logJson(s.db, { package: 'numpy', host: '192.0.2.7', timestamp: now, userAgent: null });
      await logPage(s.db, { page: 'faq.html', host: '192.0.2.7', timestamp: now, userAgent: 'x'.repeat(3000) });
      assert.equal(await count('searches'), before.searches + 1);
      assert.equal(await count('project_page_hits'), before.project + 1);
      assert.equal(await count('project_json_downloads'), before.json + 1);
      assert.equal(await count('web_page_hits'), before.page + 1);
      const ua = await s.t.kysely.selectFrom('project_page_hits').select('user_agent').where('package', '=', 'numpy').executeTakeFirst();
      assert.equal(ua?.user_agent, 'Mozilla\ufffd');
      await assert.rejects(logSearch(s.db, { package: 'numpy', host: 'not-an-ip', timestamp: now }), /not an IP address/);
      await assert.rejects(logPage(s.db, { page: '', host: '192.0.2.7', timestamp: now }));
      await assert.rejects(logDownload(s.db, { filename: 'x.whl', host: '192.0.2.7', timestamp: new Date('nope') }));
    });

    test('a batch lands whole, counted per package and day; a bad record refuses it all', async () => {
      await addVersions(s.db, 'batched', ['1.0']);
      const file = wheel('batched', '1.0', 'none');
      await logBuild(s.db, build('batched', '1.0', 'cp39', [file]));
      const now = new Date('2026-06-30T12:00:00Z');
      const batch = Array.from({ length: 1200 }, (_, i) => ({
        filename: i % 3 === 0 ? 'not-ours-1.0-py3-none-any.whl' : file.filename,
        host: '192.0.2.5',
        timestamp: new Date(now.getTime() - (i % 40) * 86_400_000),
      }));
      await logDownloads(s.db, batch);
      const data = await s.db.getProjectData('batched', now);
      assert.equal(data?.downloadsAll, 800);
      assert.equal(data?.downloadsRecent, batch.filter((d, i) => i % 3 !== 0 && now.getTime() - d.timestamp.getTime() < 30 * 86_400_000).length);
      await assert.rejects(logDownloads(s.db, [batch[1]!, { ...batch[1]!, host: 'nope' }]));
      assert.equal((await s.db.getProjectData('batched', now))?.downloadsAll, 800);
      await logDownloads(s.db, []);
      await assertConsistent(s.db);
    });
  });
}
