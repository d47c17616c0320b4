// Small formatting helpers shared by the pages and the JSON files. Everything
// here is deterministic (UTC, fixed locale) so the same data always renders
// to the same bytes.

const GROUPED = new Intl.NumberFormat('en-US');

/** 1234567 → "1,234,567". */
export function formatNumber(n: number): string {
  return GROUPED.format(n);
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** Bytes in binary multiples with one decimal above a kilobyte: "8.3 KB". */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** "2026-11-25" (UTC). */
export function formatDate(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** "2026-11-25 06:52:57" (UTC), the layout of piwheels' JSON `released`. */
export function formatDateTime(d: Date): string {
  return `${formatDate(d)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Seconds as "3 years, 12 days" style, largest two units. */
export function formatDuration(seconds: number): string {
  const units: [string, number][] = [
    ['year', 365 * 86400],
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [name, size] of units) {
    const count = Math.floor(rest / size);
    if (count > 0 && parts.length < 2) {
      parts.push(`${formatNumber(count)} ${name}${count === 1 ? '' : 's'}`);
      rest -= count * size;
    } else if (parts.length > 0) {
      break;
    }
  }
  return parts.length > 0 ? parts.join(', ') : '0 seconds';
}

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  // Most text (package names, versions, hashes) has nothing to escape.
  return NEEDS_ESCAPE.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c) : text;
}

const NEEDS_ESCAPE = /[&<>"']/;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
