// Bulk storage of access-log records for the lumberjack: a batch of hits in
// one transaction, with the download counters (downloads_daily,
// download_counts) kept in step as the Database does for single records.
// Storing one hit per statement tops out far below what a busy web server
// logs; here PostgreSQL takes each table's rows as arrays (unnest) and SQLite
// as multi-row inserts.
//
// Public API:
//   AccessBatch                     the records of one flush, by kind
//   AccessStore(db).logAccessBatch(batch)
//   openAccessStore(dsn)            factory (also usable in a worker thread)
import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type Database, type DownloadRecord, type PageHitRecord, type ProjectHitRecord, type SearchRecord } from '../../shared/db/index.ts';
import type { Tables } from '../../shared/db/schema.ts';
import { sanitize, toDbTimestamp, utcDay } from '../../shared/db/values.ts';
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

function agentColumns(r: DownloadRecord | SearchRecord): Row {
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
    const downloads = valid(batch.downloads).map((d) => ({
      filename: clip(d.filename, 255) ?? '',
      accessed_by: d.host,
      accessed_at: toDbTimestamp(d.timestamp),
      ...agentColumns(d),
    }));
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
    if (downloads.length + searches.length + projects.length + json.length + pages.length === 0) return;
    await this.db.kysely.transaction().execute(async (tx) => {
      await this.insert(tx, 'downloads', downloads);
      await this.insert(tx, 'searches', searches);
      await this.insert(tx, 'project_page_hits', projects);
      await this.insert(tx, 'project_json_downloads', json);
      await this.insert(tx, 'web_page_hits', pages);
      if (downloads.length > 0) await this.countDownloads(tx, downloads);
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

  /** The daily and per-package counters for the downloads just stored. */
  private async countDownloads(tx: Db, downloads: Array<{ filename: string; accessed_at: string }>): Promise<void> {
    const daily = new Map<string, number>();
    const byFile = new Map<string, Map<string, number>>();
    for (const d of downloads) {
      const day = utcDay(new Date(`${d.accessed_at.replace(' ', 'T')}Z`));
      daily.set(day, (daily.get(day) ?? 0) + 1);
      let days = byFile.get(d.filename);
      if (!days) byFile.set(d.filename, (days = new Map()));
      days.set(day, (days.get(day) ?? 0) + 1);
    }
    const dailyRows = [...daily].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, downloads]) => ({ day, downloads }));
    await tx
      .insertInto('downloads_daily')
      .values(dailyRows)
      .onConflict((oc) => oc.column('day').doUpdateSet({ downloads: sql<number>`downloads_daily.downloads + excluded.downloads` }))
      .execute();
    const owners = new Map<string, string>();
    const names = [...byFile.keys()];
    for (let i = 0; i < names.length; i += 500) {
      const rows = await tx
        .selectFrom('files as f')
        .innerJoin('builds as b', 'b.build_id', 'f.build_id')
        .select(['f.filename', 'b.package'])
        .where('f.filename', 'in', names.slice(i, i + 500))
        .execute();
      for (const row of rows) owners.set(row.filename, row.package);
    }
    const perPackage = new Map<string, number>();
    for (const [filename, days] of byFile) {
      const pkg = owners.get(filename);
      if (pkg === undefined) continue;
      for (const [day, n] of days) {
        const key = `${pkg}\0${day}`;
        perPackage.set(key, (perPackage.get(key) ?? 0) + n);
      }
    }
    if (perPackage.size === 0) return;
    // a fixed order keeps concurrent writers from deadlocking on these rows
    const rows = [...perPackage]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, downloads]) => {
        const [pkg, day] = key.split('\0') as [string, string];
        return { package: pkg, day, downloads };
      });
    for (let i = 0; i < rows.length; i += 5000) {
      await tx
        .insertInto('download_counts')
        .values(rows.slice(i, i + 5000))
        .onConflict((oc) =>
          oc.columns(['package', 'day']).doUpdateSet({ downloads: sql<number>`download_counts.downloads + excluded.downloads` }),
        )
        .execute();
    }
  }
}

/** Opens the database and wraps it; the coordinator may call this inside a worker thread. */
export async function openAccessStore(dsn: string): Promise<AccessStore> {
  return new AccessStore(await openDatabase(dsn));
}
