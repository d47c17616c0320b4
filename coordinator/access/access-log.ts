// Access-log lines (Apache or nginx) to the logger protocol's records.
//
// Public API:
//   compileLogFormat(format)   an Apache LogFormat string or a short-cut name
//                              (combined, common, common_vhost, vhost_combined)
//                              to a LineParser; throws UserError when unusable
//   LineParser.parse(line)     the fields piw-logger needs, or null for a line
//                              that does not match the format
//   classify(entry)            which log message the hit becomes (or null)
//   toLogRecord(entry)         classify + what is recorded, or null
//   recordMessage(record)      a record as piwheels' one-record message
//   toLogMessage(entry)        both of the above
//   LogBatchBuilder            records gathered into LOGBATCH data (ours only)
//   processLine(parser, line)  a line to a record, or why it is bad or ignored
//   parseInstallerAgent(ua)    pip's / uv's JSON user-agent details
//   agentName(ua), isBotAgent(name)   the short agent kept for page hits
//
// What is recorded follows piwheels: only successful GETs with a user agent;
// wheels (by anyone) are downloads, a package's simple page fetched by an
// installer is a search, project pages and their JSON are hits on the
// project, other HTML pages are page hits; the rest is ignored.
import { isIP } from 'node:net';
import { BoundedCache } from '../../shared/cache.ts';
import { UserError } from '../../shared/cli.ts';
import { canonicalizeName } from '../../shared/names.ts';
import { UtcDateTime } from '../../shared/wire/cbor.ts';
import type { DataOf, DownloadStateMessage, HitStateMessage, SearchStateMessage, lumberjack } from '../../shared/wire/protocols.ts';

export const FORMAT_SHORTCUTS: Readonly<Record<string, string>> = {
  common: '%h %l %u %t "%r" %>s %b',
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
  common_vhost: '%v %h %l %u %t "%r" %>s %b',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
};

/** One access, as far as the logger cares. */
export interface AccessEntry {
  host: string;
  time: Date;
  method: string;
  /** The URL path, percent-decoded, without query or fragment. */
  path: string;
  status: number;
  userAgent: string | null;
}

export type LogKind = 'LOGDOWNLOAD' | 'LOGSEARCH' | 'LOGPROJECT' | 'LOGJSON' | 'LOGPAGE';

export type LogMessage =
  | { msg: 'LOGDOWNLOAD'; data: DownloadStateMessage }
  | { msg: 'LOGSEARCH'; data: SearchStateMessage }
  | { msg: 'LOGPROJECT' | 'LOGJSON' | 'LOGPAGE'; data: HitStateMessage };

type Field = 'host' | 'time' | 'request' | 'status' | 'agent' | null;

// "unrolled" so that matching stays linear in the field's length
const QUOTED = '([^"\\\\]*(?:\\\\.[^"\\\\]*)*)';
const BARE = '(\\S+)';
const DIRECTIVE = /%([<>]?)(?:\{([^}]*)\})?([a-zA-Z%])/g;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function fieldOf(name: string | undefined, letter: string): Field {
  switch (letter) {
    case 'h':
    case 'a':
      return 'host';
    case 't':
      return name === undefined ? 'time' : null;
    case 'r':
      return 'request';
    case 's':
      return 'status';
    case 'i':
      return name !== undefined && name.toLowerCase() === 'user-agent' ? 'agent' : null;
    default:
      return null;
  }
}

/** Distinct user agents remembered: a busy log has a few thousand at most. */
const AGENT_CACHE_SIZE = 10_000;

export class LineParser {
  private readonly slots: Partial<Record<Exclude<Field, null>, number>>;
  // the raw (escaped) agent field to its text: unescaping is the costliest
  // step of a line, and the same few agents fill most of a log
  private readonly agents = new BoundedCache<string, string>(AGENT_CACHE_SIZE);

  constructor(
    readonly format: string,
    private readonly regex: RegExp,
    fields: Field[],
  ) {
    this.slots = {};
    fields.forEach((field, index) => {
      if (field !== null && this.slots[field] === undefined) this.slots[field] = index + 1;
    });
  }

  /** The fields of a matching line; null when the line is not in this format. */
  parse(line: string): AccessEntry | null {
    const m = this.regex.exec(line);
    if (m === null) return null;
    const host = m[this.slots.host!]!;
    const time = parseLogTime(m[this.slots.time!]!);
    const request = parseRequest(unescapeLogField(m[this.slots.request!]!));
    const status = Number(m[this.slots.status!]);
    if (time === null || request === null || !Number.isInteger(status)) return null;
    let userAgent: string | null = null;
    if (this.slots.agent !== undefined) {
      const raw = m[this.slots.agent]!;
      if (raw !== '-' && raw !== '') {
        userAgent = this.agents.get(raw) ?? null;
        if (userAgent === null) {
          userAgent = unescapeLogField(raw);
          this.agents.set(raw, userAgent);
        }
      }
    }
    return { host, time, method: request.method, path: request.path, status, userAgent };
  }
}

/** Compiles an Apache LogFormat (or a short-cut name) into a line parser. */
export function compileLogFormat(format: string): LineParser {
  const spec = FORMAT_SHORTCUTS[format] ?? format;
  const fields: Field[] = [];
  let pattern = '^';
  let last = 0;
  for (const m of spec.matchAll(DIRECTIVE)) {
    pattern += escapeRegex(spec.slice(last, m.index));
    last = m.index + m[0].length;
    const [, , name, letter] = m;
    if (letter === '%') {
      pattern += '%';
      continue;
    }
    const quoted = spec[m.index - 1] === '"' && spec[last] === '"';
    const field = fieldOf(name, letter!);
    fields.push(field);
    if (field === 'time') pattern += '\\[([^\\]]+)\\]';
    else if (field === 'status') pattern += '(\\d{3})';
    else pattern += quoted ? QUOTED : BARE;
  }
  pattern += `${escapeRegex(spec.slice(last))}\\s*$`;
  const present = new Set(fields);
  for (const [field, directive] of [
    ['host', '%h'],
    ['time', '%t'],
    ['request', '%r'],
    ['status', '%>s'],
  ] as const) {
    if (!present.has(field)) throw new UserError(`log format ${JSON.stringify(format)} lacks ${directive}: piw-logger needs host, time, request and status`);
  }
  return new LineParser(spec, new RegExp(pattern), fields);
}

const MONTHS: ReadonlyMap<string, number> = new Map(
  ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((name, i) => [name, i + 1]),
);

/** The number written by `length` ASCII digits at `at`, or -1. */
function digitsAt(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1-12; day may overflow the month, as Date.UTC allows). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * "10/Oct/2000:13:55:36 -0700" (optionally with a fraction of a second after
 * the seconds) to a Date (UTC), or null. Read by position: this runs for
 * every line of the log.
 */
export function parseLogTime(text: string): Date | null {
  const day = digitsAt(text, 0, 2);
  const month = MONTHS.get(text.slice(3, 6));
  const year = digitsAt(text, 7, 4);
  const hour = digitsAt(text, 12, 2);
  const minute = digitsAt(text, 15, 2);
  const second = digitsAt(text, 18, 2);
  if (text[2] !== '/' || text[6] !== '/' || text[11] !== ':' || text[14] !== ':' || text[17] !== ':') return null;
  if (month === undefined || day < 1 || day > 31 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return null;
  }
  let at = 20;
  let millis = 0;
  if (text[at] === '.') {
    let end = at + 1;
    while (end < text.length && digitsAt(text, end, 1) >= 0) end += 1;
    if (end === at + 1) return null;
    millis = Math.floor(Number(text.slice(at, end)) * 1000);
    at = end;
  }
  const sign = text[at + 1] === '-' ? -1 : text[at + 1] === '+' ? 1 : 0;
  const offsetHours = digitsAt(text, at + 2, 2);
  const offsetMinutes = digitsAt(text, at + 4, 2);
  if (text[at] !== ' ' || sign === 0 || offsetHours < 0 || offsetMinutes < 0 || text.length !== at + 6) return null;
  const seconds = daysFromCivil(year, month, day) * 86_400 + (hour * 60 + minute) * 60 + second - sign * (offsetHours * 60 + offsetMinutes) * 60;
  const date = new Date(seconds * 1000 + millis);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Undoes the servers' escaping: Apache writes \" and \\, nginx \xHH. */
export function unescapeLogField(text: string): string {
  let at = text.indexOf('\\');
  if (at < 0) return text;
  // the usual case, a user agent with quotes only, in one native call
  if (!/\\[^"]/.test(text)) return text.replaceAll('\\"', '"');
  // a plain scan: a replace() callback per escape is the slowest step of a
  // line with pip's JSON user agent
  let out = '';
  let from = 0;
  while (at >= 0 && at < text.length - 1) {
    out += text.slice(from, at);
    const next = text[at + 1]!;
    const hex = next === 'x' ? text.slice(at + 2, at + 4) : '';
    if (hex.length === 2 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      out += String.fromCharCode(parseInt(hex, 16));
      from = at + 4;
    } else {
      out += next;
      from = at + 2;
    }
    at = text.indexOf('\\', from);
  }
  return out + text.slice(from);
}

const REQUEST = /^([A-Z]+) (\S+)(?: HTTP\/\d(?:\.\d)?)?$/;

/** "GET /simple/foo/?x=1 HTTP/1.1" to its method and decoded path. */
export function parseRequest(text: string): { method: string; path: string } | null {
  const m = REQUEST.exec(text);
  if (m === null) return null;
  let target = m[2]!;
  if (!target.startsWith('/')) {
    // absolute form (proxies): keep only the path
    const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(target);
    if (abs === null) return null;
    target = abs[1] ?? '/';
  }
  const cut = target.search(/[?#]/);
  if (cut >= 0) target = target.slice(0, cut);
  if (target.includes('%')) {
    try {
      target = decodeURIComponent(target);
    } catch {
      return null;
    }
  }
  return { method: m[1]!, path: target };
}

function isInstaller(userAgent: string): boolean {
  return userAgent.startsWith('pip/') || userAgent.startsWith('uv/');
}

/** Which message a hit becomes, in piwheels' order of patterns; null to ignore it. */
export function classify(entry: AccessEntry): LogKind | null {
  const { path, userAgent } = entry;
  if (entry.status !== 200 || userAgent === null || entry.method !== 'GET') return null;
  if (path.startsWith('/simple/')) {
    if (path === '/simple/' || path === '/simple/index.html' || path === '/simple/index.json') return null;
    if (path.endsWith('.whl')) return 'LOGDOWNLOAD';
    // PEP 658 metadata comes before the wheel itself: neither search nor download
    if (path.endsWith('.metadata')) return null;
    return isInstaller(userAgent) ? 'LOGSEARCH' : null;
  }
  if (path.startsWith('/project/')) {
    if (path === '/project/') return null;
    const parts = path.split('/');
    return parts[3] === 'json' && parts.length > 4 ? 'LOGJSON' : 'LOGPROJECT';
  }
  if (path === '/' || path.endsWith('.html')) return 'LOGPAGE';
  return null;
}


/** The details pip (and uv) put as JSON after their name in the user agent. */
export interface ClientInfo {
  arch: string | null;
  distroName: string | null;
  distroVersion: string | null;
  osName: string | null;
  osVersion: string | null;
  pyName: string | null;
  pyVersion: string | null;
  installerName: string | null;
  installerVersion: string | null;
  setuptoolsVersion: string | null;
}

const NO_CLIENT_INFO: ClientInfo = {
  arch: null,
  distroName: null,
  distroVersion: null,
  osName: null,
  osVersion: null,
  pyName: null,
  pyVersion: null,
  installerName: null,
  installerVersion: null,
  setuptoolsVersion: null,
};

// Plain checks rather than a schema: this runs for every line of the log.
function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : null;
}

function object(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/**
 * Reads pip's user agent, e.g.
 * `pip/23.0.1 {"installer":{"name":"pip","version":"23.0.1"},"python":"3.11.2",...}`.
 * Anything else (or JSON that does not parse) gives all-null details.
 */
export function parseInstallerAgent(userAgent: string | null): ClientInfo {
  if (userAgent === null || !isInstaller(userAgent)) return NO_CLIENT_INFO;
  const start = userAgent.indexOf('{');
  if (start < 0) return NO_CLIENT_INFO;
  let parsed: unknown;
  try {
    parsed = JSON.parse(userAgent.slice(start));
  } catch {
    return NO_CLIENT_INFO;
  }
  const ud = object(parsed);
  if (ud === null) return NO_CLIENT_INFO;
  const distro = object(ud.distro);
  const system = object(ud.system);
  const implementation = object(ud.implementation);
  const installer = object(ud.installer);
  return {
    arch: text(ud.cpu),
    distroName: text(distro?.name),
    distroVersion: text(distro?.version),
    osName: text(system?.name),
    osVersion: text(system?.release),
    // pip has always reported CPython without naming it
    pyName: implementation === null ? 'CPython' : text(implementation.name),
    pyVersion: implementation === null ? text(ud.python) : text(implementation.version),
    installerName: text(installer?.name),
    installerVersion: text(installer?.version),
    setuptoolsVersion: text(ud.setuptools_version),
  };
}

// A crawler's name is the run of token characters around one of these words.
// The run is found by hand: a regex with a repeat on each side of the word
// takes time quadratic in the agent's length (minutes for a few hundred kB,
// with the event loop held), and user agents come from anyone.
const BOT_WORD = /bot|crawler|spider|slurp/i;
const TOKEN_CHAR = /^[a-z0-9._-]$/i;

/** The crawler's name in a user agent ("Googlebot" in "...; Googlebot/2.1; ..."), or null. */
function botToken(userAgent: string): string | null {
  const hit = BOT_WORD.exec(userAgent);
  if (hit === null) return null;
  let start = hit.index;
  while (start > 0 && TOKEN_CHAR.test(userAgent[start - 1]!)) start -= 1;
  let end = hit.index + hit[0].length;
  while (end < userAgent.length && TOKEN_CHAR.test(userAgent[end]!)) end += 1;
  return userAgent.slice(start, end);
}

/**
 * The short agent stored with page hits: the product name, lower case
 * ("mozilla", "curl"), or for a crawler its own name ("googlebot") so that
 * it can be told apart from people.
 */
export function agentName(userAgent: string): string {
  const name = botToken(userAgent) ?? userAgent.split('/')[0] ?? '';
  return name.replace(/\0/g, '').toLowerCase().slice(0, 200);
}

/** True for a stored agent name that belongs to a crawler. */
export function isBotAgent(name: string | null | undefined): boolean {
  return name !== null && name !== undefined && BOT_WORD.test(name);
}

/** "/" and "/index.html" are "home"; other pages lose their slashes and ".html". */
export function pageName(path: string): string {
  if (path === '/' || path === '/index.html') return 'home';
  return path.replace(/\//g, '').replace(/\.html$/, '');
}

function packageOf(path: string): string | null {
  const name = path.split('/')[2];
  return name === undefined || name === '' ? null : canonicalizeName(name);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

type ClientTuple = DataOf<typeof lumberjack.recv, 'LOGBATCH'>[0][number];

function clientTuple(info: ClientInfo): ClientTuple {
  return [
    info.arch,
    info.distroName,
    info.distroVersion,
    info.osName,
    info.osVersion,
    info.pyName,
    info.pyVersion,
    info.installerName,
    info.installerVersion,
    info.setuptoolsVersion,
  ];
}

/** What the records take from one user agent, worked out once per distinct agent. */
interface AgentDetails {
  /** pip's details (all null for other agents); one object per agent, so batches can share it */
  client: ClientTuple;
  name: string;
}

const AGENT_DETAILS = new BoundedCache<string, AgentDetails>(AGENT_CACHE_SIZE);

function agentDetails(userAgent: string): AgentDetails {
  let details = AGENT_DETAILS.get(userAgent);
  if (details === undefined) {
    details = { client: clientTuple(parseInstallerAgent(userAgent)), name: agentName(userAgent) };
    AGENT_DETAILS.set(userAgent, details);
  }
  return details;
}

/**
 * A hit to record: the download's filename, the package searched or hit, or
 * the page; when (seconds since the epoch); with pip's details (downloads,
 * searches) or the short agent.
 */
export type LogRecord =
  | { kind: 'LOGDOWNLOAD' | 'LOGSEARCH'; name: string; host: string; time: number; client: ClientTuple }
  | { kind: 'LOGPROJECT' | 'LOGJSON' | 'LOGPAGE'; name: string; host: string; time: number; agent: string };

/** The record for one hit; null when it is not recorded. */
export function toLogRecord(entry: AccessEntry): LogRecord | null {
  const kind = classify(entry);
  if (kind === null || entry.userAgent === null) return null;
  let name: string | null;
  switch (kind) {
    case 'LOGDOWNLOAD':
      name = basename(entry.path);
      break;
    case 'LOGSEARCH':
    case 'LOGPROJECT':
    case 'LOGJSON':
      name = packageOf(entry.path);
      break;
    case 'LOGPAGE':
      name = pageName(entry.path);
      break;
  }
  if (name === null || name === '') return null;
  const { host } = entry;
  const time = entry.time.getTime() / 1000;
  const details = agentDetails(entry.userAgent);
  return kind === 'LOGDOWNLOAD' || kind === 'LOGSEARCH'
    ? { kind, name, host, time, client: details.client }
    : { kind, name, host, time, agent: details.name };
}

/** A record as the message piwheels' own piw-logger sends for it. */
export function recordMessage(r: LogRecord): LogMessage {
  const time = UtcDateTime.fromEpoch(r.time);
  switch (r.kind) {
    case 'LOGDOWNLOAD':
      return { msg: r.kind, data: [r.name, r.host, time, ...r.client] };
    case 'LOGSEARCH':
      return { msg: r.kind, data: [r.name, r.host, time, ...r.client] };
    default:
      return { msg: r.kind, data: [r.name, r.host, time, r.agent] };
  }
}

/** The message for one hit; null when it is not recorded. */
export function toLogMessage(entry: AccessEntry): LogMessage | null {
  const record = toLogRecord(entry);
  return record === null ? null : recordMessage(record);
}

export type LogBatch = DataOf<typeof lumberjack.recv, 'LOGBATCH'>;

/** Gathers records into LOGBATCH data, each distinct set of client details once. */
export class LogBatchBuilder {
  private clients = new Map<ClientTuple, number>();
  private batch: LogBatch = [[], [], [], [], [], []];
  /** Records gathered since the last take(). */
  size = 0;

  add(r: LogRecord): void {
    this.size += 1;
    const [clients, downloads, searches, projects, json, pages] = this.batch;
    switch (r.kind) {
      case 'LOGDOWNLOAD':
      case 'LOGSEARCH': {
        let index = this.clients.get(r.client);
        if (index === undefined) {
          index = clients.push(r.client) - 1;
          this.clients.set(r.client, index);
        }
        (r.kind === 'LOGDOWNLOAD' ? downloads : searches).push([r.name, r.host, r.time, index]);
        return;
      }
      case 'LOGPROJECT':
        projects.push([r.name, r.host, r.time, r.agent]);
        return;
      case 'LOGJSON':
        json.push([r.name, r.host, r.time, r.agent]);
        return;
      case 'LOGPAGE':
        pages.push([r.name, r.host, r.time, r.agent]);
        return;
    }
  }

  /** The batch so far; the builder starts afresh. */
  take(): LogBatch {
    const batch = this.batch;
    this.batch = [[], [], [], [], [], []];
    this.clients = new Map();
    this.size = 0;
    return batch;
  }
}

export type LineOutcome = { kind: 'bad'; reason: string } | { kind: 'ignored' } | { kind: 'record'; record: LogRecord };

/** One line through the parser: bad (with why), ignored, or a record to send. */
export function processLine(parser: LineParser, line: string): LineOutcome {
  const entry = parser.parse(line);
  if (entry === null) return { kind: 'bad', reason: 'does not match the log format' };
  if (isIP(entry.host) === 0) return { kind: 'bad', reason: `client ${JSON.stringify(entry.host)} is not an IP address` };
  const record = toLogRecord(entry);
  return record === null ? { kind: 'ignored' } : { kind: 'record', record };
}
