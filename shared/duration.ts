// Durations as operators write them for piw-slave: "3h", "90m", "1h30m",
// "45s", "1d", "2:30:00", "90:00" (minutes:seconds is ambiguous, so H:MM is
// read the way piwheels' parser reads it: hours and minutes), or plain seconds.

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** Milliseconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (value === '') return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const clock = /^(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$/.exec(value);
  if (clock) {
    const [, h = '0', m = '0', s = '0'] = clock;
    return Math.round((Number(h) * 3600 + Number(m) * 60 + Number(s)) * 1000);
  }
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)/g;
  let total = 0;
  let consumed = '';
  for (const match of value.matchAll(part)) {
    const [whole, amount = '', unit = ''] = match;
    const ms = UNIT_MS[unit];
    if (ms === undefined) return null;
    total += Number(amount) * ms;
    consumed += whole;
  }
  if (consumed.replace(/\s+/g, '') !== value.replace(/\s+/g, '')) return null;
  return Math.round(total);
}

/** "3h", "1h30m", "45s", "1.5s": short text for logs and defaults. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms / 1000}s`;
  let seconds = ms / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  if (seconds > 0 || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join('');
}
