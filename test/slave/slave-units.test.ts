import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCbor } from '../../shared/wire/cbor.ts';
import { decodeMessage, encodeMessage, reverse, slaveDriver } from '../../shared/wire/protocols.ts';
import { UserError } from '../../shared/cli.ts';
import { decide, IDLE_HOLD_MS, replyTimeoutMs } from '../../slave/protocol.ts';
import { formatDuration, parseDuration } from '../../shared/duration.ts';
import { fileEndpoint, loadSlaveConfig, slaveEndpoint } from '../../slave/config.ts';
import { builtMessage, statsMessage } from '../../slave/slave.ts';
import type { InspectedWheel } from '../../shared/wheel/inspect.ts';

describe('protocol decisions', () => {
  const built = { succeeded: true, filenames: ['a-1-py3-none-any.whl'] };

  test('the replies each request allows', () => {
    assert.deepEqual(decide('HELLO', { msg: 'ACK', data: [3, 'http://m/simple'] }, null), { kind: 'ack', slaveId: 3, indexUrl: 'http://m/simple' });
    assert.deepEqual(decide('IDLE', { msg: 'SLEEP', data: true }, null), { kind: 'sleep', paused: true });
    assert.deepEqual(decide('IDLE', { msg: 'BUILD', data: ['numpy', '1.26.4'] }, null), { kind: 'build', package: 'numpy', version: '1.26.4' });
    assert.deepEqual(decide('BUSY', { msg: 'CONT', data: undefined }, null), { kind: 'cont' });
    assert.deepEqual(decide('BUSY', { msg: 'DONE', data: undefined }, null), { kind: 'abort' });
    assert.deepEqual(decide('BUILT', { msg: 'SEND', data: 'a-1-py3-none-any.whl' }, built), { kind: 'send', filename: 'a-1-py3-none-any.whl' });
    assert.deepEqual(decide('SENT', { msg: 'SEND', data: 'a-1-py3-none-any.whl' }, built), { kind: 'send', filename: 'a-1-py3-none-any.whl' });
    assert.deepEqual(decide('BUILT', { msg: 'DONE', data: undefined }, built), { kind: 'done' });
    assert.deepEqual(decide('SENT', { msg: 'DONE', data: undefined }, built), { kind: 'done' });
    for (const sent of ['HELLO', 'IDLE', 'BUSY', 'BUILT', 'SENT'] as const) {
      assert.deepEqual(decide(sent, { msg: 'DIE', data: undefined }, null), { kind: 'die' });
    }
  });

  test('out-of-place replies reset the session', () => {
    const resets: Array<Parameters<typeof decide>> = [
      ['HELLO', { msg: 'CONT', data: undefined }, null],
      ['HELLO', { msg: 'SLEEP', data: false }, null],
      ['IDLE', { msg: 'ACK', data: [1, 'x'] }, null],
      ['IDLE', { msg: 'SEND', data: 'x.whl' }, null],
      ['BUSY', { msg: 'BUILD', data: ['a', '1'] }, null],
      ['BUILT', { msg: 'CONT', data: undefined }, built],
      ['BUILT', { msg: 'SEND', data: 'other.whl' }, built],
      ['BUILT', { msg: 'SEND', data: 'a-1-py3-none-any.whl' }, { succeeded: false, filenames: ['a-1-py3-none-any.whl'] }],
      ['SENT', { msg: 'SEND', data: '../../etc/passwd' }, built],
      ['SENT', { msg: 'SEND', data: 'a-1-py3-none-any.whl' }, null],
    ];
    for (const [sent, reply, facts] of resets) {
      assert.equal(decide(sent, reply, facts).kind, 'reset', `${sent} -> ${reply.msg}`);
    }
  });

  test('reply timeouts: quick for HELLO/BUSY, IDLE may be held, BUILT/SENT get the full master timeout', () => {
    assert.equal(replyTimeoutMs('HELLO', 300_000, 5000), 5000);
    assert.equal(replyTimeoutMs('BUSY', 300_000, 5000), 5000);
    assert.equal(replyTimeoutMs('BUILT', 300_000, 5000), 300_000);
    assert.equal(replyTimeoutMs('SENT', 300_000, 5000), 300_000);
    assert.equal(replyTimeoutMs('IDLE', 300_000, 5000), 5000 + IDLE_HOLD_MS, 'a held IDLE is not mistaken for silence');
    assert.equal(replyTimeoutMs('IDLE', 6000, 1000), 3000, 'the hold is at most a third of the busy timeout');
    assert.equal(replyTimeoutMs('HELLO', 2000, 5000), 2000, 'never past the master timeout');
  });
});

describe('durations', () => {
  test('the forms operators write', () => {
    assert.equal(parseDuration('3h'), 3 * 3600_000);
    assert.equal(parseDuration('90m'), 90 * 60_000);
    assert.equal(parseDuration('1h30m'), 90 * 60_000);
    assert.equal(parseDuration('1h 30m 15s'), (5400 + 15) * 1000);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('2 hours'), 7200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('2:30:00'), 9000_000);
    assert.equal(parseDuration('1:30'), 5400_000);
    assert.equal(parseDuration('600'), 600_000);
  });

  test('rejects what is not a duration', () => {
    for (const bad of ['', 'forever', '3x', '1h foo', 'h', '1:99', '-5m']) assert.equal(parseDuration(bad), null, bad);
  });

  test('formats back', () => {
    assert.equal(formatDuration(3 * 3600_000), '3h');
    assert.equal(formatDuration(5400_000 + 15_000), '1h30m15s');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(0), '0s');
  });
});

describe('configuration', () => {
  test('defaults follow piwheels: localhost, ports 5555/5556, 3 h timeout', () => {
    const config = loadSlaveConfig({}, {});
    assert.equal(slaveEndpoint(config), 'tcp://localhost:5555');
    assert.equal(fileEndpoint(config), 'tcp://localhost:5556');
    assert.equal(config.timeout, 3 * 3600_000);
    assert.equal(config.masterTimeout, 300_000);
    assert.equal(config.python, 'python3');
    assert.deepEqual(config.extraIndexUrl, []);
  });

  test('flags over environment over file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'piw-slavecfg-'));
    try {
      const file = join(dir, 'piwheels.toml');
      writeFileSync(
        file,
        'master = "file-host"\ntimeout = "1h"\nlabel = "from-file"\n[slave]\nslave-port = 6000\nextra_index_url = ["https://a/simple", "https://b/simple"]\n[monitor]\ndsn = "ignored"\n',
      );
      const config = loadSlaveConfig({ label: 'from-flag' }, { PIW_MASTER: 'env-host', PIW_FILE_PORT: '6001' }, file);
      assert.equal(config.master, 'env-host');
      assert.equal(config.label, 'from-flag');
      assert.equal(config.timeout, 3600_000);
      assert.equal(slaveEndpoint(config), 'tcp://env-host:6000');
      assert.equal(fileEndpoint(config), 'tcp://env-host:6001');
      assert.deepEqual(config.extraIndexUrl, ['https://a/simple', 'https://b/simple']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('IPv6 masters, explicit endpoints, env lists', () => {
    assert.equal(slaveEndpoint(loadSlaveConfig({ master: '::1' }, {})), 'tcp://[::1]:5555');
    const config = loadSlaveConfig({ slaveEndpoint: 'ipc:///run/piw/slave' }, { PIW_EXTRA_INDEX_URL: 'https://a/simple, https://b/simple' });
    assert.equal(slaveEndpoint(config), 'ipc:///run/piw/slave');
    assert.deepEqual(config.extraIndexUrl, ['https://a/simple', 'https://b/simple']);
  });

  test('bad values name their source', () => {
    const cases: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ timeout: 'forever' }, {}, /timeout: expected a duration.*option --timeout/],
      [{}, { PIW_SLAVE_PORT: '70000' }, /slavePort.*environment PIW_SLAVE_PORT/],
      [{ indexUrl: 'ftp://x/simple' }, {}, /indexUrl: expected an http\(s\):\/\/ or file:\/\/ URL/],
      [{ slaveEndpoint: 'tcp://nohost' }, {}, /slaveEndpoint/],
      [{ master: 'a b' }, {}, /master/],
    ];
    for (const [flags, env, pattern] of cases) {
      assert.throws(() => loadSlaveConfig(flags, env), (error: unknown) => error instanceof UserError && pattern.test(error.message));
    }
    assert.throws(() => loadSlaveConfig({}, {}, '/nonexistent/piwheels.toml'), /cannot read configuration file/);
  });
});

describe('message data', () => {
  test('statistics go out as piwheels expects: whole floats still float64', () => {
    const data = statsMessage({
      timestamp: new Date('2026-11-25T07:53:36.925Z'),
      diskSize: 270_553_174_016,
      diskFree: 1,
      memSize: 2,
      memFree: 3,
      swapSize: 0,
      swapFree: 0,
      loadAverage: 1,
      cpuTemperature: 0,
    });
    const bytes = encodeMessage(reverse(slaveDriver).send, 'IDLE', data);
    // The last 18 bytes are the two floats: fb + 8 bytes each.
    assert.equal(bytes.subarray(bytes.length - 18).toString('hex'), 'fb3ff0000000000000fb0000000000000000');
    const back = decodeMessage(slaveDriver.recv, bytes);
    assert.equal(back.msg, 'IDLE');
    assert.ok(Array.isArray(decodeCbor(bytes)));
  });

  test('BUILT carries status, duration, output and file states', () => {
    const wheel: InspectedWheel = {
      path: '/x/e2e_pure-1.1-py3-none-any.whl',
      filename: 'e2e_pure-1.1-py3-none-any.whl',
      filesize: 1226,
      filehash: '0c8ac8594d8d22a55d36b1a38617651d0787dd0ce248e53bb7b9bbcec63112c3',
      packageTag: 'e2e_pure',
      packageVersionTag: '1.1',
      pyVersionTag: 'py3',
      abiTag: 'none',
      platformTag: 'any',
      requiresPython: '>=3.7',
      metadata: Buffer.from('Name: e2e-pure\n'),
      dependencies: { apt: [], pip: [], '': [] },
    };
    const data = builtMessage({ status: true, durationMs: 2372.039, output: 'log ✓', wheels: [wheel] });
    const bytes = encodeMessage(reverse(slaveDriver).send, 'BUILT', data);
    // The file-state tail matches the bytes captured from the original slave.
    const tail =
      '818b781d6532655f707572652d312e312d7079332d6e6f6e652d616e792e77686c1904ca784030633861633835393464386432326135356433366231613338363137363531643037383764643063653234386535336262376239626263656336333131326333686532655f7075726563312e3163707933646e6f6e6563616e79653e3d332e37a3636170748063706970806080672f73696d706c65';
    assert.ok(bytes.toString('hex').endsWith(tail));
    const back = decodeMessage(slaveDriver.recv, bytes);
    assert.equal(back.msg, 'BUILT');
    if (back.msg !== 'BUILT') return;
    assert.equal(back.data[1].seconds, 2);
    assert.equal(back.data[1].microseconds, 372039);
  });
});
