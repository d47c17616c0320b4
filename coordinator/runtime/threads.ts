// What piw-master keeps off its main thread: on SQLite, whose calls block,
// the long queries and the access-log inserts run in worker threads; on
// PostgreSQL the main connection pool serves them.
import { UserError } from '../../shared/cli.ts';
import type { Database } from '../../shared/db/index.ts';
import { moduleUrl } from '../../shared/paths.ts';
import { AccessStore, type AccessBatch } from '../access/access-store.ts';
import { WorkerObject, isPostgresDsn, type AsyncApi } from './db-pool.ts';

/** The database for long queries (build queue, statistics, search index): its own thread on SQLite. */
export async function openQueryThread(dsn: string, main: Database): Promise<{ api: AsyncApi<Database>; close(): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { api: main, close: async () => undefined };
  const worker = new WorkerObject<Database>(moduleUrl('../../shared/db/index.ts', import.meta.url).href, 'openDatabase', [dsn]);
  try {
    await worker.ready;
  } catch (error) {
    await worker.close();
    if (error instanceof Error && error.name === 'UserError') throw new UserError(error.message);
    throw error;
  }
  return { api: worker.api, close: () => worker.close('close') };
}

/** The store of access-log records: its own thread on SQLite, where each insert blocks. */
export async function openAccessThread(dsn: string, main: Database): Promise<{ store: { logAccessBatch(b: AccessBatch): Promise<void> }; close(): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { store: new AccessStore(main), close: async () => undefined };
  // a busy web server's log is many inserts: keep them off the event loop
  const worker = new WorkerObject<AccessStore>(moduleUrl('../access/access-store.ts', import.meta.url).href, 'openAccessStore', [dsn]);
  await worker.ready;
  return { store: worker.api, close: () => worker.close('close') };
}
