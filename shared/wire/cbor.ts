// CBOR with the conventions piwheels' Python peers (cbor2) use on the wire.
//
// Public API:
//   Timedelta        Python's datetime.timedelta (tag 2001 [days, seconds, µs]),
//                    normalised exactly as Python normalises it.
//   UtcDateTime      a timezone-aware UTC datetime with microsecond precision
//                    (JS Date keeps milliseconds only). Encoded as tag 0 ISO
//                    text the way cbor2 writes it; decoded from tag 0 or tag 1.
//   WireFloat        forces a number to be written as float64, for fields the
//                    Python side checks with isinstance(x, float) (0.0 would
//                    otherwise be written as the integer 0).
//   NO_DATA          the "no data" marker (tag 2002 holding null).
//   encodeCbor(v)    value -> bytes
//   decodeCbor(buf)  bytes -> value; safe 64-bit integers come back as numbers,
//                    larger ones stay BigInt. Throws CborError on bad input.
//
// cbor-x keeps its tag handlers in module-wide tables, so registering them
// here defines what tags 0, 1, 2001 and 2002 mean for the whole process.
import { Decoder, Encoder, addExtension } from 'cbor-x';

export class CborError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CborError';
  }
}

const US_PER_SECOND = 1_000_000;
const SECONDS_PER_DAY = 86_400;
const MAX_TIMEDELTA_DAYS = 999_999_999;

/** floor division and the matching non-negative remainder, as Python's divmod */
function divmod(a: number, b: number): [number, number] {
  const q = Math.floor(a / b);
  return [q, a - q * b];
}

/**
 * Python's datetime.timedelta: 0 <= seconds < 86400 and
 * 0 <= microseconds < 10^6 after normalisation; days carries the sign.
 */
export class Timedelta {
  readonly days: number;
  readonly seconds: number;
  readonly microseconds: number;

  constructor(days = 0, seconds = 0, microseconds = 0) {
    for (const part of [days, seconds, microseconds]) {
      if (!Number.isSafeInteger(part)) throw new RangeError(`timedelta parts must be integers, not ${part}`);
    }
    const [carrySeconds, us] = divmod(microseconds, US_PER_SECOND);
    const [carryDays, s] = divmod(seconds + carrySeconds, SECONDS_PER_DAY);
    const d = days + carryDays;
    if (Math.abs(d) > MAX_TIMEDELTA_DAYS) throw new RangeError(`timedelta of ${d} days is out of range`);
    this.days = d;
    this.seconds = s;
    this.microseconds = us;
  }

  static fromSeconds(seconds: number): Timedelta {
    if (!Number.isFinite(seconds)) throw new RangeError(`timedelta of ${seconds} seconds is out of range`);
    const whole = Math.floor(seconds);
    return new Timedelta(0, whole, Math.round((seconds - whole) * US_PER_SECOND));
  }

  static fromMilliseconds(ms: number): Timedelta {
    return Timedelta.fromSeconds(ms / 1000);
  }

  totalSeconds(): number {
    return this.days * SECONDS_PER_DAY + this.seconds + this.microseconds / US_PER_SECOND;
  }

  totalMilliseconds(): number {
    return this.totalSeconds() * 1000;
  }

  equals(other: Timedelta): boolean {
    return this.days === other.days && this.seconds === other.seconds && this.microseconds === other.microseconds;
  }

  /** Python's str(timedelta): "3:00:00", "1 day, 0:00:02.372039", "-1 day, 23:59:59" */
  toString(): string {
    const [h, rest] = divmod(this.seconds, 3600);
    const [m, s] = divmod(rest, 60);
    let text = `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
    if (this.microseconds !== 0) text += `.${String(this.microseconds).padStart(6, '0')}`;
    if (this.days !== 0) text = `${this.days} day${Math.abs(this.days) === 1 ? '' : 's'}, ${text}`;
    return text;
  }
}

// Python datetime's range: years 1..9999
const MIN_EPOCH_SECONDS = -62_135_596_800;
const MAX_EPOCH_SECONDS = 253_402_300_799;
const ISO_PATTERN = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?(?:(Z)|([+-])(\d\d):(\d\d))$/i;

/** A timezone-aware UTC instant with microsecond precision. */
export class UtcDateTime {
  /** whole seconds since the Unix epoch (may be negative) */
  readonly epochSeconds: number;
  /** 0..999999 */
  readonly microsecond: number;

  constructor(epochSeconds: number, microsecond = 0) {
    if (!Number.isSafeInteger(epochSeconds) || epochSeconds < MIN_EPOCH_SECONDS || epochSeconds > MAX_EPOCH_SECONDS) {
      throw new RangeError(`datetime ${epochSeconds}s from the epoch is out of range`);
    }
    if (!Number.isInteger(microsecond) || microsecond < 0 || microsecond >= US_PER_SECOND) {
      throw new RangeError(`microsecond ${microsecond} is out of range`);
    }
    this.epochSeconds = epochSeconds;
    this.microsecond = microsecond;
  }

  static fromDate(date: Date): UtcDateTime {
    const ms = date.getTime();
    if (Number.isNaN(ms)) throw new RangeError('invalid Date');
    const [s, msRest] = divmod(ms, 1000);
    return new UtcDateTime(s, msRest * 1000);
  }

  static now(): UtcDateTime {
    return UtcDateTime.fromDate(new Date());
  }

  /** Seconds since the epoch as a float (CBOR tag 1 content). */
  static fromEpoch(seconds: number): UtcDateTime {
    if (!Number.isFinite(seconds)) throw new RangeError(`epoch ${seconds} is out of range`);
    let whole = Math.floor(seconds);
    let us = Math.round((seconds - whole) * US_PER_SECOND);
    if (us === US_PER_SECOND) {
      whole += 1;
      us = 0;
    }
    return new UtcDateTime(whole, us);
  }

  /** Parses the ISO 8601 text of CBOR tag 0 (offset or Z required, as cbor2 does). */
  static parse(text: string): UtcDateTime {
    const m = ISO_PATTERN.exec(text);
    if (m === null) throw new RangeError(`invalid datetime string: ${JSON.stringify(text)}`);
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
      throw new RangeError(`invalid datetime string: ${JSON.stringify(text)}`);
    }
    const fraction = m[7] === undefined ? 0 : Number(m[7].padEnd(6, '0'));
    let offset = 0;
    if (m[8] === undefined) {
      const sign = m[9] === '-' ? -1 : 1;
      offset = sign * (Number(m[10]) * 3600 + Number(m[11]) * 60);
    }
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day);
    if (date.getUTCMonth() !== month - 1) throw new RangeError(`invalid datetime string: ${JSON.stringify(text)}`);
    date.setUTCHours(hour, minute, second, 0);
    return new UtcDateTime(date.getTime() / 1000 - offset, fraction);
  }

  toDate(): Date {
    return new Date(this.epochSeconds * 1000 + Math.floor(this.microsecond / 1000));
  }

  /** Milliseconds since the epoch, with the microseconds as a fraction. */
  valueOf(): number {
    return this.epochSeconds * 1000 + this.microsecond / 1000;
  }

  equals(other: UtcDateTime): boolean {
    return this.epochSeconds === other.epochSeconds && this.microsecond === other.microsecond;
  }

  /** Difference this - other. */
  minus(other: UtcDateTime): Timedelta {
    return new Timedelta(0, this.epochSeconds - other.epochSeconds, this.microsecond - other.microsecond);
  }

  /** ISO text exactly as cbor2 writes it: isoformat() with "Z" for UTC. */
  toISOString(): string {
    const base = new Date(this.epochSeconds * 1000).toISOString();
    // toISOString() gives "YYYY-MM-DDTHH:MM:SS.sssZ" for years 0..9999
    const stem = base.slice(0, 19);
    return this.microsecond === 0 ? `${stem}Z` : `${stem}.${String(this.microsecond).padStart(6, '0')}Z`;
  }

  toString(): string {
    return this.toISOString();
  }
}

/** A number that must go on the wire as a float64. */
export class WireFloat {
  constructor(readonly value: number) {}
}

class NoDataMarker {
  toString(): string {
    return 'NoData';
  }
}

/** piwheels' NoData singleton (tag 2002). */
export const NO_DATA: NoDataMarker = Object.freeze(new NoDataMarker());
export type NoData = typeof NO_DATA;

function checkInt(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new CborError(`expected an integer in tag 2001, got ${String(value)}`);
  return n;
}

// cbor-x's typings want encode() to return bytes; with a tag it is called to
// write the tag's content through the encode callback, as its docs show.
interface TagExtension<T> {
  Class?: new (...args: never[]) => T;
  tag?: number;
  getTag?: () => undefined;
  encode?(this: { alwaysUseFloat?: boolean }, value: T, encode: (v: unknown) => void): void;
  decode?(data: unknown): unknown;
}

function register<T>(extension: TagExtension<T>): void {
  addExtension(extension as unknown as Parameters<typeof addExtension>[0]);
}

register({
  Class: Timedelta,
  tag: 2001,
  encode(value: Timedelta, encode: (v: unknown) => void) {
    encode([value.days, value.seconds, value.microseconds]);
  },
  decode(data: unknown): Timedelta {
    if (!Array.isArray(data) || data.length !== 3) throw new CborError('tag 2001 must hold [days, seconds, microseconds]');
    try {
      return new Timedelta(checkInt(data[0]), checkInt(data[1]), checkInt(data[2]));
    } catch (error) {
      throw new CborError(`bad timedelta: ${(error as Error).message}`);
    }
  },
});

register({
  Class: NoDataMarker,
  tag: 2002,
  encode(_value: NoDataMarker, encode: (v: unknown) => void) {
    encode(null);
  },
  decode(data: unknown): NoDataMarker {
    if (data !== null) throw new CborError('tag 2002 must hold null');
    return NO_DATA;
  },
});

register({
  Class: UtcDateTime,
  tag: 0,
  encode(value: UtcDateTime, encode: (v: unknown) => void) {
    encode(value.toISOString());
  },
  decode(data: unknown): UtcDateTime {
    if (typeof data !== 'string') throw new CborError('tag 0 must hold a string');
    try {
      return UtcDateTime.parse(data);
    } catch (error) {
      throw new CborError((error as Error).message);
    }
  },
});

register({
  tag: 1,
  decode(data: unknown): UtcDateTime {
    const n = typeof data === 'bigint' ? Number(data) : data;
    if (typeof n !== 'number') throw new CborError('tag 1 must hold a number');
    try {
      return UtcDateTime.fromEpoch(n);
    } catch (error) {
      throw new CborError((error as Error).message);
    }
  },
});

// cbor-x writes a whole number as an integer unless alwaysUseFloat is set;
// the flag is read at write time, so it is switched on for this one value.
// With no tag given, cbor-x writes no tag header for the extension.
register({
  Class: WireFloat,
  getTag: () => undefined,
  encode(value: WireFloat, encode: (v: unknown) => void) {
    const previous = this.alwaysUseFloat;
    this.alwaysUseFloat = true;
    try {
      encode(value.value);
    } finally {
      this.alwaysUseFloat = previous;
    }
  },
});

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true, useFloat32: 0 });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

// cbor-x writes integers beyond 32 bits as float64, which Python's int checks
// refuse; as BigInts they are written as the uint64/nint64 cbor2 writes.
function widenIntegers(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffffffff || value < -0x100000000) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(widenIntegers);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) {
      // a plain assignment to "__proto__" would replace the prototype instead
      Object.defineProperty(out, key, { value: widenIntegers(entry), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

export function encodeCbor(value: unknown): Buffer {
  try {
    return encoder.encode(widenIntegers(value));
  } catch (error) {
    throw new CborError(`cannot encode: ${(error as Error).message}`);
  }
}

/** Turns the BigInts cbor-x gives for 64-bit integers into numbers where exact. */
function normalise(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = normalise(value[i]);
    return value;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = normalise(record[key]);
  }
  return value;
}

export function decodeCbor(buf: Uint8Array): unknown {
  let value: unknown;
  try {
    value = decoder.decode(buf);
  } catch (error) {
    if (error instanceof CborError) throw error;
    throw new CborError(`cannot decode: ${(error as Error).message}`);
  }
  return normalise(value);
}
