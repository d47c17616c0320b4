// Opening either dialect from one DSN string: postgres://... or
// postgresql://... for PostgreSQL, anything else a SQLite file path.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
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
const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    switch (oid) {
      case pg.types.builtins.TIMESTAMP:
      case pg.types.builtins.DATE:
        return passText;
      case pg.types.builtins.INT8:
      case pg.types.builtins.NUMERIC:
        return Number;
      default:
        return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
    }
  },
};

export interface Connection {
  readonly kysely: Kysely<Tables>;
  readonly dialect: DialectName;
  /** Where it points, for messages (no password). */
  readonly target: string;
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
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    types: PG_TYPES,
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
  return { kysely, dialect: 'postgres', target, close: () => kysely.destroy() };
}

async function connectSqlite(path: string, options: ConnectOptions): Promise<Connection> {
  if (!existsSync(path)) {
    if (!options.create) throw new UserError(`no database at ${path}: create it with piw-initdb`);
    mkdirSync(dirname(path), { recursive: true });
  }
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
  const kysely = new Kysely<Tables>({ dialect: new SqliteDialect({ database: handle }) });
  return { kysely, dialect: 'sqlite', target: path, close: () => kysely.destroy() };
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
