// Access-log lines (Apache or nginx) to the logger protocol's records.
//
// Public API:
//   compileLogFormat(format)   an Apache LogFormat string or a short-cut name
//                              (combined, common, common_vhost, vhost_combined)
//                              to a LineParser; throws UserError when unusable
//   LineParser.parse(line)     the fields piw-logger needs, or null for a line
//                              that does not match the format
//   classify(entry)            which log message the hit becomes (or null)
//   toLogMessage(entry)        classify + the message data, or null
//   parseInstallerAgent(ua)    pip's / uv's JSON user-agent details
//   agentName(ua), isBotAgent(name)   the short agent kept for page hits
//
// What is recorded follows piwheels: only successful GETs with a user agent;
// wheels (by anyone) are downloads, a package's simple page fetched by an
// installer is a search, project pages and their JSON are hits on the
// project, other HTML pages are page hits; the rest is ignored.
import { isIP } from 'node:net';
import { UserError } from '../../shared/cli.ts';
import { canonicalizeName } from '../../shared/names.ts';
import { UtcDateTime } from '../../shared/wire/cbor.ts';
import type { DownloadStateMessage, HitStateMessage, SearchStateMessage } from '../../shared/wire/states.ts';

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

export class LineParser {
  private readonly slots: Partial<Record<Exclude<Field, null>, number>>;

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
      userAgent = raw === '-' || raw === '' ? null : unescapeLogField(raw);
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

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};
const LOG_TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? ([+-])(\d{2})(\d{2})$/;

/** "10/Oct/2000:13:55:36 -0700" to a Date (UTC), or null. */
export function parseLogTime(text: string): Date | null {
  const m = LOG_TIME.exec(text);
  if (m === null) return null;
  const month = MONTHS[m[2]!];
  if (month === undefined) return null;
  const [day, year, hour, minute, second] = [m[1], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const millis = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  const offset = (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) * 60_000;
  const date = new Date(Date.UTC(year, month, day, hour, minute, second, millis) - offset);
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

const BOT_TOKEN = /[a-z0-9._-]*(?:bot|crawler|spider|slurp)[a-z0-9._-]*/i;

/**
 * The short agent stored with page hits: the product name, lower case
 * ("mozilla", "curl"), or for a crawler its own name ("googlebot") so that
 * it can be told apart from people.
 */
export function agentName(userAgent: string): string {
  const bot = BOT_TOKEN.exec(userAgent);
  const name = bot !== null ? bot[0] : (userAgent.split('/')[0] ?? '');
  return name.replace(/\0/g, '').toLowerCase().slice(0, 200);
}

/** True for a stored agent name that belongs to a crawler. */
export function isBotAgent(name: string | null | undefined): boolean {
  return name !== null && name !== undefined && BOT_TOKEN.test(name);
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

function clientTuple(info: ClientInfo): [
  string | null, string | null, string | null, string | null, string | null,
  string | null, string | null, string | null, string | null, string | null,
] {
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

export type LineOutcome = { kind: 'bad'; reason: string } | { kind: 'ignored' } | { kind: 'record'; message: LogMessage };

/** The message for one hit; null when it is not recorded. */
export function toLogMessage(entry: AccessEntry): LogMessage | null {
  const kind = classify(entry);
  if (kind === null || entry.userAgent === null) return null;
  const when = UtcDateTime.fromDate(entry.time);
  switch (kind) {
    case 'LOGDOWNLOAD': {
      const filename = basename(entry.path);
      if (filename === '') return null;
      return { msg: kind, data: [filename, entry.host, when, ...clientTuple(parseInstallerAgent(entry.userAgent))] };
    }
    case 'LOGSEARCH': {
      const pkg = packageOf(entry.path);
      if (pkg === null) return null;
      return { msg: kind, data: [pkg, entry.host, when, ...clientTuple(parseInstallerAgent(entry.userAgent))] };
    }
    case 'LOGPROJECT':
    case 'LOGJSON': {
      const pkg = packageOf(entry.path);
      if (pkg === null) return null;
      return { msg: kind, data: [pkg, entry.host, when, agentName(entry.userAgent)] };
    }
    case 'LOGPAGE': {
      const page = pageName(entry.path);
      if (page === '') return null;
      return { msg: kind, data: [page, entry.host, when, agentName(entry.userAgent)] };
    }
  }
}

/** One line through the parser: bad (with why), ignored, or a record to send. */
export function processLine(parser: LineParser, line: string): LineOutcome {
  const entry = parser.parse(line);
  if (entry === null) return { kind: 'bad', reason: 'does not match the log format' };
  if (isIP(entry.host) === 0) return { kind: 'bad', reason: `client ${JSON.stringify(entry.host)} is not an IP address` };
  const message = toLogMessage(entry);
  return message === null ? { kind: 'ignored' } : { kind: 'record', message };
}
