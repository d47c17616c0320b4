// Bulk storage of access-log records for the lumberjack. Downloads go
// through the Database's batch method (which keeps the download counters in
// step); searches and page hits, which nothing summarises, are inserted here
// in one transaction per batch: PostgreSQL takes each table's rows as arrays
// (unnest), SQLite as multi-row inserts. One statement per hit tops out far
// below what a busy web server logs.
//
// Public API:
//   AccessBatch                     the records of one flush, by kind
//   AccessStore(db).logAccessBatch(batch)
//   openAccessStore(dsn)            factory (also usable in a worker thread)
import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type Database, type DownloadRecord, type PageHitRecord, type ProjectHitRecord, type SearchRecord } from '../../shared/db/index.ts';
import type { Tables } from '../../shared/db/schema.ts';
import { sanitize, toDbTimestamp } from '../../shared/db/values.ts';
import { isBotAgent } from './access-log.ts';

export interface AccessBatch {
  downloads: DownloadRecord[];
  searches: SearchRecord[];
  projects: ProjectHitRecord[];
  json: ProjectHitRecord[];
  pages: PageHitRecord[];
}

export function emptyBatch(): AccessBatch {
  return { downloads: [], searches: [], projects: [], json: [], pages: [] };
}

export function batchSize(batch: AccessBatch): number {
  return batch.downloads.length + batch.searches.length + batch.projects.length + batch.json.length + batch.pages.length;
}

type Db = Kysely<Tables>;
type Row = Record<string, string | number | null>;

function clip(text: string | null | undefined, width: number): string | null {
  const clean = sanitize(text);
  return clean === null ? null : clean.slice(0, width);
}

const AGENT_COLUMNS = [
  ['arch', 'arch', 100],
  ['distro_name', 'distroName', 100],
  ['distro_version', 'distroVersion', 100],
  ['os_name', 'osName', 100],
  ['os_version', 'osVersion', 100],
  ['py_name', 'pyName', 100],
  ['py_version', 'pyVersion', 100],
  ['installer_name', 'installerName', 20],
  ['installer_version', 'installerVersion', 100],
  ['setuptools_version', 'setuptoolsVersion', 100],
] as const;

function agentColumns(r: SearchRecord): Row {
  const row: Row = {};
  for (const [column, field, width] of AGENT_COLUMNS) row[column] = clip(r[field], width);
  return row;
}

// Records come validated from the wire; a stray bad address must still not
// cost the other records of the batch.
function valid<T extends { host: string; timestamp: Date }>(records: T[]): T[] {
  return records.filter((r) => isIP(r.host) !== 0 && !Number.isNaN(r.timestamp.getTime()));
}

const PG_TYPES: Readonly<Record<string, string>> = {
  accessed_by: 'inet',
  accessed_at: 'timestamp',
  bot: 'boolean',
};

export class AccessStore {
  constructor(private readonly db: Database) {}

  async close(): Promise<void> {
    await this.db.close();
  }

  async logAccessBatch(batch: AccessBatch): Promise<void> {
    const searches = valid(batch.searches).map((s) => ({
      package: clip(s.package, 200) ?? '',
      accessed_by: s.host,
      accessed_at: toDbTimestamp(s.timestamp),
      ...agentColumns(s),
    }));
    const projects = valid(batch.projects).map((p) => ({
      package: clip(p.package, 200) ?? '',
      accessed_by: p.host,
      accessed_at: toDbTimestamp(p.timestamp),
      user_agent: clip(p.userAgent, 2000),
      bot: isBotAgent(p.userAgent) ? 1 : 0,
    }));
    const json = valid(batch.json).map((j) => ({
      package: clip(j.package, 200) ?? '',
      accessed_by: j.host,
      accessed_at: toDbTimestamp(j.timestamp),
      user_agent: clip(j.userAgent, 2000),
    }));
    const pages = valid(batch.pages).map((p) => ({
      page: clip(p.page, 30) ?? '',
      accessed_by: p.host,
      accessed_at: toDbTimestamp(p.timestamp),
      user_agent: clip(p.userAgent, 2000),
      bot: isBotAgent(p.userAgent) ? 1 : 0,
    }));
    const downloads = valid(batch.downloads);
    if (downloads.length > 0) await this.db.logDownloads(downloads);
    if (searches.length + projects.length + json.length + pages.length === 0) return;
    await this.db.kysely.transaction().execute(async (tx) => {
      await this.insert(tx, 'searches', searches);
      await this.insert(tx, 'project_page_hits', projects);
      await this.insert(tx, 'project_json_downloads', json);
      await this.insert(tx, 'web_page_hits', pages);
    });
  }

  private async insert(tx: Db, table: keyof Tables, rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    if (this.db.dialect === 'postgres') {
      const arrays = columns.map((c) => {
        const type = PG_TYPES[c] ?? 'text';
        const values = rows.map((r) => (c === 'bot' ? r[c] === 1 : r[c]));
        return sql`${values}::${sql.raw(type)}[]`;
      });
      await sql`INSERT INTO ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))}) SELECT * FROM unnest(${sql.join(arrays)})`.execute(tx);
      return;
    }
    // SQLite allows 32766 parameters a statement
    const per = Math.max(1, Math.floor(30_000 / columns.length));
    for (let i = 0; i < rows.length; i += per) {
      await tx.insertInto(table).values(rows.slice(i, i + per) as never).execute();
    }
  }
}

/** Opens the database and wraps it; the coordinator may call this inside a worker thread. */
export async function openAccessStore(dsn: string): Promise<AccessStore> {
  return new AccessStore(await openDatabase(dsn));
}
