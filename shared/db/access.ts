// Access-log records (downloads, searches, project page and JSON hits, web
// page hits) as rows of their tables, and the bulk writes that store them:
// PostgreSQL takes the rows through COPY, SQLite as multi-row INSERTs. A busy
// web server logs thousands of hits a second; one statement per hit tops out
// far below that.
//
// Public API:
//   AccessBatch, emptyBatch(), batchSize(batch)
//   accessRows(batch)           every record checked and cut to its columns;
//                               throws RangeError naming the first bad record
//   writeRows(db, copy, rows)   one table's rows (copy: PostgreSQL's COPY, or
//                               null for INSERTs)
//   copyText(rows)              rows in COPY's text format
//   logAccess(store, batch)     the whole batch, with the download counters,
//                               in one transaction
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { z } from 'zod';
import type { CopyIn } from './connect.ts';
import {
  DownloadRecordSchema,
  JsonHitRecordSchema,
  PageHitRecordSchema,
  ProjectHitRecordSchema,
  SearchRecordSchema,
  type DownloadRecord,
  type JsonHitRecord,
  type PageHitRecord,
  type ProjectHitRecord,
  type SearchRecord,
} from './records.ts';
import type { Tables } from './schema.ts';
import { clip, transaction, type Db, type Store } from './store.ts';
import { checkAddress, toDbTimestamp } from './values.ts';

/** Access records to store together, by kind. */
export interface AccessBatch {
  downloads: DownloadRecord[];
  searches: SearchRecord[];
  projects: ProjectHitRecord[];
  json: JsonHitRecord[];
  pages: PageHitRecord[];
}

export function emptyBatch(): AccessBatch {
  return { downloads: [], searches: [], projects: [], json: [], pages: [] };
}

export function batchSize(batch: AccessBatch): number {
  return batch.downloads.length + batch.searches.length + batch.projects.length + batch.json.length + batch.pages.length;
}

type Cell = string | number | null;
type AccessTable = 'downloads' | 'searches' | 'project_page_hits' | 'project_json_downloads' | 'web_page_hits';

export interface TableRows {
  table: AccessTable;
  columns: readonly string[];
  rows: Cell[][];
}

const PIP_COLUMNS = [
  'arch', 'distro_name', 'distro_version', 'os_name', 'os_version',
  'py_name', 'py_version', 'installer_name', 'installer_version', 'setuptools_version',
] as const;

type PipDetails = Pick<DownloadRecord, 'arch' | 'distroName' | 'distroVersion' | 'osName' | 'osVersion' | 'pyName' | 'pyVersion' | 'installerName' | 'installerVersion' | 'setuptoolsVersion'>;

function pipCells(r: PipDetails): Cell[] {
  return [
    clip(r.arch, 100),
    clip(r.distroName, 100),
    clip(r.distroVersion, 100),
    clip(r.osName, 100),
    clip(r.osVersion, 100),
    clip(r.pyName, 100),
    clip(r.pyVersion, 100),
    clip(r.installerName, 20),
    clip(r.installerVersion, 100),
    clip(r.setuptoolsVersion, 100),
  ];
}

function checked<S extends z.ZodType>(schema: S, records: readonly unknown[], what: string): Array<z.output<S>> {
  return records.map((record, i) => {
    const result = schema.safeParse(record);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new RangeError(`${what} ${i}: ${issue ? `${issue.path.join('.') || 'record'}: ${issue.message}` : 'invalid'}`);
    }
    try {
      checkAddress((result.data as { host: string }).host);
    } catch (error) {
      throw new RangeError(`${what} ${i}: ${(error as Error).message}`);
    }
    return result.data;
  });
}

/**
 * The rows each table gets for the batch, tables without records left out;
 * all or nothing: a bad record throws before anything is written.
 */
export function accessRows(batch: AccessBatch): TableRows[] {
  const tables: TableRows[] = [
    {
      table: 'downloads',
      columns: ['filename', 'accessed_by', 'accessed_at', ...PIP_COLUMNS],
      rows: checked(DownloadRecordSchema, batch.downloads, 'download').map((d) => [
        clip(d.filename, 255),
        d.host,
        toDbTimestamp(d.timestamp),
        ...pipCells(d),
      ]),
    },
    {
      table: 'searches',
      columns: ['package', 'accessed_by', 'accessed_at', ...PIP_COLUMNS],
      rows: checked(SearchRecordSchema, batch.searches, 'search').map((s) => [clip(s.package, 200), s.host, toDbTimestamp(s.timestamp), ...pipCells(s)]),
    },
    {
      table: 'project_page_hits',
      columns: ['package', 'accessed_by', 'accessed_at', 'user_agent', 'bot'],
      rows: checked(ProjectHitRecordSchema, batch.projects, 'project page hit').map((p) => [
        clip(p.package, 200),
        p.host,
        toDbTimestamp(p.timestamp),
        clip(p.userAgent, 2000),
        p.bot === true ? 1 : 0,
      ]),
    },
    {
      table: 'project_json_downloads',
      columns: ['package', 'accessed_by', 'accessed_at', 'user_agent'],
      rows: checked(JsonHitRecordSchema, batch.json, 'project JSON hit').map((j) => [clip(j.package, 200), j.host, toDbTimestamp(j.timestamp), clip(j.userAgent, 2000)]),
    },
    {
      table: 'web_page_hits',
      columns: ['page', 'accessed_by', 'accessed_at', 'user_agent', 'bot'],
      rows: checked(PageHitRecordSchema, batch.pages, 'page hit').map((p) => [
        clip(p.page, 30),
        p.host,
        toDbTimestamp(p.timestamp),
        clip(p.userAgent, 2000),
        p.bot === true ? 1 : 0,
      ]),
    },
  ];
  return tables.filter((t) => t.rows.length > 0);
}

// COPY's text format: tab between columns, \N for null, and backslash,
// tab, newline and carriage return escaped.
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function copyCell(cell: Cell): string {
  if (cell === null) return '\\N';
  if (typeof cell === 'number') return String(cell);
  return COPY_SPECIAL.test(cell) ? cell.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : cell;
}

export function copyText(rows: readonly Cell[][]): string {
  let text = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) text += (i === 0 ? '' : '\t') + copyCell(row[i]!);
    text += '\n';
  }
  return text;
}

/** SQLite's limit on the parameters of one statement (32766), with room to spare. */
const SQLITE_PARAMETERS = 30_000;

/** Writes one table's rows: COPY when given it (PostgreSQL), else multi-row INSERTs. */
export async function writeRows(db: Kysely<Tables>, copy: CopyIn | null, t: TableRows): Promise<void> {
  const columns = t.columns.join(', ');
  if (copy !== null) {
    await copy(`COPY ${t.table} (${columns}) FROM STDIN`, copyText(t.rows));
    return;
  }
  const per = Math.floor(SQLITE_PARAMETERS / t.columns.length);
  const tuple = `(${t.columns.map(() => '?').join(', ')})`;
  for (let i = 0; i < t.rows.length; i += per) {
    const part = t.rows.slice(i, i + per);
    const text = `INSERT INTO ${t.table} (${columns}) VALUES ${part.map(() => tuple).join(', ')}`;
    await db.executeQuery(CompiledQuery.raw(text, part.flat()));
  }
}

/**
 * Records every kind of access in one transaction; a bad record refuses the
 * batch (RangeError). One record or thousands take the same path: the rows
 * in bulk, the download counters in the same transaction; all or none.
 */
export async function logAccess(store: Store, batch: AccessBatch): Promise<void> {
  const tables = accessRows(batch);
  if (tables.length === 0) return;
  // the downloads table's first three columns: filename, address, 'YYYY-MM-DD ...' time
  const downloads = tables.find((t) => t.table === 'downloads')?.rows.map((r) => ({ filename: String(r[0]), day: String(r[2]).slice(0, 10) }));
  const work = async (db: Db, copy: CopyIn | null): Promise<void> => {
    // Access records are statistics, already best effort on their way here
    // (ZeroMQ queues in memory): not waiting for the WAL to reach the disk
    // on commit spares a disk flush per batch, and a database crash can
    // lose only the last moment's records, never leave them half stored.
    if (copy !== null) await sql`SET LOCAL synchronous_commit = off`.execute(db);
    for (const t of tables) await writeRows(db, copy, t);
    if (downloads !== undefined) await store.derived.downloadsLogged(db, downloads);
  };
  if (store.conn.copyTransaction !== undefined) await store.conn.copyTransaction(work);
  else await transaction(store, (db) => work(db, null));
}
