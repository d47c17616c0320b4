// Loads the full-scale farm dataset (CSV in the piwheels table layout, from
// the team's dataset generator) into PostgreSQL and SQLite for the database
// benchmark. Run alone to (re)load:
//   node --import tsx bench/farm-data.ts [--data DIR] [--reload] [--only postgres|sqlite]
// DIR comes from --data, else $PIW_FARM_DATA, else farm-data/ (gitignored).
import { createReadStream, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { parse as parseSync } from 'csv-parse/sync';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { connect, type DialectName } from '../shared/db/connect.ts';
import { Database } from '../shared/db/index.ts';
import { applyUpgrade, detectState, LATEST_VERSION, planUpgrade } from '../shared/db/migrate.ts';
import { farmCounter } from '../test/helpers/db.ts';

/** Each CSV's table columns, in file order; NOT NULL text columns that may be empty. */
const TABLES: ReadonlyArray<{ table: string; columns: string[]; notNullText?: string[] }> = [
  { table: 'packages', columns: ['package', 'skip', 'description'], notNullText: ['skip', 'description'] },
  { table: 'package_names', columns: ['package', 'name', 'seen'] },
  { table: 'versions', columns: ['package', 'version', 'released', 'skip', 'yanked'], notNullText: ['skip'] },
  { table: 'build_abis', columns: ['abi_tag', 'skip'], notNullText: ['skip'] },
  { table: 'builds', columns: ['build_id', 'package', 'version', 'built_by', 'built_at', 'duration', 'status', 'abi_tag'] },
  {
    table: 'files',
    columns: [
      'filename', 'build_id', 'filesize', 'filehash', 'package_tag', 'package_version_tag',
      'py_version_tag', 'abi_tag', 'platform_tag', 'requires_python', 'location',
    ],
  },
  { table: 'dependencies', columns: ['filename', 'tool', 'dependency'] },
  {
    table: 'downloads',
    columns: [
      'filename', 'accessed_by', 'accessed_at', 'arch', 'distro_name', 'distro_version', 'os_name',
      'os_version', 'py_name', 'py_version', 'installer_name', 'installer_version', 'setuptools_version',
    ],
  },
  { table: 'preinstalled_apt_packages', columns: ['abi_tag', 'apt_package'] },
];

export interface LoadReport {
  dialect: DialectName;
  dsn: string;
  /** Seconds spent loading (0 when an earlier load was reused). */
  loadSeconds: number;
  /** Seconds of that spent recomputing the derived tables. */
  derivedSeconds: number;
  bytes: number;
  reused: boolean;
}

export function farmDataDir(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): string {
  const i = argv.indexOf('--data');
  const dir = i >= 0 ? argv[i + 1] : env.PIW_FARM_DATA;
  return resolve(dir && dir !== '' ? dir : 'farm-data');
}

interface Manifest {
  rows: Record<string, number>;
}

export function readManifest(dataDir: string): Manifest {
  const path = join(dataDir, 'manifest.json');
  if (!existsSync(path)) {
    throw new Error(`no dataset in ${dataDir}: generate it with gen_dataset.py --out ${dataDir}, or point --data / PIW_FARM_DATA at one`);
  }
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

const log = (line: string): void => {
  process.stderr.write(`[farm-data] ${line}\n`);
};

async function isLoaded(dsn: string, manifest: Manifest): Promise<boolean> {
  try {
    const conn = await connect(dsn);
    try {
      const state = await detectState(conn);
      if (state.kind !== 'ours' || state.version !== LATEST_VERSION) return false;
      return ((await farmCounter(conn, 'files_count')) ?? -1) === manifest.rows.files;
    } finally {
      await conn.close();
    }
  } catch {
    return false;
  }
}

async function migrateEmpty(dsn: string): Promise<void> {
  const conn = await connect(dsn, { create: true });
  try {
    await applyUpgrade(conn, planUpgrade(await detectState(conn)));
  } finally {
    await conn.close();
  }
}

async function rebuildDerived(dsn: string): Promise<number> {
  const started = performance.now();
  const conn = await connect(dsn);
  const db = new Database(conn);
  try {
    await db.rebuildDerived();
  } finally {
    await db.close();
  }
  return (performance.now() - started) / 1000;
}

// ---- PostgreSQL ----

export async function loadPostgres(dataDir: string, adminDsn: string, dbname: string, reload: boolean): Promise<LoadReport> {
  const manifest = readManifest(dataDir);
  const url = new URL(adminDsn);
  url.pathname = `/${dbname}`;
  const dsn = url.toString();
  const admin = new pg.Client({ connectionString: adminDsn });
  await admin.connect();
  try {
    if (!reload && (await isLoaded(dsn, manifest))) {
      const size = await admin.query<{ n: string }>('SELECT pg_database_size($1) AS n', [dbname]);
      return { dialect: 'postgres', dsn, loadSeconds: 0, derivedSeconds: 0, bytes: Number(size.rows[0]?.n), reused: true };
    }
    const started = performance.now();
    await admin.query(`DROP DATABASE IF EXISTS ${dbname} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbname}`);
    await migrateEmpty(dsn);
    const client = new pg.Client({ connectionString: dsn });
    await client.connect();
    await client.query("SET maintenance_work_mem = '1GB'");
    try {
      const tables = TABLES.map((t) => t.table);
      // Keys, indexes and foreign keys come off for the load and go back on after.
      const constraints = await client.query<{ tbl: string; name: string; def: string; type: string }>(
        `SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def, contype AS type
         FROM pg_constraint
         WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'f') AND conrelid::regclass::text = ANY($1)`,
        [tables],
      );
      const indexes = await client.query<{ name: string; def: string }>(
        `SELECT indexname AS name, indexdef AS def FROM pg_indexes
         WHERE schemaname = 'public' AND tablename = ANY($1)
           AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace)`,
        [tables],
      );
      const fks = constraints.rows.filter((c) => c.type === 'f');
      const keys = constraints.rows.filter((c) => c.type !== 'f');
      for (const c of fks) await client.query(`ALTER TABLE ${c.tbl} DROP CONSTRAINT ${c.name}`);
      for (const c of keys) await client.query(`ALTER TABLE ${c.tbl} DROP CONSTRAINT ${c.name}`);
      for (const i of indexes.rows) await client.query(`DROP INDEX ${i.name}`);
      await client.query('DELETE FROM build_abis');
      for (const t of TABLES) {
        const t0 = performance.now();
        const forceNotNull = t.notNullText ? `, FORCE_NOT_NULL (${t.notNullText.join(', ')})` : '';
        const copy = client.query(copyFrom(`COPY ${t.table} (${t.columns.join(', ')}) FROM STDIN WITH (FORMAT csv${forceNotNull})`));
        await pipeline(createReadStream(join(dataDir, `${t.table}.csv`)), copy);
        log(`postgres: ${t.table} copied in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      const t1 = performance.now();
      for (const c of keys) await client.query(`ALTER TABLE ${c.tbl} ADD CONSTRAINT ${c.name} ${c.def}`);
      for (const i of indexes.rows) await client.query(i.def);
      for (const c of fks) await client.query(`ALTER TABLE ${c.tbl} ADD CONSTRAINT ${c.name} ${c.def}`);
      log(`postgres: keys, indexes and foreign keys rebuilt in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      await client.query(`SELECT setval('builds_build_id_seq', (SELECT MAX(build_id) FROM builds))`);
      await client.query('ANALYZE');
    } finally {
      await client.end();
    }
    const derivedSeconds = await rebuildDerived(dsn);
    log(`postgres: derived tables in ${derivedSeconds.toFixed(1)} s`);
    const c2 = new pg.Client({ connectionString: dsn });
    await c2.connect();
    await c2.query('ANALYZE');
    await c2.end();
    const size = await admin.query<{ n: string }>('SELECT pg_database_size($1) AS n', [dbname]);
    return {
      dialect: 'postgres',
      dsn,
      loadSeconds: (performance.now() - started) / 1000,
      derivedSeconds,
      bytes: Number(size.rows[0]?.n),
      reused: false,
    };
  } finally {
    await admin.end();
  }
}

// ---- SQLite ----

/** Python's str(timedelta) ('H:MM:SS[.ffffff]', maybe 'N day(s), ' before) in seconds. */
export function parseTimedelta(text: string): number {
  const match = /^(?:(-?\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  const [, days = '0', h = '0', m = '0', s = '0'] = match;
  return Number(days) * 86400 + Number(h) * 3600 + Number(m) * 60 + Number(s);
}

const FLAG_COLUMNS = new Set(['yanked', 'status']);

/**
 * The records of a CSV file; an empty unquoted field is null. Most lines
 * hold no quotes and are split directly; the others (and quoted fields that
 * run over lines) go through csv-parse.
 */
async function* csvRecords(path: string): AsyncGenerator<Array<string | null>> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let pending = '';
  for await (const line of lines) {
    if (pending === '' && !line.includes('"')) {
      yield line.split(',').map((v) => (v === '' ? null : v));
      continue;
    }
    pending = pending === '' ? line : `${pending}\n${line}`;
    if ((pending.match(/"/g)?.length ?? 0) % 2 === 1) continue;
    const records = parseSync(pending, {
      cast: (value, context) => (value === '' && !context.quoting ? null : value),
    }) as Array<Array<string | null>>;
    pending = '';
    yield* records;
  }
}

export async function loadSqlite(dataDir: string, path: string, reload: boolean): Promise<LoadReport> {
  const manifest = readManifest(dataDir);
  if (!reload && existsSync(path) && (await isLoaded(path, manifest))) {
    return { dialect: 'sqlite', dsn: path, loadSeconds: 0, derivedSeconds: 0, bytes: statSync(path).size, reused: true };
  }
  const started = performance.now();
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  await migrateEmpty(path);
  const handle = new BetterSqlite3(path);
  try {
    handle.pragma('journal_mode = OFF');
    handle.pragma('synchronous = OFF');
    handle.pragma('foreign_keys = OFF');
    handle.pragma('cache_size = -1000000');
    const tables = TABLES.map((t) => t.table);
    const indexes = handle
      .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${tables.map(() => '?').join(',')})`)
      .all(...tables) as Array<{ name: string; sql: string }>;
    for (const i of indexes) handle.exec(`DROP INDEX ${i.name}`);
    handle.exec('DELETE FROM build_abis');
    for (const t of TABLES) {
      const t0 = performance.now();
      const insert = handle.prepare(`INSERT INTO ${t.table} (${t.columns.join(', ')}) VALUES (${t.columns.map(() => '?').join(', ')})`);
      const notNull = new Set(t.notNullText ?? []);
      const convert = t.columns.map((col) => {
        if (FLAG_COLUMNS.has(col)) return (v: string | null) => (v === 't' ? 1 : 0);
        if (col === 'duration') return (v: string | null) => parseTimedelta(v ?? '0:00:00');
        if (notNull.has(col)) return (v: string | null) => v ?? '';
        return (v: string | null) => v;
      });
      let batch: Array<Array<string | number | null>> = [];
      const flush = handle.transaction((rows: Array<Array<string | number | null>>) => {
        for (const row of rows) insert.run(row);
      });
      for await (const record of csvRecords(join(dataDir, `${t.table}.csv`))) {
        batch.push(record.map((v, i) => (convert[i] ?? ((x: string | null) => x))(v)));
        if (batch.length >= 50_000) {
          flush(batch);
          batch = [];
        }
      }
      flush(batch);
      log(`sqlite: ${t.table} loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const t1 = performance.now();
    for (const i of indexes) handle.exec(i.sql);
    log(`sqlite: indexes rebuilt in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  } finally {
    handle.close();
  }
  const derivedSeconds = await rebuildDerived(path);
  log(`sqlite: derived tables in ${derivedSeconds.toFixed(1)} s`);
  const h2 = new BetterSqlite3(path);
  h2.exec('ANALYZE');
  h2.pragma('journal_mode = WAL');
  h2.close();
  return {
    dialect: 'sqlite',
    dsn: path,
    loadSeconds: (performance.now() - started) / 1000,
    derivedSeconds,
    bytes: statSync(path).size,
    reused: false,
  };
}

export const BENCH_PG_ADMIN = process.env.PIW_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const BENCH_PG_DBNAME = 'piw_bench_farm';

export function sqlitePath(dataDir: string): string {
  return join(dataDir, 'farm.sqlite');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dataDir = farmDataDir();
  const reload = process.argv.includes('--reload');
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  if (only !== 'sqlite') console.log(await loadPostgres(dataDir, BENCH_PG_ADMIN, BENCH_PG_DBNAME, reload));
  if (only !== 'postgres') console.log(await loadSqlite(dataDir, sqlitePath(dataDir), reload));
}
