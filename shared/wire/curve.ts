// CURVE authentication for the farm's TCP endpoints (ZeroMQ's CurveZMQ).
//
// Keys live in ZeroMQ's certificate files, the layout pyzmq's
// zmq.auth.create_certificates writes: NAME.key holds the public key and may
// be handed out; NAME.key_secret holds both keys and stays with its owner.
// The master authorizes clients by the public certificates in one folder,
// read again whenever the folder changes, so adding or removing a file takes
// effect for the next connection without a restart.
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { z } from 'zod';
import { UserError } from '../cli.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { setCurveClient, setCurveServer } from './transport.ts';

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** A CURVE key as ZeroMQ prints it: 32 bytes in Z85, 40 characters. */
export const z85Key = z.string().regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, 'expected a 40-character Z85 CURVE key');

export interface CurveKeys {
  publicKey: string;
  secretKey: string;
}

/** Z85-encodes bytes whose length is a multiple of 4 (a CURVE key is 32). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError('Z85 encodes whole 4-byte groups only');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    let group = '';
    for (let j = 0; j < 5; j++) {
      group = Z85_ALPHABET[value % 85]! + group;
      value = Math.floor(value / 85);
    }
    out += group;
  }
  return out;
}

/** One certificate file's keys; `secretKey` is null in a public certificate. */
export interface Certificate {
  publicKey: string;
  secretKey: string | null;
}

/**
 * Reads ZeroMQ's certificate format (ZPL): a `curve` section holding
 * `public-key = "..."` and, in a secret certificate, `secret-key = "..."`.
 */
export function parseCertificate(text: string, source: string): Certificate {
  let section = '';
  const keys = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*(#.*)?$/.test(raw)) continue;
    if (!/^\s/.test(raw)) {
      section = raw.trim();
      continue;
    }
    const match = /^\s+(public-key|secret-key)\s*=\s*"([^"]*)"\s*$/.exec(raw);
    if (section === 'curve' && match) keys.set(match[1]!, match[2]!);
  }
  const publicKey = z85Key.safeParse(keys.get('public-key'));
  if (!publicKey.success) throw new UserError(`${source}: no valid public-key in a "curve" section (is it a ZeroMQ certificate?)`);
  const secret = keys.get('secret-key');
  if (secret === undefined) return { publicKey: publicKey.data, secretKey: null };
  const secretKey = z85Key.safeParse(secret);
  if (!secretKey.success) throw new UserError(`${source}: the secret-key is not a 40-character Z85 key`);
  return { publicKey: publicKey.data, secretKey: secretKey.data };
}

function readCertificateFile(path: string): Certificate {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read the certificate ${path}: ${(error as Error).message}`);
  }
  return parseCertificate(text, path);
}

/** Both keys of a secret certificate (NAME.key_secret). */
export function readSecretCertificate(path: string): CurveKeys {
  const cert = readCertificateFile(path);
  if (cert.secretKey === null) throw new UserError(`${path} holds no secret-key: give the NAME.key_secret file, not NAME.key`);
  return { publicKey: cert.publicKey, secretKey: cert.secretKey };
}

/** The public key of a certificate (either file of a pair). */
export function readPublicKey(path: string): string {
  return readCertificateFile(path).publicKey;
}

function certificateText(kind: 'Public' | 'Secret', keys: Certificate, now: Date): string {
  const lines = [
    `#   ZeroMQ CURVE ${kind} Certificate, made by piw-keys on ${now.toISOString()}`,
    kind === 'Public'
      ? '#   Copy it to the machines that must recognise this key.'
      : '#   Keep it private: whoever holds this file can act as its owner.',
    '',
    'metadata',
    'curve',
    `    public-key = "${keys.publicKey}"`,
  ];
  if (keys.secretKey !== null) lines.push(`    secret-key = "${keys.secretKey}"`);
  return `${lines.join('\n')}\n`;
}

/** Makes a new key pair as DIR/NAME.key (public) and DIR/NAME.key_secret (mode 0600). */
export function writeCertificatePair(dir: string, name: string, now = new Date()): { publicFile: string; secretFile: string; keys: CurveKeys } {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new UserError(`key name ${JSON.stringify(name)}: use letters, digits, ".", "_" and "-"`);
  const keys = zmq.curveKeyPair();
  const publicFile = join(dir, `${name}.key`);
  const secretFile = join(dir, `${name}.key_secret`);
  writeFileSync(secretFile, certificateText('Secret', keys, now), { mode: 0o600, flag: 'wx' });
  chmodSync(secretFile, 0o600);
  writeFileSync(publicFile, certificateText('Public', { publicKey: keys.publicKey, secretKey: null }, now), { flag: 'wx' });
  return { publicFile, secretFile, keys };
}

/**
 * The public keys authorized by a folder of certificates (NAME.key files),
 * each named by its file. Read again only when the folder has changed.
 */
export class AuthorizedKeys {
  private stamp = '';
  private keys = new Map<string, string>();
  private readonly warned = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly logger: Logger = silentLogger(),
  ) {}

  /** The certificate name a public key belongs to, or null when it is not authorized. */
  lookup(publicKey: string): string | null {
    this.refresh();
    return this.keys.get(publicKey) ?? null;
  }

  get size(): number {
    this.refresh();
    return this.keys.size;
  }

  private refresh(): void {
    let names: string[];
    let stamp: string;
    try {
      names = readdirSync(this.dir).filter((name) => name.endsWith('.key')).sort();
      // the folder's own mtime moves on add/remove/rename; the files' on rewrite in place
      stamp = [statSync(this.dir).mtimeMs, ...names.map((name) => `${name}:${statSync(join(this.dir, name)).mtimeMs}`)].join('|');
    } catch (error) {
      if (this.stamp !== 'unreadable') this.logger.error(`cannot read the authorized keys folder ${this.dir}: ${(error as Error).message}; refusing every client`);
      this.stamp = 'unreadable';
      this.keys = new Map();
      return;
    }
    if (stamp === this.stamp) return;
    const keys = new Map<string, string>();
    for (const name of names) {
      try {
        keys.set(readPublicKey(join(this.dir, name)), name.slice(0, -'.key'.length));
      } catch (error) {
        const message = (error as Error).message;
        if (!this.warned.has(message)) this.logger.warn(`ignoring a certificate: ${message}`);
        this.warned.add(message);
      }
    }
    this.stamp = stamp;
    this.keys = keys;
    this.logger.info({ dir: this.dir, keys: keys.size }, 'authorized keys loaded');
  }
}

/** libzmq asks this fixed in-process endpoint about every CURVE handshake. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * The ZAP handler: answers libzmq's authentication requests for CURVE
 * handshakes from the authorized keys. A refused key is logged once.
 */
export class CurveAuthenticator {
  private readonly socket = new zmq.Reply();
  private readonly refused = new Set<string>();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly authorized: AuthorizedKeys,
    private readonly logger: Logger = silentLogger(),
  ) {}

  async start(): Promise<void> {
    this.socket.linger = 0;
    await this.socket.bind(ZAP_ENDPOINT);
    this.loop = this.serve();
  }

  async stop(): Promise<void> {
    this.socket.close();
    await this.loop;
  }

  /** The reply to one ZAP request (RFC 27): status 200 admits, 400 refuses. */
  decide(frames: Buffer[]): Array<Buffer | string> {
    const [version, requestId, , address, , mechanism, credential] = frames;
    const reply = (status: string, text: string, user = ''): Array<Buffer | string> => ['1.0', requestId ?? '', status, text, user, ''];
    if (version?.toString() !== '1.0') return reply('400', 'unsupported ZAP version');
    if (mechanism?.toString() !== 'CURVE') return reply('400', 'only CURVE clients are admitted');
    if (credential === undefined || credential.length !== 32) return reply('400', 'malformed CURVE key');
    const key = z85Encode(credential);
    const name = this.authorized.lookup(key);
    if (name === null) {
      if (!this.refused.has(key)) {
        this.refused.add(key);
        this.logger.warn({ key, peer: address?.toString() }, 'refused a client whose key is not authorized');
      }
      return reply('400', 'key not authorized');
    }
    this.refused.delete(key);
    return reply('200', 'OK', name);
  }

  private async serve(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch {
        return; // closed
      }
      await this.socket.send(this.decide(frames)).catch(() => undefined);
    }
  }
}

/**
 * Makes this process a CURVE server on its tcp:// endpoints, admitting the
 * clients whose public certificates are in `clientsDir`. Returns the stop.
 */
export async function serveCurve(secretFile: string, clientsDir: string, logger: Logger = silentLogger()): Promise<() => Promise<void>> {
  const keys = readSecretCertificate(secretFile);
  const authorized = new AuthorizedKeys(clientsDir, logger);
  if (authorized.size === 0) logger.warn(`no client certificates (NAME.key) in ${clientsDir} yet: every slave and tool is refused until one is added`);
  const authenticator = new CurveAuthenticator(authorized, logger);
  await authenticator.start();
  setCurveServer(keys);
  logger.info({ publicKey: keys.publicKey }, 'CURVE on for tcp:// endpoints');
  return async () => {
    setCurveServer(undefined);
    await authenticator.stop();
  };
}

/** Makes this process a CURVE client of the server whose public certificate is `serverFile`. */
export function connectWithCurve(secretFile: string, serverFile: string): void {
  setCurveClient({ ...readSecretCertificate(secretFile), serverKey: readPublicKey(serverFile) });
}
