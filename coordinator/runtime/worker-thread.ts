// Worker threads of the coordinator. Work that would hold up the main thread
// (page rendering; on SQLite, whose calls block, the long queries and the
// access-log inserts) runs on objects built inside a worker thread from a
// module export, used from the main thread through proxies with the same
// methods, each returning a promise. Every thread is a V8 isolate that costs
// tens of MB once the database layer is loaded, so one thread can host
// several objects: piw-master runs one background thread for all of them.
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { workerEntry } from '../../shared/paths.ts';

/** The async view of an object: every method returns a promise. */
export type AsyncApi<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

const answer = z.union([
  z.object({ id: z.number(), ok: z.literal(true), value: z.unknown() }),
  z.object({
    id: z.number(),
    ok: z.literal(false),
    error: z.object({ name: z.string(), message: z.string(), code: z.string().optional() }),
  }),
]);

class RemoteError extends Error {
  constructor(name: string, message: string, readonly code?: string) {
    super(message);
    this.name = name;
  }
}

export interface WorkerThreadOptions {
  /**
   * Cap on the thread's young generation, in MB. V8 grows it to 48 MB under
   * allocation and keeps it; a thread that mostly waits does not need that.
   */
  youngGenerationMb?: number;
}

/** An object living in a worker thread. */
export interface RemoteObject<T extends object> {
  readonly api: AsyncApi<T>;
  /** Calls `closeMethod` on the object (when given); the thread stays. */
  close(closeMethod?: string): Promise<void>;
}

/** One worker thread hosting objects built there; calls to each run in order of sending. */
export class WorkerThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private nextHandle = 1;
  private failure: Error | undefined;

  constructor(options: WorkerThreadOptions = {}) {
    const { filename, argv } = workerEntry('coordinator/runtime/worker-thread-entry.ts');
    const limits = options.youngGenerationMb === undefined ? undefined : { maxYoungGenerationSizeMb: options.youngGenerationMb };
    this.worker = new Worker(filename, { argv, resourceLimits: limits });
    this.worker.on('message', (raw: unknown) => {
      const parsed = answer.safeParse(raw);
      if (!parsed.success) return;
      const msg = parsed.data;
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.value);
      else waiter.reject(new RemoteError(msg.error.name, msg.error.message, msg.error.code));
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => this.failAll(new Error(`worker thread exited (code ${code})`)));
  }

  /**
   * Builds an object in the thread with `module`'s `exportName(...args)`.
   * The returned object takes calls at once; they wait in the thread until it
   * is built, and fail as its construction did.
   */
  open<T extends object>(module: string, exportName: string, args: unknown[]): { remote: RemoteObject<T>; ready: Promise<void> } {
    const handle = this.nextHandle++;
    const ready = this.request({ op: 'open', handle, module, exportName, args }).then(() => undefined);
    // an unobserved failure surfaces on the next call instead
    ready.catch(() => undefined);
    let closed = false;
    const api = new Proxy({} as AsyncApi<T>, {
      get: (_target, property) => {
        // not a thenable: `await remote.api` must not call into the thread
        if (typeof property !== 'string' || property === 'then') return undefined;
        return (...callArgs: unknown[]) =>
          closed ? Promise.reject(new Error(`worker object is closed (calling ${property})`)) : this.request({ op: 'call', handle, method: property, args: callArgs });
      },
    });
    const remote: RemoteObject<T> = {
      api,
      close: async (closeMethod) => {
        if (closed) return;
        if (closeMethod !== undefined && this.failure === undefined) {
          // the object is going anyway: a failure to close it is not the caller's
          await this.request({ op: 'call', handle, method: closeMethod, args: [] }).catch(() => undefined);
        }
        closed = true;
        if (this.failure === undefined) await this.request({ op: 'drop', handle }).catch(() => undefined);
      },
    };
    return { remote, ready };
  }

  private request(message: Record<string, unknown>): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private failAll(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  /** Ends the thread (its objects should be closed first). */
  async close(): Promise<void> {
    this.failAll(new Error('worker thread is closed'));
    await this.worker.terminate();
  }
}

/** A thread of its own for one object (parallel page writers, one per core). */
export class WorkerObject<T extends object> {
  private readonly thread: WorkerThread;
  private readonly remote: RemoteObject<T>;
  readonly ready: Promise<void>;

  constructor(module: string, exportName: string, args: unknown[], options: WorkerThreadOptions = {}) {
    this.thread = new WorkerThread(options);
    ({ remote: this.remote, ready: this.ready } = this.thread.open<T>(module, exportName, args));
  }

  get api(): AsyncApi<T> {
    return this.remote.api;
  }

  /** Calls `closeMethod` on the object (when given), then ends the thread. */
  async close(closeMethod?: string): Promise<void> {
    await this.remote.close(closeMethod);
    await this.thread.close();
  }
}

export function isPostgresDsn(dsn: string): boolean {
  return /^postgres(ql)?:\/\//i.test(dsn);
}
