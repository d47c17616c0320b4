// Fresh databases for the tool tests: a SQLite file in a temp dir, or a
// randomly named PostgreSQL database on the local server, migrated to the
// current schema and removed afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Kysely } from 'kysely';
import { connect } from '../../shared/db/connect.ts';
import { Database } from '../../shared/db/index.ts';
import { applyUpgrade, detectState, planUpgrade } from '../../shared/db/migrate.ts';
import type { Tables } from '../../shared/db/schema.ts';

export const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

export interface TestDatabase {
  dsn: string;
  db: Database;
  /** The same connection's tables, for what tests check or set up directly. */
  kysely: Kysely<Tables>;
  cleanup(): Promise<void>;
}

export async function tempDir(prefix = 'piw-tools-'): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export async function createDatabase(dialect: Dialect, abis: string[] = ['cp311']): Promise<TestDatabase> {
  let dsn: string;
  let drop: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = await tempDir();
    dsn = join(dir.path, 'piwheels.sqlite');
    drop = dir.cleanup;
  } else {
    const name = `piw_tools_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    dsn = `postgres://postgres@127.0.0.1:5432/${name}`;
    drop = async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    };
  }
  const conn = await connect(dsn, { create: true });
  try {
    await applyUpgrade(conn, planUpgrade(await detectState(conn)));
  } finally {
    await conn.close();
  }
  const opened = await connect(dsn);
  const db = new Database(opened);
  for (const abi of abis) await db.addBuildAbi(abi);
  return {
    dsn,
    db,
    kysely: opened.kysely,
    cleanup: async () => {
      await db.close();
      await drop();
    },
  };
}
