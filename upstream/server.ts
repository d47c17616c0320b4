// piw-upstream: a small stand-in for PyPI, for tests, benchmarks and offline
// demos. It serves, over plain HTTP:
//
//   GET  /simple/ and /simple/<name>/   PEP 503 index (links carry #sha256=, yanks data-yanked)
//   GET  /files/<filename>              the files themselves
//   GET  /pypi/<name>/json              the JSON API (info.summary, releases, urls)
//   GET  /pypi/<name>/<version>/json    one release's JSON (urls: its files)
//   POST /pypi (or /RPC2)               XML-RPC changelog_since_serial, changelog_last_serial
//   POST /admin/<op>                    scripted events, faults and withheld files (JSON body; see AdminRequest)
//
// The same operations are methods of UpstreamServer for tests in-process.
// Debian's wheels of pip, setuptools and wheel (/usr/share/python-wheels) are
// served too, so pip's isolated builds work with no network.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { canonicalizeName, compareVersions } from '../shared/names.ts';
import { isSafeFilename, tryParseWheelFilename } from '../shared/wheel/name.ts';
import { silentLogger, type Logger } from '../shared/log.ts';
import { listenHttp, type HttpListener } from '../shared/http-listener.ts';
import { decodeMethodCall, encodeFault, encodeMethodResponse, type MethodCall, type XmlRpcValue } from '../shared/xmlrpc.ts';

/** One changelog row, as changelog_since_serial returns it. */
export interface HistoryRow {
  name: string;
  version: string | null;
  timestamp: number;
  action: string;
  serial: number;
}

/** Where the changelog comes from: recorded events, or a synthetic history. */
export interface EventLog {
  lastSerial(): number;
  /** Rows with serial > `serial`, in serial order, at most `limit`. */
  since(serial: number, limit: number): HistoryRow[];
}

export class MemoryLog implements EventLog {
  private readonly rows: HistoryRow[] = [];

  append(row: Omit<HistoryRow, 'serial'>): HistoryRow {
    const full = { ...row, serial: this.lastSerial() + 1 };
    this.rows.push(full);
    return full;
  }

  lastSerial(): number {
    return this.rows.at(-1)?.serial ?? 0;
  }

  since(serial: number, limit: number): HistoryRow[] {
    // Serials here are 1..n without gaps, so the index is serial - 1.
    const start = Math.max(0, Math.min(this.rows.length, serial));
    return this.rows.slice(start, start + limit);
  }
}

interface StoredFile {
  filename: string;
  sha256: string;
  size: number;
  source: { path: string } | { bytes: Buffer };
  packagetype: 'sdist' | 'bdist_wheel';
  uploaded: number;
}

interface Project {
  name: string;
  summary: string | null;
  versions: Map<string, { files: StoredFile[]; yanked: boolean }>;
}

export type FaultTarget = 'xmlrpc' | 'json' | 'simple' | 'any';

export const faultSchema = z.object({
  kind: z.enum(['429', '500', 'hang', 'invalid-xml', 'xmlrpc-too-many', '404']),
  target: z.enum(['xmlrpc', 'json', 'simple', 'any']).default('any'),
  /** How many matching requests misbehave; omitted: until cleared. */
  count: z.number().int().positive().optional(),
});
export type Fault = z.infer<typeof faultSchema>;

const timestamp = z.number().int().nonnegative().optional();
const name = z.string().min(1).max(200);
const version = z.string().min(1).max(200);

/** The body of POST /admin/<op>; `op` comes from the path. */
export const adminRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('create'), name, summary: z.string().nullable().optional(), timestamp }),
  z.object({
    op: z.literal('upload'),
    name,
    version,
    filename: z.string().optional(),
    /** File content, base64; a small placeholder when omitted. */
    content: z.string().optional(),
    summary: z.string().nullable().optional(),
    timestamp,
  }),
  z.object({ op: z.literal('remove'), name, version: version.optional(), timestamp }),
  z.object({ op: z.literal('yank'), name, version, timestamp }),
  z.object({ op: z.literal('unyank'), name, version, timestamp }),
  z.object({ op: z.literal('event'), name, version: z.string().nullable().default(null), action: z.string(), timestamp }),
  z.object({ op: z.literal('fault'), fault: faultSchema.nullable() }),
  // a file answers 404 until this time (epoch ms): a release whose file is not served yet, as PyPI's CDN does at times
  z.object({
    op: z.literal('withhold'),
    filename: z.string().min(1).max(255).refine((f) => !/[/\\\0]/.test(f) && f !== '.' && f !== '..', 'must be a plain file name'),
    until: z.number().int().nonnegative(),
  }),
]);
export type AdminRequest = z.infer<typeof adminRequestSchema>;

export interface UpstreamOptions {
  host?: string;
  port?: number;
  /** A directory of sdists and wheels to serve (and announce in the changelog). */
  dir?: string;
  /** Serve Debian's pip/setuptools/wheel wheels (default true). */
  systemWheels?: boolean;
  /** Most rows per changelog answer (PyPI: 50,000). */
  batchLimit?: number;
  /** Replace the recorded changelog (e.g. a synthetic history). */
  log?: EventLog;
  logger?: Logger;
}

export const SYSTEM_WHEELS_DIR = '/usr/share/python-wheels';

const SDIST = /^(.+?)-([^-]+)\.(tar\.gz|zip|tar\.bz2)$/;

/** (name, version) from a distribution's filename, or null when it is neither an sdist nor a wheel. */
export function parseDistFilename(filename: string): { name: string; version: string; packagetype: StoredFile['packagetype']; pyTag: string } | null {
  const wheel = tryParseWheelFilename(filename);
  if (wheel) return { name: wheel.distribution, version: wheel.version, packagetype: 'bdist_wheel', pyTag: wheel.pythonTag };
  const sdist = SDIST.exec(filename);
  if (sdist) return { name: sdist[1] as string, version: sdist[2] as string, packagetype: 'sdist', pyTag: 'source' };
  return null;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** A changelog row as PyPI sends it: [name, version, timestamp, action, serial]. */
const changelogRow = (row: HistoryRow): XmlRpcValue => [row.name, row.version, row.timestamp, row.action, row.serial];

export class UpstreamServer {
  private readonly projects = new Map<string, Project>();
  private readonly recorded = new MemoryLog();
  private readonly log: EventLog;
  private readonly systemFiles = new Map<string, { name: string; version: string; file: StoredFile }>();
  private readonly logger: Logger;
  private readonly batchLimit: number;
  private listener: HttpListener | undefined;
  private fault: (Fault & { remaining: number }) | null = null;
  /** Files that answer 404 until a time (epoch ms), by filename. */
  private readonly withheld = new Map<string, number>();
  /** Requests served, by kind, for tests that check back-off. */
  readonly hits = { xmlrpc: 0, json: 0, simple: 0, files: 0, admin: 0 };
  url = '';

  constructor(private readonly options: UpstreamOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.log = options.log ?? this.recorded;
    this.batchLimit = options.batchLimit ?? 50_000;
    if (options.systemWheels ?? true) this.loadSystemWheels();
    if (options.dir !== undefined) this.loadDirectory(options.dir);
  }

  async start(): Promise<string> {
    this.listener = await listenHttp((req, res) => this.handle(req, res), {
      host: this.options.host,
      port: this.options.port,
      onError: (error) => this.logger.error({ err: error }, 'request failed'),
    });
    this.url = this.listener.url;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
    this.listener = undefined;
  }

  // --- scripted history ---------------------------------------------------------

  /** The serial of the newest event. */
  get serial(): number {
    return this.log.lastSerial();
  }

  create(name: string, options: { summary?: string | null; timestamp?: number } = {}): number {
    const key = canonicalizeName(name);
    const project = this.projects.get(key);
    if (project) {
      if (options.summary !== undefined) project.summary = options.summary;
      return this.serial;
    }
    this.projects.set(key, { name, summary: options.summary ?? null, versions: new Map() });
    return this.append(name, null, 'create', options.timestamp);
  }

  upload(
    name: string,
    version: string,
    options: { filename?: string; content?: Buffer; summary?: string | null; timestamp?: number } = {},
  ): number {
    const filename = options.filename ?? `${name.replace(/[-.]+/g, '_')}-${version}.tar.gz`;
    if (!isSafeFilename(filename)) throw new Error(`unsafe filename ${filename}`);
    const parsed = parseDistFilename(filename);
    const bytes = options.content ?? Buffer.from(`placeholder for ${filename}\n`);
    this.create(name, { summary: options.summary, timestamp: options.timestamp });
    const project = this.projects.get(canonicalizeName(name)) as Project;
    let release = project.versions.get(version);
    if (!release) {
      release = { files: [], yanked: false };
      project.versions.set(version, release);
    }
    const at = options.timestamp ?? now();
    release.files = release.files.filter((f) => f.filename !== filename);
    release.files.push({
      filename,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      source: { bytes },
      packagetype: parsed?.packagetype ?? 'sdist',
      uploaded: at,
    });
    const tag = parsed === null || parsed.packagetype === 'sdist' ? 'source' : parsed.pyTag;
    return this.append(name, version, `add ${tag} file ${filename}`, at);
  }

  /** Removes a release, or with no version the whole project. */
  remove(name: string, version?: string, options: { timestamp?: number } = {}): number {
    const key = canonicalizeName(name);
    const project = this.projects.get(key);
    if (version === undefined) {
      this.projects.delete(key);
      return this.append(project?.name ?? name, null, 'remove project', options.timestamp);
    }
    project?.versions.delete(version);
    return this.append(project?.name ?? name, version, 'remove release', options.timestamp);
  }

  yank(name: string, version: string, options: { timestamp?: number } = {}): number {
    return this.setYanked(name, version, true, options.timestamp);
  }

  unyank(name: string, version: string, options: { timestamp?: number } = {}): number {
    return this.setYanked(name, version, false, options.timestamp);
  }

  /** Appends a raw changelog row without touching the served projects. */
  event(name: string, version: string | null, action: string, timestamp?: number): number {
    return this.append(name, version, action, timestamp);
  }

  /** Makes matching requests misbehave; null clears. */
  setFault(fault: Fault | null): void {
    this.fault = fault === null ? null : { ...fault, remaining: fault.count ?? Number.POSITIVE_INFINITY };
  }

  /** Makes a file answer 404 until `until` (epoch ms), while the index still lists it. */
  withhold(filename: string, until: number): void {
    this.withheld.set(filename, until);
  }

  /** Applies one admin request (as POST /admin/<op> does); returns the serial after it. */
  admin(request: AdminRequest): number {
    const at = 'timestamp' in request ? { timestamp: request.timestamp } : {};
    switch (request.op) {
      case 'create':
        return this.create(request.name, { summary: request.summary, ...at });
      case 'upload':
        return this.upload(request.name, request.version, {
          filename: request.filename,
          content: request.content === undefined ? undefined : Buffer.from(request.content, 'base64'),
          summary: request.summary,
          ...at,
        });
      case 'remove':
        return this.remove(request.name, request.version, at);
      case 'yank':
        return this.yank(request.name, request.version, at);
      case 'unyank':
        return this.unyank(request.name, request.version, at);
      case 'event':
        return this.event(request.name, request.version, request.action, request.timestamp);
      case 'fault':
        this.setFault(request.fault);
        return this.serial;
      case 'withhold':
        this.withhold(request.filename, request.until);
        return this.serial;
    }
  }

  private setYanked(name: string, version: string, yanked: boolean, timestamp?: number): number {
    const release = this.projects.get(canonicalizeName(name))?.versions.get(version);
    if (release) release.yanked = yanked;
    return this.append(name, version, yanked ? 'yank release' : 'unyank release', timestamp);
  }

  private append(name: string, version: string | null, action: string, timestamp: number | undefined): number {
    if (this.log !== this.recorded) throw new Error('this server replays a fixed history');
    return this.recorded.append({ name, version, action, timestamp: timestamp ?? now() }).serial;
  }

  private loadSystemWheels(): void {
    let names: string[];
    try {
      names = readdirSync(SYSTEM_WHEELS_DIR);
    } catch {
      this.logger.warn({ dir: SYSTEM_WHEELS_DIR }, 'no system wheels to serve');
      return;
    }
    for (const filename of names) {
      const parsed = parseDistFilename(filename);
      if (parsed === null || parsed.packagetype !== 'bdist_wheel') continue;
      const file = fileFromDisk(join(SYSTEM_WHEELS_DIR, filename), filename, 'bdist_wheel');
      this.systemFiles.set(filename, { name: parsed.name, version: parsed.version, file });
    }
  }

  /** Serves every sdist and wheel in `dir`, announcing each in the changelog. */
  private loadDirectory(dir: string): void {
    for (const filename of readdirSync(dir).sort()) {
      const parsed = parseDistFilename(filename);
      if (parsed === null) continue;
      const file = fileFromDisk(join(dir, filename), filename, parsed.packagetype);
      this.create(parsed.name, { timestamp: file.uploaded });
      const project = this.projects.get(canonicalizeName(parsed.name)) as Project;
      const release = project.versions.get(parsed.version) ?? { files: [], yanked: false };
      project.versions.set(parsed.version, release);
      release.files.push(file);
      this.append(parsed.name, parsed.version, `add ${parsed.pyTag} file ${filename}`, file.uploaded);
    }
  }

  // --- HTTP -----------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const path = decodeURIComponent(url.pathname);
    if (req.method === 'POST' && path.startsWith('/admin/')) {
      this.hits.admin += 1;
      return this.handleAdmin(path.slice('/admin/'.length), await readBody(req), res);
    }
    if (req.method === 'POST' && (path === '/pypi' || path === '/pypi/' || path === '/RPC2')) {
      this.hits.xmlrpc += 1;
      if (this.injectFault('xmlrpc', res)) return;
      return this.handleXmlRpc(await readBody(req), res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', 'method not allowed\n');
    const json = /^\/pypi\/([^/]+)\/json\/?$/.exec(path);
    if (json) {
      this.hits.json += 1;
      if (this.injectFault('json', res)) return;
      return this.handleJson(json[1] as string, res);
    }
    const releaseJson = /^\/pypi\/([^/]+)\/([^/]+)\/json\/?$/.exec(path);
    if (releaseJson) {
      this.hits.json += 1;
      if (this.injectFault('json', res)) return;
      return this.handleReleaseJson(releaseJson[1] as string, releaseJson[2] as string, res);
    }
    if (path === '/simple' || path === '/simple/') {
      this.hits.simple += 1;
      if (this.injectFault('simple', res)) return;
      return this.handleRoot(res);
    }
    const simple = /^\/simple\/([^/]+)\/?$/.exec(path);
    if (simple) {
      this.hits.simple += 1;
      if (this.injectFault('simple', res)) return;
      return this.handleSimple(simple[1] as string, res);
    }
    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file) {
      this.hits.files += 1;
      return this.handleFile(file[1] as string, req, res);
    }
    this.send(res, 404, 'text/plain', 'not found\n');
  }

  private injectFault(target: FaultTarget, res: ServerResponse): boolean {
    const fault = this.fault;
    if (fault === null || (fault.target !== 'any' && fault.target !== target)) return false;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.fault = null;
    switch (fault.kind) {
      case '429':
        res.setHeader('retry-after', '0');
        this.send(res, 429, 'text/plain', 'too many requests\n');
        return true;
      case '500':
        this.send(res, 500, 'text/plain', 'internal server error\n');
        return true;
      case '404':
        this.send(res, 404, 'text/plain', 'not found\n');
        return true;
      case 'hang':
        return true;
      case 'invalid-xml':
        this.send(res, 200, 'text/xml', '<?xml version="1.0"?><methodResponse><params><param><value><array><data><value>');
        return true;
      case 'xmlrpc-too-many':
        this.send(res, 200, 'text/xml', encodeFault(-32500, 'HTTPTooManyRequests: The action could not be performed because there were too many requests by the client.'));
        return true;
    }
  }

  private handleAdmin(op: string, body: string, res: ServerResponse): void {
    let input: unknown;
    try {
      input = { ...(body.trim() === '' ? {} : (JSON.parse(body) as object)), op };
    } catch {
      return this.send(res, 400, 'application/json', JSON.stringify({ error: 'body is not JSON' }));
    }
    const parsed = adminRequestSchema.safeParse(input);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
      return this.send(res, 400, 'application/json', JSON.stringify({ error: message }));
    }
    try {
      const serial = this.admin(parsed.data);
      this.send(res, 200, 'application/json', JSON.stringify({ serial }));
    } catch (error) {
      this.send(res, 409, 'application/json', JSON.stringify({ error: (error as Error).message }));
    }
  }

  private handleXmlRpc(body: string, res: ServerResponse): void {
    let call: MethodCall;
    try {
      call = decodeMethodCall(body);
    } catch {
      return this.send(res, 200, 'text/xml', encodeFault(-32700, 'parse error: not an XML-RPC method call'));
    }
    if (call.methodName === 'changelog_last_serial') {
      return this.send(res, 200, 'text/xml', encodeMethodResponse(this.log.lastSerial()));
    }
    if (call.methodName === 'changelog_since_serial') {
      const [since] = call.params;
      if (typeof since !== 'number' || !Number.isInteger(since) || call.params.length !== 1) {
        return this.send(res, 200, 'text/xml', encodeFault(-32602, 'changelog_since_serial takes one integer'));
      }
      const rows = this.log.since(since, this.batchLimit);
      return this.send(res, 200, 'text/xml', encodeMethodResponse(rows.map(changelogRow)));
    }
    this.send(res, 200, 'text/xml', encodeFault(-32601, `method "${call.methodName}" is not supported`));
  }

  private releasesOf(key: string): { name: string; summary: string | null; releases: Map<string, { files: StoredFile[]; yanked: boolean }> } | null {
    const project = this.projects.get(key);
    const releases = new Map(project?.versions ?? []);
    let displayName = project?.name;
    for (const entry of this.systemFiles.values()) {
      if (canonicalizeName(entry.name) !== key) continue;
      displayName ??= entry.name;
      const release = releases.get(entry.version) ?? { files: [], yanked: false };
      releases.set(entry.version, { files: [...release.files, entry.file], yanked: release.yanked });
    }
    if (displayName === undefined) return null;
    return { name: displayName, summary: project?.summary ?? null, releases };
  }

  /** A file as PyPI's JSON API describes it. */
  private describeFile(file: StoredFile, yanked: boolean): Record<string, unknown> {
    const uploaded = new Date(file.uploaded * 1000).toISOString();
    return {
      filename: file.filename,
      url: `${this.url}/files/${encodeURIComponent(file.filename)}`,
      digests: { sha256: file.sha256 },
      size: file.size,
      packagetype: file.packagetype,
      requires_python: null,
      upload_time: uploaded.slice(0, 19),
      // PyPI writes microseconds: "2024-01-02T03:04:05.123456Z"
      upload_time_iso_8601: `${uploaded.slice(0, 19)}.${uploaded.slice(20, 23)}000Z`,
      yanked,
    };
  }

  private handleReleaseJson(rawName: string, version: string, res: ServerResponse): void {
    const found = this.releasesOf(canonicalizeName(rawName));
    const release = found?.releases.get(version);
    if (found === null || release === undefined) return this.send(res, 404, 'application/json', JSON.stringify({ message: 'Not Found' }));
    const body = {
      info: { name: found.name, summary: found.summary, version, yanked: release.yanked },
      urls: release.files.map((f) => this.describeFile(f, release.yanked)),
      vulnerabilities: [],
    };
    this.send(res, 200, 'application/json', JSON.stringify(body));
  }

  private handleJson(rawName: string, res: ServerResponse): void {
    const found = this.releasesOf(canonicalizeName(rawName));
    if (found === null) return this.send(res, 404, 'application/json', JSON.stringify({ message: 'Not Found' }));
    const versions = [...found.releases.keys()].sort(compareVersions);
    const releases: Record<string, unknown[]> = {};
    for (const v of versions) {
      const release = found.releases.get(v) as { files: StoredFile[]; yanked: boolean };
      releases[v] = release.files.map((f) => this.describeFile(f, release.yanked));
    }
    const latest = versions.at(-1) ?? null;
    const body = {
      info: { name: found.name, summary: found.summary, version: latest },
      releases,
      urls: latest === null ? [] : releases[latest],
    };
    this.send(res, 200, 'application/json', JSON.stringify(body));
  }

  private handleRoot(res: ServerResponse): void {
    const names = new Set<string>([...this.projects.keys()]);
    for (const entry of this.systemFiles.values()) names.add(canonicalizeName(entry.name));
    const links = [...names].sort().map((n) => `<a href="/simple/${n}/">${escapeHtml(n)}</a><br>`);
    this.send(res, 200, 'text/html', `<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n${links.join('\n')}\n</body></html>\n`);
  }

  private handleSimple(rawName: string, res: ServerResponse): void {
    const key = canonicalizeName(rawName);
    if (key !== rawName) {
      res.setHeader('location', `/simple/${key}/`);
      return this.send(res, 301, 'text/plain', 'moved\n');
    }
    const found = this.releasesOf(key);
    if (found === null) return this.send(res, 404, 'text/plain', 'not found\n');
    const links: string[] = [];
    for (const [, release] of found.releases) {
      for (const file of release.files) {
        const yanked = release.yanked ? ' data-yanked=""' : '';
        links.push(`<a href="/files/${encodeURIComponent(file.filename)}#sha256=${file.sha256}"${yanked}>${escapeHtml(file.filename)}</a><br>`);
      }
    }
    this.send(
      res,
      200,
      'text/html',
      `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for ${escapeHtml(found.name)}</title></head>\n<body><h1>Links for ${escapeHtml(found.name)}</h1>\n${links.join('\n')}\n</body></html>\n`,
    );
  }

  private handleFile(filename: string, req: IncomingMessage, res: ServerResponse): void {
    const until = this.withheld.get(filename);
    if (until !== undefined) {
      if (Date.now() < until) return this.send(res, 404, 'text/plain', 'not found\n');
      this.withheld.delete(filename);
    }
    let file: StoredFile | undefined = this.systemFiles.get(filename)?.file;
    for (const project of this.projects.values()) {
      if (file) break;
      for (const release of project.versions.values()) {
        file = release.files.find((f) => f.filename === filename);
        if (file) break;
      }
    }
    if (file === undefined) return this.send(res, 404, 'text/plain', 'not found\n');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if ('bytes' in file.source) res.end(file.source.bytes);
    else createReadStream(file.source.path).pipe(res);
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    const bytes = Buffer.from(body);
    res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': bytes.length });
    res.end(bytes);
  }
}

function fileFromDisk(path: string, filename: string, packagetype: StoredFile['packagetype']): StoredFile {
  const bytes = readFileSync(path);
  return {
    filename,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    source: { path },
    packagetype,
    uploaded: Math.floor(statSync(path).mtimeMs / 1000),
  };
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

const MAX_BODY = 64 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
