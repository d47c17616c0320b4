// rewrites_pending as the secretary's journal: the database's load and save
// of the whole queue, plus the row-at-a-time note and clear that keep a
// recorded build's page rewrite stored until its pages are written.
import { sql } from 'kysely';
import type { Database } from '../../shared/db/index.ts';
import { toDbTimestamp } from '../../shared/db/values.ts';
import type { PendingRewrite } from './page-request.ts';
import type { RewritesStore } from './secretary.ts';

export class RewritesTable implements RewritesStore {
  constructor(private readonly db: Database) {}

  loadRewritesPending(): Promise<PendingRewrite[]> {
    return this.db.loadRewritesPending();
  }

  saveRewritesPending(rows: PendingRewrite[]): Promise<void> {
    return this.db.saveRewritesPending(rows);
  }

  /** Inserts the rows; a package already pending keeps its time and becomes BOTH if either is. */
  async notePending(rows: PendingRewrite[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.kysely
      .insertInto('rewrites_pending')
      .values(rows.map((r) => ({ package: r.package, added_at: toDbTimestamp(r.addedAt), command: r.command })))
      .onConflict((oc) =>
        oc.column('package').doUpdateSet({
          command: sql<string>`CASE WHEN excluded.command = 'BOTH' THEN 'BOTH' ELSE rewrites_pending.command END`,
        }),
      )
      .execute();
  }

  async clearPending(packages: readonly string[]): Promise<void> {
    // in slices, clear of SQLite's limit on parameters
    for (let i = 0; i < packages.length; i += 500) {
      await this.db.kysely.deleteFrom('rewrites_pending').where('package', 'in', packages.slice(i, i + 500)).execute();
    }
  }
}
