// The page writer's queue of rewrites still to do, kept across restarts, and
// the journal rows that keep a recorded build's rewrite until it is written.
import { RewritePendingSchema, type RewritePending } from './records.ts';
import { sql } from 'kysely';
import { chunks, transaction, type Store } from './store.ts';
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

/** Adds rows to the queue; a package already pending keeps its time and becomes BOTH if either is. */
export async function notePendingRewrites(store: Store, queue: readonly RewritePending[]): Promise<void> {
  if (queue.length === 0) return;
  const rows = queue.map((r) => RewritePendingSchema.parse(r));
  await store.conn.kysely
    .insertInto('rewrites_pending')
    .values(rows.map((r) => ({ package: r.package, added_at: toDbTimestamp(r.addedAt), command: r.command })))
    .onConflict((oc) =>
      oc.column('package').doUpdateSet({
        command: sql<string>`CASE WHEN excluded.command = 'BOTH' THEN 'BOTH' ELSE rewrites_pending.command END`,
      }),
    )
    .execute();
}

/** Removes these packages' rows (their pages are written). */
export async function clearPendingRewrites(store: Store, packages: readonly string[]): Promise<void> {
  for (const slice of chunks(packages)) {
    await store.conn.kysely.deleteFrom('rewrites_pending').where('package', 'in', slice).execute();
  }
}
