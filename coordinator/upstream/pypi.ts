// The farm's client for PyPI (or anything speaking its protocols): the
// XML-RPC changelog (`changelog_since_serial`) and the JSON API's project
// summary. Upstream misbehaves routinely (rate limits, 5xx, stalls, garbage),
// so every call has a timeout, transient failures are retried with back-off,
// and a response is validated before anything in it is believed.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import type { ChangelogRow } from './changelog.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import { repoPath } from '../../shared/paths.ts';

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

// --- XML-RPC ------------------------------------------------------------------

export type XmlRpcValue = string | number | boolean | null | XmlRpcValue[] | { [key: string]: XmlRpcValue };

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function encodeValue(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError('only integer numbers are sent');
    return `<value><int>${value}</int></value>`;
  }
  return `<value><string>${escapeXml(value)}</string></value>`;
}

/** An XML-RPC request body. */
export function encodeMethodCall(method: string, params: Array<string | number>): string {
  const encoded = params.map((p) => `<param>${encodeValue(p)}</param>`).join('');
  return `<?xml version="1.0"?>\n<methodCall><methodName>${escapeXml(method)}</methodName><params>${encoded}</params></methodCall>`;
}

// fast-xml-parser's ordered form: each element is { tag: children[] }, each
// text run { '#text': string }. Keeping order and forcing arrays makes the
// decoder independent of how many children an element happens to have.
type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

class MalformedResponse extends Error {}

function tagOf(node: XmlNode): string {
  for (const key of Object.keys(node)) if (key !== ':@') return key;
  throw new MalformedResponse('empty XML node');
}

function childrenOf(node: XmlNode, tag: string): XmlNode[] {
  const value = node[tag];
  if (!Array.isArray(value)) throw new MalformedResponse(`<${tag}> has no children list`);
  return value as XmlNode[];
}

function elements(nodes: XmlNode[]): XmlNode[] {
  return nodes.filter((n) => tagOf(n) !== '#text');
}

function textOf(nodes: XmlNode[]): string {
  let text = '';
  for (const n of nodes) {
    const t = n['#text'];
    if (t === undefined) throw new MalformedResponse(`unexpected <${tagOf(n)}> in a scalar`);
    text += String(t);
  }
  return text;
}

function only(nodes: XmlNode[], tag: string): XmlNode {
  const found = elements(nodes);
  if (found.length !== 1 || tagOf(found[0] as XmlNode) !== tag) {
    throw new MalformedResponse(`expected one <${tag}>, found ${found.map(tagOf).join(', ') || 'nothing'}`);
  }
  return found[0] as XmlNode;
}

function decodeValue(valueNode: XmlNode): XmlRpcValue {
  const inner = childrenOf(valueNode, 'value');
  const typed = elements(inner);
  if (typed.length === 0) return textOf(inner);
  if (typed.length > 1) throw new MalformedResponse('<value> with more than one type');
  const node = typed[0] as XmlNode;
  const tag = tagOf(node);
  const content = childrenOf(node, tag);
  switch (tag) {
    case 'string':
      return textOf(content);
    case 'int':
    case 'i4':
    case 'i8': {
      const text = textOf(content).trim();
      if (!/^[-+]?\d+$/.test(text)) throw new MalformedResponse(`bad integer "${text}"`);
      return Number(text);
    }
    case 'double': {
      const number = Number(textOf(content));
      if (!Number.isFinite(number)) throw new MalformedResponse('bad double');
      return number;
    }
    case 'boolean': {
      const text = textOf(content).trim();
      if (text !== '0' && text !== '1') throw new MalformedResponse(`bad boolean "${text}"`);
      return text === '1';
    }
    case 'nil':
      return null;
    case 'dateTime.iso8601':
    case 'base64':
      return textOf(content);
    case 'array':
      return elements(childrenOf(only(content, 'data'), 'data')).map((v) => {
        if (tagOf(v) !== 'value') throw new MalformedResponse('array item is not a <value>');
        return decodeValue(v);
      });
    case 'struct': {
      const out: Record<string, XmlRpcValue> = {};
      for (const member of elements(content)) {
        if (tagOf(member) !== 'member') throw new MalformedResponse('struct item is not a <member>');
        const parts = childrenOf(member, 'member');
        out[textOf(childrenOf(only(elements(parts).filter((p) => tagOf(p) === 'name'), 'name'), 'name'))] = decodeValue(
          only(elements(parts).filter((p) => tagOf(p) === 'value'), 'value'),
        );
      }
      return out;
    }
    default:
      throw new MalformedResponse(`unknown XML-RPC type <${tag}>`);
  }
}

export type MethodResponse = { ok: true; value: XmlRpcValue } | { ok: false; faultCode: number; faultString: string };

const faultSchema = z.object({ faultCode: z.number().int(), faultString: z.string() });

/** Parses with fast-xml-parser: slower, but takes any well-formed XML. */
function decodeGeneral(body: string): MethodResponse {
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new MalformedResponse(`not well-formed XML: ${valid.err.msg}`);
  const doc = parser.parse(body) as XmlNode[];
  const root = only(doc.filter((n) => tagOf(n) !== '?xml'), 'methodResponse');
  const content = elements(childrenOf(root, 'methodResponse'));
  const first = content[0];
  if (content.length !== 1 || first === undefined) throw new MalformedResponse('<methodResponse> must hold one element');
  if (tagOf(first) === 'fault') return toFault(decodeValue(only(childrenOf(first, 'fault'), 'value')));
  if (tagOf(first) !== 'params') throw new MalformedResponse(`unexpected <${tagOf(first)}>`);
  const param = only(childrenOf(first, 'params'), 'param');
  return { ok: true, value: decodeValue(only(childrenOf(param, 'param'), 'value')) };
}

function toFault(value: XmlRpcValue): MethodResponse {
  const fault = faultSchema.safeParse(value);
  if (!fault.success) throw new MalformedResponse('fault without faultCode/faultString');
  return { ok: false, ...fault.data };
}

/** Thrown by the fast path for anything outside plain XML-RPC; the general parser then decides. */
class NotPlain extends Error {}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number.parseInt(name.slice(1), 10));
    const known = ENTITIES[name];
    if (known === undefined) throw new NotPlain(`entity ${whole}`);
    return known;
  });
}

/**
 * A strict reader for the XML-RPC subset servers actually send (no
 * attributes, comments, CDATA or DOCTYPE). A 50,000-row changelog is ~15 MB;
 * this reads it several times faster than a general XML parser.
 */
class PlainXmlRpc {
  // 1: a plain tag ("/"? name "/"?); 2: any other markup; 3: text.
  private readonly re = /<(\/?[A-Za-z][\w.]*\/?)>|<([^<>]*)>|([^<]+)/y;
  private tag = '';
  private text = '';

  constructor(private readonly body: string) {
    this.re.lastIndex = 0;
  }

  /** Advances to the next tag, returning it; text is kept in `this.text`. */
  private nextTag(): string {
    this.text = '';
    for (;;) {
      const m = this.re.exec(this.body);
      if (m === null) throw new NotPlain('unexpected end or stray "<"');
      if (m[3] !== undefined) {
        this.text += m[3];
        continue;
      }
      if (m[1] !== undefined) {
        this.tag = m[1];
        return this.tag;
      }
      if (!(m[2] as string).startsWith('?')) throw new NotPlain(`<${m[2] as string}>`);
    }
  }

  private expect(tag: string): void {
    if (this.nextTag() !== tag || this.text.trim() !== '') throw new NotPlain(`expected <${tag}>, found <${this.tag}>`);
  }

  decode(): MethodResponse {
    this.expect('methodResponse');
    const kind = this.nextTag();
    if (this.text.trim() !== '') throw new NotPlain('text in <methodResponse>');
    let result: MethodResponse;
    if (kind === 'params') {
      this.expect('param');
      this.expect('value');
      result = { ok: true, value: this.value() };
      this.expect('/param');
      this.expect('/params');
    } else if (kind === 'fault') {
      this.expect('value');
      result = toFault(this.value());
      this.expect('/fault');
    } else {
      throw new NotPlain(`<${kind}> in <methodResponse>`);
    }
    this.expect('/methodResponse');
    if (this.re.lastIndex < this.body.length && this.body.slice(this.re.lastIndex).trim() !== '') {
      throw new NotPlain('content after </methodResponse>');
    }
    return result;
  }

  /** Reads a value whose <value> was just consumed, through its </value>. */
  private value(): XmlRpcValue {
    const tag = this.nextTag();
    if (tag === '/value') return unescapeXml(this.text);
    if (this.text.trim() !== '') throw new NotPlain('text before a type');
    let out: XmlRpcValue;
    switch (tag) {
      case 'string':
        out = this.scalarText('/string');
        break;
      case 'string/':
        out = '';
        break;
      case 'int':
      case 'i4':
      case 'i8': {
        const text = this.scalarText(`/${tag}`).trim();
        if (!/^[-+]?\d+$/.test(text)) throw new NotPlain('bad integer');
        out = Number(text);
        break;
      }
      case 'nil/':
        out = null;
        break;
      case 'array':
        out = this.array();
        break;
      case 'struct':
        out = this.struct();
        break;
      default:
        throw new NotPlain(`<${tag}>`);
    }
    this.expect('/value');
    return out;
  }

  private scalarText(close: string): string {
    if (this.nextTag() !== close) throw new NotPlain(`expected <${close}>`);
    return unescapeXml(this.text);
  }

  private array(): XmlRpcValue[] {
    this.expect('data');
    const items: XmlRpcValue[] = [];
    for (;;) {
      const tag = this.nextTag();
      if (this.text.trim() !== '') throw new NotPlain('text in <data>');
      if (tag === '/data') break;
      if (tag !== 'value') throw new NotPlain(`<${tag}> in <data>`);
      items.push(this.value());
    }
    this.expect('/array');
    return items;
  }

  private struct(): Record<string, XmlRpcValue> {
    const out: Record<string, XmlRpcValue> = {};
    for (;;) {
      const tag = this.nextTag();
      if (this.text.trim() !== '') throw new NotPlain('text in <struct>');
      if (tag === '/struct') return out;
      if (tag !== 'member') throw new NotPlain(`<${tag}> in <struct>`);
      this.expect('name');
      const name = this.scalarText('/name');
      this.expect('value');
      out[name] = this.value();
      this.expect('/member');
    }
  }
}

/** Decodes an XML-RPC response body; throws UpstreamError (not transient) when it is not one. */
export function decodeMethodResponse(body: string): MethodResponse {
  try {
    return new PlainXmlRpc(body).decode();
  } catch (error) {
    if (!(error instanceof NotPlain || error instanceof MalformedResponse)) throw error;
  }
  try {
    return decodeGeneral(body);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UpstreamError(`malformed XML-RPC response: ${reason.split('\n')[0]}`, false);
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
      const decoded = decodeMethodResponse(body ?? '');
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

  private async withRetries<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof UpstreamError) || !error.transient || tries >= this.retries || this.aborter.signal.aborted) {
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
