import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { contentType, prefersSimpleJson, resolveUrlPath, StaticServer } from '../../../coordinator/all-in-one/static-server.ts';

describe('PEP 691 negotiation', () => {
  test("pip's Accept header gets JSON", () => {
    assert.equal(prefersSimpleJson('application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'), true);
  });
  test('browsers, a missing header and a refused JSON get HTML', () => {
    assert.equal(prefersSimpleJson('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), false);
    assert.equal(prefersSimpleJson(undefined), false);
    assert.equal(prefersSimpleJson(''), false);
    assert.equal(prefersSimpleJson('application/vnd.pypi.simple.v1+json;q=0, text/html'), false);
    assert.equal(prefersSimpleJson('text/html, application/vnd.pypi.simple.latest+json;q=0.5'), false);
  });
  test('garbage is HTML, not an error', () => {
    assert.equal(prefersSimpleJson(';;;,q=x'), false);
    assert.equal(prefersSimpleJson('application/vnd.pypi.simple.v1+json;q=banana'), false);
  });
});

describe('paths and types', () => {
  test('a URL path stays inside the root', () => {
    assert.equal(resolveUrlPath('/srv/www', '/simple/foo/'), '/srv/www/simple/foo');
    assert.equal(resolveUrlPath('/srv/www', '/'), '/srv/www');
    assert.equal(resolveUrlPath('/srv/www', '/../etc/passwd'), null);
    assert.equal(resolveUrlPath('/srv/www', '/simple/%2e%2e/%2e%2e/etc/passwd'), null);
    assert.equal(resolveUrlPath('/srv/www', '/a%00b'), null);
    assert.equal(resolveUrlPath('/srv/www', '/%E0%A4%A'), null);
  });
  test('content types as the nginx config sets them', () => {
    assert.equal(contentType('/simple/foo/index.json'), 'application/vnd.pypi.simple.v1+json');
    assert.equal(contentType('/project/foo/json/index.json'), 'application/json');
    assert.equal(contentType('/simple/foo/foo-1.0-py3-none-any.whl'), 'application/zip');
    assert.equal(contentType('/simple/foo/foo-1.0-py3-none-any.whl.metadata'), 'text/plain; charset=utf-8');
    assert.equal(contentType('/index.html'), 'text/html; charset=utf-8');
    assert.equal(contentType('/unknown.bin'), 'application/octet-stream');
  });
});

describe('StaticServer', () => {
  const root = mkdtempSync(join(tmpdir(), 'piw-static-'));
  const www = join(root, 'www');
  mkdirSync(join(www, 'simple', 'foo'), { recursive: true });
  mkdirSync(join(www, 'project', 'foo', 'json'), { recursive: true });
  mkdirSync(join(www, 'logs', '0000', '0000'), { recursive: true });
  writeFileSync(join(www, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(www, '404.html'), '<h1>missing</h1>');
  writeFileSync(join(www, 'simple', 'foo', 'index.html'), '<a>foo-1.0</a>');
  writeFileSync(join(www, 'simple', 'foo', 'index.json'), '{"name":"foo"}');
  writeFileSync(join(www, 'simple', 'foo', 'foo-1.0-py3-none-any.whl'), 'PK wheel bytes');
  writeFileSync(join(www, 'project', 'foo', 'json', 'index.json'), '{"package":"foo"}');
  writeFileSync(join(www, 'logs', '0000', '0000', '0001.txt.gz'), gzipSync('build log text\n'));
  writeFileSync(join(root, 'secret.txt'), 'outside');
  symlinkSync('foo', join(www, 'simple', 'Foo'));
  symlinkSync(join(root, 'secret.txt'), join(www, 'leak.txt'));

  const server = new StaticServer({ root: www, port: 0 });
  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> => {
    const url = new URL(path, server.url);
    return new Promise((resolvePromise, reject) => {
      const req = request(url, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
  };

  before(() => server.start());
  after(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('serves files, directory indexes and negotiated JSON', async () => {
    const home = await get('/');
    assert.equal(home.status, 200);
    assert.equal(home.body.toString(), '<h1>home</h1>');
    assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');

    const html = await get('/simple/foo/');
    assert.equal(html.body.toString(), '<a>foo-1.0</a>');
    assert.equal(html.headers.vary, 'Accept');
    const json = await get('/simple/foo/', { accept: 'application/vnd.pypi.simple.v1+json' });
    assert.equal(json.body.toString(), '{"name":"foo"}');
    assert.equal(json.headers['content-type'], 'application/vnd.pypi.simple.v1+json');

    const redirect = await get('/simple/foo');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/simple/foo/');

    const alias = await get('/simple/Foo/');
    assert.equal(alias.body.toString(), '<a>foo-1.0</a>');

    const wheel = await get('/simple/foo/foo-1.0-py3-none-any.whl');
    assert.equal(wheel.headers['content-type'], 'application/zip');
    assert.equal(wheel.headers['content-length'], String('PK wheel bytes'.length));

    const projectJson = await get('/project/foo/json/');
    assert.equal(projectJson.body.toString(), '{"package":"foo"}');
    assert.equal(projectJson.headers['content-type'], 'application/json');

    const head = await get('/index.html', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  test('logs: gzip passed through or inflated, by Accept-Encoding', async () => {
    const inflated = await get('/logs/0000/0000/0001.txt');
    assert.equal(inflated.body.toString(), 'build log text\n');
    assert.equal(inflated.headers['content-encoding'], undefined);
    const gz = await get('/logs/0000/0000/0001.txt.gz', { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-type'], 'text/plain; charset=utf-8');
  });

  test('bad requests: 404 page, no escape through .. or symlinks, GET and HEAD only', async () => {
    const missing = await get('/nope.html');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.toString(), '<h1>missing</h1>');
    assert.equal((await get('/simple/%2e%2e/%2e%2e/secret.txt')).status, 404);
    assert.equal((await get('/leak.txt')).status, 404);
    assert.equal((await get('/%E0%A4%A')).status, 404);
    const post = await get('/index.html', {}, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await get('/project/')).headers.location, '/packages.html');
  });
});
