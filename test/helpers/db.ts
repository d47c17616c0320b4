// Fresh databases for the suite: a SQLite file in a new temp dir, or a new
// randomly named database on the local PostgreSQL server, dropped afterwards;
// and the reads and writes tests make beside the Database API, straight on
// the tables.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { connect, type Connection, type DialectName } from '../../shared/db/connect.ts';
import { emptyBatch, type AccessBatch } from '../../shared/db/access.ts';
import { applyUpgrade, detectState, planUpgrade } from '../../shared/db/migrate.ts';
import {
  Database,
  type BuildRecord,
  type DownloadRecord,
  type JsonHitRecord,
  type PageHitRecord,
  type ProjectHitRecord,
  type SearchRecord,
} from '../../shared/db/index.ts';
import type { Tables } from '../../shared/db/schema.ts';
import { toDbTimestamp } from '../../shared/db/values.ts';

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
  /** The same connection's tables, for what tests check or set up directly. */
  kysely: Kysely<Tables>;
}

/** A fresh database at the current schema, opened. */
export async function freshDatabase(dialect: DialectName): Promise<TestDatabase> {
  const scratch = await scratchDatabase(dialect);
  await migrateTo(scratch.dsn);
  const conn = await connect(scratch.dsn);
  const db = new Database(conn);
  return {
    ...scratch,
    db,
    kysely: conn.kysely,
    drop: async () => {
      await db.close();
      await scratch.drop();
    },
  };
}

/** A connection of its own to a database something else has open (a coordinator's), for looking at its tables. */
export function openTables(dsn: string): Promise<Connection> {
  return connect(dsn);
}

/** Records one build attempt; its build id. */
export async function logBuild(db: Pick<Database, 'logBuilds'>, record: BuildRecord): Promise<number> {
  const [buildId] = await db.logBuilds([record]);
  return buildId!;
}

function logOne(db: Database, batch: Partial<AccessBatch>): Promise<void> {
  return db.logAccess({ ...emptyBatch(), ...batch });
}

export const logDownload = (db: Database, record: DownloadRecord): Promise<void> => logOne(db, { downloads: [record] });
export const logDownloads = (db: Database, records: readonly DownloadRecord[]): Promise<void> => logOne(db, { downloads: [...records] });
export const logSearch = (db: Database, record: SearchRecord): Promise<void> => logOne(db, { searches: [record] });
export const logProject = (db: Database, record: ProjectHitRecord): Promise<void> => logOne(db, { projects: [record] });
export const logJson = (db: Database, record: JsonHitRecord): Promise<void> => logOne(db, { json: [record] });
export const logPage = (db: Database, record: PageHitRecord): Promise<void> => logOne(db, { pages: [record] });

/** The most recently seen spelling of the package's name (null for an unknown package). */
export async function getPackageName(k: Kysely<Tables>, pkg: string): Promise<string | null> {
  const row = await k
    .selectFrom('package_names')
    .select('name')
    .where('package', '=', pkg)
    .orderBy('seen', 'desc')
    .orderBy('name')
    .limit(1)
    .executeTakeFirst();
  return row?.name ?? null;
}

/** Whether the package is marked for deletion (skip reason 'deleted'). */
export async function packageMarkedDeleted(k: Kysely<Tables>, pkg: string): Promise<boolean> {
  const row = await k.selectFrom('packages').select('package').where('package', '=', pkg).where('skip', '=', 'deleted').executeTakeFirst();
  return row !== undefined;
}

/** Versions of the package marked for deletion (skip reason 'deleted'). */
export async function getVersionsDeleted(k: Kysely<Tables>, pkg: string): Promise<Set<string>> {
  const rows = await k.selectFrom('versions').select('version').where('package', '=', pkg).where('skip', '=', 'deleted').execute();
  return new Set(rows.map((r) => r.version));
}

/** The version's skip reason ('' when not skipped), or null for an unknown version. */
export async function getVersionSkip(k: Kysely<Tables>, pkg: string, version: string): Promise<string | null> {
  const row = await k.selectFrom('versions').select('skip').where('package', '=', pkg).where('version', '=', version).executeTakeFirst();
  return row?.skip ?? null;
}

/** Filename to SHA-256 of every wheel of the package (successful builds). */
export async function getPackageFiles(k: Kysely<Tables>, pkg: string): Promise<Map<string, string>> {
  const rows = await k
    .selectFrom('builds as b')
    .innerJoin('files as f', 'f.build_id', 'b.build_id')
    .select(['f.filename', 'f.filehash'])
    .where('b.package', '=', pkg)
    .where(sql<boolean>`b.status`)
    .orderBy('f.filename')
    .execute();
  return new Map(rows.map((r) => [r.filename, r.filehash]));
}

/** Names of the wheels of one version (successful builds). */
export async function getVersionFiles(k: Kysely<Tables>, pkg: string, version: string): Promise<Set<string>> {
  const rows = await k
    .selectFrom('builds as b')
    .innerJoin('files as f', 'f.build_id', 'b.build_id')
    .select('f.filename')
    .where('b.package', '=', pkg)
    .where('b.version', '=', version)
    .where(sql<boolean>`b.status`)
    .execute();
  return new Set(rows.map((r) => r.filename));
}

/** Rows in a table. */
export async function countRows(conn: Connection, table: keyof Tables): Promise<number> {
  const result = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(conn.kysely);
  return Number(result.rows[0]?.n ?? 0);
}

/** Builds recorded for one version. */
export async function countVersionBuilds(conn: Connection, pkg: string, version: string): Promise<number> {
  const rows = await conn.kysely.selectFrom('builds').select('build_id').where('package', '=', pkg).where('version', '=', version).execute();
  return rows.length;
}

/** The package with the most versions (ties: by name), or '' with none. */
export async function largestPackage(conn: Connection): Promise<string> {
  const result = await sql<{ package: string }>`
    SELECT package FROM versions GROUP BY package ORDER BY COUNT(*) DESC, package LIMIT 1`.execute(conn.kysely);
  return result.rows[0]?.package ?? '';
}

/**
 * New packages with one version each, straight into their tables in one
 * transaction, as a bulk load does: the derived tables are left for
 * rebuildDerived.
 */
export async function insertReleases(conn: Connection, rows: ReadonlyArray<{ package: string; version: string; released: Date }>): Promise<void> {
  await conn.kysely.transaction().execute(async (tx) => {
    await tx.insertInto('packages').values(rows.map((r) => ({ package: r.package }))).execute();
    await tx
      .insertInto('versions')
      .values(rows.map((r) => ({ package: r.package, version: r.version, released: toDbTimestamp(r.released), yanked: 0 })))
      .execute();
  });
}

/** A farm_counters value, or null when the counter is absent. */
export async function farmCounter(conn: Pick<Connection, 'kysely'>, name: string): Promise<number | null> {
  const row = await conn.kysely.selectFrom('farm_counters').select('value').where('name', '=', name).executeTakeFirst();
  return row === undefined ? null : Number(row.value);
}

/** The database a describe block's tests share: set in its before(), dropped in its after(). */
export interface SharedDatabase {
  t: TestDatabase;
  db: Database;
}

/**
 * Registers before/after hooks that give the enclosing describe block a fresh,
 * migrated database of `dialect` with `abis` as build ABIs, then `seed` run on it.
 */
export function useFreshDatabase(dialect: DialectName, abis: readonly string[] = ['cp313', 'cp39', 'cp311'], seed?: (db: Database) => Promise<void>): SharedDatabase {
  const shared = {} as SharedDatabase;
  before(async () => {
    shared.t = await freshDatabase(dialect);
    shared.db = shared.t.db;
    for (const abi of abis) await shared.db.addBuildAbi(abi);
    await seed?.(shared.db);
  });
  after(async () => {
    await shared.t.drop();
  });
  return shared;
}
