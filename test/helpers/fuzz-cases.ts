// Fuzz cases for the master's six endpoints, from a seeded PRNG. Messages
// start as valid samples of the real zod schemas (shared/wire/protocols.ts)
// and are then broken: wrong types, missing or extra tuple items, huge
// strings and arrays, integers out of range, unknown names, bad tags, bad
// CBOR bytes, truncation, wrong frame counts. File-transfer frames get bogus
// commands, ids, offsets and lengths. Whether a case still passes the
// schema is decided by the same decodeMessage the master runs.
import type { z } from 'zod';
import { Tag } from 'cbor-x';
import { NO_DATA, Timedelta, UtcDateTime, encodeCbor } from '../../shared/wire/cbor.ts';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  ProtocolError,
  decodeMessage,
  lumberjack,
  masterControl,
  mrChase,
  pyDatetime,
  pyFloat,
  pyTimedelta,
  slaveDriver,
  type Table,
} from '../../shared/wire/protocols.ts';
import type { Prng } from './prng.ts';

export const ENDPOINTS = ['slaves', 'files', 'status', 'control', 'import', 'logger'] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

/** The table each CBOR endpoint receives with, and the size it refuses above. */
export const CBOR_ENDPOINTS = {
  slaves: { table: slaveDriver.recv, limit: DEFAULT_MAX_MESSAGE_SIZE, router: true },
  import: { table: mrChase.recv, limit: DEFAULT_MAX_MESSAGE_SIZE, router: true },
  control: { table: masterControl.recv, limit: DEFAULT_MAX_MESSAGE_SIZE, router: false },
  // the lumberjack's own limit (coordinator/access/lumberjack.ts)
  logger: { table: lumberjack.recv, limit: 16 * 1024 * 1024, router: false },
} as const satisfies Record<string, { table: Table; limit: number; router: boolean }>;
export type CborEndpoint = keyof typeof CBOR_ENDPOINTS;

export interface FuzzCase {
  endpoint: EndpointName;
  frames: Buffer[];
  /** what was done to it, for the counts */
  kind: string;
  /** the frames are not what the socket expects (the payload is then never read as a message) */
  reframed: boolean;
}

type Def = { type: string; [key: string]: unknown };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const WORDS = ['numpy', 'six', 'cp311', 'linux_armv7l', 'py3-none-any', '1.0', '', 'ü', '../etc', 'a\u0000b', 'zz-absent'];

function randomString(rng: Prng): string {
  if (rng.chance(0.5)) return rng.pick(WORDS);
  const length = rng.int(0, 24);
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(rng.chance(0.9) ? rng.int(0x20, 0x7e) : rng.int(0, 0xffff));
  return out;
}

/** A valid value of `schema` (its own check decides; the sampler only aims). */
export function sample(schema: z.ZodType, rng: Prng, depth = 0): unknown {
  if (schema === pyDatetime) return UtcDateTime.fromDate(new Date(Date.UTC(2026, 0, 1) + rng.int(0, 1e9)));
  if (schema === pyTimedelta) return new Timedelta(0, rng.int(0, 7200));
  if (schema === pyFloat) return rng.next() * 100;
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return randomString(rng);
    case 'number':
      return rng.int(0, 1000);
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    case 'nullable':
      return rng.chance(0.2) ? null : sample(def.innerType as z.ZodType, rng, depth + 1);
    case 'literal':
      return rng.pick(def.values as unknown[]);
    case 'union':
      return sample(rng.pick(def.options as z.ZodType[]), rng, depth + 1);
    case 'tuple':
      return (def.items as z.ZodType[]).map((item) => sample(item, rng, depth + 1));
    case 'array':
      return Array.from({ length: depth > 3 ? 0 : rng.int(0, 3) }, () => sample(def.element as z.ZodType, rng, depth + 1));
    case 'record': {
      const out: Record<string, unknown> = {};
      for (let i = depth > 3 ? 0 : rng.int(0, 2); i > 0; i--) out[randomString(rng)] = sample(def.valueType as z.ZodType, rng, depth + 1);
      return out;
    }
    case 'pipe':
      return sample(def.in as z.ZodType, rng, depth + 1);
    default:
      return null;
  }
}

/** A value of some other type than `value` has. */
function wrongType(value: unknown, rng: Prng): unknown {
  const options: Array<() => unknown> = [
    () => rng.int(-5, 5),
    () => randomString(rng),
    () => null,
    () => rng.chance(0.5),
    () => [],
    () => ({ key: 1 }),
    () => rng.bytes(rng.int(0, 16)),
    () => rng.next() * 1e6,
    () => new Tag(randomString(rng), rng.pick([0, 1, 2, 3, 2001, 2002, 55799, 37, 258])),
    () => NO_DATA,
    () => new Timedelta(0, 1),
    () => UtcDateTime.now(),
  ];
  for (let tries = 0; tries < 5; tries++) {
    const replacement = rng.pick(options)();
    if (typeof replacement !== typeof value || Array.isArray(replacement) !== Array.isArray(value)) return replacement;
  }
  return null;
}

const OUT_OF_RANGE: readonly unknown[] = [
  -1, 2 ** 31, 2 ** 32, 2 ** 53 + 2, -(2 ** 53) - 2, 2n ** 64n - 1n, -(2n ** 63n), Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5, -0, 1e308,
];

/** Every [container, key] in a value, for picking a place to break. */
function places(value: unknown, out: Array<[unknown[] | Record<string, unknown>, number | string]> = []): Array<[unknown[] | Record<string, unknown>, number | string]> {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([value, i]);
      places(item, out);
    });
  } else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      out.push([record, key]);
      places(record[key], out);
    }
  }
  return out;
}

function setAt(container: unknown[] | Record<string, unknown>, key: number | string, value: unknown): void {
  if (Array.isArray(container)) container[key as number] = value;
  else Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Breaks a [msg, data] value in place; returns what was done. */
function mutateValue(message: [string, unknown], rng: Prng, sizes: { huge: number }): string {
  const spots = places(message[1]);
  const spot = spots.length > 0 ? rng.pick(spots) : undefined;
  const roll = rng.int(0, 9);
  if (spot === undefined || roll === 0) {
    message[1] = wrongType(message[1], rng);
    return 'wrong-type data';
  }
  const [container, key] = spot;
  const current = Array.isArray(container) ? container[key as number] : container[key as string];
  switch (roll) {
    case 1:
    case 2:
      setAt(container, key, wrongType(current, rng));
      return 'wrong type';
    case 3:
      if (Array.isArray(container)) {
        container.splice(key as number, 1);
        return 'missing item';
      }
      delete container[key as string];
      return 'missing key';
    case 4:
      if (Array.isArray(container)) {
        container.splice(key as number, 0, wrongType(current, rng));
        return 'extra item';
      }
      setAt(container, `${String(key)}x`, current);
      return 'extra key';
    case 5:
      setAt(container, key, rng.pick(OUT_OF_RANGE));
      return 'out-of-range number';
    case 6:
      setAt(container, key, 'x'.repeat(rng.int(1024, sizes.huge)));
      return 'huge string';
    case 7:
      setAt(container, key, Array.from({ length: rng.int(1000, 50_000) }, () => (rng.chance(0.5) ? 0 : 'x')));
      return 'huge array';
    case 8: {
      let nested: unknown = current;
      for (let i = rng.int(5, 200); i > 0; i--) nested = [nested];
      setAt(container, key, nested);
      return 'nested';
    }
    default:
      setAt(container, key, new Tag(current, rng.pick([0, 1, 2, 3, 2001, 2002, 55799, 30, 65535])));
      return 'retagged';
  }
}

/** Byte-level damage to an encoded message. */
function mutateBytes(bytes: Buffer, rng: Prng): [Buffer, string] {
  switch (rng.int(0, 7)) {
    case 0:
      return [bytes.subarray(0, rng.int(0, Math.max(0, bytes.length - 1))), 'truncated'];
    case 1: {
      const copy = Buffer.from(bytes);
      for (let i = rng.int(1, 8); i > 0 && copy.length > 0; i--) {
        const at = rng.int(0, copy.length - 1);
        copy[at] = copy[at]! ^ (1 << rng.int(0, 7));
      }
      return [copy, 'bit flips'];
    }
    case 2:
      return [rng.bytes(rng.int(0, 256)), 'random bytes'];
    case 3:
      return [Buffer.concat([bytes, rng.bytes(rng.int(1, 32))]), 'trailing bytes'];
    case 4:
      // arrays nested far deeper than any decoder's stack
      return [Buffer.concat([Buffer.alloc(rng.int(1000, 200_000), rng.pick([0x81, 0x9f, 0xd8])), Buffer.from([0x00])]), 'deep nesting'];
    case 5:
      // a header declaring far more than follows
      return [Buffer.from([rng.pick([0x5b, 0x7b, 0x9b, 0xbb]), 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x61]), 'lying length'];
    case 6:
      // reserved additional-information values and a lone break
      return [Buffer.from([rng.pick([0x1c, 0x3d, 0x5e, 0x7c, 0x9d, 0xbe, 0xdc, 0xff])]), 'reserved byte'];
    default:
      return [Buffer.alloc(0), 'empty'];
  }
}

/** A message for a CBOR endpoint, and how it was made. */
function cborPayload(endpoint: CborEndpoint, rng: Prng, sizes: { huge: number }): [Buffer, string] {
  const table: Table = CBOR_ENDPOINTS[endpoint].table;
  const names = Object.keys(table);
  const name = rng.pick(names);
  const schema = table[name] ?? null;
  const roll = rng.int(0, 19);
  if (roll === 0) return [encodeCbor(rng.chance(0.5) ? randomString(rng) : [name.toLowerCase() + randomString(rng), null]), 'unknown message'];
  if (roll === 1) return [encodeCbor(rng.pick([{ [name]: 1 }, 42, [name], [name, null, null], null, [1, 2]])), 'bad structure'];
  if (roll === 2) return [encodeCbor(schema === null ? [name, sample(rng.pick(Object.values(slaveDriver.recv).filter((s) => s !== null)), rng)] : name), schema === null ? 'unexpected data' : 'missing data'];
  if (schema === null) return [encodeCbor(rng.chance(0.5) ? name : [name, NO_DATA]), 'valid sample'];
  const message: [string, unknown] = [name, sample(schema, rng)];
  if (roll <= 4) return [encodeCbor(message), 'valid sample'];
  if (roll <= 15) {
    const kind = mutateValue(message, rng, sizes);
    try {
      return [encodeCbor(message), kind];
    } catch {
      return [Buffer.from(JSON.stringify(message[0])), `${kind} (not encodable: JSON instead)`];
    }
  }
  return mutateBytes(encodeCbor(message), rng);
}

/** Wraps a payload in the frames its socket expects, or breaks the framing. */
function frame(payload: Buffer, router: boolean, rng: Prng): [Buffer[], string | null] {
  const normal = router ? [Buffer.alloc(0), payload] : [payload];
  if (!rng.chance(0.1)) return [normal, null];
  switch (rng.int(0, 3)) {
    case 0:
      return [router ? [payload] : [Buffer.alloc(0), payload], 'wrong frame count'];
    case 1:
      return [[...normal, rng.bytes(rng.int(0, 8))], 'extra frame'];
    case 2:
      return [router ? [Buffer.from('x'), payload] : [payload, payload], 'bad delimiter'];
    default:
      return [Array.from({ length: rng.int(3, 20) }, () => rng.bytes(rng.int(0, 10))), 'many frames'];
  }
}

const FILE_WORDS = ['HELLO', 'FETCH', 'CHUNK', 'DONE', 'hello', 'SENT', '', 'CHUNKY', 'HELLO\u0000'];
const NUMBERS = ['0', '1', '-1', '65536', '999999999999999', '9999999999999999999999', '1e9', '0x10', ' 1', '1.5', 'NaN', '', 'abc', '\u0000'];

function fileFrames(rng: Prng, sizes: { huge: number }): [Buffer[], string] {
  const text = (s: string): Buffer => Buffer.from(s, 'latin1');
  const number = (): Buffer => text(rng.chance(0.5) ? String(rng.int(0, 2 ** 31)) : rng.pick(NUMBERS));
  switch (rng.int(0, 8)) {
    case 0:
      return [[text('HELLO'), number()], 'HELLO, unknown slave'];
    case 1:
      return [[text('FETCH'), number(), number()], 'FETCH to the receiver'];
    case 2:
      return [[text('CHUNK'), number(), rng.bytes(rng.int(0, 4096))], 'CHUNK, no transfer'];
    case 3:
      return [[text('CHUNK'), number(), Buffer.alloc(rng.int(1 << 20, Math.max(1 << 20, sizes.huge)))], 'huge CHUNK'];
    case 4:
      return [[text('DONE'), ...Array.from({ length: rng.int(0, 2) }, number)], 'DONE'];
    case 5:
      return [[text(rng.pick(FILE_WORDS)), ...Array.from({ length: rng.int(0, 4) }, number)], 'wrong arguments'];
    case 6:
      return [Array.from({ length: rng.int(1, 30) }, () => rng.bytes(rng.int(0, 64))), 'random frames'];
    case 7:
      return [[rng.bytes(rng.int(0, 4096))], 'one random frame'];
    default:
      return [[text('HELLO')], 'HELLO without id'];
  }
}

/** Frames an XSUB may send to the status XPUB: (un)subscriptions and anything else. */
function statusFrames(rng: Prng): [Buffer[], string] {
  switch (rng.int(0, 4)) {
    case 0:
      return [[Buffer.concat([Buffer.from([1]), rng.bytes(rng.int(0, 64))])], 'subscribe'];
    case 1:
      return [[Buffer.concat([Buffer.from([0]), rng.bytes(rng.int(0, 64))])], 'unsubscribe'];
    case 2:
      return [[Buffer.alloc(0)], 'empty frame'];
    case 3:
      return [Array.from({ length: rng.int(1, 10) }, () => rng.bytes(rng.int(0, 128))), 'random frames'];
    default:
      return [[Buffer.concat([Buffer.from([rng.int(2, 255)]), rng.bytes(rng.int(0, 256))])], 'not a subscription'];
  }
}

export type Verdict =
  | { verdict: 'valid'; msg: string; data: unknown }
  | { verdict: 'invalid' }
  /** the decoder threw something other than a ProtocolError: the master's socket loops would see the same */
  | { verdict: 'escaped'; error: string };

/** Whether `payload` passes the endpoint's protocol check, exactly as the master's sockets decide. */
export function verdict(endpoint: CborEndpoint, payload: Buffer): Verdict {
  try {
    const table: Table = CBOR_ENDPOINTS[endpoint].table;
    const message: { msg: string; data: unknown } = decodeMessage(table, payload, CBOR_ENDPOINTS[endpoint].limit);
    return { verdict: 'valid', msg: message.msg, data: message.data };
  } catch (error) {
    if (error instanceof ProtocolError) return { verdict: 'invalid' };
    return { verdict: 'escaped', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

export function makeCase(endpoint: EndpointName, rng: Prng, sizes: { huge: number }): FuzzCase {
  if (endpoint === 'files') {
    const [frames, kind] = fileFrames(rng, sizes);
    return { endpoint, frames, kind, reframed: false };
  }
  if (endpoint === 'status') {
    const [frames, kind] = statusFrames(rng);
    return { endpoint, frames, kind, reframed: false };
  }
  const [payload, kind] = cborPayload(endpoint, rng, sizes);
  const [frames, framing] = frame(payload, CBOR_ENDPOINTS[endpoint].router, rng);
  return { endpoint, frames, kind: framing ?? kind, reframed: framing !== null };
}

/** One message just over the endpoint's size limit: a valid shape with a huge string. */
export function oversized(endpoint: CborEndpoint): FuzzCase {
  const { limit, router } = CBOR_ENDPOINTS[endpoint];
  const payload = encodeCbor(['HELLO', 'x'.repeat(limit)]);
  return { endpoint, frames: router ? [Buffer.alloc(0), payload] : [payload], kind: 'oversized', reframed: false };
}
