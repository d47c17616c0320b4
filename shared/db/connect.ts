// Opening either dialect from one DSN string: postgres://... or
// postgresql://... for PostgreSQL, anything else a SQLite file path.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// The drivers are loaded with the first connection of their kind: a SQLite
// farm never loads pg, a PostgreSQL one never loads better-sqlite3.
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type PostgresPool, type PostgresPoolClient, type SqliteDatabase } from 'kysely';
import type pg from 'pg';
import { UserError } from '../cli.ts';
import type { Tables } from './schema.ts';

export type DialectName = 'postgres' | 'sqlite';

export type ParsedDsn = { dialect: 'postgres'; url: string } | { dialect: 'sqlite'; path: string };

/** The embedded default: piwheels.sqlite in $PIW_DATA_DIR, or ./data. */
export function defaultDsn(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PIW_DATA_DIR || './data', 'piwheels.sqlite');
}

export function parseDsn(dsn: string): ParsedDsn {
  const trimmed = dsn.trim();
  if (trimmed === '') throw new UserError('empty database DSN: give postgres://user@host/dbname or a SQLite file path');
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw new UserError(`malformed PostgreSQL DSN ${JSON.stringify(redact(trimmed))}: expected postgres://user@host[:port]/dbname`);
    }
    if (url.pathname.replace(/^\//, '') === '') {
      throw new UserError(`PostgreSQL DSN ${JSON.stringify(redact(trimmed))} names no database: add /dbname`);
    }
    return { dialect: 'postgres', url: trimmed };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed);
  if (scheme) {
    throw new UserError(`unsupported database DSN scheme ${JSON.stringify(scheme[1])}: use postgres://... or a SQLite file path`);
  }
  return { dialect: 'sqlite', path: resolve(trimmed) };
}

/** A DSN fit for messages: any password replaced. */
export function redact(dsn: string): string {
  return dsn.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

// PostgreSQL hands back timestamps and dates as the server's text, like
// SQLite, so both read the same way; BIGINT and NUMERIC counts become numbers
// (they stay far below 2^53).
const passText = (value: string): string => value;
const pgTypes = (types: typeof pg.types) => ({
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    switch (oid) {
      case types.builtins.TIMESTAMP:
      case types.builtins.DATE:
        return passText;
      case types.builtins.INT8:
      case types.builtins.NUMERIC:
        return Number;
      default:
        return format === 'binary' ? types.getTypeParser(oid, 'binary') : types.getTypeParser(oid, 'text');
    }
  },
});

/** Sends COPY ... FROM STDIN data (PostgreSQL's text format) on the transaction's connection. */
export type CopyIn = (statement: string, data: string) => Promise<void>;

export interface Connection {
  readonly kysely: Kysely<Tables>;
  readonly dialect: DialectName;
  /** Where it points, for messages (no password). */
  readonly target: string;
  /**
   * PostgreSQL only: runs `work` in one transaction whose connection also
   * takes COPY data, the fastest way in for many rows.
   */
  readonly copyTransaction?: <T>(work: (db: Kysely<Tables>, copy: CopyIn) => Promise<T>) => Promise<T>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** SQLite: create the file (and its directory) when missing. */
  create?: boolean;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

async function connectPostgres(url: string, options: ConnectOptions): Promise<Connection> {
  const target = redact(url);
  const [{ default: pg }, { from: copyFrom }] = await Promise.all([import('pg'), import('pg-copy-streams')]);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    types: pgTypes(pg.types),
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its server must not crash the process; the next
  // query reports the problem.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new UserError(`cannot connect to ${target}: ${describeError(error)}`);
  }
  const kysely = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  const copyTransaction = async <T>(work: (db: Kysely<Tables>, copy: CopyIn) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      const copy: CopyIn = (statement, data) => pipeline(Readable.from([data]), client.query(copyFrom(statement)));
      // kysely on this one client, so that its statements and the COPYs share the transaction
      const single = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: oneClientPool(client) }) });
      return await single.transaction().execute((tx) => work(tx, copy));
    } finally {
      client.release();
    }
  };
  return { kysely, dialect: 'postgres', target, copyTransaction, close: () => kysely.destroy() };
}

/** A pool that always hands out the same client, which stays checked out. */
function oneClientPool(client: pg.PoolClient): PostgresPool {
  const lent: PostgresPoolClient = {
    query: client.query.bind(client) as PostgresPoolClient['query'],
    release: () => undefined,
  };
  return { connect: async () => lent, end: async () => undefined };
}

async function connectSqlite(path: string, options: ConnectOptions): Promise<Connection> {
  if (!existsSync(path)) {
    if (!options.create) throw new UserError(`no database at ${path}: create it with piw-initdb`);
    mkdirSync(dirname(path), { recursive: true });
  }
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  let handle: BetterSqlite3.Database;
  try {
    handle = new BetterSqlite3(path);
    // WAL lets readers go on while the coordinator writes; foreign keys are
    // off by default in SQLite and the schema relies on their cascades.
    handle.pragma('journal_mode = WAL');
    handle.pragma('foreign_keys = ON');
    handle.pragma('busy_timeout = 10000');
    handle.pragma('synchronous = NORMAL');
    handle.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    throw new UserError(`cannot open SQLite database ${path}: ${describeError(error)}`);
  }
  const kysely = new Kysely<Tables>({ dialect: new SqliteDialect({ database: reusingStatements(handle) }) });
  return { kysely, dialect: 'sqlite', target: path, close: () => kysely.destroy() };
}

/**
 * The SQLite handle as kysely sees it, with prepared statements kept for
 * reuse: kysely prepares every query anew, and compiling the SQL then costs
 * more than running it for the small queries the coordinator makes by the
 * thousand. A statement still being iterated is not shared.
 */
export function reusingStatements(handle: BetterSqlite3.Database, size = 256): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => handle.close(),
    prepare(text: string) {
      const cached = cache.get(text);
      if (cached && !cached.busy) {
        // most recently used last: the first entry is the one to evict
        cache.delete(text);
        cache.set(text, cached);
        return cached;
      }
      const statement = handle.prepare(text);
      if (cached) return statement;
      cache.set(text, statement);
      if (cache.size > size) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}

export async function connect(dsn: string, options: ConnectOptions = {}): Promise<Connection> {
  const parsed = parseDsn(dsn);
  return parsed.dialect === 'postgres' ? connectPostgres(parsed.url, options) : connectSqlite(parsed.path, options);
}

/** Runs a script of ;-terminated statements (our own sql/ files: no ; inside literals). */
export async function runScript(db: Kysely<Tables>, script: string): Promise<void> {
  const withoutComments = script
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .join('\n');
  for (const statement of withoutComments.split(';')) {
    if (statement.trim() !== '') await sql.raw(statement).execute(db);
  }
}
