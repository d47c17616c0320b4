import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PyPIClient,
  UpstreamError,
  parseChangelog,
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
