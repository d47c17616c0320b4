// Database access shared by every task of the coordinator. PostgreSQL is
// asynchronous already (a pg pool), so tasks use the Database directly. SQLite
// through better-sqlite3 is synchronous: a long query (the build queue, the
// statistics) would freeze the whole event loop, slaves and transfers
// included, so for SQLite every call runs in a worker thread instead and the
// tasks receive a proxy with the same (async) methods.
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
  z.object({ ready: z.literal(true) }),
  z.object({ ready: z.literal(false), error: z.object({ name: z.string(), message: z.string() }) }),
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

/**
 * An object built inside a worker thread by `module`'s `exportName(...args)`,
 * used through a proxy whose every method call is forwarded to it.
 */
export class WorkerObject<T extends object> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;
  readonly ready: Promise<void>;
  readonly api: AsyncApi<T>;

  constructor(module: string, exportName: string, args: unknown[]) {
    const { filename, argv } = workerEntry('./db-worker.ts', import.meta.url);
    this.worker = new Worker(filename, {
      argv,
      workerData: { module, exportName, args },
    });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (raw: unknown): void => {
        const parsed = answer.safeParse(raw);
        if (!parsed.success) return;
        const msg = parsed.data;
        if ('ready' in msg) {
          if (msg.ready) resolve();
          else reject(new RemoteError(msg.error.name, msg.error.message));
          return;
        }
        const waiter = this.pending.get(msg.id);
        if (!waiter) return;
        this.pending.delete(msg.id);
        if (msg.ok) waiter.resolve(msg.value);
        else waiter.reject(new RemoteError(msg.error.name, msg.error.message, msg.error.code));
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', (error) => {
        reject(error);
        this.failAll(error);
      });
      this.worker.on('exit', (code) => {
        const error = new Error(`database worker exited (code ${code})`);
        reject(error);
        this.failAll(error);
      });
    });
    // an unobserved failure surfaces on the next call instead
    this.ready.catch(() => undefined);
    this.api = new Proxy({} as AsyncApi<T>, {
      get: (_target, property) => {
        // not a thenable: `await pool.api` must not call into the worker
        if (typeof property !== 'string' || property === 'then') return undefined;
        return (...callArgs: unknown[]) => this.call(property, callArgs);
      },
    });
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`database worker is closed (calling ${method})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  private failAll(error: Error): void {
    this.closed = true;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  /** Calls `closeMethod` on the object (when given), then ends the worker. */
  async close(closeMethod?: string): Promise<void> {
    if (this.closed) return;
    if (closeMethod) {
      try {
        await this.call(closeMethod, []);
      } catch {
        // the worker is ending anyway
      }
    }
    this.closed = true;
    await this.worker.terminate();
  }
}

export function isPostgresDsn(dsn: string): boolean {
  return /^postgres(ql)?:\/\//i.test(dsn);
}
