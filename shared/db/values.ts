// Conversions between JavaScript values and what the two dialects store.
import { isIP } from 'node:net';

const DAY_MS = 86_400_000;

/** '00' to '99'. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/**
 * UTC text that sorts as time does, in either dialect: 'YYYY-MM-DD HH:MM:SS.fff'.
 * Worked out by arithmetic: Date's toISOString() costs more than the rest of
 * storing an access-log record.
 */
export function toDbTimestamp(date: Date): string {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid date');
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const millis = rest - second * 1000;
  const [year, month, day] = civilFromDays(days);
  if (year < 0 || year > 9999) throw new RangeError(`date out of range: year ${year}`);
  return (
    `${String(year).padStart(4, '0')}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]} ` +
    `${TWO_DIGITS[hour]}:${TWO_DIGITS[minute]}:${TWO_DIGITS[second]}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}`
  );
}

/** The proleptic Gregorian [year, month 1-12, day] of a day count from 1970-01-01. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/** Reads back a timestamp column (PostgreSQL's text form or ours), always as UTC. */
export function fromDbTimestamp(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value !== 'string') throw new TypeError(`not a timestamp: ${String(value)}`);
  const date = new Date(`${value.replace(' ', 'T')}Z`);
  if (Number.isNaN(date.getTime())) throw new TypeError(`not a timestamp: ${value}`);
  return date;
}

export function fromDbFlag(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't';
}

/** 'YYYY-MM-DD' of a date in UTC: the key of the daily download counters. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/**
 * First day of the "recent downloads" window: the last 30 UTC days, today
 * included. Counting whole days keeps the figure a sum of daily counters,
 * which stays exact without rescanning the downloads.
 */
export function recentFirstDay(now: Date): string {
  return utcDay(new Date(now.getTime() - 29 * DAY_MS));
}

/** A week in microseconds: longer builds are left out of the build time (clock skew on the builder). */
export const WEEK_US = 7 * DAY_MS * 1000;

export function durationToMicros(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`invalid duration: ${seconds}`);
  return Math.round(seconds * 1_000_000);
}

// Build output and user agents carry all sorts of bytes; the control
// characters (bar tab, newline and carriage return) become U+FFFD, as piwheels
// does, so that no text column holds them.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f]/g;

export function sanitize(text: string): string;
export function sanitize(text: string | null | undefined): string | null;
export function sanitize(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  // a plain scan first: most text is clean, and a regex call costs more than a short loop
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return text.replace(CONTROL_CHARS, '\ufffd');
  }
  return text;
}

export function checkAddress(host: string): string {
  if (isIP(host) === 0) throw new RangeError(`not an IP address: ${JSON.stringify(host)}`);
  return host;
}
