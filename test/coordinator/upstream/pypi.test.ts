import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PyPIClient,
  UpstreamError,
  parseChangelog,
  parseReleaseFiles,
  truncateDescription,
  USER_AGENT,
} from '../../../coordinator/upstream/pypi.ts';
import { UpstreamServer } from '../../../upstream/server.ts';

const fastOptions = { timeoutMs: 500, retries: 3, backoffMs: 5, maxBackoffMs: 20 };

describe('changelog responses', () => {
  test('validates rows one by one, keeping the good ones and the highest serial', () => {
    const batch = parseChangelog([
      ['foo', null, 10, 'create', 1],
      ['foo', 3, 10, 'create', 2],
      'junk',
      ['bar', '1.0', -5, 'create', 4],
      ['baz', '1.0', 11, 'add source file baz-1.0.tar.gz', 5],
    ]);
    assert.deepEqual(batch.rows.map((r) => r.serial), [1, 5]);
    assert.deepEqual(batch.rejected.map((r) => r.index), [1, 2, 3]);
    assert.equal(batch.lastSerial, 5);
    assert.throws(() => parseChangelog({ not: 'an array' }), UpstreamError);
  });
});

describe('release JSON', () => {
  const HASH = 'Ab'.repeat(32);
  const entry = (extra: Record<string, unknown> = {}) => ({
    filename: 'foo-1.0-py3-none-any.whl',
    packagetype: 'bdist_wheel',
    digests: { sha256: HASH, md5: 'x' },
    upload_time_iso_8601: '2024-01-02T03:04:05.123456Z',
    requires_python: '>=3.8',
    size: 10,
    ...extra,
  });

  test('keeps the wheels, with a lower-case hash, Requires-Python and upload time', () => {
    const files = parseReleaseFiles('foo', '1.0', {
      info: { name: 'foo' },
      urls: [entry(), entry({ filename: 'foo-1.0.tar.gz', packagetype: 'sdist' }), entry({ filename: 'foo-1.0-cp311-cp311-linux_aarch64.whl', requires_python: null })],
    });
    assert.deepEqual(files, [
      { filename: 'foo-1.0-py3-none-any.whl', filehash: HASH.toLowerCase(), requiresPython: '>=3.8', uploadedAt: new Date('2024-01-02T03:04:05.123Z') },
      { filename: 'foo-1.0-cp311-cp311-linux_aarch64.whl', filehash: HASH.toLowerCase(), requiresPython: null, uploadedAt: new Date('2024-01-02T03:04:05.123Z') },
    ]);
    assert.deepEqual(parseReleaseFiles('foo', '1.0', { urls: [] }), []);
    const long = parseReleaseFiles('foo', '1.0', { urls: [entry({ requires_python: '>=3.8,'.repeat(40) }), entry({ filename: 'foo-1.0-py2-none-any.whl', requires_python: undefined })] });
    assert.deepEqual(long.map((f) => f.requiresPython), [null, null], 'too long or absent: not kept');
    const offset = parseReleaseFiles('foo', '1.0', { urls: [entry({ upload_time_iso_8601: '2024-01-02T05:04:05+02:00' })] });
    assert.deepEqual(offset[0]?.uploadedAt, new Date('2024-01-02T03:04:05Z'));
  });

  test('one bad entry spoils the whole answer', () => {
    const bad: unknown[] = [
      null,
      { urls: 'nope' },
      { urls: [entry({ digests: { md5: 'x' } })] },
      { urls: [entry({ digests: { sha256: 'abc' } })] },
      { urls: [entry({ upload_time_iso_8601: 'yesterday' })] },
      { urls: [entry({ filename: '../evil-1.0-py3-none-any.whl' })] },
      { urls: [entry({ filename: 'not-a-wheel.whl' })] },
      { urls: [entry({ filename: 7 })] },
    ];
    for (const json of bad) {
      assert.throws(() => parseReleaseFiles('foo', '1.0', json), (e: unknown) => e instanceof UpstreamError && !e.transient, JSON.stringify(json));
    }
  });
});

describe('truncateDescription', () => {
  test('keeps up to 200 characters and cuts longer ones to 199 plus an ellipsis', () => {
    assert.equal(truncateDescription(null), '');
    assert.equal(truncateDescription('short'), 'short');
    assert.equal(truncateDescription('x'.repeat(200)), 'x'.repeat(200));
    const cut = truncateDescription('y'.repeat(250));
    assert.equal(cut, `${'y'.repeat(199)}…`);
    assert.equal(Array.from(truncateDescription('😀'.repeat(201))).length, 200, 'counts characters, not UTF-16 units');
  });
});

describe('PyPIClient against piw-upstream', () => {
  const upstream = new UpstreamServer({ systemWheels: false, batchLimit: 3 });
  let client: PyPIClient;

  before(async () => {
    const url = await upstream.start();
    client = new PyPIClient({ xmlrpcUrl: `${url}/pypi`, jsonUrl: `${url}/pypi`, ...fastOptions });
    upstream.create('Foo', { summary: 'The foo package', timestamp: 100 });
    upstream.upload('Foo', '1.0', { timestamp: 101 });
    upstream.upload('Foo', '1.0', { filename: 'Foo-1.0-py3-none-any.whl', timestamp: 102 });
    upstream.yank('Foo', '1.0', { timestamp: 99 });
    upstream.remove('Foo', '1.0', { timestamp: 103 });
    upstream.create('long', { summary: 'z'.repeat(300), timestamp: 104 });
  });
  after(async () => {
    client.close();
    await upstream.stop();
  });

  test('reads the changelog in pages of the server\'s limit', async () => {
    const first = await client.changelogSinceSerial(0);
    assert.deepEqual(first.rows, [
      { name: 'Foo', version: null, timestamp: 100, action: 'create', serial: 1 },
      { name: 'Foo', version: '1.0', timestamp: 101, action: 'add source file Foo-1.0.tar.gz', serial: 2 },
      { name: 'Foo', version: '1.0', timestamp: 102, action: 'add py3 file Foo-1.0-py3-none-any.whl', serial: 3 },
    ]);
    const second = await client.changelogSinceSerial(3);
    assert.deepEqual(second.rows.map((r) => [r.action, r.timestamp]), [
      ['yank release', 99],
      ['remove release', 103],
      ['create', 104],
    ]);
    assert.deepEqual((await client.changelogSinceSerial(6)).rows, []);
  });

  test('fetches and shortens descriptions; a missing project gives null', async () => {
    assert.equal(await client.projectDescription('foo'), 'The foo package');
    assert.equal(await client.projectDescription('long'), `${'z'.repeat(199)}…`);
    assert.equal(await client.projectDescription('nope'), null);
  });

  test("lists a release's wheels; an unknown release has none", async () => {
    upstream.upload('Bar', '2.0', { filename: 'Bar-2.0-py3-none-any.whl', content: Buffer.from('bar wheel'), timestamp: 1_700_000_000 });
    upstream.upload('Bar', '2.0', { timestamp: 1_700_000_001 });
    const files = await client.releaseFiles('bar', '2.0');
    assert.deepEqual(files.map((f) => [f.filename, f.uploadedAt.toISOString()]), [['Bar-2.0-py3-none-any.whl', '2023-11-14T22:13:20.000Z']]);
    assert.match(files[0]!.filehash, /^[0-9a-f]{64}$/);
    assert.deepEqual(await client.releaseFiles('bar', '9.9'), []);
    assert.deepEqual(await client.releaseFiles('nope', '1.0'), []);
  });

  test('release files: retries as told, then a transient error; garbage is not retried', async () => {
    let hits = upstream.hits.json;
    upstream.setFault({ kind: '500', target: 'json' });
    await assert.rejects(client.releaseFiles('bar', '2.0', { retries: 1 }), (e: unknown) => e instanceof UpstreamError && e.transient);
    assert.equal(upstream.hits.json - hits, 2);
    upstream.setFault({ kind: 'hang', target: 'json', count: 1 });
    assert.equal((await client.releaseFiles('bar', '2.0', { retries: 1 })).length, 1);
    upstream.setFault({ kind: 'invalid-xml', target: 'json', count: 1 });
    hits = upstream.hits.json;
    await assert.rejects(client.releaseFiles('bar', '2.0'), (e: unknown) => e instanceof UpstreamError && !e.transient && /not JSON/.test(e.message));
    assert.equal(upstream.hits.json - hits, 1);
    upstream.setFault(null);
  });

  test('sends a descriptive user agent', async () => {
    assert.match(USER_AGENT, /^piwheels-ts\/\d+\.\d+\.\d+ /);
  });

  for (const kind of ['429', '500', 'xmlrpc-too-many', 'hang'] as const) {
    test(`retries through ${kind} and then succeeds`, async () => {
      const hits = upstream.hits.xmlrpc;
      upstream.setFault({ kind, target: 'xmlrpc', count: 2 });
      const batch = await client.changelogSinceSerial(0);
      assert.equal(batch.rows.length, 3);
      assert.equal(upstream.hits.xmlrpc - hits, 3);
    });
  }

  test('gives up after its retries with a transient error', async () => {
    const hits = upstream.hits.xmlrpc;
    upstream.setFault({ kind: '500', target: 'xmlrpc' });
    await assert.rejects(client.changelogSinceSerial(0), (e: unknown) => e instanceof UpstreamError && e.transient);
    assert.equal(upstream.hits.xmlrpc - hits, 4);
    upstream.setFault(null);
  });

  test('does not retry invalid XML', async () => {
    const hits = upstream.hits.xmlrpc;
    upstream.setFault({ kind: 'invalid-xml', target: 'xmlrpc', count: 1 });
    await assert.rejects(
      client.changelogSinceSerial(0),
      (e: unknown) => e instanceof UpstreamError && !e.transient && e.message.startsWith('malformed XML-RPC response: '),
    );
    assert.equal(upstream.hits.xmlrpc - hits, 1);
  });

  test('a failing JSON API gives null descriptions rather than errors', async () => {
    upstream.setFault({ kind: '500', target: 'json' });
    assert.equal(await client.projectDescription('foo'), null);
    upstream.setFault({ kind: 'hang', target: 'json', count: 1 });
    assert.equal(await client.projectDescription('foo'), 'The foo package');
    upstream.setFault(null);
  });

  test('an unreachable server is a transient error', async () => {
    const dead = new PyPIClient({ xmlrpcUrl: 'http://127.0.0.1:1/pypi', jsonUrl: 'http://127.0.0.1:1/pypi', ...fastOptions, retries: 1 });
    await assert.rejects(dead.changelogSinceSerial(0), (e: unknown) => e instanceof UpstreamError && e.transient);
    assert.equal(await dead.projectDescription('foo'), null);
  });

  test('refuses URLs that are not http(s)', () => {
    assert.throws(() => new PyPIClient({ xmlrpcUrl: 'ftp://x/pypi', jsonUrl: 'http://x/pypi' }), UpstreamError);
    assert.throws(() => new PyPIClient({ xmlrpcUrl: 'not a url', jsonUrl: 'http://x/pypi' }), UpstreamError);
  });
});
