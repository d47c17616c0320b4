// SHA-256 of files while they are being received. The receiver writes each
// chunk where it belongs and says how far the file is complete from byte 0; a
// worker thread reads that prefix back from disk and hashes it. So hashing
// overlaps the transfer, checks what is on disk rather than what arrived, and
// stays off the event loop that serves the slaves (SHA-256 of a 100 MB wheel
// is 60-150 ms of CPU).
//
// Public API:
//   FileHasher               one worker thread; start(path) → HashJob; close()
//   sharedFileHasher()       the process's hasher, started on first use (again
//                            after a crash); it keeps the process alive only
//                            while a digest is awaited
//   HashJob.advance(upTo)    bytes [0, upTo) of the file are final on disk
//   HashJob.digest()         { digest, hashed }: hex SHA-256 of the first
//                            `hashed` bytes; the job ends
//   HashJob.close()          ends the job without a digest (the file may go)
//   HashError                the worker could not read the file, or died
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { workerEntry } from '../paths.ts';

export class HashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HashError';
  }
}

export interface HashResult {
  digest: string;
  /** bytes hashed: the largest upTo advanced to */
  hashed: number;
}

const reply = z.union([
  z.object({ id: z.number(), digest: z.string(), hashed: z.number() }),
  z.object({ id: z.number(), error: z.string() }),
]);

/** What the worker thread (file-hasher-worker.ts) is sent. */
export type HashRequest =
  | { op: 'open'; id: number; path: string }
  | { op: 'advance'; id: number; upTo: number }
  | { op: 'digest'; id: number }
  | { op: 'close'; id: number };

interface Waiter {
  resolve: (result: HashResult) => void;
  reject: (error: Error) => void;
}

export class FileHasher {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private failure: Error | null = null;

  constructor() {
    const { filename, argv } = workerEntry('shared/wire/file-hasher-worker.ts');
    this.worker = new Worker(filename, { argv });
    this.worker.unref();
    this.worker.on('message', (raw: unknown) => this.answer(raw));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new HashError(`hash worker exited (code ${code})`)));
  }

  /** False once the worker has died or been closed. */
  get alive(): boolean {
    return this.failure === null;
  }

  /** Starts hashing the file at `path` as its prefix becomes final. */
  start(path: string): HashJob {
    const id = this.nextId++;
    this.post({ op: 'open', id, path });
    return new HashJob(this, id);
  }

  /** @internal (HashJob) */
  post(request: HashRequest): void {
    if (this.failure === null) this.worker.postMessage(request);
  }

  /** @internal (HashJob) */
  request(id: number): Promise<HashResult> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<HashResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.post({ op: 'digest', id });
    });
  }

  private answer(raw: unknown): void {
    const parsed = reply.safeParse(raw);
    if (!parsed.success) return;
    const msg = parsed.data;
    const waiter = this.waiting.get(msg.id);
    if (waiter === undefined) return;
    this.waiting.delete(msg.id);
    if (this.waiting.size === 0) this.worker.unref();
    if ('error' in msg) waiter.reject(new HashError(msg.error));
    else waiter.resolve({ digest: msg.digest, hashed: msg.hashed });
  }

  private fail(error: Error): void {
    if (this.failure === null) this.failure = error instanceof HashError ? error : new HashError(`hash worker failed: ${error.message}`);
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.fail(new HashError('hash worker closed'));
    await this.worker.terminate();
  }
}

export class HashJob {
  private advanced = 0;
  private ended = false;

  constructor(
    private readonly hasher: FileHasher,
    private readonly id: number,
  ) {}

  advance(upTo: number): void {
    if (this.ended || upTo <= this.advanced) return;
    this.advanced = upTo;
    this.hasher.post({ op: 'advance', id: this.id, upTo });
  }

  digest(): Promise<HashResult> {
    if (this.ended) return Promise.reject(new HashError('hash job already ended'));
    this.ended = true;
    return this.hasher.request(this.id);
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.hasher.post({ op: 'close', id: this.id });
  }
}

let shared: FileHasher | null = null;

export function sharedFileHasher(): FileHasher {
  if (shared === null || !shared.alive) shared = new FileHasher();
  return shared;
}
