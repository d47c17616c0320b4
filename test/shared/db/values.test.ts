// Values as the tables hold them: timestamps, flags, days, durations, text
// and addresses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkAddress,
  durationToMicros,
  fromDbFlag,
  fromDbTimestamp,
  recentFirstDay,
  sanitize,
  toDbTimestamp,
  utcDay,
} from '../../../shared/db/values.ts';

describe('values', () => {
  test('timestamps round-trip as UTC text that sorts', () => {
    const d = new Date('2024-02-29T23:59:58.123Z');
    assert.equal(toDbTimestamp(d), '2024-02-29 23:59:58.123');
    assert.equal(fromDbTimestamp(toDbTimestamp(d)).getTime(), d.getTime());
    assert.equal(fromDbTimestamp('2021-09-01 00:00:00.856014').toISOString(), '2021-09-01T00:00:00.856Z');
    assert.ok(toDbTimestamp(new Date('2024-01-01T00:00:00Z')) < toDbTimestamp(new Date('2024-01-01T00:00:00.001Z')));
    assert.throws(() => toDbTimestamp(new Date('garbage')), RangeError);
    assert.throws(() => fromDbTimestamp('yesterday'), TypeError);
    assert.throws(() => fromDbTimestamp(42), TypeError);
  });
  test('flags from either dialect', () => {
    assert.equal(fromDbFlag(true), true);
    assert.equal(fromDbFlag(1), true);
    assert.equal(fromDbFlag(0), false);
    assert.equal(fromDbFlag(false), false);
  });
  test('recent window is the last 30 UTC days, today included', () => {
    const now = new Date('2026-11-25T10:00:00Z');
    assert.equal(recentFirstDay(now), '2026-10-27');
    assert.equal(utcDay(now), '2026-11-25');
  });
  test('durations', () => {
    assert.equal(durationToMicros(1.5), 1_500_000);
    assert.throws(() => durationToMicros(-1), RangeError);
    assert.throws(() => durationToMicros(Number.NaN), RangeError);
  });
  test('control characters are replaced, layout kept', () => {
    assert.equal(sanitize('a\x00b\x1bc\td\ne\r'), 'a\ufffdb\ufffdc\td\ne\r');
    assert.equal(sanitize(null), null);
  });
  test('addresses are checked', () => {
    assert.equal(checkAddress('192.0.2.1'), '192.0.2.1');
    assert.equal(checkAddress('2001:db8::1'), '2001:db8::1');
    assert.throws(() => checkAddress('example.com'), RangeError);
    assert.throws(() => checkAddress(''), RangeError);
  });

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
