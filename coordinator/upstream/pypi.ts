// The farm's client for PyPI (or anything speaking its protocols): the
// XML-RPC changelog (`changelog_since_serial`), and from the JSON API the
// project summary and a release's wheels. Upstream misbehaves routinely (rate limits, 5xx, stalls, garbage),
// so every call has a timeout, transient failures are retried with back-off,
// and a response is validated before anything in it is believed.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ChangelogRow } from './changelog.ts';
import type { UpstreamFileRecord } from '../../shared/db/index.ts';
import { isSafeFilename, tryParseWheelFilename } from '../../shared/wheel/name.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import { repoPath } from '../../shared/paths.ts';
import { decodeMethodResponse, encodeMethodCall, XmlRpcError, type MethodResponse, type XmlRpcValue } from '../../shared/xmlrpc.ts';

const packageVersion = z
  .object({ version: z.string() })
  .parse(JSON.parse(readFileSync(repoPath('package.json'), 'utf8'))).version;

export const USER_AGENT = `piwheels-ts/${packageVersion} (wheel farm following the PyPI changelog)`;

/** The XML-RPC fault code PyPI answers with when asked too often. */
export const FAULT_TOO_MANY_REQUESTS = -32500;

/** Longest description stored (the packages.description column). */
export const MAX_DESCRIPTION = 200;

export class UpstreamError extends Error {
  constructor(
    message: string,
    /** True when trying again later may well succeed. */
    readonly transient: boolean,
    /** Seconds upstream asked us to wait (HTTP Retry-After), if it said. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface PyPIClientOptions {
  /** XML-RPC endpoint, e.g. https://pypi.org/pypi. The scheme is used as given. */
  xmlrpcUrl: string;
  /** JSON API root: `<root>/<name>/json`. */
  jsonUrl: string;
  /** Per-request limit, covering connect, headers and body. */
  timeoutMs?: number;
  /** Extra attempts after the first for transient failures. */
  retries?: number;
  /** First back-off; doubles per attempt up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  userAgent?: string;
  logger?: Logger;
}

/** A response body decoded; one that is not XML-RPC is an upstream failure that retrying will not cure. */
function decodeResponse(body: string): MethodResponse {
  try {
    return decodeMethodResponse(body);
  } catch (error) {
    if (error instanceof XmlRpcError) throw new UpstreamError(error.message, false);
    throw error;
  }
}

/** One changelog row as PyPI sends it: [name, version, timestamp, action, serial]. */
export const changelogRowSchema = z.tuple([
  z.string(),
  z.string().nullable(),
  z.number().int().nonnegative(),
  z.string(),
  z.number().int().nonnegative(),
]);

export interface ChangelogBatch {
  rows: ChangelogRow[];
  /** Rows that failed validation, with the reason (they are skipped). */
  rejected: Array<{ index: number; reason: string }>;
  /** Highest serial in the response, valid rows or not (0 when empty). */
  lastSerial: number;
}

/** Validates a decoded `changelog_since_serial` result row by row. */
export function parseChangelog(value: XmlRpcValue): ChangelogBatch {
  if (!Array.isArray(value)) throw new UpstreamError('changelog is not an array', false);
  const rows: ChangelogRow[] = [];
  const rejected: ChangelogBatch['rejected'] = [];
  let lastSerial = 0;
  value.forEach((item, index) => {
    if (Array.isArray(item) && typeof item[4] === 'number' && Number.isSafeInteger(item[4])) {
      lastSerial = Math.max(lastSerial, item[4]);
    }
    const parsed = changelogRowSchema.safeParse(item);
    if (!parsed.success) {
      rejected.push({ index, reason: parsed.error.issues[0]?.message ?? 'invalid row' });
      return;
    }
    const [name, version, timestamp, action, serial] = parsed.data;
    rows.push({ name, version, timestamp, action, serial });
  });
  return { rows, rejected, lastSerial };
}

/** PEP 503-free shortening: at most 200 characters, the last an ellipsis when cut. */
export function truncateDescription(summary: string | null): string {
  if (summary === null) return '';
  const chars = Array.from(summary);
  return chars.length > MAX_DESCRIPTION ? `${chars.slice(0, MAX_DESCRIPTION - 1).join('')}…` : summary;
}

const projectJsonSchema = z.object({ info: z.object({ summary: z.string().nullable().optional() }) });

/** The longest Requires-Python stored (the column's width); a longer one is dropped, it only informs. */
const MAX_REQUIRES_PYTHON = 200;

/** One release's JSON (`/pypi/<name>/<version>/json`): the files it holds. */
const releaseJsonSchema = z.object({
  urls: z.array(
    z.object({
      filename: z.string().min(1),
      packagetype: z.string(),
      digests: z.object({ sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'not a SHA-256') }),
      upload_time_iso_8601: z.iso.datetime({ offset: true }),
      requires_python: z.string().nullable().optional(),
    }),
  ),
});

/**
 * The wheels of a release's JSON, validated; throws UpstreamError for an
 * answer that is not one. One bad wheel entry spoils the whole answer: a
 * file dropped from it could be the one that clashes.
 */
export function parseReleaseFiles(name: string, version: string, json: unknown): UpstreamFileRecord[] {
  const parsed = releaseJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UpstreamError(`release JSON for ${name} ${version} is malformed (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'})`, false);
  }
  const files: UpstreamFileRecord[] = [];
  for (const file of parsed.data.urls) {
    if (file.packagetype !== 'bdist_wheel') continue;
    if (!isSafeFilename(file.filename) || tryParseWheelFilename(file.filename) === null) {
      throw new UpstreamError(`release JSON for ${name} ${version} names a wheel ${JSON.stringify(file.filename)} that is not one`, false);
    }
    const requiresPython = file.requires_python ?? null;
    files.push({
      filename: file.filename,
      filehash: file.digests.sha256.toLowerCase(),
      requiresPython: requiresPython === null || requiresPython === '' || requiresPython.length > MAX_REQUIRES_PYTHON ? null : requiresPython,
      uploadedAt: new Date(file.upload_time_iso_8601),
    });
  }
  return files;
}

// --- the client ----------------------------------------------------------------

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

export class PyPIClient {
  private readonly xmlrpcUrl: string;
  private readonly jsonUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly userAgent: string;
  private readonly logger: Logger;
  private readonly aborter = new AbortController();

  constructor(options: PyPIClientOptions) {
    for (const [what, url] of [['XML-RPC', options.xmlrpcUrl], ['JSON', options.jsonUrl]] as const) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new UpstreamError(`${what} URL "${url}" is not a URL`, false);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new UpstreamError(`${what} URL "${url}" must be http or https`, false);
      }
    }
    this.xmlrpcUrl = options.xmlrpcUrl;
    this.jsonUrl = options.jsonUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 4;
    this.backoffMs = options.backoffMs ?? 1_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.userAgent = options.userAgent ?? USER_AGENT;
    this.logger = options.logger ?? silentLogger();
  }

  /** Abandons requests and back-off waits in progress (on shutdown). */
  close(): void {
    this.aborter.abort();
  }

  /** Events after `serial` (PyPI caps one answer at 50,000). */
  async changelogSinceSerial(serial: number): Promise<ChangelogBatch> {
    const response = await this.withRetries('changelog', async () => {
      const body = await this.request(this.xmlrpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: encodeMethodCall('changelog_since_serial', [serial]),
      });
      const decoded = decodeResponse(body ?? '');
      if (!decoded.ok) {
        throw new UpstreamError(
          `XML-RPC fault ${decoded.faultCode}: ${decoded.faultString}`,
          decoded.faultCode === FAULT_TOO_MANY_REQUESTS,
        );
      }
      return decoded.value;
    });
    return parseChangelog(response);
  }

  /**
   * The project's summary, shortened to fit; '' when it has none; null when
   * it cannot be had now (deleted, or upstream failing): descriptions are
   * never worth stalling for.
   */
  async projectDescription(name: string): Promise<string | null> {
    const url = `${this.jsonUrl}/${encodeURIComponent(name)}/json`;
    try {
      return await this.withRetries('description', async () => {
        const body = await this.request(url, { method: 'GET', headers: { accept: 'application/json' } }, [404]);
        if (body === null) return null;
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          throw new UpstreamError(`project JSON for ${name} is not JSON`, false);
        }
        const parsed = projectJsonSchema.safeParse(json);
        if (!parsed.success) throw new UpstreamError(`project JSON for ${name} has no info.summary`, false);
        return truncateDescription(parsed.data.info.summary ?? null);
      });
    } catch (error) {
      if (this.aborter.signal.aborted) throw error;
      this.logger.warn({ package: name, err: (error as Error).message }, 'no description for now');
      return null;
    }
  }

  /**
   * The wheels upstream serves for a release ([] when it serves none, or
   * has no such release). Throws UpstreamError when upstream cannot say:
   * unreachable after `retries` more attempts, or a malformed answer.
   */
  async releaseFiles(name: string, version: string, options: { retries?: number } = {}): Promise<UpstreamFileRecord[]> {
    const url = `${this.jsonUrl}/${encodeURIComponent(name)}/${encodeURIComponent(version)}/json`;
    return this.withRetries(
      'release files',
      async () => {
        const body = await this.request(url, { method: 'GET', headers: { accept: 'application/json' } }, [404]);
        if (body === null) return [];
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          throw new UpstreamError(`release JSON for ${name} ${version} is not JSON`, false);
        }
        return parseReleaseFiles(name, version, json);
      },
      options.retries,
    );
  }

  /** One HTTP exchange; the body, or null for a status listed in `absent`. */
  private async request(url: string, init: RequestInit, absent: number[] = []): Promise<string | null> {
    const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.timeoutMs)]);
    let response: Response;
    try {
      response = await fetch(url, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), 'user-agent': this.userAgent },
        signal,
      });
    } catch (error) {
      throw new UpstreamError(`cannot reach ${url}: ${describeFetchError(error)}`, true);
    }
    if (absent.includes(response.status)) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) {
      await response.body?.cancel();
      const transient = response.status === 429 || response.status === 408 || response.status >= 500;
      throw new UpstreamError(
        `${url} answered HTTP ${response.status}`,
        transient,
        retryAfterSeconds(response.headers.get('retry-after')),
      );
    }
    try {
      return await response.text();
    } catch (error) {
      throw new UpstreamError(`reading ${url} failed: ${describeFetchError(error)}`, true);
    }
  }

  private async withRetries<T>(what: string, attempt: () => Promise<T>, retries = this.retries): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof UpstreamError) || !error.transient || tries >= retries || this.aborter.signal.aborted) {
          throw error;
        }
        const backoff = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** tries);
        const wait = Math.min(this.maxBackoffMs, Math.max(backoff, (error.retryAfter ?? 0) * 1000));
        this.logger.warn({ what, err: error.message, retryInMs: wait }, 'upstream request failed; backing off');
        await sleep(wait, undefined, { signal: this.aborter.signal }).catch(() => undefined);
      }
    }
  }
}

function describeFetchError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    if (error.name === 'AbortError') return 'aborted';
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return cause.message;
    return error.message;
  }
  return String(error);
}
