import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  agentName,
  classify,
  compileLogFormat,
  isBotAgent,
  LogBatchBuilder,
  pageName,
  parseInstallerAgent,
  parseLogTime,
  parseRequest,
  processLine,
  toLogMessage,
  unescapeLogField,
  type AccessEntry,
  type LogRecord,
} from '../../../coordinator/access/access-log.ts';
import { UserError } from '../../../shared/cli.ts';

const PIP_UA =
  'pip/23.0.1 {"ci":null,"cpu":"armv7l","distro":{"id":"bookworm","libc":{"lib":"glibc","version":"2.36"},"name":"Raspbian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.11.2"},"installer":{"name":"pip","version":"23.0.1"},"openssl_version":"OpenSSL 3.0.11","python":"3.11.2","setuptools_version":"66.1.1","system":{"name":"Linux","release":"6.1.21-v7+"}}';

function apacheLine(path: string, ua: string, opts: { status?: number; method?: string; host?: string } = {}): string {
  const escaped = ua.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return `${opts.host ?? '192.0.2.7'} - - [25/Nov/2026:10:15:30 +0100] "${opts.method ?? 'GET'} ${path} HTTP/1.1" ${opts.status ?? 200} 5120 "-" "${escaped}"`;
}

function nginxLine(path: string, ua: string): string {
  const escaped = ua.replace(/"/g, '\\x22');
  return `2001:db8::5 - - [25/Nov/2026:09:15:30 +0000] "GET ${path} HTTP/1.1" 200 5120 "-" "${escaped}"`;
}

function entry(path: string, userAgent: string | null, extra: Partial<AccessEntry> = {}): AccessEntry {
  return { host: '192.0.2.1', time: new Date(0), method: 'GET', path, status: 200, userAgent, ...extra };
}

describe('log line parsing', () => {
  const parser = compileLogFormat('combined');

  test('an Apache combined line with an escaped pip agent', () => {
    const e = parser.parse(apacheLine('/simple/numpy/numpy-1.26.4-cp311-cp311-linux_armv7l.whl', PIP_UA));
    assert.ok(e);
    assert.equal(e.host, '192.0.2.7');
    assert.equal(e.time.toISOString(), '2026-11-25T09:15:30.000Z');
    assert.equal(e.path, '/simple/numpy/numpy-1.26.4-cp311-cp311-linux_armv7l.whl');
    assert.equal(e.status, 200);
    assert.equal(e.userAgent, PIP_UA);
  });

  test('an nginx line (\\x22 escapes, IPv6 client) reads the same', () => {
    const e = parser.parse(nginxLine('/simple/numpy/', PIP_UA));
    assert.ok(e);
    assert.equal(e.host, '2001:db8::5');
    assert.equal(e.userAgent, PIP_UA);
  });

  test('a missing user agent ("-") is null', () => {
    const e = parser.parse('192.0.2.1 - - [25/Nov/2026:10:15:30 +0000] "GET / HTTP/1.1" 200 12 "-" "-"');
    assert.ok(e);
    assert.equal(e.userAgent, null);
  });

  test('bad lines are rejected, not thrown', () => {
    for (const line of [
      '',
      'garbage',
      '192.0.2.1 - - [99/Foo/2026:10:15:30 +0000] "GET / HTTP/1.1" 200 12 "-" "x"',
      '192.0.2.1 - - [25/Nov/2026:10:15:30 +0000] "\\x16\\x03\\x01" 400 12 "-" "-"',
      '192.0.2.1 - - [25/Nov/2026:10:15:30 +0000] "GET /%E0%A4%A HTTP/1.1" 200 12 "-" "x"',
      '192.0.2.1 - - [25/Nov/2026:10:15:30 +0000] "GET / HTTP/1.1" abc 12 "-" "x"',
    ]) {
      assert.equal(parser.parse(line), null, line);
    }
  });

  test('processLine says why a line is bad and counts hostnames as bad', () => {
    assert.deepEqual(processLine(parser, 'nonsense'), { kind: 'bad', reason: 'does not match the log format' });
    const outcome = processLine(parser, apacheLine('/', 'Mozilla/5.0', { host: 'example.org' }));
    assert.equal(outcome.kind, 'bad');
    assert.deepEqual(processLine(parser, apacheLine('/robots.txt', 'Mozilla/5.0')), { kind: 'ignored' });
    assert.equal(processLine(parser, apacheLine('/faq.html', 'Mozilla/5.0')).kind, 'record');
  });

  test('the common format parses but records nothing (no user agent)', () => {
    const common = compileLogFormat('common');
    const outcome = processLine(common, '192.0.2.1 - - [25/Nov/2026:10:15:30 +0000] "GET /simple/a/a-1-py3-none-any.whl HTTP/1.1" 200 12');
    assert.deepEqual(outcome, { kind: 'ignored' });
  });

  test('custom LogFormat strings with extra fields', () => {
    const p = compileLogFormat('%v %h %l %u %t "%r" %>s %b %D "%{User-agent}i"');
    const e = p.parse('pi.example 192.0.2.9 - - [01/Jan/2027:00:00:00 -0000] "GET /simple/a/ HTTP/2.0" 200 1 421 "pip/24.0"');
    assert.ok(e);
    assert.equal(e.host, '192.0.2.9');
    assert.equal(e.userAgent, 'pip/24.0');
  });

  test('a format without the needed fields is refused', () => {
    assert.throws(() => compileLogFormat('%h %t'), UserError);
  });
});

describe('pieces', () => {
  test('log times with offsets and fractions', () => {
    assert.equal(parseLogTime('10/Oct/2000:13:55:36 -0700')?.toISOString(), '2000-10-10T20:55:36.000Z');
    assert.equal(parseLogTime('10/Oct/2000:13:55:36.250 +0000')?.toISOString(), '2000-10-10T13:55:36.250Z');
    assert.equal(parseLogTime('10/Oct/2000:25:55:36 +0000'), null);
    assert.equal(parseLogTime('2000-10-10T13:55:36Z'), null);
  });

  test('requests: query strings, escapes, absolute form', () => {
    assert.deepEqual(parseRequest('GET /simple/foo/?a=1 HTTP/1.1'), { method: 'GET', path: '/simple/foo/' });
    assert.deepEqual(parseRequest('GET /simple/foo/foo-1.0%2Blocal-py3-none-any.whl HTTP/1.1'), {
      method: 'GET',
      path: '/simple/foo/foo-1.0+local-py3-none-any.whl',
    });
    assert.deepEqual(parseRequest('GET http://example.org/faq.html HTTP/1.0'), { method: 'GET', path: '/faq.html' });
    assert.equal(parseRequest('-'), null);
    assert.equal(parseRequest('GET'), null);
  });

  test('unescaping both servers', () => {
    assert.equal(unescapeLogField('a\\"b\\\\c\\x22d'), 'a"b\\c"d');
    assert.equal(unescapeLogField('plain'), 'plain');
  });

  test('page names', () => {
    assert.equal(pageName('/'), 'home');
    assert.equal(pageName('/index.html'), 'home');
    assert.equal(pageName('/faq.html'), 'faq');
    assert.equal(pageName('/a/b.html'), 'ab');
  });

  test('agent names and bots', () => {
    assert.equal(agentName('Mozilla/5.0 (X11; Linux x86_64)'), 'mozilla');
    assert.equal(agentName('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'), 'googlebot');
    assert.equal(agentName('curl/8.0'), 'curl');
    assert.equal(agentName('x\0y/1'), 'xy');
    assert.equal(isBotAgent('googlebot'), true);
    assert.equal(isBotAgent('bingbot'), true);
    assert.equal(isBotAgent('mozilla'), false);
    assert.equal(isBotAgent(null), false);
    assert.equal(agentName('Mozilla/5.0 (compatible; YandexBot/3.0)'), 'yandexbot');
    assert.equal(agentName('my-Spider.v2 (x)'), 'my-spider.v2');
  });

  test('an agent of a megabyte is classified in one pass (a backtracking pattern took minutes)', () => {
    const long = 'x'.repeat(1 << 20);
    assert.equal(isBotAgent(long), false);
    assert.equal(agentName(long), 'x'.repeat(200));
    assert.equal(agentName(`${long}bot${long}`).length, 200);
  });
});

describe('user agents', () => {
  test("pip's JSON details", () => {
    assert.deepEqual(parseInstallerAgent(PIP_UA), {
      arch: 'armv7l',
      distroName: 'Raspbian GNU/Linux',
      distroVersion: '12',
      osName: 'Linux',
      osVersion: '6.1.21-v7+',
      pyName: 'CPython',
      pyVersion: '3.11.2',
      installerName: 'pip',
      installerVersion: '23.0.1',
      setuptoolsVersion: '66.1.1',
    });
  });

  test('old pip without implementation reports CPython and the python field', () => {
    const info = parseInstallerAgent('pip/9.0.1 {"python":"2.7.13","cpu":"armv6l","distro":null}');
    assert.equal(info.pyName, 'CPython');
    assert.equal(info.pyVersion, '2.7.13');
    assert.equal(info.distroName, null);
    assert.equal(info.arch, 'armv6l');
  });

  test('uv is read like pip', () => {
    assert.equal(parseInstallerAgent('uv/0.4.0 {"installer":{"name":"uv","version":"0.4.0"}}').installerName, 'uv');
  });

  test('broken or hostile JSON gives nulls, never throws', () => {
    for (const ua of [
      'pip/1.0 {not json',
      'pip/1.0',
      'pip/1.0 {"cpu":{"nested":true},"installer":"pip","system":[1,2]}',
      'pip/1.0 []',
      'Mozilla/5.0 {"cpu":"x86_64"}',
    ]) {
      const info = parseInstallerAgent(ua);
      assert.equal(info.arch, null, ua);
      assert.equal(info.installerName, null, ua);
      assert.equal(info.osName, null, ua);
    }
    assert.equal(parseInstallerAgent('pip/1.0 {"cpu":7}').arch, '7');
  });
});

describe('classification', () => {
  const cases: Array<[string, string | null, string | null]> = [
    ['/simple/foo/foo-1.0-py3-none-any.whl', PIP_UA, 'LOGDOWNLOAD'],
    ['/simple/foo/foo-1.0-py3-none-any.whl', 'curl/8.0', 'LOGDOWNLOAD'],
    ['/simple/foo/foo-1.0-py3-none-any.whl.metadata', PIP_UA, null],
    ['/simple/foo/', PIP_UA, 'LOGSEARCH'],
    ['/simple/foo/', 'Mozilla/5.0', null],
    ['/simple/', PIP_UA, null],
    ['/project/', 'Mozilla/5.0', null],
    ['/project/foo/', 'Mozilla/5.0', 'LOGPROJECT'],
    ['/project/foo/json/', 'python-requests/2.31', 'LOGJSON'],
    ['/project/foo/json/index.json', 'Mozilla/5.0', 'LOGJSON'],
    ['/', 'Mozilla/5.0', 'LOGPAGE'],
    ['/packages.html', 'Mozilla/5.0', 'LOGPAGE'],
    ['/packages.json', 'Mozilla/5.0', null],
    ['/styles.css', 'Mozilla/5.0', null],
    ['/', null, null],
  ];
  for (const [path, ua, expected] of cases) {
    test(`${path} by ${ua?.slice(0, 12) ?? 'nobody'} is ${expected ?? 'ignored'}`, () => {
      assert.equal(classify(entry(path, ua)), expected);
    });
  }

  test('only successful GETs count', () => {
    assert.equal(classify(entry('/', 'Mozilla/5.0', { status: 404 })), null);
    assert.equal(classify(entry('/', 'Mozilla/5.0', { method: 'HEAD' })), null);
  });

  test('messages carry canonical names, basenames and short agents', () => {
    const search = toLogMessage(entry('/simple/Foo_Bar/', PIP_UA));
    assert.equal(search?.msg, 'LOGSEARCH');
    assert.equal(search?.data[0], 'foo-bar');
    assert.equal(search?.data[10], 'pip');
    const download = toLogMessage(entry('/simple/foo/foo-1.0-py3-none-any.whl', PIP_UA));
    assert.equal(download?.data[0], 'foo-1.0-py3-none-any.whl');
    assert.equal(download?.data.length, 13);
    const project = toLogMessage(entry('/project/Foo/', 'Mozilla/5.0 (compatible; bingbot/2.0)'));
    assert.deepEqual(project?.data.slice(0, 2), ['foo', '192.0.2.1']);
    assert.equal(project?.data[3], 'bingbot');
    assert.equal(toLogMessage(entry('/project//', 'Mozilla/5.0')), null);
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
