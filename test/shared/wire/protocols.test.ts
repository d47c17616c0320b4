import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Timedelta, UtcDateTime, encodeCbor } from '../../../shared/wire/cbor.ts';
import {
  ProtocolError,
  decodeMessage,
  encodeMessage,
  fileJugglerFs,
  lumberjack,
  masterControl,
  masterStatsSchema,
  monitorStats,
  mrChase,
  reverse,
  slaveDriver,
  slaveStatsSchema,
  toWire,
  type DataOf,
} from '../../../shared/wire/protocols.ts';

interface Golden {
  messages: Record<string, { direction: string; hex: string }>;
}
const golden = JSON.parse(readFileSync(new URL('../../fixtures/wire/golden.json', import.meta.url), 'utf8')) as Golden;
const vector = (name: string): Buffer => Buffer.from(golden.messages[name]!.hex, 'hex');
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const master = slaveDriver;
const slave = reverse(slaveDriver);

describe('golden vectors from the Python slave and master', () => {
  test('HELLO decodes and re-encodes byte for byte', () => {
    const m = decodeMessage(master.recv, vector('HELLO'));
    assert.equal(m.msg, 'HELLO');
    assert.ok(m.msg === 'HELLO');
    const [build, busy, ...rest] = m.data;
    assert.ok(build.equals(new Timedelta(0, 10800)));
    assert.ok(busy.equals(new Timedelta(0, 300)));
    assert.deepEqual(rest, ['311', 'cp311', 'linux_x86_64', 'vm', 'Debian GNU/Linux', '12 (bookworm)', 'unknown', 'unknown']);
    assert.equal(hexOf(encodeMessage(slave.send, 'HELLO', m.data)), golden.messages.HELLO!.hex);
  });

  test('IDLE and BUSY: aware datetime, uint64 sizes, whole float re-encoded as float64', () => {
    for (const name of ['IDLE', 'BUSY'] as const) {
      const m = decodeMessage(master.recv, vector(name));
      assert.equal(m.msg, name);
      assert.ok(m.msg === 'IDLE' || m.msg === 'BUSY');
      const [ts, diskSize, , , , swapSize, swapFree, load, temp] = m.data;
      assert.ok(ts instanceof UtcDateTime);
      assert.equal(diskSize, 270553174016);
      assert.equal(swapSize, 0);
      assert.equal(swapFree, 0);
      assert.equal(typeof load, 'number');
      assert.equal(temp, 0);
      assert.equal(hexOf(encodeMessage(slave.send, name, m.data)), golden.messages[name]!.hex);
    }
    const idle = decodeMessage(master.recv, vector('IDLE'));
    assert.ok(idle.msg === 'IDLE');
    assert.equal(idle.data[0].toISOString(), '2026-11-25T07:53:36.925882Z');
    assert.equal(idle.data[7], 1.15283203125);
  });

  test('BUILT with its file state, dependencies map and long UTF-8 log', () => {
    const m = decodeMessage(master.recv, vector('BUILT'));
    assert.ok(m.msg === 'BUILT');
    const [status, duration, output, files] = m.data;
    assert.equal(status, true);
    assert.ok(duration.equals(new Timedelta(0, 2, 372039)));
    assert.equal(Buffer.byteLength(output), 12049);
    assert.deepEqual(files, [
      [
        'e2e_pure-1.1-py3-none-any.whl',
        1226,
        '0c8ac8594d8d22a55d36b1a38617651d0787dd0ce248e53bb7b9bbcec63112c3',
        'e2e_pure',
        '1.1',
        'py3',
        'none',
        'any',
        '>=3.7',
        { apt: [], pip: [], '': [] },
        '/simple',
      ],
    ]);
    assert.equal(hexOf(encodeMessage(slave.send, 'BUILT', m.data)), golden.messages.BUILT!.hex);
  });

  test('master replies decode on the slave side and encode to the same bytes', () => {
    const expected: Record<string, unknown> = {
      ACK: [2, 'http://127.0.0.1:18080/simple'],
      SLEEP: false,
      BUILD: ['e2e-pure', '1.1'],
      CONT: undefined,
      SEND: 'e2e_pure-1.1-py3-none-any.whl',
      DONE: undefined,
    };
    for (const [name, data] of Object.entries(expected)) {
      const m = decodeMessage(slave.recv, vector(name));
      assert.equal(m.msg, name);
      assert.deepEqual(m.data, data);
      assert.equal(hexOf(encodeMessage(master.send, name, data)), golden.messages[name]!.hex, name);
    }
  });

  test('bare-string slave messages', () => {
    for (const name of ['SENT', 'BYE']) {
      assert.deepEqual(decodeMessage(master.recv, vector(name)), { msg: name, data: undefined });
      assert.equal(hexOf(encodeMessage(slave.send, name)), golden.messages[name]!.hex);
    }
  });
});

function protocolError(fn: () => unknown, kind: string, msg?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.equal(error.msg, msg);
    return true;
  });
}

describe('bad messages are ProtocolErrors', () => {
  test('on receipt', () => {
    protocolError(() => decodeMessage(master.recv, vector('HELLO').subarray(0, 40)), 'decode');
    protocolError(() => decodeMessage(master.recv, Buffer.from([0x1c, 0x00])), 'decode');
    protocolError(() => decodeMessage(master.recv, encodeCbor({ HELLO: [] })), 'structure');
    protocolError(() => decodeMessage(master.recv, encodeCbor(['IDLE', [], 'extra'])), 'structure');
    protocolError(() => decodeMessage(master.recv, encodeCbor(42)), 'structure');
    protocolError(() => decodeMessage(master.recv, encodeCbor('FOO')), 'unknown', 'FOO');
    protocolError(() => decodeMessage(master.recv, encodeCbor('ACK')), 'unknown', 'ACK');
    protocolError(() => decodeMessage(master.recv, encodeCbor('__proto__')), 'unknown', '__proto__');
    protocolError(() => decodeMessage(master.recv, encodeCbor('IDLE')), 'missing-data', 'IDLE');
    protocolError(() => decodeMessage(master.recv, encodeCbor(['BYE', 1])), 'unexpected-data', 'BYE');
    protocolError(() => decodeMessage(slave.recv, encodeCbor(['BUILD', { a: 1 }])), 'invalid-data', 'BUILD');
    protocolError(() => decodeMessage(slave.recv, encodeCbor(['BUILD', ['a']])), 'invalid-data', 'BUILD');
    protocolError(() => decodeMessage(slave.recv, encodeCbor(['BUILD', ['a', 'b', 'c']])), 'invalid-data', 'BUILD');
    protocolError(() => decodeMessage(slave.recv, encodeCbor(['BUILD', ['a', 1]])), 'invalid-data', 'BUILD');
    protocolError(() => decodeMessage(slave.recv, encodeCbor(['ACK', [2 ** 64, 'x']])), 'invalid-data', 'ACK');
    // a datetime where the build timeout's timedelta belongs
    const hello = decodeMessage(master.recv, vector('HELLO'));
    assert.ok(hello.msg === 'HELLO');
    const wrongTag = encodeCbor(['HELLO', [UtcDateTime.now(), ...hello.data.slice(1)]]);
    protocolError(() => decodeMessage(master.recv, wrongTag), 'invalid-data', 'HELLO');
    protocolError(() => decodeMessage(master.recv, vector('BUILT'), 1024), 'too-large');
  });

  test('on send', () => {
    protocolError(() => encodeMessage(master.send, 'NOPE' as 'DIE'), 'unknown', 'NOPE');
    protocolError(() => encodeMessage(master.send, 'SEND'), 'missing-data', 'SEND');
    protocolError(() => encodeMessage(master.send, 'DIE', 'x'), 'unexpected-data', 'DIE');
    protocolError(() => encodeMessage(master.send, 'ACK', [1, 2]), 'invalid-data', 'ACK');
    protocolError(() => encodeMessage(master.send, 'ACK', [1.5, 'x']), 'invalid-data', 'ACK');
    // the receive table is not the send table
    protocolError(() => encodeMessage(master.send, 'HELLO', []), 'unknown', 'HELLO');
  });
});

describe('other protocols', () => {
  test('control messages with optional slave ids', () => {
    const control = reverse(masterControl);
    for (const data of [3, null]) {
      const m = decodeMessage(masterControl.recv, encodeMessage(control.send, 'KILL', data));
      assert.deepEqual(m, { msg: 'KILL', data });
    }
    assert.deepEqual(decodeMessage(masterControl.recv, encodeMessage(control.send, 'QUIT')), { msg: 'QUIT', data: undefined });
    protocolError(() => encodeMessage(control.send, 'SLEEP', 'all' as unknown as number), 'invalid-data', 'SLEEP');
  });

  test('import REBUILD alternatives', () => {
    const tool = reverse(mrChase);
    for (const data of [['HOME'], ['SEARCH'], ['PROJECT', 'numpy'], ['BOTH', null]] as const) {
      const m = decodeMessage(mrChase.recv, encodeMessage(tool.send, 'REBUILD', data));
      assert.deepEqual(m, { msg: 'REBUILD', data });
    }
    protocolError(() => decodeMessage(mrChase.recv, encodeCbor(['REBUILD', ['HOME', 'x']])), 'invalid-data', 'REBUILD');
    protocolError(() => decodeMessage(mrChase.recv, encodeCbor(['REBUILD', ['EVERYTHING']])), 'invalid-data', 'REBUILD');
  });

  test('logger entries with nullable fields', () => {
    const data: DataOf<typeof lumberjack.recv, 'LOGDOWNLOAD'> = [
      'numpy-1.0-cp311-cp311-linux_armv7l.whl',
      '10.0.0.1',
      UtcDateTime.parse('2026-01-01T00:00:00Z'),
      'armv7l',
      'Raspbian',
      '12',
      'Linux',
      '6.1',
      'CPython',
      '3.11.2',
      'pip',
      '23.0',
      null,
    ];
    const m = decodeMessage(lumberjack.recv, encodeMessage(reverse(lumberjack).send, 'LOGDOWNLOAD', data));
    assert.deepEqual(m, { msg: 'LOGDOWNLOAD', data });
    protocolError(() => encodeMessage(reverse(lumberjack).send, 'LOGDOWNLOAD', data.slice(0, 12) as unknown as typeof data), 'invalid-data', 'LOGDOWNLOAD');
  });

  test('statistics tuples and every log record kind pass their schemas and the wire', () => {
    const t0 = UtcDateTime.parse('2026-11-25T08:00:00Z');
    assert.doesNotThrow(() => slaveStatsSchema.parse([t0, 1, 2, 3, 4, 5, 6, 0.5, 45]));
    assert.doesNotThrow(() => masterStatsSchema.parse([t0, 10, { cp311: 2 }, new Timedelta(0, 60), 1000, { cp311: 5 }, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0.25, 50]));
    const info = ['armv7l', 'Raspbian', '12', 'Linux', '6.1', 'CPython', '3.11.2', 'pip', '23.0', null] as const;
    const logger = reverse(lumberjack).send;
    const search: DataOf<typeof lumberjack.recv, 'LOGSEARCH'> = ['numpy', 'h', t0, ...info];
    assert.deepEqual(decodeMessage(lumberjack.recv, encodeMessage(logger, 'LOGSEARCH', search)), { msg: 'LOGSEARCH', data: search });
    for (const msg of ['LOGPROJECT', 'LOGJSON', 'LOGPAGE'] as const) {
      const hit: DataOf<typeof lumberjack.recv, typeof msg> = [msg === 'LOGPAGE' ? 'faq.html' : 'numpy', 'h', t0, 'ua'];
      assert.deepEqual(decodeMessage(lumberjack.recv, encodeMessage(logger, msg, hit)), { msg, data: hit });
    }
  });

  test('file juggler EXPECT carries a file state; OK carries anything', () => {
    const fileState: DataOf<typeof fileJugglerFs.recv, 'EXPECT'>[1] = ['f-1.0-py3-none-any.whl', 10, 'ab', 'f', '1.0', 'py3', 'none', 'any', null, {}, '/simple'];
    const m = decodeMessage(fileJugglerFs.recv, encodeMessage(reverse(fileJugglerFs).send, 'EXPECT', [1, fileState]));
    assert.deepEqual(m, { msg: 'EXPECT', data: [1, fileState] });
    const ok = decodeMessage(reverse(fileJugglerFs).recv, encodeMessage(fileJugglerFs.send, 'OK', { any: ['thing', 1] }));
    assert.deepEqual(ok, { msg: 'OK', data: { any: ['thing', 1] } });
  });

  test('toWire keeps floats as float64 inside an untyped monitor slot', () => {
    const stats: DataOf<typeof slaveDriver.recv, 'IDLE'> = [UtcDateTime.parse('2026-01-01T00:00:00Z'), 1, 2, 3, 4, 5, 6, 0, 45];
    const buf = encodeMessage(monitorStats.send, 'SLAVE', [1, UtcDateTime.parse('2026-01-01T00:00:01Z'), 'STATS', toWire(slaveStatsSchema, stats)]);
    assert.ok(hexOf(buf).endsWith('fb0000000000000000fb4046800000000000'));
    const m = decodeMessage(reverse(monitorStats).recv, buf);
    assert.ok(m.msg === 'SLAVE');
    assert.deepEqual(slaveStatsSchema.parse(m.data[3]), stats);
  });
});
