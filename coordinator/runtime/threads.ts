// What piw-master keeps off its main thread, all in one background thread (a
// thread per object would cost a V8 isolate and its copy of the database
// layer each): the page writer always; on SQLite, whose calls block, the long
// queries and the access-log inserts too. On PostgreSQL the main connection
// pool serves those.
import { UserError } from '../../shared/cli.ts';
import type { Database } from '../../shared/db/index.ts';
import { moduleUrl } from '../../shared/paths.ts';
import { AccessStore, type AccessBatch } from '../access/access-store.ts';
import { WorkerThread, isPostgresDsn, type AsyncApi } from './worker-thread.ts';

/** The background thread: mostly waiting, so its young generation is kept small. */
export function startBackgroundThread(): WorkerThread {
  return new WorkerThread({ youngGenerationMb: 8 });
}

/** An object of the background thread, or of the main thread on PostgreSQL. */
export interface Hosted<A> {
  readonly api: A;
  /** Resolves once it is built; rejects (a UserError when it was one) if it could not be. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** Opens an object in the thread without waiting for it: calls made meanwhile wait in the thread. */
function openIn<T extends object>(thread: WorkerThread, module: URL, exportName: string, args: unknown[]): Hosted<AsyncApi<T>> {
  const { remote, ready } = thread.open<T>(module.href, exportName, args);
  const built = ready.catch((error: unknown) => {
    throw error instanceof Error && error.name === 'UserError' ? new UserError(error.message) : error;
  });
  built.catch(() => undefined);
  return { api: remote.api, ready: built, close: () => remote.close('close') };
}

/** The database for long queries (build queue, statistics, search index): the background thread's on SQLite. */
export function openQueryDatabase(dsn: string, main: Database, thread: WorkerThread): Hosted<AsyncApi<Database>> {
  if (isPostgresDsn(dsn)) return { api: main, ready: Promise.resolve(), close: async () => undefined };
  return openIn<Database>(thread, moduleUrl('shared/db/index.ts'), 'openDatabase', [dsn]);
}

/** The store of access-log records: in the background thread on SQLite, where each insert blocks. */
export function openAccessWriter(dsn: string, main: Database, thread: WorkerThread): Hosted<{ logAccessBatch(b: AccessBatch): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { api: new AccessStore(main), ready: Promise.resolve(), close: async () => undefined };
  return openIn<AccessStore>(thread, moduleUrl('coordinator/access/access-store.ts'), 'openAccessStore', [dsn]);
}
