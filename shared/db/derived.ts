// The derived tables (build_queue, farm_counters, package_tag_files,
// download_counts, package_downloads, downloads_daily): incremental upkeep,
// called by the data layer's writes in the same transaction as the change it
// follows, and the from-scratch recomputation that rebuilds them or checks
// them.
import { sql, type RawBuilder } from 'kysely';
import { compareAbis } from './abi.ts';
import type { DialectName } from './connect.ts';
import { ANY_PLATFORM, buildTargets, targetKey, type BuildTarget } from '../target.ts';
import { nextBuildAbi, type BuildCoverage } from './queue.ts';
import { chunks, type Db } from './store.ts';
import { WEEK_US } from './values.ts';

/** What the counters need to know of a file being added or removed. */
export interface FileFacts {
  filename: string;
  filesize: number;
  platformTag: string;
  packageTag: string;
  /** Canonical package of the build that holds it. */
  package: string;
}

export const COUNTERS = ['files_count', 'builds_size', 'builds_time_us', 'packages_built'] as const;
export const PENDING_PREFIX = 'pending:';

/** One row of build_queue: the ABI a version wants next on one platform. */
interface QueueRow {
  pkg: string;
  version: string;
  platform: string;
  abi: string;
  released: string;
}

/** The pending counter of a queue row's target (pending:cp311, pending:cp311-linux_aarch64). */
function pendingCounter(row: QueueRow): string {
  return PENDING_PREFIX + targetKey({ abi: row.abi, platform: row.platform });
}

function addTo(map: Map<string, number>, key: string, delta: number): void {
  map.set(key, (map.get(key) ?? 0) + delta);
}

export class DerivedTables {
  constructor(readonly dialect: DialectName) {}

  /** The UTC day of a timestamp column, as 'YYYY-MM-DD'. */
  dayOf(column: string): RawBuilder<string> {
    return this.dialect === 'postgres'
      ? sql<string>`CAST(${sql.ref(column)} AS DATE)`
      : sql<string>`substr(${sql.ref(column)}, 1, 10)`;
  }

  /** A duration column in whole microseconds. */
  durationMicros(column: string): RawBuilder<number> {
    return this.dialect === 'postgres'
      ? sql<number>`CAST(ROUND(EXTRACT(EPOCH FROM ${sql.ref(column)}) * 1000000) AS BIGINT)`
      : sql<number>`CAST(ROUND(${sql.ref(column)} * 1000000) AS INTEGER)`;
  }

  /** A duration value to store, from microseconds. */
  durationValue(micros: number): RawBuilder<unknown> {
    return this.dialect === 'postgres'
      ? sql`CAST(${micros} AS DOUBLE PRECISION) * INTERVAL '1 microsecond'`
      : sql`${micros / 1_000_000}`;
  }

  async activeAbis(db: Db): Promise<string[]> {
    const rows = await db.selectFrom('build_abis').select('abi_tag').where('skip', '=', '').execute();
    return rows.map((r) => r.abi_tag).sort(compareAbis);
  }

  /** The platforms the queue is kept for: the active ones, or just ANY_PLATFORM when none is. */
  async queuePlatforms(db: Db): Promise<string[]> {
    const rows = await db.selectFrom('build_platforms').select('platform_tag').where('skip', '=', '').orderBy('platform_tag').execute();
    return rows.length === 0 ? [ANY_PLATFORM] : rows.map((r) => r.platform_tag);
  }

  /**
   * On PostgreSQL, takes the build queue's table lock for the rest of the
   * transaction: incremental refreshes (ROW EXCLUSIVE) go side by side, but
   * a recomputation from scratch (SHARE ROW EXCLUSIVE, after ABIs or
   * platforms change while the master runs) waits for them and they for it,
   * so neither writes queue rows or pending counters the other has not seen.
   * SQLite has one writer at a time anyway.
   */
  private async lockQueue(db: Db, mode: 'ROW EXCLUSIVE' | 'SHARE ROW EXCLUSIVE'): Promise<void> {
    if (this.dialect === 'postgres') await sql`LOCK TABLE build_queue IN ${sql.raw(mode)} MODE`.execute(db);
  }

  /** The active build targets, in target order (see shared/target.ts). */
  async targets(db: Db): Promise<BuildTarget[]> {
    return buildTargets(await this.activeAbis(db), await this.queuePlatforms(db));
  }

  async bump(db: Db, deltas: Map<string, number>): Promise<void> {
    for (const [name, delta] of deltas) {
      if (delta === 0) continue;
      await db
        .insertInto('farm_counters')
        .values({ name, value: delta })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: sql<number>`farm_counters.value + excluded.value` }))
        .execute();
    }
  }

  /**
   * Brings build_queue (and the pending counters) in line with the rows for
   * the given versions of a package, or all its versions.
   */
  async refreshQueue(db: Db, pkg: string, versions?: readonly string[]): Promise<void> {
    let list = versions;
    if (list === undefined) {
      const known = await db.selectFrom('versions').select('version').where('package', '=', pkg).execute();
      const queued = await db.selectFrom('build_queue').select('version').where('package', '=', pkg).execute();
      list = [...new Set([...known, ...queued].map((r) => r.version))];
    }
    await this.refreshQueueFor(db, list.map((version): [string, string] => [pkg, version]));
  }

  /**
   * refreshQueue for many (package, version) pairs at once: a handful of
   * set-based queries whatever their number, so a batch of recorded builds
   * costs about as much as one.
   */
  async refreshQueueFor(db: Db, pairs: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (pairs.length === 0) return;
    await this.lockQueue(db, 'ROW EXCLUSIVE');
    const abis = await this.activeAbis(db);
    const platforms = await this.queuePlatforms(db);
    const key = (pkg: string, version: string): string => `${pkg}\u0000${version}`;
    const rowKey = (row: QueueRow): string => `${key(row.pkg, row.version)}\u0000${row.platform}`;
    const asked = new Set(pairs.map(([pkg, version]) => key(pkg, version)));
    const existing = new Map<string, QueueRow>();
    const wanted = new Map<string, QueueRow>();
    for (const part of chunks(pairs)) {
      const pkgs = [...new Set(part.map((p) => p[0]))];
      const versions = [...new Set(part.map((p) => p[1]))];
      // package IN (...) AND version IN (...) may over-fetch across pairs; `asked` filters
      const queued = await db
        .selectFrom('build_queue')
        .select(['package', 'version', 'platform_tag', 'abi_tag', 'released'])
        .where('package', 'in', pkgs)
        .where('version', 'in', versions)
        .execute();
      for (const row of queued) {
        if (!asked.has(key(row.package, row.version))) continue;
        const queuedRow = { pkg: row.package, version: row.version, platform: row.platform_tag, abi: row.abi_tag, released: row.released };
        existing.set(rowKey(queuedRow), queuedRow);
      }
      if (abis.length === 0) continue;
      const candidates = await db
        .selectFrom('versions as v')
        .innerJoin('packages as p', 'p.package', 'v.package')
        .select(['v.package', 'v.version', 'v.released'])
        .where('v.package', 'in', pkgs)
        .where('v.version', 'in', versions)
        .where('v.skip', '=', '')
        .where('p.skip', '=', '')
        .execute();
      if (candidates.length === 0) continue;
      const coverage = new Map<string, Map<number, BuildCoverage & { files: Array<{ abi: string; platform: string }> }>>();
      const rows = await db
        .selectFrom('builds as b')
        .leftJoin('files as f', 'f.build_id', 'b.build_id')
        .select([
          'b.package', 'b.version', 'b.build_id', 'b.abi_tag as builder_abi', 'b.platform_tag as builder_platform',
          'f.abi_tag as file_abi', 'f.platform_tag as file_platform',
        ])
        .where('b.package', 'in', pkgs)
        .where('b.version', 'in', versions)
        .execute();
      for (const row of rows) {
        const k = key(row.package, row.version);
        let builds = coverage.get(k);
        if (!builds) coverage.set(k, (builds = new Map()));
        let build = builds.get(row.build_id);
        if (!build) builds.set(row.build_id, (build = { builderAbi: row.builder_abi, builderPlatform: row.builder_platform, files: [] }));
        if (row.file_abi !== null && row.file_platform !== null) build.files.push({ abi: row.file_abi, platform: row.file_platform });
      }
      for (const v of candidates) {
        const k = key(v.package, v.version);
        if (!asked.has(k)) continue;
        const builds = [...(coverage.get(k)?.values() ?? [])];
        for (const platform of platforms) {
          const abi = nextBuildAbi(abis, platform, builds);
          if (abi === null) continue;
          const row = { pkg: v.package, version: v.version, platform, abi, released: v.released };
          wanted.set(rowKey(row), row);
        }
      }
    }
    const deltas = new Map<string, number>();
    const stale = [...existing].filter(([k, row]) => wanted.get(k)?.abi !== row.abi).map(([, row]) => row);
    for (const row of stale) addTo(deltas, pendingCounter(row), -1);
    for (const part of chunks(stale)) {
      await db
        .deleteFrom('build_queue')
        .where((eb) =>
          eb.or(part.map((row) => eb.and([eb('package', '=', row.pkg), eb('version', '=', row.version), eb('platform_tag', '=', row.platform)]))),
        )
        .execute();
    }
    const fresh = [...wanted].filter(([k, want]) => existing.get(k)?.abi !== want.abi).map(([, want]) => want);
    for (const want of fresh) addTo(deltas, pendingCounter(want), 1);
    for (const part of chunks(fresh)) {
      await db
        .insertInto('build_queue')
        .values(part.map((want) => ({ package: want.pkg, version: want.version, platform_tag: want.platform, abi_tag: want.abi, released: want.released })))
        .execute();
    }
    await this.bump(db, deltas);
  }

  /** Counts (per package and day) of the downloads of some files. */
  private async downloadsOf(db: Db, files: readonly FileFacts[]): Promise<Map<string, Map<string, number>>> {
    const packageOf = new Map(files.map((f) => [f.filename, f.package]));
    const result = new Map<string, Map<string, number>>();
    for (const part of chunks([...packageOf.keys()])) {
      const rows = await db
        .selectFrom('downloads')
        .select(['filename', this.dayOf('accessed_at').as('day'), sql<number>`COUNT(*)`.as('n')])
        .where('filename', 'in', part)
        .groupBy(['filename', this.dayOf('accessed_at')])
        .execute();
      for (const row of rows) {
        const pkg = packageOf.get(row.filename);
        if (pkg === undefined) continue;
        let days = result.get(pkg);
        if (!days) result.set(pkg, (days = new Map()));
        addTo(days, String(row.day), Number(row.n));
      }
    }
    return result;
  }

  /**
   * The first day of the recent downloads window. On PostgreSQL the row stays
   * share-locked to the end of the transaction, so that the window cannot
   * move between this read and the totals written against it.
   */
  private async windowStart(db: Db): Promise<string> {
    let query = db.selectFrom('download_window').select('first_day').where('id', '=', 1);
    if (this.dialect === 'postgres') query = query.forShare();
    const row = await query.executeTakeFirstOrThrow();
    return String(row.first_day);
  }

  /**
   * Moves the recent downloads window to start on `firstDay` ('YYYY-MM-DD'),
   * adding or taking away, per package, the downloads of the days between the
   * old and the new start.
   */
  async moveDownloadWindow(db: Db, firstDay: string): Promise<void> {
    let query = db.selectFrom('download_window').select('first_day').where('id', '=', 1);
    if (this.dialect === 'postgres') query = query.forUpdate();
    const stored = String((await query.executeTakeFirstOrThrow()).first_day);
    if (stored === firstDay) return;
    const [from, to, sign] = firstDay > stored ? [stored, firstDay, -1] : [firstDay, stored, 1];
    await sql`
      UPDATE package_downloads
      SET downloads_recent = package_downloads.downloads_recent + ${sign} * d.n
      FROM (SELECT package, SUM(downloads) AS n FROM download_counts
            WHERE day >= ${from} AND day < ${to} GROUP BY package) d
      WHERE d.package = package_downloads.package`.execute(db);
    await db.updateTable('download_window').set({ first_day: firstDay }).where('id', '=', 1).execute();
  }

  /** Adds (or takes away) per-package, per-day downloads: a few multi-row statements, however many. */
  private async bumpDownloadCounts(db: Db, counts: Map<string, Map<string, number>>, sign: 1 | -1): Promise<void> {
    if (counts.size === 0) return;
    const windowStart = await this.windowStart(db);
    // in key order, so that concurrent writers lock the rows in the same order
    const packages = [...counts.keys()].sort();
    const totals: Array<{ package: string; downloads_all: number; downloads_recent: number }> = [];
    const daily: Array<{ package: string; day: string; downloads: number }> = [];
    for (const pkg of packages) {
      let all = 0;
      let recent = 0;
      for (const [day, n] of [...counts.get(pkg)!].sort(([a], [b]) => (a < b ? -1 : 1))) {
        all += n;
        if (day >= windowStart) recent += n;
        daily.push({ package: pkg, day, downloads: sign * n });
      }
      totals.push({ package: pkg, downloads_all: sign * all, downloads_recent: sign * recent });
    }
    for (const part of chunks(totals)) {
      await db
        .insertInto('package_downloads')
        .values(part)
        .onConflict((oc) =>
          oc.column('package').doUpdateSet({
            downloads_all: sql<number>`package_downloads.downloads_all + excluded.downloads_all`,
            downloads_recent: sql<number>`package_downloads.downloads_recent + excluded.downloads_recent`,
          }),
        )
        .execute();
    }
    for (const part of chunks(daily)) {
      await db
        .insertInto('download_counts')
        .values(part)
        .onConflict((oc) => oc.columns(['package', 'day']).doUpdateSet({ downloads: sql<number>`download_counts.downloads + excluded.downloads` }))
        .execute();
    }
    if (sign < 0) {
      for (const part of chunks(packages)) {
        await db.deleteFrom('package_downloads').where('package', 'in', part).where('downloads_all', '<=', 0).execute();
        await db.deleteFrom('download_counts').where('package', 'in', part).where('downloads', '<=', 0).execute();
      }
    }
  }

  private async bumpPackageTags(db: Db, tagDeltas: Map<string, number>): Promise<number> {
    let builtDelta = 0;
    const tags = [...tagDeltas.keys()];
    const before = new Map<string, number>();
    for (const part of chunks(tags)) {
      const rows = await db.selectFrom('package_tag_files').select(['package_tag', 'files']).where('package_tag', 'in', part).execute();
      for (const row of rows) before.set(row.package_tag, Number(row.files));
    }
    for (const [tag, delta] of tagDeltas) {
      if (delta === 0) continue;
      const was = before.get(tag) ?? 0;
      const now = was + delta;
      if (now <= 0) {
        await db.deleteFrom('package_tag_files').where('package_tag', '=', tag).execute();
      } else if (was === 0) {
        await db.insertInto('package_tag_files').values({ package_tag: tag, files: now }).execute();
      } else {
        await db.updateTable('package_tag_files').set({ files: now }).where('package_tag', '=', tag).execute();
      }
      if (was <= 0 && now > 0) builtDelta += 1;
      if (was > 0 && now <= 0) builtDelta -= 1;
    }
    return builtDelta;
  }

  /** Follows files entering (sign 1) or leaving (sign -1) the files table. */
  async filesChanged(db: Db, files: readonly FileFacts[], sign: 1 | -1): Promise<void> {
    if (files.length === 0) return;
    const deltas = new Map<string, number>();
    const tagDeltas = new Map<string, number>();
    for (const f of files) {
      addTo(deltas, 'files_count', sign);
      if (f.platformTag !== 'linux_armv6l') addTo(deltas, 'builds_size', sign * f.filesize);
      addTo(tagDeltas, f.packageTag, sign);
    }
    addTo(deltas, 'packages_built', await this.bumpPackageTags(db, tagDeltas));
    await this.bump(db, deltas);
    await this.bumpDownloadCounts(db, await this.downloadsOf(db, files), sign);
  }

  /** Follows builds entering or leaving the builds table (their durations). */
  async buildsChanged(db: Db, micros: readonly number[], sign: 1 | -1): Promise<void> {
    const total = micros.reduce((sum, us) => sum + (us < WEEK_US ? us : 0), 0);
    await this.bump(db, new Map([['builds_time_us', sign * total]]));
  }

  /** Follows downloads entering the downloads table (day: their UTC 'YYYY-MM-DD'). */
  async downloadsLogged(db: Db, downloads: ReadonlyArray<{ filename: string; day: string }>): Promise<void> {
    const perDay = new Map<string, number>();
    for (const d of downloads) addTo(perDay, d.day, 1);
    const days = [...perDay].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, n]) => ({ day, downloads: n }));
    for (const part of chunks(days)) {
      await db
        .insertInto('downloads_daily')
        .values(part)
        .onConflict((oc) => oc.column('day').doUpdateSet({ downloads: sql<number>`downloads_daily.downloads + excluded.downloads` }))
        .execute();
    }
    const owners = new Map<string, string>();
    for (const part of chunks([...new Set(downloads.map((d) => d.filename))])) {
      const rows = await db
        .selectFrom('files as f')
        .innerJoin('builds as b', 'b.build_id', 'f.build_id')
        .select(['f.filename', 'b.package'])
        .where('f.filename', 'in', part)
        .execute();
      for (const row of rows) owners.set(row.filename, row.package);
    }
    const counts = new Map<string, Map<string, number>>();
    for (const d of downloads) {
      const pkg = owners.get(d.filename);
      if (pkg === undefined) continue;
      let days = counts.get(pkg);
      if (!days) counts.set(pkg, (days = new Map()));
      addTo(days, d.day, 1);
    }
    await this.bumpDownloadCounts(db, counts, 1);
  }

  // ---- from scratch ----

  /** Rank of an ABI column in ABI order, for the set-based queue query. */
  private abiRank(column: string, abis: readonly string[]): RawBuilder<number> {
    if (abis.length === 0) return sql<number>`0`;
    const whens = abis.map((abi, i) => sql`WHEN ${abi} THEN ${i}`);
    return sql<number>`CASE ${sql.ref(column)} ${sql.join(whens, sql` `)} END`;
  }

  /** The platforms of the queue as a one-column table (platform_tag). */
  private queuePlatformsTable(platforms: readonly string[]): RawBuilder<unknown> {
    return sql`(${sql.join(platforms.map((p) => sql`SELECT CAST(${p} AS VARCHAR(100)) AS platform_tag`), sql` UNION ALL `)})`;
  }

  /**
   * The build queue recomputed from the rows (package, version, platform_tag,
   * abi_tag, released): nextBuildAbi as one set-based query, per platform.
   */
  private expectedQueue(abis: readonly string[], platforms: readonly string[]): RawBuilder<unknown> {
    return sql`
      SELECT package, version, platform_tag, abi_tag, released FROM (
        SELECT v.package, v.version, t.platform_tag, a.abi_tag, v.released,
               ROW_NUMBER() OVER (PARTITION BY v.package, v.version, t.platform_tag ORDER BY ${this.abiRank('a.abi_tag', abis)}) AS rn
        FROM versions v
        JOIN packages p ON p.package = v.package
        CROSS JOIN build_abis a
        CROSS JOIN ${this.queuePlatformsTable(platforms)} t
        WHERE p.skip = '' AND v.skip = '' AND a.skip = ''
          AND NOT EXISTS (
            SELECT 1 FROM builds b LEFT JOIN files f ON f.build_id = b.build_id
            WHERE b.package = v.package AND b.version = v.version
              AND (f.abi_tag IN ('none', 'abi3') OR COALESCE(f.abi_tag, b.abi_tag) = a.abi_tag)
              AND (t.platform_tag = ${ANY_PLATFORM} OR b.platform_tag = t.platform_tag
                   OR (f.filename IS NULL AND b.platform_tag = ${ANY_PLATFORM})
                   OR f.platform_tag IN ('any', t.platform_tag))
          )
      ) q WHERE rn = 1`;
  }

  private expectedPackageTags(): RawBuilder<unknown> {
    return sql`SELECT package_tag, COUNT(*) AS files FROM files GROUP BY package_tag`;
  }

  private expectedDownloadCounts(): RawBuilder<unknown> {
    return sql`
      SELECT b.package, ${this.dayOf('d.accessed_at')} AS day, COUNT(*) AS downloads
      FROM downloads d
      JOIN files f ON f.filename = d.filename
      JOIN builds b ON b.build_id = f.build_id
      GROUP BY b.package, ${this.dayOf('d.accessed_at')}`;
  }

  private expectedPackageDownloads(): RawBuilder<unknown> {
    return sql`
      SELECT c.package, SUM(c.downloads) AS downloads_all,
             SUM(CASE WHEN c.day >= w.first_day THEN c.downloads ELSE 0 END) AS downloads_recent
      FROM download_counts c CROSS JOIN download_window w
      GROUP BY c.package`;
  }

  private expectedDownloadsDaily(): RawBuilder<unknown> {
    return sql`SELECT ${this.dayOf('accessed_at')} AS day, COUNT(*) AS downloads FROM downloads GROUP BY ${this.dayOf('accessed_at')}`;
  }

  private async expectedCounters(db: Db): Promise<Map<string, number>> {
    const files = await sql<{ files_count: number | null; builds_size: number | null; packages_built: number | null }>`
      SELECT COUNT(*) AS files_count,
             SUM(CASE WHEN platform_tag <> 'linux_armv6l' THEN filesize ELSE 0 END) AS builds_size,
             COUNT(DISTINCT package_tag) AS packages_built
      FROM files`.execute(db);
    const builds = await sql<{ builds_time_us: number | null }>`
      SELECT SUM(CASE WHEN us < ${WEEK_US} THEN us ELSE 0 END) AS builds_time_us
      FROM (SELECT ${this.durationMicros('duration')} AS us FROM builds) t`.execute(db);
    const pending = await db
      .selectFrom('build_queue')
      .select(['abi_tag', 'platform_tag', sql<number>`COUNT(*)`.as('n')])
      .groupBy(['abi_tag', 'platform_tag'])
      .execute();
    const f = files.rows[0];
    const expected = new Map<string, number>([
      ['files_count', Number(f?.files_count ?? 0)],
      ['builds_size', Number(f?.builds_size ?? 0)],
      ['packages_built', Number(f?.packages_built ?? 0)],
      ['builds_time_us', Number(builds.rows[0]?.builds_time_us ?? 0)],
    ]);
    for (const row of pending) expected.set(PENDING_PREFIX + targetKey({ abi: row.abi_tag, platform: row.platform_tag }), Number(row.n));
    return expected;
  }

  /** Rebuilds just the build queue and its counters (after ABIs or platforms change). */
  async rebuildQueue(db: Db): Promise<void> {
    const abis = await this.activeAbis(db);
    const platforms = await this.queuePlatforms(db);
    await this.lockQueue(db, 'SHARE ROW EXCLUSIVE');
    await db.deleteFrom('build_queue').execute();
    await sql`INSERT INTO build_queue (package, version, platform_tag, abi_tag, released) ${this.expectedQueue(abis, platforms)}`.execute(db);
    await db.deleteFrom('farm_counters').where('name', 'like', `${PENDING_PREFIX}%`).execute();
    // the counter is named after the target: pending:cp311, pending:cp311-linux_aarch64
    await sql`INSERT INTO farm_counters (name, value)
              SELECT ${PENDING_PREFIX} || abi_tag || CASE WHEN platform_tag = ${ANY_PLATFORM} THEN '' ELSE '-' || platform_tag END, COUNT(*)
              FROM build_queue GROUP BY abi_tag, platform_tag`.execute(db);
  }

  /** Recomputes every derived table from the rows. */
  async rebuild(db: Db): Promise<void> {
    // Big sorts and hashes: give them memory for this transaction only.
    if (this.dialect === 'postgres') await sql`SET LOCAL work_mem = '256MB'`.execute(db);
    await this.rebuildQueue(db);
    await db.deleteFrom('package_tag_files').execute();
    await sql`INSERT INTO package_tag_files (package_tag, files) ${this.expectedPackageTags()}`.execute(db);
    await db.deleteFrom('download_counts').execute();
    await sql`INSERT INTO download_counts (package, day, downloads) ${this.expectedDownloadCounts()}`.execute(db);
    await db.deleteFrom('package_downloads').execute();
    await sql`INSERT INTO package_downloads (package, downloads_all, downloads_recent) ${this.expectedPackageDownloads()}`.execute(db);
    await db.deleteFrom('downloads_daily').execute();
    await sql`INSERT INTO downloads_daily (day, downloads) ${this.expectedDownloadsDaily()}`.execute(db);
    const counters = await this.expectedCounters(db);
    await db.deleteFrom('farm_counters').where('name', 'in', [...COUNTERS]).execute();
    for (const name of COUNTERS) {
      await db.insertInto('farm_counters').values({ name, value: counters.get(name) ?? 0 }).execute();
    }
  }

  private async differences(db: Db, table: string, columns: string, expected: RawBuilder<unknown>): Promise<string[]> {
    const actual = sql`SELECT ${sql.raw(columns)} FROM ${sql.table(table)}`;
    const count = async (a: RawBuilder<unknown>, b: RawBuilder<unknown>): Promise<number> => {
      const result = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM (${a} EXCEPT ${b}) x`.execute(db);
      return Number(result.rows[0]?.n ?? 0);
    };
    const missing = await count(sql`SELECT ${sql.raw(columns)} FROM (${expected}) e`, actual);
    const extra = await count(actual, sql`SELECT ${sql.raw(columns)} FROM (${expected}) e`);
    const out: string[] = [];
    if (missing > 0) out.push(`${table}: ${missing} row(s) missing or different`);
    if (extra > 0) out.push(`${table}: ${extra} row(s) that should not be there`);
    return out;
  }

  /** Recomputes every derived table and lists how the stored ones differ ([] when exact). */
  async verify(db: Db): Promise<string[]> {
    const abis = await this.activeAbis(db);
    const platforms = await this.queuePlatforms(db);
    const problems = [
      ...(await this.differences(db, 'build_queue', 'package, version, platform_tag, abi_tag, released', this.expectedQueue(abis, platforms))),
      ...(await this.differences(db, 'package_tag_files', 'package_tag, files', this.expectedPackageTags())),
      ...(await this.differences(db, 'download_counts', 'package, day, downloads', this.expectedDownloadCounts())),
      ...(await this.differences(db, 'package_downloads', 'package, downloads_all, downloads_recent', this.expectedPackageDownloads())),
      ...(await this.differences(db, 'downloads_daily', 'day, downloads', this.expectedDownloadsDaily())),
    ];
    const expected = await this.expectedCounters(db);
    const stored = new Map<string, number>();
    for (const row of await db.selectFrom('farm_counters').select(['name', 'value']).execute()) {
      stored.set(row.name, Number(row.value));
    }
    for (const name of new Set([...expected.keys(), ...stored.keys()])) {
      const want = expected.get(name) ?? 0;
      const have = stored.get(name) ?? 0;
      if (want !== have) problems.push(`farm_counters.${name}: stored ${have}, rows say ${want}`);
    }
    return problems;
  }
}
