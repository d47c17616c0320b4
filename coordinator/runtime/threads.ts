// What piw-master keeps off its main thread, all in one background thread (a
// thread per object would cost a V8 isolate and its copy of the database
// layer each): the page writer always; on SQLite, whose calls block, the long
// queries and the access-log inserts too. On PostgreSQL the main connection
// pool serves those.
import { UserError } from '../../shared/cli.ts';
import type { Database } from '../../shared/db/index.ts';
import { moduleUrl } from '../../shared/paths.ts';
import { AccessStore, type AccessBatch } from '../access/access-store.ts';
import { WorkerThread, isPostgresDsn, type AsyncApi, type RemoteObject } from './worker-thread.ts';

/** The background thread: mostly waiting, so its young generation is kept small. */
export function startBackgroundThread(): WorkerThread {
  return new WorkerThread({ youngGenerationMb: 8 });
}

/** Opens an object in the thread; a failure to build it is thrown here, as a UserError when it was one. */
export async function openIn<T extends object>(thread: WorkerThread, module: URL, exportName: string, args: unknown[]): Promise<RemoteObject<T>> {
  const { remote, ready } = thread.open<T>(module.href, exportName, args);
  try {
    await ready;
  } catch (error) {
    await remote.close();
    if (error instanceof Error && error.name === 'UserError') throw new UserError(error.message);
    throw error;
  }
  return remote;
}

/** The database for long queries (build queue, statistics, search index): the background thread's on SQLite. */
export async function openQueryDatabase(dsn: string, main: Database, thread: WorkerThread): Promise<{ api: AsyncApi<Database>; close(): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { api: main, close: async () => undefined };
  const remote = await openIn<Database>(thread, moduleUrl('../../shared/db/index.ts', import.meta.url), 'openDatabase', [dsn]);
  return { api: remote.api, close: () => remote.close('close') };
}

/** The store of access-log records: in the background thread on SQLite, where each insert blocks. */
export async function openAccessWriter(dsn: string, main: Database, thread: WorkerThread): Promise<{ store: { logAccessBatch(b: AccessBatch): Promise<void> }; close(): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { store: new AccessStore(main), close: async () => undefined };
  const remote = await openIn<AccessStore>(thread, moduleUrl('../access/access-store.ts', import.meta.url), 'openAccessStore', [dsn]);
  return { store: remote.api, close: () => remote.close('close') };
}
