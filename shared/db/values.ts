// Conversions between JavaScript values and what the two dialects store.
import { isIP } from 'node:net';

/** UTC text that sorts as time does, in either dialect: 'YYYY-MM-DD HH:MM:SS.fff'. */
export function toDbTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  return date.toISOString().replace('T', ' ').slice(0, 23);
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

const DAY_MS = 86_400_000;

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
  return text.replace(CONTROL_CHARS, '\ufffd');
}

export function checkAddress(host: string): string {
  if (isIP(host) === 0) throw new RangeError(`not an IP address: ${JSON.stringify(host)}`);
  return host;
}
