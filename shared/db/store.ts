// What every concern of the data layer works through: the connection and the
// upkeep of the derived tables, shared so that each concern's writes keep
// those summaries in the same transaction.
import type { Kysely } from 'kysely';
import type { Connection } from './connect.ts';
import type { DerivedTables } from './derived.ts';
import type { Tables } from './schema.ts';
import { sanitize } from './values.ts';

export type Db = Kysely<Tables>;

export interface Store {
  readonly conn: Connection;
  readonly derived: DerivedTables;
}

export function transaction<T>(store: Store, work: (db: Db) => Promise<T>): Promise<T> {
  return store.conn.kysely.transaction().execute(work);
}

/** Text cleaned of what the database refuses, cut to the column's width. */
export function clip(text: string | null | undefined, width: number): string | null {
  const clean = sanitize(text);
  return clean === null ? null : clean.slice(0, width);
}

// Big IN lists are cut to stay clear of SQLite's parameter limit.
const CHUNK = 500;

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
