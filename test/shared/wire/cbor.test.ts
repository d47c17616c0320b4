import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CborError, NO_DATA, Timedelta, UtcDateTime, WireFloat, decodeCbor, encodeCbor } from '../../../shared/wire/cbor.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Buffer => Buffer.from(h, 'hex');

describe('Timedelta', () => {
  test('normalises like Python', () => {
    const cases: Array<[[number, number, number], [number, number, number]]> = [
      [[0, 10800, 0], [0, 10800, 0]],
      [[0, -1, 0], [-1, 86399, 0]],
      [[0, 0, -1], [-1, 86399, 999999]],
      [[0, 90000, 1500000], [1, 3601, 500000]],
      [[-2, 200000, 0], [0, 27200, 0]],
    ];
    for (const [input, expected] of cases) {
      const td = new Timedelta(...input);
      assert.deepEqual([td.days, td.seconds, td.microseconds], expected, `timedelta${JSON.stringify(input)}`);
    }
  });

  test('from seconds, str() and total', () => {
    const td = Timedelta.fromSeconds(2.372039);
    assert.deepEqual([td.days, td.seconds, td.microseconds], [0, 2, 372039]);
    assert.equal(String(new Timedelta(0, 10800)), '3:00:00');
    assert.equal(String(new Timedelta(1, 2, 372039)), '1 day, 0:00:02.372039');
    assert.equal(String(new Timedelta(0, -1)), '-1 day, 23:59:59');
    assert.equal(new Timedelta(1, 1, 500000).totalSeconds(), 86401.5);
  });

  test('refuses non-integers and out of range', () => {
    assert.throws(() => new Timedelta(0, 1.5), RangeError);
    assert.throws(() => new Timedelta(1_000_000_000), RangeError);
    assert.throws(() => Timedelta.fromSeconds(Number.NaN), RangeError);
  });

  test('encodes as tag 2001 exactly as cbor2', () => {
    assert.equal(hex(encodeCbor(new Timedelta(0, 10800))), 'd907d18300192a3000');
    assert.equal(hex(encodeCbor(new Timedelta(0, 2, 372039))), 'd907d18300021a0005ad47');
    assert.equal(hex(encodeCbor(new Timedelta(-1, 86399))), 'd907d183201a0001517f00');
    const back = decodeCbor(bytes('d907d18300021a0005ad47'));
    assert.ok(back instanceof Timedelta && back.equals(new Timedelta(0, 2, 372039)));
  });

  test('a malformed tag 2001 is a CborError', () => {
    assert.throws(() => decodeCbor(bytes('d907d1820102')), CborError);
    assert.throws(() => decodeCbor(bytes('d907d1636162')), CborError);
    assert.throws(() => decodeCbor(bytes('d907d183f90000000000')), CborError);
  });
});

describe('UtcDateTime', () => {
  test('encodes as cbor2 does: tag 0, Z, microseconds only when non-zero', () => {
    const withMicros = UtcDateTime.parse('2026-11-25T07:53:36.925882Z');
    assert.equal(hex(encodeCbor(withMicros)), 'c0781b' + Buffer.from('2026-11-25T07:53:36.925882Z').toString('hex'));
    const whole = new UtcDateTime(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    assert.equal(hex(encodeCbor(whole)), 'c074' + Buffer.from('2026-01-02T03:04:05Z').toString('hex'));
    const small = new UtcDateTime(0, 7);
    assert.equal(small.toISOString(), '1970-01-01T00:00:00.000007Z');
  });

  test('decodes tag 0 with offsets and tag 1 epochs', () => {
    const a = decodeCbor(encodeCbor(UtcDateTime.parse('2026-11-25T08:53:36.5+01:00')));
    assert.ok(a instanceof UtcDateTime);
    assert.equal(a.toISOString(), '2026-11-25T07:53:36.500000Z');
    const b = decodeCbor(bytes('c11a5f5e1000'));
    assert.ok(b instanceof UtcDateTime && b.equals(new UtcDateTime(1600000000)));
    const c = decodeCbor(bytes('c1fb41d7d78400200000'));
    assert.ok(c instanceof UtcDateTime);
    assert.equal(c.epochSeconds, 1600000000);
    assert.equal(c.microsecond, 500000);
  });

  test('keeps microseconds that a Date would lose, and converts to Date', () => {
    const dt = UtcDateTime.parse('2026-11-25T07:53:36.925882Z');
    assert.equal(dt.microsecond, 925882);
    assert.equal(dt.toDate().toISOString(), '2026-11-25T07:53:36.925Z');
    assert.ok(UtcDateTime.fromDate(new Date('2020-01-01T00:00:00.123Z')).equals(UtcDateTime.parse('2020-01-01T00:00:00.123Z')));
    assert.deepEqual(dt.minus(UtcDateTime.parse('2026-11-25T07:53:35.925883Z')), new Timedelta(0, 0, 999999));
  });

  test('refuses bad datetime text', () => {
    for (const text of ['2026-11-25T07:53:36', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', 'yesterday']) {
      assert.throws(() => UtcDateTime.parse(text), RangeError, text);
    }
    const tagged = Buffer.concat([bytes('c0'), encodeCbor('2026-11-25T07:53:36')]);
    assert.throws(() => decodeCbor(tagged), CborError);
    assert.throws(() => decodeCbor(bytes('c001')), CborError);
  });
});

describe('numbers and containers', () => {
  test('integers use the shortest form, including uint64 as cbor2 does', () => {
    assert.equal(hex(encodeCbor(0)), '00');
    assert.equal(hex(encodeCbor(1226)), '1904ca');
    assert.equal(hex(encodeCbor(270553174016)), '1b0000003efe39d000');
    assert.equal(hex(encodeCbor(-5000000000)), '3b000000012a05f1ff');
  });

  test('64-bit integers decode to numbers when exact, BigInt otherwise', () => {
    assert.equal(decodeCbor(bytes('1b0000003efe39d000')), 270553174016);
    assert.equal(decodeCbor(bytes('1bffffffffffffffff')), 18446744073709551615n);
    assert.deepEqual(decodeCbor(bytes('821b0000003efe39d000a1616b1b0000000100000000')), [270553174016, { k: 4294967296 }]);
  });

  test('WireFloat forces float64 even for whole values', () => {
    assert.equal(hex(encodeCbor(new WireFloat(0))), 'fb0000000000000000');
    assert.equal(hex(encodeCbor([new WireFloat(2), 2])), '82fb400000000000000002');
    assert.equal(hex(encodeCbor(1.15283203125)), 'fb3ff2720000000000');
  });

  test('maps, lists, None, bools and bytes round-trip', () => {
    const value = { apt: [], pip: ['numpy'], '': [], nested: [[1, [2, null]], true, false], raw: new Uint8Array([0, 1, 255]) };
    const back = decodeCbor(encodeCbor(value)) as Record<string, unknown>;
    assert.deepEqual(back.apt, []);
    assert.deepEqual(back.pip, ['numpy']);
    assert.deepEqual(back[''], []);
    assert.deepEqual(back.nested, [[1, [2, null]], true, false]);
    assert.deepEqual([...(back.raw as Uint8Array)], [0, 1, 255]);
    assert.equal(hex(encodeCbor({ apt: [], pip: [], '': [] })), 'a3636170748063706970806080');
    assert.equal(hex(encodeCbor(new Uint8Array([1, 2]))), '420102');
  });

  test('NoData is tag 2002 null', () => {
    assert.equal(hex(encodeCbor(NO_DATA)), 'd907d2f6');
    assert.equal(decodeCbor(bytes('d907d2f6')), NO_DATA);
    assert.throws(() => decodeCbor(bytes('d907d201')), CborError);
  });

  test('truncated and trailing input is a CborError', () => {
    assert.throws(() => decodeCbor(bytes('8265')), CborError);
    assert.throws(() => decodeCbor(bytes('')), CborError);
    assert.throws(() => decodeCbor(bytes('6141ff')), CborError);
    assert.throws(() => decodeCbor(bytes('ff')), CborError);
  });
});
