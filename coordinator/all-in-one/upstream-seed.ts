// Following the real PyPI from one small machine. Reading PyPI's whole
// changelog from serial 0 would record every package ever published (tens of
// millions of events); a farm with an allow-list only needs the listed
// packages' newest releases and whatever is published from now on. So a
// fresh database starts at PyPI's current serial, with the newest release of
// each allowed package recorded from the JSON API.
import { z } from 'zod';
import type { Database } from '../../shared/db/index.ts';
import { canonicalizeName } from '../../shared/names.ts';
import { decodeMethodResponse, encodeMethodCall } from '../../shared/xmlrpc.ts';
import { truncateDescription, USER_AGENT } from '../upstream/pypi.ts';

/** The packages a new online farm follows unless told otherwise: small, pure Python, quick to build. */
export const DEFAULT_ALLOW_LIST = ['six', 'idna', 'certifi', 'packaging', 'typing-extensions', 'tomli'];

export function defaultAllowListText(): string {
  return [
    '# Packages this farm builds: one name (or requirement line) per line.',
    '# Edit freely: the farm re-reads this file when it changes.',
    ...DEFAULT_ALLOW_LIST,
    '',
  ].join('\n');
}

/**
 * Whether `url` answers at all within `timeoutMs` (any HTTP status will do:
 * the point is whether the network reaches it).
 */
export async function reachable(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs), headers: { 'user-agent': USER_AGENT } });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

async function fetchText(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    ...init,
    headers: { ...(init.headers as Record<string, string> | undefined), 'user-agent': USER_AGENT },
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: await response.text() };
}

/** Upstream's newest changelog serial (XML-RPC changelog_last_serial). */
export async function lastSerial(xmlrpcUrl: string, timeoutMs = 30_000): Promise<number> {
  const { status, body } = await fetchText(
    xmlrpcUrl,
    { method: 'POST', headers: { 'content-type': 'text/xml' }, body: encodeMethodCall('changelog_last_serial', []) },
    timeoutMs,
  );
  if (status !== 200) throw new Error(`${xmlrpcUrl} answered HTTP ${status} to changelog_last_serial`);
  const decoded = decodeMethodResponse(body);
  if (!decoded.ok) throw new Error(`changelog_last_serial failed: ${decoded.faultString}`);
  const serial = z.number().int().nonnegative().safeParse(decoded.value);
  if (!serial.success) throw new Error('changelog_last_serial did not answer a serial');
  return serial.data;
}

const projectJsonSchema = z.object({
  info: z.object({ name: z.string().min(1), summary: z.string().nullish(), version: z.string().min(1).nullable() }),
  releases: z.record(z.string(), z.array(z.object({ upload_time_iso_8601: z.string().optional(), yanked: z.boolean().optional() }))),
});

export interface NewestRelease {
  name: string;
  package: string;
  version: string;
  summary: string;
  released: Date;
}

/** The project's newest release from its JSON API document; null when it has none to build. */
export function newestRelease(json: unknown): NewestRelease | null {
  const parsed = projectJsonSchema.safeParse(json);
  if (!parsed.success) return null;
  const { info, releases } = parsed.data;
  if (info.version === null) return null;
  const files = releases[info.version] ?? [];
  if (files.length === 0 || files.every((f) => f.yanked === true)) return null;
  const times = files.map((f) => Date.parse(f.upload_time_iso_8601 ?? '')).filter((t) => Number.isFinite(t));
  return {
    name: info.name,
    package: canonicalizeName(info.name),
    version: info.version,
    summary: truncateDescription(info.summary ?? null),
    released: new Date(times.length > 0 ? Math.min(...times) : Date.now()),
  };
}

export interface SeedResult {
  serial: number;
  added: NewestRelease[];
  /** Allow-listed names upstream could not describe (unknown, or no release). */
  missing: string[];
}

/**
 * Starts a fresh database at upstream's current serial with the newest
 * release of each of `names`. Does nothing to a database that already
 * follows upstream (its saved serial is not 0).
 */
export async function seedFromUpstream(
  db: Database,
  names: readonly string[],
  urls: { xmlrpc: string; json: string },
  timeoutMs = 30_000,
): Promise<SeedResult | null> {
  if ((await db.getPypiSerial()) !== 0) return null;
  // The serial first: anything published while the releases are read is then replayed, not lost.
  const serial = await lastSerial(urls.xmlrpc, timeoutMs);
  const added: NewestRelease[] = [];
  const missing: string[] = [];
  const jsonRoot = urls.json.replace(/\/+$/, '');
  for (const name of names) {
    let release: NewestRelease | null = null;
    try {
      const { status, body } = await fetchText(`${jsonRoot}/${encodeURIComponent(name)}/json`, { headers: { accept: 'application/json' } }, timeoutMs);
      release = status === 200 ? newestRelease(JSON.parse(body)) : null;
    } catch {
      release = null;
    }
    if (release === null) {
      missing.push(name);
      continue;
    }
    await db.addNewPackage(release.package, '', release.summary);
    await db.addPackageName(release.package, release.name, release.released);
    await db.addNewPackageVersion(release.package, release.version, release.released);
    added.push(release);
  }
  await db.setPypiSerial(serial);
  return { serial, added, missing };
}
