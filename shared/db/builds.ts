// Builds and their files: recording attempts (with the files' dependencies),
// forgetting them, the build queue as the architect reads it, and the counts
// the farm's progress line and the output audit compare with.
import { sql } from 'kysely';
import type { z } from 'zod';
import type { FileFacts } from './derived.ts';
import { PENDING_PREFIX } from './derived.ts';
import { targetKey } from '../target.ts';
import type { RetrySchedule } from '../failure.ts';
import { BuildRecordSchema, type BuildRecord, type ValidBuildRecord } from './records.ts';
import { transaction, type Db, type Store } from './store.ts';
import { forgetAttempts, recordTriage } from './triage.ts';
import { durationToMicros, fromDbFlag, toDbTimestamp } from './values.ts';

/** A build record as validated (defaults filled in). */
type StoredBuild = z.output<typeof BuildRecordSchema>;

export interface QueueEntry {
  package: string;
  version: string;
}

/** How far the farm has got, as its one-line progress shows it. */
export interface BuildCounts {
  built: number;
  failed: number;
  pending: number;
  files: number;
}

/**
 * Records several build attempts in one transaction (all or none), in
 * order; resolves to their build ids. The queue and the counters are
 * brought up to date once for the whole batch. A failure's retry time comes
 * from `schedule` (none: not retried automatically).
 */
export async function logBuilds(store: Store, records: readonly BuildRecord[], schedule: RetrySchedule | null = null): Promise<number[]> {
  const builds = records.map((record) => BuildRecordSchema.parse(record));
  if (builds.length === 0) return [];
  return transaction(store, async (db) => {
    const ids = await insertBuildRows(store, db, builds);
    const touched: Array<[string, string]> = builds.map((b) => [b.package, b.version]);
    for (const [i, build] of builds.entries()) {
      if (build.files.length > 0) await insertFiles(store, db, build, ids[i]!, touched);
      if (build.withheld.length > 0) {
        await db
          .insertInto('upstream_clashes')
          .values(build.withheld.map((w) => ({ build_id: ids[i]!, filename: w.filename, filehash: w.filehash, upstream_filehash: w.upstreamFilehash })))
          .execute();
      }
    }
    await recordTriage(db, builds, ids, schedule);
    await store.derived.buildsChanged(db, builds.map((b) => durationToMicros(b.duration)), 1);
    await store.derived.refreshQueueFor(db, touched);
    return ids;
  });
}

/**
 * The builds rows, many per statement; their ids in the order given. Both
 * databases number the rows of one multi-row INSERT in the order of its
 * VALUES, so the returned ids, sorted, line up with the records.
 */
async function insertBuildRows(store: Store, db: Db, builds: readonly ValidBuildRecord[]): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < builds.length; i += 100) {
    const part = builds.slice(i, i + 100);
    const inserted = await db
      .insertInto('builds')
      .values(
        part.map((build) => ({
          package: build.package,
          version: build.version,
          built_by: build.slaveId,
          built_at: toDbTimestamp(build.builtAt),
          duration: store.derived.durationValue(durationToMicros(build.duration)),
          status: build.status ? 1 : 0,
          abi_tag: build.abiTag,
          platform_tag: build.platformTag,
        })),
      )
      .returning('build_id')
      .execute();
    ids.push(...inserted.map((row) => Number(row.build_id)).sort((a, b) => a - b));
  }
  return ids;
}

/** One build's files and dependencies; adds the versions whose files it replaced to `touched`. */
async function insertFiles(store: Store, db: Db, build: ValidBuildRecord, buildId: number, touched: Array<[string, string]>): Promise<void> {
  await replaceFiles(store, db, build.files.map((f) => f.filename), touched);
  await db
    .insertInto('files')
    .values(
      build.files.map((f) => ({
        filename: f.filename,
        build_id: buildId,
        filesize: f.filesize,
        filehash: f.filehash,
        package_tag: f.packageTag,
        package_version_tag: f.packageVersionTag,
        py_version_tag: f.pyVersionTag,
        abi_tag: f.abiTag,
        platform_tag: f.platformTag,
        requires_python: f.requiresPython,
        metadata_hash: f.metadataHash,
      })),
    )
    .execute();
  const deps = build.files.flatMap((f) => [
    ...[...new Set(f.dependencies.apt)].map((dependency) => ({ filename: f.filename, tool: 'apt', dependency })),
    ...[...new Set(f.dependencies.pip)].map((dependency) => ({ filename: f.filename, tool: 'pip', dependency })),
  ]);
  if (deps.length > 0) await db.insertInto('dependencies').values(deps).execute();
  await store.derived.filesChanged(
    db,
    build.files.map((f) => ({
      filename: f.filename,
      filesize: f.filesize,
      platformTag: f.platformTag,
      packageTag: f.packageTag,
      package: build.package,
    })),
    1,
  );
}

/** Removes files of these names left by earlier builds (with their dependencies), noting their versions in `touched`. */
async function replaceFiles(store: Store, db: Db, names: readonly string[], touched: Array<[string, string]>): Promise<void> {
  const replaced = await db
    .selectFrom('files as f')
    .innerJoin('builds as b', 'b.build_id', 'f.build_id')
    .select(['f.filename', 'f.filesize', 'f.platform_tag', 'f.package_tag', 'b.package', 'b.version'])
    .where('f.filename', 'in', names)
    .execute();
  if (replaced.length === 0) return;
  await store.derived.filesChanged(
    db,
    replaced.map((f) => ({
      filename: f.filename,
      filesize: Number(f.filesize),
      platformTag: f.platform_tag,
      packageTag: f.package_tag,
      package: f.package,
    })),
    -1,
  );
  await db.deleteFrom('files').where('filename', 'in', names).execute();
  for (const f of replaced) touched.push([f.package, f.version]);
}

/** What the counters must forget before some builds (and their files) go. */
export async function forgetBuilds(store: Store, db: Db, pkg: string, version?: string): Promise<void> {
  let builds = db
    .selectFrom('builds')
    .select(store.derived.durationMicros('duration').as('us'))
    .where('package', '=', pkg);
  if (version !== undefined) builds = builds.where('version', '=', version);
  const micros = (await builds.execute()).map((r) => Number(r.us));
  let files = db
    .selectFrom('files as f')
    .innerJoin('builds as b', 'b.build_id', 'f.build_id')
    .select(['f.filename', 'f.filesize', 'f.platform_tag', 'f.package_tag'])
    .where('b.package', '=', pkg);
  if (version !== undefined) files = files.where('b.version', '=', version);
  const facts: FileFacts[] = (await files.execute()).map((f) => ({
    filename: f.filename,
    filesize: Number(f.filesize),
    platformTag: f.platform_tag,
    packageTag: f.package_tag,
    package: pkg,
  }));
  await store.derived.filesChanged(db, facts, -1);
  await store.derived.buildsChanged(db, micros, -1);
}

/**
 * Removes every build of a version with their files and dependencies (it
 * goes back in the queue), and its earlier attempts: an operator's rebuild
 * gets a fresh set of tries.
 */
export async function deleteBuild(store: Store, pkg: string, version: string): Promise<void> {
  await transaction(store, async (db) => {
    await forgetBuilds(store, db, pkg, version);
    await forgetAttempts(db, pkg, version);
    await db.deleteFrom('builds').where('package', '=', pkg).where('version', '=', version).execute();
    await store.derived.refreshQueue(db, pkg, [version]);
  });
}

/**
 * Per active target (by name, in target order, every one present), up to
 * `limit` versions that need building there, oldest release first.
 */
export async function getBuildQueue(store: Store, limit = 1000): Promise<Map<string, QueueEntry[]>> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`invalid queue limit: ${limit}`);
  const db = store.conn.kysely;
  const out = new Map<string, QueueEntry[]>();
  for (const target of await store.derived.targets(db)) {
    const rows =
      limit === 0
        ? []
        : await db
            .selectFrom('build_queue')
            .select(['package', 'version'])
            .where('abi_tag', '=', target.abi)
            .where('platform_tag', '=', target.platform)
            .orderBy('released')
            .orderBy('package')
            .orderBy('version')
            .limit(limit)
            .execute();
    out.set(targetKey(target), rows);
  }
  return out;
}

/** Builds that succeeded and failed, versions waiting, and wheels stored (a handful of rows on a small farm). */
export async function getBuildCounts(store: Store): Promise<BuildCounts> {
  const db = store.conn.kysely;
  const builds = await db
    .selectFrom('builds')
    .select(['status', sql<number>`COUNT(*)`.as('n')])
    .groupBy('status')
    .execute();
  let built = 0;
  let failed = 0;
  for (const row of builds) {
    if (fromDbFlag(row.status)) built += Number(row.n);
    else failed += Number(row.n);
  }
  const pending = await db
    .selectFrom('farm_counters')
    .select(sql<number | null>`SUM(value)`.as('n'))
    .where('name', 'like', `${PENDING_PREFIX}%`)
    .executeTakeFirst();
  const files = await db.selectFrom('files').select(sql<number>`COUNT(*)`.as('n')).executeTakeFirst();
  return { built, failed, pending: Number(pending?.n ?? 0), files: Number(files?.n ?? 0) };
}

/**
 * The packages with at least one wheel stored: those the simple index lists
 * (one semi-join per package through the covering indexes, not a scan of
 * every file).
 */
export async function getPackagesWithFiles(store: Store): Promise<Set<string>> {
  const rows = await store.conn.kysely
    .selectFrom('packages as p')
    .select('p.package')
    .where(({ exists, selectFrom }) =>
      exists(selectFrom('builds as b').innerJoin('files as f', 'f.build_id', 'b.build_id').select('f.filename').whereRef('b.package', '=', 'p.package')),
    )
    .execute();
  return new Set(rows.map((r) => r.package));
}

/** Package to filename to SHA-256 of every wheel of a successful build. */
export async function getWheelHashes(store: Store): Promise<Map<string, Map<string, string>>> {
  const files = await store.conn.kysely
    .selectFrom('files as f')
    .innerJoin('builds as b', 'b.build_id', 'f.build_id')
    .select(['b.package', 'f.filename', 'f.filehash'])
    .where(sql<boolean>`b.status`)
    .execute();
  const wheels = new Map<string, Map<string, string>>();
  for (const f of files) {
    let perPackage = wheels.get(f.package);
    if (!perPackage) wheels.set(f.package, (perPackage = new Map()));
    perPackage.set(f.filename, f.filehash.trim());
  }
  return wheels;
}

/** Every build id, in order. */
/** The id of the build recorded with these facts (a spooled log finds its build this way), or null. */
export async function findBuildId(store: Store, pkg: string, version: string, builtBy: number, builtAt: Date): Promise<number | null> {
  const row = await store.conn.kysely
    .selectFrom('builds')
    .select('build_id')
    .where('package', '=', pkg)
    .where('version', '=', version)
    .where('built_by', '=', builtBy)
    .where('built_at', '=', toDbTimestamp(builtAt))
    .executeTakeFirst();
  return row === undefined ? null : Number(row.build_id);
}

export async function getBuildIds(store: Store): Promise<number[]> {
  const builds = await store.conn.kysely.selectFrom('builds').select('build_id').orderBy('build_id').execute();
  return builds.map((b) => Number(b.build_id));
}
