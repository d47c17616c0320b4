// The lumberjack's store: the Database's access-log writes, behind an object
// the coordinator can also run in a worker thread (SQLite writes block the
// thread that makes them).
//
// Public API:
//   AccessStore(db).logAccessBatch(batch)   one transaction for the batch
//   openAccessStore(dsn)                    factory (also usable in a worker thread)
import { openDatabase, type AccessBatch, type Database } from '../../shared/db/index.ts';

export type { AccessBatch } from '../../shared/db/index.ts';

export class AccessStore {
  constructor(private readonly db: Database) {}

  async close(): Promise<void> {
    await this.db.close();
  }

  async logAccessBatch(batch: AccessBatch): Promise<void> {
    await this.db.logAccess(batch);
  }
}

/** Opens the database and wraps it; the coordinator may call this inside a worker thread. */
export async function openAccessStore(dsn: string): Promise<AccessStore> {
  return new AccessStore(await openDatabase(dsn));
}
