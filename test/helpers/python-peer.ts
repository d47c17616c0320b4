// Runs the Python peer (test/fixtures/python/peer.py) under Debian's python3
// (with python3-zmq and python3-cbor2) and converts values to and from the
// "typed JSON" it prints, so both sides can be compared exactly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NO_DATA, Timedelta, UtcDateTime } from '../../shared/wire/cbor.ts';

export const PYTHON = '/usr/bin/python3';
export const PEER = fileURLToPath(new URL('../fixtures/python/peer.py', import.meta.url));

export type Typed = null | boolean | number | string | Typed[] | { [tag: string]: unknown };
/** A message in typed JSON: "NAME" or ["NAME", data]. */
export type TypedMessage = string | [string, Typed];

export function toTyped(value: unknown): Typed {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? value : { $float: value };
  if (value instanceof Timedelta) return { $td: [value.days, value.seconds, value.microseconds] };
  if (value instanceof UtcDateTime) return { $dt: value.toISOString() };
  if (value === NO_DATA) return { $nodata: null };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(toTyped);
  if (typeof value === 'object') return { $map: Object.entries(value).map(([k, v]) => [k, toTyped(v)]) };
  return { $unknown: String(value) };
}

export function fromTyped(value: Typed): unknown {
  if (Array.isArray(value)) return value.map(fromTyped);
  if (value !== null && typeof value === 'object') {
    const [[tag, body]] = Object.entries(value) as [[string, unknown]];
    switch (tag) {
      case '$float':
        return body as number;
      case '$td': {
        const [d, s, us] = body as [number, number, number];
        return new Timedelta(d, s, us);
      }
      case '$dt':
        return UtcDateTime.parse(body as string);
      case '$bytes':
        return Buffer.from(body as string, 'hex');
      case '$nodata':
        return NO_DATA;
      case '$map':
        return Object.fromEntries((body as Array<[string, Typed]>).map(([k, v]) => [k, fromTyped(v)]));
    }
    throw new Error(`unknown typed value ${tag}`);
  }
  return value;
}

/**
 * What a JS receiver can know of a typed value: a whole float decodes to an
 * integer-valued number in JS, so {"$float": 2} reads back as 2.
 */
export function asSeenByJs(value: Typed): Typed {
  if (Array.isArray(value)) return value.map(asSeenByJs);
  if (value !== null && typeof value === 'object') {
    const [[tag, body]] = Object.entries(value) as [[string, unknown]];
    if (tag === '$float' && Number.isInteger(body)) return body as number;
    if (tag === '$map') return { $map: (body as Array<[string, Typed]>).map(([k, v]) => [k, asSeenByJs(v)]) };
    return value;
  }
  return value;
}

export function messageFromTyped(m: TypedMessage): { msg: string; data: unknown } {
  return typeof m === 'string' ? { msg: m, data: undefined } : { msg: m[0], data: fromTyped(m[1]) };
}

export function messageToTyped(msg: string, data: unknown): TypedMessage {
  return data === undefined ? msg : [msg, toTyped(data)];
}

export interface Peer {
  /** the endpoint the peer bound (only for "bind") */
  endpoint: Promise<string>;
  /** the peer's final JSON document */
  result: Promise<unknown>;
  kill(): void;
  process: ChildProcess;
}

export function startPeer(mode: string, socketType: string, how: 'bind' | 'connect', endpoint: string, args: string[] = [], plan?: unknown): Peer {
  const child = spawn(PYTHON, [PEER, mode, socketType, how, endpoint, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(plan === undefined ? '' : JSON.stringify(plan));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout });
  const received: unknown[] = [];
  const waiters: Array<(v: unknown) => void> = [];
  lines.on('line', (line) => {
    const value: unknown = JSON.parse(line);
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(value);
    else received.push(value);
  });
  const next = (): Promise<unknown> =>
    new Promise((resolve) => {
      if (received.length > 0) resolve(received.shift());
      else waiters.push(resolve);
    });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const endpointPromise = how === 'bind' ? next().then((v) => (v as { endpoint: string }).endpoint) : Promise.resolve(endpoint);
  const result = (async () => {
    const value = await Promise.race([endpointPromise.then(next), exited.then(() => undefined)]);
    const code = await exited;
    if (code !== 0 || value === undefined) throw new Error(`python peer ${mode} exited ${code}: ${stderr}`);
    return value;
  })();
  // the endpoint line never comes if the peer dies first
  const endpointOrExit = Promise.race([
    endpointPromise,
    exited.then((code) => {
      throw new Error(`python peer ${mode} exited ${code} before binding: ${stderr}`);
    }),
  ]);
  endpointOrExit.catch(() => undefined);
  result.catch(() => undefined);
  return {
    endpoint: endpointOrExit,
    result,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
    process: child,
  };
}
