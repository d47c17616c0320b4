import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { listenHttp } from '../../shared/http-listener.ts';

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    }).on('error', reject);
  });
}

test('serves on a free port of 127.0.0.1 and says where', async () => {
  const listener = await listenHttp(async (req, res) => void res.end(`you asked for ${req.url}`));
  try {
    assert.match(listener.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await fetchText(`${listener.url}/x`), 'you asked for /x');
  } finally {
    await listener.stop();
  }
});

test('an IPv6 address is bracketed in the URL', async () => {
  const listener = await listenHttp(async (_req, res) => void res.end('six'), { host: '::1' });
  try {
    assert.match(listener.url, /^http:\/\/\[::1\]:\d+$/);
    assert.equal(await fetchText(listener.url), 'six');
  } finally {
    await listener.stop();
  }
});

test('stop drops a request still in progress rather than waiting for it', async () => {
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  // this handler never answers: close() alone would wait for it forever
  const listener = await listenHttp(async () => arrived());
  const pending = fetchText(listener.url);
  await requestArrived;
  await listener.stop();
  await assert.rejects(pending, { code: 'ECONNRESET' });
  await assert.rejects(fetchText(listener.url), { code: 'ECONNREFUSED' });
  await listener.stop();
});

test('a handler that fails gets the client a 500 and is reported', async () => {
  const reported: unknown[] = [];
  const listener = await listenHttp(
    async (req, res) => {
      if (req.url === '/late') res.writeHead(200).write('partial');
      throw new Error(`broken ${req.url}`);
    },
    { onError: (error) => reported.push((error as Error).message) },
  );
  try {
    const answer = await new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
      get(`${listener.url}/early`, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject);
    });
    assert.deepEqual(answer, { status: 500, body: 'internal error\n' });
    // once the answer has begun there is no status left to send: the connection is dropped
    await assert.rejects(fetchText(`${listener.url}/late`));
    assert.deepEqual(reported, ['broken /early', 'broken /late']);
  } finally {
    await listener.stop();
  }
});

test('a port already taken is an error, not a hang', async () => {
  const first = await listenHttp(async (_req, res) => void res.end());
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(listenHttp(async (_req, res) => void res.end(), { port }), { code: 'EADDRINUSE' });
  } finally {
    await first.stop();
  }
});
