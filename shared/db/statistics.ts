// Farm-wide figures: the home page's and the monitors' statistics, and the
// search index (every package with its download counts).
import { sql } from 'kysely';
import type { FarmStatistics, SearchEntry } from '../model.ts';
import { slaveTarget, targetKey } from '../target.ts';
import { PENDING_PREFIX } from './derived.ts';
import { transaction, type Store } from './store.ts';
import { recentFirstDay, toDbTimestamp } from './values.ts';

const HOUR_MS = 3_600_000;

/** Figures for the home page and the monitors. */
export async function getStatistics(store: Store, now: Date = new Date()): Promise<FarmStatistics> {
  const db = store.conn.kysely;
  const hourAgo = toDbTimestamp(new Date(now.getTime() - HOUR_MS));
  const targets = await store.derived.targets(db);
  const counters = new Map<string, number>();
  for (const row of await db.selectFrom('farm_counters').select(['name', 'value']).execute()) {
    counters.set(row.name, Number(row.value));
  }
  const newLastHour = await db
    .selectFrom('versions')
    .select(sql<number>`COUNT(*)`.as('n'))
    .where('released', '>', hourAgo)
    .executeTakeFirst();
  const builds = await db
    .selectFrom('builds')
    .select(['abi_tag', 'platform_tag', sql<number>`COUNT(*)`.as('n')])
    .where('built_at', '>', hourAgo)
    .groupBy(['abi_tag', 'platform_tag'])
    .execute();
  const downloadsHour = await db
    .selectFrom('downloads')
    .select(sql<number>`COUNT(*)`.as('n'))
    .where('accessed_at', '>', hourAgo)
    .executeTakeFirst();
  const daily = await db
    .selectFrom('downloads_daily')
    .select([
      sql<number | null>`SUM(downloads)`.as('all'),
      sql<number | null>`SUM(CASE WHEN day >= ${recentFirstDay(now)} THEN downloads ELSE 0 END)`.as('recent'),
    ])
    .executeTakeFirst();
  // a build counts for the target its machine works for: its ABI and platform, or the ABI alone
  const lastHour = new Map<string, number>();
  for (const b of builds) {
    const target = slaveTarget(targets, b.abi_tag, b.platform_tag);
    if (target !== null) lastHour.set(targetKey(target), (lastHour.get(targetKey(target)) ?? 0) + Number(b.n));
  }
  const keys = targets.map(targetKey);
  return {
    packagesBuilt: counters.get('packages_built') ?? 0,
    buildsTime: (counters.get('builds_time_us') ?? 0) / 1_000_000,
    buildsSize: counters.get('builds_size') ?? 0,
    filesCount: counters.get('files_count') ?? 0,
    newLastHour: Number(newLastHour?.n ?? 0),
    buildsLastHour: Object.fromEntries(keys.map((key) => [key, lastHour.get(key) ?? 0])),
    buildsPending: Object.fromEntries(keys.map((key) => [key, counters.get(PENDING_PREFIX + key) ?? 0])),
    downloadsLastHour: Number(downloadsHour?.n ?? 0),
    downloadsLastMonth: Number(daily?.recent ?? 0),
    downloadsAll: Number(daily?.all ?? 0),
  };
}

/** Every package with its description and download counts, by name. */
export async function getSearchIndex(store: Store, now: Date = new Date()): Promise<SearchEntry[]> {
  return transaction(store, async (db) => {
    await store.derived.moveDownloadWindow(db, recentFirstDay(now));
    const rows = await db
      .selectFrom('packages as p')
      .leftJoin('package_downloads as d', 'd.package', 'p.package')
      .select(['p.package', 'p.description', 'd.downloads_recent', 'd.downloads_all'])
      .orderBy('p.package')
      .execute();
    return rows.map((r) => ({
      package: r.package,
      description: r.description,
      downloadsRecent: Number(r.downloads_recent ?? 0),
      downloadsAll: Number(r.downloads_all ?? 0),
    }));
  });
}
