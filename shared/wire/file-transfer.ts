// piwheels' file transfer: multipart ASCII frames over DEALER (sender) and
// ROUTER (receiver), no CBOR:
//   sender   [HELLO, <slave id>]          (again after 5 s of silence)
//   receiver [FETCH, <offset>, <length>]  (up to `pipeline` in flight)
//   sender   [CHUNK, <offset>, <bytes>]
//   receiver [DONE]
// The receiver asks for what it still lacks, in chunks of the length it
// chooses (a sender serves whatever length is asked); chunks may arrive out
// of order or twice, and a repeated HELLO resets its credit.
//
// Public API:
//   TransferState      receiver side of one file: the missing-range map, credit,
//                      writes into a temp file, SHA-256 check (hashed in a
//                      worker thread as the file fills, see file-hasher.ts),
//                      atomic commit
//   TransferTable      receiver side of many transfers keyed by sender address
//                      (what the master's file juggler does with the frames)
//   sendFile(socket, slaveId, path)   sender side, on a connected DEALER
//   parseFileFrames(frames)           validate a frame list into a FileFrame
//   CHUNK_SIZE, PIPELINE_SIZE, HELLO_INTERVAL   piwheels' figures
//   FETCH_SIZE         the chunk length our receiver asks for
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { chmod, rename, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { armv6TwinName } from '../build.ts';
import { exclude, intersect, range, rangeLength, type Range } from '../ranges.ts';
import { assertSafeFilename } from '../wheel/name.ts';
import { HashError, sharedFileHasher, type FileHasher, type HashJob } from './file-hasher.ts';
import type { WireSocket } from './transport.ts';
import type { Table } from './protocols.ts';

/** what a piwheels master asks for in each FETCH */
export const CHUNK_SIZE = 65536;
/**
 * What our receiver asks for: per-message costs (a zeromq message, a promise,
 * an external buffer for the garbage collector to find) dominate at 64 KiB on
 * loopback. With the window below, 10 MiB are in flight; a sender on a link
 * slower than 200 kB/s would say HELLO again between chunks, which only
 * widens the window.
 */
export const FETCH_SIZE = 1 << 20;
export const PIPELINE_SIZE = 10;
/** seconds of silence after which a sender says HELLO again */
export const HELLO_INTERVAL = 5;

export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

/** What a transfer needs to know of the file (a built wheel fits). */
export interface TransferFile {
  filename: string;
  filesize: number;
  filehash: string;
  platformTag: string;
}

export interface TransferOptions {
  /** bytes asked for in each FETCH (default FETCH_SIZE) */
  chunkSize?: number;
  pipelineSize?: number;
  /** where the SHA-256 is computed (default: the process's shared hasher) */
  hasher?: FileHasher;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * Receiver-side state of one file. Writes are synchronous on purpose: each
 * CHUNK is applied whole before the next frame is looked at, so the range
 * map and the file never disagree, and every byte before the first missing
 * one is final (no later chunk rewrites it) and can be hashed.
 */
export class TransferState {
  readonly slaveId: number;
  readonly file: TransferFile;
  readonly tempPath: string;
  private readonly simpleDir: string;
  private readonly chunkSize: number;
  private readonly pipelineSize: number;
  private fd: number | null;
  private map: Range[];
  private offset = 0;
  private credit = 0;
  private readonly hash: HashJob;
  private verified = false;

  constructor(slaveId: number, file: TransferFile, outputPath: string, options: TransferOptions = {}) {
    assertSafeFilename(file.filename);
    if (!Number.isSafeInteger(file.filesize) || file.filesize < 0) throw new TransferError(`bad file size ${file.filesize}`);
    if (!SHA256_HEX.test(file.filehash)) throw new TransferError(`bad SHA-256 ${JSON.stringify(file.filehash)}`);
    this.slaveId = slaveId;
    this.file = file;
    this.chunkSize = options.chunkSize ?? FETCH_SIZE;
    this.pipelineSize = options.pipelineSize ?? PIPELINE_SIZE;
    this.simpleDir = join(outputPath, 'simple');
    mkdirSync(this.simpleDir, { recursive: true });
    this.tempPath = join(this.simpleDir, `.transfer-${randomBytes(8).toString('hex')}.tmp`);
    this.fd = openSync(this.tempPath, 'wx+', 0o600);
    ftruncateSync(this.fd, file.filesize);
    this.map = file.filesize > 0 ? [range(0, file.filesize)] : [];
    this.hash = (options.hasher ?? sharedFileHasher()).start(this.tempPath);
    this.resetCredit();
  }

  get done(): boolean {
    return this.map.length === 0;
  }

  /** Bytes still missing. */
  get remaining(): number {
    return this.map.reduce((n, r) => n + rangeLength(r), 0);
  }

  /** The next range to FETCH, or null when out of credit or nothing is missing. */
  fetch(): Range | null {
    if (this.credit <= 0 || this.map.length === 0) return null;
    this.credit -= 1;
    let want = range(this.offset, this.offset + this.chunkSize);
    for (;;) {
      for (const missing of this.map) {
        const hit = intersect(missing, want);
        if (hit !== null) {
          this.offset = hit.stop;
          return hit;
        }
      }
      // past the last gap: start again from the first one (re-fetching what
      // may have been lost)
      const first = this.map[0]!;
      want = range(first.start, first.start + this.chunkSize);
    }
  }

  /** Applies a received CHUNK. Only still-missing bytes are written. */
  chunk(offset: number, data: Uint8Array): void {
    if (this.fd === null) throw new TransferError('transfer already closed');
    const end = offset + data.length;
    if (!Number.isSafeInteger(offset) || offset < 0 || end > this.file.filesize) {
      throw new TransferError(`chunk ${offset}+${data.length} lies outside ${this.file.filename} (${this.file.filesize} bytes)`);
    }
    const received = range(offset, end);
    for (const missing of this.map) {
      if (missing.start >= end) break;
      const part = intersect(missing, received);
      if (part !== null) writeAll(this.fd, data.subarray(part.start - offset, part.stop - offset), part.start);
    }
    if (data.length > 0) this.map = exclude(this.map, received);
    this.hash.advance(this.map.length === 0 ? this.file.filesize : this.map[0]!.start);
    this.credit = this.map.length === 0 ? 0 : this.credit + 1;
  }

  /** Called on a repeated HELLO: the sender lost our FETCHes, so start again. */
  resetCredit(): void {
    this.credit = Math.max(1, Math.min(this.pipelineSize, Math.floor(this.file.filesize / this.chunkSize)));
  }

  /** Checks size and SHA-256; rejects with a TransferError on a mismatch. */
  async verify(): Promise<void> {
    if (this.fd === null) throw new TransferError('transfer already closed');
    if (!this.done) throw new TransferError(`transfer of ${this.file.filename} incomplete: ${this.remaining} bytes missing`);
    const size = fstatSync(this.fd).size;
    closeSync(this.fd);
    this.fd = null;
    if (size !== this.file.filesize) {
      this.hash.close();
      throw new TransferError(`wrong size for transfer at ${this.tempPath}`);
    }
    const result = await this.hash.digest().catch((error: unknown) => {
      throw error instanceof HashError ? new TransferError(`could not hash ${this.file.filename}: ${error.message}`) : error;
    });
    if (result.hashed !== size || result.digest !== this.file.filehash.toLowerCase()) {
      throw new TransferError(`failed to verify transfer of ${this.file.filename}`);
    }
    this.verified = true;
  }

  /**
   * Moves the verified file to simple/<package>/<filename> atomically. An
   * armv7l wheel also gets an armv6l symlink unless a real file has that name
   * (piwheels serves armv7 builds to armv6 boards that way).
   */
  async commit(packageName: string): Promise<string> {
    if (!this.verified) throw new TransferError('commit before verify');
    assertSafeFilename(packageName);
    const pkgDir = join(this.simpleDir, packageName);
    mkdirOverrideSymlink(pkgDir);
    await chmod(this.tempPath, 0o644);
    const finalPath = join(pkgDir, this.file.filename);
    // rename replaces a file or symlink of the same name, as intended: a real
    // armv6 build supersedes the armv7 link
    await rename(this.tempPath, finalPath);
    const armv6Name = armv6TwinName(this.file.filename);
    if (armv6Name !== null) {
      try {
        await symlink(this.file.filename, join(pkgDir, armv6Name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    return finalPath;
  }

  /** Discards the temp file. */
  async rollback(): Promise<void> {
    this.hash.close();
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    try {
      await unlink(this.tempPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** mkdir that replaces a symlink (an alias directory) with a real directory. */
export function mkdirOverrideSymlink(dir: string): void {
  for (;;) {
    try {
      mkdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!lstatSync(dir).isSymbolicLink()) return;
      try {
        // unlink, not rm: only the link goes, never the directory it names
        unlinkSyncQuiet(dir);
      } catch (unlinkError) {
        // another writer replaced it with a real directory first
        if ((unlinkError as NodeJS.ErrnoException).code !== 'EISDIR') throw unlinkError;
        return;
      }
    }
  }
}

function unlinkSyncQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export type FileFrame =
  | { type: 'HELLO'; slaveId: number }
  | { type: 'FETCH'; offset: number; size: number }
  | { type: 'CHUNK'; offset: number; data: Buffer }
  | { type: 'DONE' };

function asciiInt(frame: Buffer | undefined, what: string): number {
  const text = frame?.toString('latin1');
  if (text === undefined || !/^\d{1,15}$/.test(text)) throw new TransferError(`invalid ${what}: ${JSON.stringify(text)}`);
  return Number(text);
}

/** Validates a file-transfer frame list (without any ROUTER address). */
export function parseFileFrames(frames: Buffer[]): FileFrame {
  const [head, ...args] = frames;
  const msg = head?.toString('latin1');
  switch (msg) {
    case 'HELLO':
      if (args.length !== 1) break;
      return { type: 'HELLO', slaveId: asciiInt(args[0], 'slave id') };
    case 'FETCH':
      if (args.length !== 2) break;
      return { type: 'FETCH', offset: asciiInt(args[0], 'offset'), size: asciiInt(args[1], 'size') };
    case 'CHUNK':
      if (args.length !== 2) break;
      return { type: 'CHUNK', offset: asciiInt(args[0], 'offset'), data: args[1]! };
    case 'DONE':
      if (args.length !== 0) break;
      return { type: 'DONE' };
  }
  throw new TransferError(`invalid file transfer frames: ${JSON.stringify(msg?.slice(0, 16))} with ${args.length} arguments`);
}

export interface TableResult {
  /** frames to send back, each starting with the peer's address */
  replies: Array<Array<Buffer | string>>;
  /** the transfer that just finished receiving (kept for takeCompleted) */
  completed: TransferState | null;
  /** why the frames were ignored, if they were */
  ignored: string | null;
  /** the slave whose transfer the frames belonged to, if any (a sign of life) */
  slaveId: number | null;
}

/**
 * The master's side of many concurrent transfers, keyed by the sender's
 * ROUTER address. expect() registers what a slave is about to send; handle()
 * consumes each incoming frame list and says what to send back.
 */
export class TransferTable {
  private readonly pending = new Map<number, TransferState>();
  private readonly active = new Map<string, TransferState>();
  private readonly complete = new Map<number, TransferState>();

  /** Registers the next transfer of a slave (replacing and discarding any older one). */
  expect(transfer: TransferState): void {
    void this.pending.get(transfer.slaveId)?.rollback();
    this.pending.set(transfer.slaveId, transfer);
  }

  /** The finished (not yet verified) transfer of a slave, removed from the table. */
  takeCompleted(slaveId: number): TransferState | null {
    const transfer = this.complete.get(slaveId) ?? null;
    this.complete.delete(slaveId);
    return transfer;
  }

  /** Forgets and discards every transfer of a slave. */
  async cancel(slaveId: number): Promise<void> {
    const doomed: TransferState[] = [];
    for (const map of [this.pending, this.complete]) {
      const t = map.get(slaveId);
      if (t !== undefined) doomed.push(t);
      map.delete(slaveId);
    }
    for (const [address, t] of this.active) {
      if (t.slaveId === slaveId) {
        doomed.push(t);
        this.active.delete(address);
      }
    }
    await Promise.all(doomed.map((t) => t.rollback()));
  }

  handle(address: Buffer, frames: Buffer[]): TableResult {
    const key = address.toString('hex');
    const result: TableResult = { replies: [], completed: null, ignored: null, slaveId: null };
    let frame: FileFrame;
    try {
      frame = parseFileFrames(frames);
    } catch (error) {
      const transfer = this.active.get(key);
      // a garbled frame mid-transfer: carry on fetching, as piwheels does
      if (transfer !== undefined) transfer.resetCredit();
      result.slaveId = transfer?.slaveId ?? null;
      result.ignored = (error as Error).message;
      if (transfer !== undefined) this.fetchMore(address, transfer, result);
      return result;
    }
    let transfer = this.active.get(key);
    if (transfer === undefined) {
      if (frame.type === 'CHUNK') {
        result.ignored = 'redundant CHUNK from a finished transfer';
        return result;
      }
      if (frame.type !== 'HELLO') {
        result.ignored = `invalid start of transfer: ${frame.type}`;
        return result;
      }
      transfer = this.pending.get(frame.slaveId);
      if (transfer === undefined) {
        result.ignored = `unexpected transfer from slave ${frame.slaveId}`;
        return result;
      }
      this.pending.delete(frame.slaveId);
      this.active.set(key, transfer);
      result.slaveId = transfer.slaveId;
    } else if (frame.type === 'CHUNK') {
      result.slaveId = transfer.slaveId;
      try {
        transfer.chunk(frame.offset, frame.data);
      } catch (error) {
        if (!(error instanceof TransferError)) throw error;
        result.ignored = error.message;
      }
      if (transfer.done) {
        this.active.delete(key);
        this.complete.set(transfer.slaveId, transfer);
        result.completed = transfer;
        result.replies.push([address, 'DONE']);
        return result;
      }
    } else {
      // HELLO again: the sender heard nothing for a while, so our FETCHes
      // were lost; start fetching afresh
      transfer.resetCredit();
      result.slaveId = transfer.slaveId;
      if (frame.type !== 'HELLO') result.ignored = `invalid frame during transfer: ${frame.type}`;
    }
    this.fetchMore(address, transfer, result);
    return result;
  }

  private fetchMore(address: Buffer, transfer: TransferState, result: TableResult): void {
    for (let r = transfer.fetch(); r !== null; r = transfer.fetch()) {
      result.replies.push([address, 'FETCH', String(r.start), String(r.stop - r.start)]);
    }
  }
}

export interface SendFileOptions {
  /** seconds of silence before HELLO is sent again (default 5) */
  helloInterval?: number;
  /**
   * Rejects with a TransferError as soon as this aborts. A receive or send
   * may still be pending on the socket then: close the socket afterwards.
   */
  signal?: AbortSignal;
}

function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, path: string): Promise<T> {
  if (signal === undefined) return work;
  const aborted = () => new TransferError(`sending ${path} aborted`);
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      // the receive stays pending until the socket closes; its end is moot
      work.catch(() => undefined);
      reject(aborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Sender side: answers FETCHes with CHUNKs of the file at `path` until the
 * receiver says DONE. `socket` is a connected DEALER (piwheels' slave uses a
 * fresh one per file).
 */
export async function sendFile(socket: WireSocket<Table, Table>, slaveId: number, path: string, options: SendFileOptions = {}): Promise<void> {
  const interval = options.helloInterval ?? HELLO_INTERVAL;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const hello = () => abortable(socket.sendRaw(['HELLO', String(slaveId)]), options.signal, path);
    await hello();
    for (;;) {
      const frames = await abortable(socket.recvRaw(interval), options.signal, path);
      if (frames === null) {
        await hello();
        continue;
      }
      let frame: FileFrame;
      try {
        frame = parseFileFrames(frames);
      } catch {
        continue; // not ours to understand; the receiver will ask again
      }
      if (frame.type === 'DONE') return;
      if (frame.type !== 'FETCH') continue;
      const length = Math.max(0, Math.min(frame.size, size - frame.offset));
      const buf = Buffer.allocUnsafe(length);
      const n = length > 0 ? readSync(fd, buf, 0, length, frame.offset) : 0;
      await abortable(socket.sendRaw(['CHUNK', String(frame.offset), buf.subarray(0, n)]), options.signal, path);
    }
  } finally {
    closeSync(fd);
  }
}
