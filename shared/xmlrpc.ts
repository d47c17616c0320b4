// XML-RPC, as far as the farm speaks it: the client asks PyPI (or a mirror,
// or piw-upstream) for `changelog_since_serial` and `changelog_last_serial`,
// and piw-upstream answers those calls. Both sides encode and decode here.
// Bodies are untrusted: anything that is not XML-RPC is an XmlRpcError.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';

/** A body that is not the XML-RPC it claims to be. */
export class XmlRpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlRpcError';
  }
}

export type XmlRpcValue = string | number | boolean | null | XmlRpcValue[] | { [key: string]: XmlRpcValue };

export const escapeXml = (text: string): string =>
  /[&<>]/.test(text) ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : text;

/**
 * One value, on one line. Numbers go as <int>: nothing the farm sends is
 * fractional, and a fraction sent as an int would be a silent error.
 */
export function encodeValue(value: XmlRpcValue): string {
  if (value === null) return '<value><nil/></value>';
  switch (typeof value) {
    case 'string':
      return `<value><string>${escapeXml(value)}</string></value>`;
    case 'number':
      if (!Number.isInteger(value)) throw new TypeError('only integer numbers are sent');
      return `<value><int>${value}</int></value>`;
    case 'boolean':
      return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  }
  if (Array.isArray(value)) return `<value><array><data>${value.map(encodeValue).join('')}</data></array></value>`;
  const members = Object.entries(value).map(([name, member]) => `<member><name>${escapeXml(name)}</name>${encodeValue(member)}</member>`);
  return `<value><struct>${members.join('')}</struct></value>`;
}

/** An XML-RPC request body. */
export function encodeMethodCall(method: string, params: readonly XmlRpcValue[]): string {
  const encoded = params.map((p) => `<param>${encodeValue(p)}</param>`).join('');
  return `<?xml version="1.0"?>\n<methodCall><methodName>${escapeXml(method)}</methodName><params>${encoded}</params></methodCall>`;
}

/** A successful response; an array's items one to a line, so a long changelog reads like a log. */
export function encodeMethodResponse(value: XmlRpcValue): string {
  const encoded = Array.isArray(value)
    ? `<value><array><data>\n${value.map((item) => `${encodeValue(item)}\n`).join('')}</data></array></value>\n`
    : `${encodeValue(value)}\n`;
  return `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n${encoded}</param>\n</params>\n</methodResponse>\n`;
}

/** A fault response. */
export function encodeFault(code: number, message: string): string {
  return `<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member><name>faultCode</name>${encodeValue(code)}</member>\n<member><name>faultString</name>${encodeValue(message)}</member>\n</struct></value>\n</fault>\n</methodResponse>\n`;
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

function tagOf(node: XmlNode): string {
  for (const key of Object.keys(node)) if (key !== ':@') return key;
  throw new XmlRpcError('empty XML node');
}

function childrenOf(node: XmlNode, tag: string): XmlNode[] {
  const value = node[tag];
  if (!Array.isArray(value)) throw new XmlRpcError(`<${tag}> has no children list`);
  return value as XmlNode[];
}

function elements(nodes: XmlNode[]): XmlNode[] {
  return nodes.filter((n) => tagOf(n) !== '#text');
}

function textOf(nodes: XmlNode[]): string {
  let text = '';
  for (const n of nodes) {
    const t = n['#text'];
    if (t === undefined) throw new XmlRpcError(`unexpected <${tagOf(n)}> in a scalar`);
    text += String(t);
  }
  return text;
}

function only(nodes: XmlNode[], tag: string): XmlNode {
  const found = elements(nodes);
  if (found.length !== 1 || tagOf(found[0] as XmlNode) !== tag) {
    throw new XmlRpcError(`expected one <${tag}>, found ${found.map(tagOf).join(', ') || 'nothing'}`);
  }
  return found[0] as XmlNode;
}

function decodeValue(valueNode: XmlNode): XmlRpcValue {
  const inner = childrenOf(valueNode, 'value');
  const typed = elements(inner);
  if (typed.length === 0) return textOf(inner);
  if (typed.length > 1) throw new XmlRpcError('<value> with more than one type');
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
      if (!/^[-+]?\d+$/.test(text)) throw new XmlRpcError(`bad integer "${text}"`);
      return Number(text);
    }
    case 'double': {
      const number = Number(textOf(content));
      if (!Number.isFinite(number)) throw new XmlRpcError('bad double');
      return number;
    }
    case 'boolean': {
      const text = textOf(content).trim();
      if (text !== '0' && text !== '1') throw new XmlRpcError(`bad boolean "${text}"`);
      return text === '1';
    }
    case 'nil':
      return null;
    case 'dateTime.iso8601':
    case 'base64':
      return textOf(content);
    case 'array':
      return elements(childrenOf(only(content, 'data'), 'data')).map((v) => {
        if (tagOf(v) !== 'value') throw new XmlRpcError('array item is not a <value>');
        return decodeValue(v);
      });
    case 'struct': {
      const out: Record<string, XmlRpcValue> = {};
      for (const member of elements(content)) {
        if (tagOf(member) !== 'member') throw new XmlRpcError('struct item is not a <member>');
        const parts = childrenOf(member, 'member');
        out[textOf(childrenOf(only(elements(parts).filter((p) => tagOf(p) === 'name'), 'name'), 'name'))] = decodeValue(
          only(elements(parts).filter((p) => tagOf(p) === 'value'), 'value'),
        );
      }
      return out;
    }
    default:
      throw new XmlRpcError(`unknown XML-RPC type <${tag}>`);
  }
}

export type MethodResponse = { ok: true; value: XmlRpcValue } | { ok: false; faultCode: number; faultString: string };

const faultSchema = z.object({ faultCode: z.number().int(), faultString: z.string() });

/** The document's root element, which must be `<tag>`, parsed with fast-xml-parser (any well-formed XML). */
function parseRoot(body: string, tag: string): XmlNode {
  const valid = XMLValidator.validate(body);
  if (valid !== true) throw new XmlRpcError(`not well-formed XML: ${valid.err.msg}`);
  const doc = parser.parse(body) as XmlNode[];
  return only(doc.filter((n) => tagOf(n) !== '?xml'), tag);
}

/** Slower than PlainXmlRpc, but takes any well-formed XML. */
function decodeGeneral(body: string): MethodResponse {
  const content = elements(childrenOf(parseRoot(body, 'methodResponse'), 'methodResponse'));
  const first = content[0];
  if (content.length !== 1 || first === undefined) throw new XmlRpcError('<methodResponse> must hold one element');
  if (tagOf(first) === 'fault') return toFault(decodeValue(only(childrenOf(first, 'fault'), 'value')));
  if (tagOf(first) !== 'params') throw new XmlRpcError(`unexpected <${tagOf(first)}>`);
  const param = only(childrenOf(first, 'params'), 'param');
  return { ok: true, value: decodeValue(only(childrenOf(param, 'param'), 'value')) };
}

function toFault(value: XmlRpcValue): MethodResponse {
  const fault = faultSchema.safeParse(value);
  if (!fault.success) throw new XmlRpcError('fault without faultCode/faultString');
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

const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

/** Decodes an XML-RPC response body; throws XmlRpcError when it is not one. */
export function decodeMethodResponse(body: string): MethodResponse {
  try {
    return new PlainXmlRpc(body).decode();
  } catch (error) {
    if (!(error instanceof NotPlain || error instanceof XmlRpcError)) throw error;
  }
  try {
    return decodeGeneral(body);
  } catch (error) {
    throw new XmlRpcError(`malformed XML-RPC response: ${firstLine(error)}`);
  }
}

export interface MethodCall {
  methodName: string;
  params: XmlRpcValue[];
}

/** Decodes an XML-RPC request body; throws XmlRpcError when it is not one. */
export function decodeMethodCall(body: string): MethodCall {
  try {
    const content = elements(childrenOf(parseRoot(body, 'methodCall'), 'methodCall'));
    const [name, params, ...rest] = content;
    if (name === undefined || tagOf(name) !== 'methodName') throw new XmlRpcError('<methodCall> must start with <methodName>');
    const methodName = textOf(childrenOf(name, 'methodName'));
    if (methodName === '') throw new XmlRpcError('empty <methodName>');
    if (rest.length > 0 || (params !== undefined && tagOf(params) !== 'params')) throw new XmlRpcError('<methodCall> holds more than a name and <params>');
    const values = params === undefined ? [] : elements(childrenOf(params, 'params')).map((param) => {
      if (tagOf(param) !== 'param') throw new XmlRpcError(`<${tagOf(param)}> in <params>`);
      return decodeValue(only(childrenOf(param, 'param'), 'value'));
    });
    return { methodName, params: values };
  } catch (error) {
    throw new XmlRpcError(`malformed XML-RPC call: ${firstLine(error)}`);
  }
}

