// The page writer's queue of rewrites still to do, kept across restarts.
import { RewritePendingSchema, type RewritePending } from './records.ts';
import { transaction, type Store } from './store.ts';
import { fromDbTimestamp, toDbTimestamp } from './values.ts';

/** Replaces the stored queue with `queue`. */
export async function saveRewritesPending(store: Store, queue: readonly RewritePending[]): Promise<void> {
  const rows = queue.map((r) => RewritePendingSchema.parse(r));
  await transaction(store, async (db) => {
    await db.deleteFrom('rewrites_pending').execute();
    if (rows.length > 0) {
      await db
        .insertInto('rewrites_pending')
        .values(rows.map((r) => ({ package: r.package, added_at: toDbTimestamp(r.addedAt), command: r.command })))
        .execute();
    }
  });
}

/** The stored queue, oldest first. */
export async function loadRewritesPending(store: Store): Promise<RewritePending[]> {
  const rows = await store.conn.kysely
    .selectFrom('rewrites_pending')
    .select(['package', 'added_at', 'command'])
    .orderBy('added_at')
    .orderBy('package')
    .execute();
  return rows.map((r) => RewritePendingSchema.parse({ package: r.package, addedAt: fromDbTimestamp(r.added_at), command: r.command }));
}
