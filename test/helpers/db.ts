// Fresh databases for the suite: a SQLite file in a new temp dir, or a new
// randomly named database on the local PostgreSQL server, dropped afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, type DialectName } from '../../shared/db/connect.ts';
import { applyUpgrade, detectState, planUpgrade } from '../../shared/db/migrate.ts';
import { Database } from '../../shared/db/index.ts';

export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres'];

export const PG_ADMIN = process.env.PIW_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export interface Scratch {
  dsn: string;
  /** Removes the database (and its temp dir). */
  drop(): Promise<void>;
}

/** An empty database of the dialect, not yet initialised. */
export async function scratchDatabase(dialect: DialectName): Promise<Scratch> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'piw-db-test-'));
    return { dsn: join(dir, 'piwheels.sqlite'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `piw_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return { dsn: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Brings a database to `target` (the latest by default) as piw-initdb would. */
export async function migrateTo(dsn: string, target?: number): Promise<void> {
  const conn = await connect(dsn, { create: true });
  try {
    await applyUpgrade(conn, planUpgrade(await detectState(conn), target));
  } finally {
    await conn.close();
  }
}

export interface TestDatabase extends Scratch {
  db: Database;
}

/** A fresh database at the current schema, opened. */
export async function freshDatabase(dialect: DialectName): Promise<TestDatabase> {
  const scratch = await scratchDatabase(dialect);
  await migrateTo(scratch.dsn);
  const db = new Database(await connect(scratch.dsn));
  return {
    ...scratch,
    db,
    drop: async () => {
      await db.close();
      await scratch.drop();
    },
  };
}
