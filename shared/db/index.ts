// The database API of the farm: every operation piwheels' Database offers,
// with the same meanings, over SQLite or PostgreSQL through kysely. Writes
// that other tables summarise keep those summaries (derived.ts) in the same
// transaction.
import { sql, type Kysely } from 'kysely';
import type { AbiStatus, FarmStatistics, FileInfo, ProjectData, ReleaseData, SearchEntry } from '../model.ts';
import { compareAbis } from './abi.ts';
import { accessRows, emptyBatch, writeRows, type AccessBatch } from './access.ts';
import { connect, type Connection, type CopyIn, type DialectName } from './connect.ts';
import { DerivedTables, PENDING_PREFIX, type FileFacts } from './derived.ts';
import { detectState, LATEST_VERSION } from './migrate.ts';
import { releaseAbiStatuses, type BuildOutcome } from './project.ts';
import {
  BuildRecordSchema,
  RewritePendingSchema,
  type BuildRecord,
  type DownloadRecord,
  type JsonHitRecord,
  type PageHitRecord,
  type ProjectHitRecord,
  type RewritePending,
  type SearchRecord,
} from './records.ts';
import type { Tables } from './schema.ts';
import {
  durationToMicros,
  fromDbFlag,
  fromDbTimestamp,
  recentFirstDay,
  sanitize,
  toDbTimestamp,
} from './values.ts';
import { compareVersionKeys, keyIsPrerelease, versionKey } from './versions.ts';
import { UserError } from '../cli.ts';

export { batchSize, emptyBatch, type AccessBatch } from './access.ts';
export { defaultDsn, parseDsn, redact } from './connect.ts';
export type { DialectName } from './connect.ts';
export type {
  BuildFileRecord,
  BuildRecord,
  DownloadRecord,
  JsonHitRecord,
  PageHitRecord,
  ProjectHitRecord,
  RewritePending,
  SearchRecord,
} from './records.ts';
export { compareAbis, sortAbis } from './abi.ts';

export interface QueueEntry {
  package: string;
  version: string;
}

type Db = Kysely<Tables>;

const EPOCH = new Date(0);
const HOUR_MS = 3_600_000;

function clip(text: string | null | undefined, width: number): string | null {
  const clean = sanitize(text);
  return clean === null ? null : clean.slice(0, width);
}

export class Database {
  private readonly derived: DerivedTables;

  constructor(private readonly conn: Connection) {
    this.derived = new DerivedTables(conn.dialect);
  }

  get dialect(): DialectName {
    return this.conn.dialect;
  }

  /** The kysely instance, for tools that work on the tables directly (bulk loaders, tests). */
  get kysely(): Kysely<Tables> {
    return this.conn.kysely;
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  private tx<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.conn.kysely.transaction().execute(work);
  }

  // ---- packages and versions ----

  /** Inserts a package; false (not an error) when it is already known. */
  async addNewPackage(pkg: string, skip = '', description = ''): Promise<boolean> {
    const result = await this.conn.kysely
      .insertInto('packages')
      .values({ package: pkg, skip, description: clip(description, 200) ?? '' })
      .onConflict((oc) => oc.column('package').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Inserts a version (released defaults to now); false when it is already known. */
  async addNewPackageVersion(pkg: string, version: string, released?: Date, skip = ''): Promise<boolean> {
    return this.tx(async (db) => {
      const result = await db
        .insertInto('versions')
        .values({ package: pkg, version, released: toDbTimestamp(released ?? new Date()), skip, yanked: 0 })
        .onConflict((oc) => oc.columns(['package', 'version']).doNothing())
        .executeTakeFirst();
      const added = Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
      if (added) await this.derived.refreshQueue(db, pkg, [version]);
      return added;
    });
  }

  /** Records a spelling of a package's name, or when it was last seen. */
  async addPackageName(pkg: string, name: string, seen: Date = EPOCH): Promise<void> {
    await this.conn.kysely
      .insertInto('package_names')
      .values({ package: pkg, name, seen: toDbTimestamp(seen) })
      .onConflict((oc) => oc.column('name').doUpdateSet({ seen: toDbTimestamp(seen) }))
      .execute();
  }

  /** Every known spelling of the package's name other than the canonical one. */
  async getPackageAliases(pkg: string): Promise<string[]> {
    const rows = await this.conn.kysely
      .selectFrom('package_names')
      .select('name')
      .where('package', '=', pkg)
      .where('name', '!=', pkg)
      .orderBy('name')
      .execute();
    return rows.map((r) => r.name);
  }

  /** The most recently seen spelling of the package's name (null for an unknown package). */
  async getPackageName(pkg: string): Promise<string | null> {
    const row = await this.conn.kysely
      .selectFrom('package_names')
      .select('name')
      .where('package', '=', pkg)
      .orderBy('seen', 'desc')
      .orderBy('name')
      .limit(1)
      .executeTakeFirst();
    return row?.name ?? null;
  }

  async setPackageDescription(pkg: string, description: string): Promise<void> {
    await this.conn.kysely
      .updateTable('packages')
      .set({ description: clip(description, 200) ?? '' })
      .where('package', '=', pkg)
      .execute();
  }

  /** Skips every version of a package, now and to come ('' un-skips). */
  async skipPackage(pkg: string, reason: string): Promise<void> {
    await this.tx(async (db) => {
      await db.updateTable('packages').set({ skip: reason }).where('package', '=', pkg).execute();
      await this.derived.refreshQueue(db, pkg);
    });
  }

  /** Skips one version ('' un-skips). */
  async skipPackageVersion(pkg: string, version: string, reason: string): Promise<void> {
    await this.tx(async (db) => {
      await db.updateTable('versions').set({ skip: reason }).where('package', '=', pkg).where('version', '=', version).execute();
      await this.derived.refreshQueue(db, pkg, [version]);
    });
  }

  /** What the counters must forget before some builds (and their files) go. */
  private async forgetBuilds(db: Db, pkg: string, version?: string): Promise<void> {
    let builds = db
      .selectFrom('builds')
      .select(this.derived.durationMicros('duration').as('us'))
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
    await this.derived.filesChanged(db, facts, -1);
    await this.derived.buildsChanged(db, micros, -1);
  }

  /** Removes a package with its versions, builds, files and dependencies. */
  async deletePackage(pkg: string): Promise<void> {
    await this.tx(async (db) => {
      await this.forgetBuilds(db, pkg);
      await db.deleteFrom('packages').where('package', '=', pkg).execute();
      await this.derived.refreshQueue(db, pkg);
    });
  }

  /** Removes a version with its builds, files and dependencies. */
  async deleteVersion(pkg: string, version: string): Promise<void> {
    await this.tx(async (db) => {
      await this.forgetBuilds(db, pkg, version);
      await db.deleteFrom('versions').where('package', '=', pkg).where('version', '=', version).execute();
      await this.derived.refreshQueue(db, pkg, [version]);
    });
  }

  /** Removes every build of a version with their files and dependencies (it goes back in the queue). */
  async deleteBuild(pkg: string, version: string): Promise<void> {
    await this.tx(async (db) => {
      await this.forgetBuilds(db, pkg, version);
      await db.deleteFrom('builds').where('package', '=', pkg).where('version', '=', version).execute();
      await this.derived.refreshQueue(db, pkg, [version]);
    });
  }

  async yankVersion(pkg: string, version: string): Promise<void> {
    await this.conn.kysely.updateTable('versions').set({ yanked: 1 }).where('package', '=', pkg).where('version', '=', version).execute();
  }

  async unyankVersion(pkg: string, version: string): Promise<void> {
    await this.conn.kysely.updateTable('versions').set({ yanked: 0 }).where('package', '=', pkg).where('version', '=', version).execute();
  }

  /** Whether the package is known, skipped or not. */
  async testPackage(pkg: string): Promise<boolean> {
    const row = await this.conn.kysely.selectFrom('packages').select('package').where('package', '=', pkg).executeTakeFirst();
    return row !== undefined;
  }

  /** Whether the package is marked for deletion (skip reason 'deleted'). */
  async packageMarkedDeleted(pkg: string): Promise<boolean> {
    const row = await this.conn.kysely
      .selectFrom('packages')
      .select('package')
      .where('package', '=', pkg)
      .where('skip', '=', 'deleted')
      .executeTakeFirst();
    return row !== undefined;
  }

  async testPackageVersion(pkg: string, version: string): Promise<boolean> {
    const row = await this.conn.kysely
      .selectFrom('versions')
      .select('version')
      .where('package', '=', pkg)
      .where('version', '=', version)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Versions of the package marked for deletion (skip reason 'deleted'). */
  async getVersionsDeleted(pkg: string): Promise<Set<string>> {
    const rows = await this.conn.kysely
      .selectFrom('versions')
      .select('version')
      .where('package', '=', pkg)
      .where('skip', '=', 'deleted')
      .execute();
    return new Set(rows.map((r) => r.version));
  }

  /** The version's skip reason ('' when not skipped), or null for an unknown version. */
  async getVersionSkip(pkg: string, version: string): Promise<string | null> {
    const row = await this.conn.kysely
      .selectFrom('versions')
      .select('skip')
      .where('package', '=', pkg)
      .where('version', '=', version)
      .executeTakeFirst();
    return row?.skip ?? null;
  }

  async getAllPackages(): Promise<Set<string>> {
    const rows = await this.conn.kysely.selectFrom('packages').select('package').execute();
    return new Set(rows.map((r) => r.package));
  }

  /** Every known version, by package. */
  async getAllPackageVersions(): Promise<Map<string, Set<string>>> {
    const rows = await this.conn.kysely.selectFrom('versions').select(['package', 'version']).execute();
    const out = new Map<string, Set<string>>();
    for (const row of rows) {
      let versions = out.get(row.package);
      if (!versions) out.set(row.package, (versions = new Set()));
      versions.add(row.version);
    }
    return out;
  }

  // ---- ABIs and configuration ----

  /** Build ABIs in ABI order; only the active ones when excludeSkipped. */
  async getBuildAbis(excludeSkipped = false): Promise<string[]> {
    let query = this.conn.kysely.selectFrom('build_abis').select('abi_tag');
    if (excludeSkipped) query = query.where('skip', '=', '');
    return (await query.execute()).map((r) => r.abi_tag).sort(compareAbis);
  }

  /** Adds a build ABI, or re-activates a retired one; the queue is recomputed. */
  async addBuildAbi(abi: string): Promise<void> {
    if (abi === 'none' || abi === 'abi3' || !/^[a-z0-9_]+$/.test(abi)) {
      throw new UserError(`${JSON.stringify(abi)} is not a build ABI tag (e.g. cp311)`);
    }
    await this.tx(async (db) => {
      await db
        .insertInto('build_abis')
        .values({ abi_tag: abi, skip: '' })
        .onConflict((oc) => oc.column('abi_tag').doUpdateSet({ skip: '' }))
        .execute();
      await this.derived.rebuildQueue(db);
    });
  }

  /** Retires a build ABI (its builds stay); the queue is recomputed. */
  async skipBuildAbi(abi: string, reason: string): Promise<void> {
    if (reason === '') throw new UserError('retiring an ABI needs a reason');
    await this.tx(async (db) => {
      const result = await db.updateTable('build_abis').set({ skip: reason }).where('abi_tag', '=', abi).executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw new UserError(`no build ABI ${JSON.stringify(abi)}`);
      await this.derived.rebuildQueue(db);
    });
  }

  async getPypiSerial(): Promise<number> {
    const row = await this.conn.kysely.selectFrom('configuration').select('pypi_serial').where('id', '=', 1).executeTakeFirst();
    return Number(row?.pypi_serial ?? 0);
  }

  /** Records the last PyPI event seen; refuses to go backwards. */
  async setPypiSerial(serial: number): Promise<void> {
    if (!Number.isSafeInteger(serial) || serial < 0) throw new RangeError(`invalid PyPI serial: ${serial}`);
    const result = await this.conn.kysely
      .updateTable('configuration')
      .set({ pypi_serial: serial })
      .where('id', '=', 1)
      .where('pypi_serial', '<=', serial)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      throw new RangeError(`PyPI serial cannot go backwards (to ${serial} from ${await this.getPypiSerial()})`);
    }
  }

  // ---- access logs ----
  // One record or thousands, the same path: the batch's rows in bulk, the
  // download counters in the same transaction; all or none.

  async logDownload(record: DownloadRecord): Promise<void> {
    await this.logAccess({ ...emptyBatch(), downloads: [record] });
  }

  async logDownloads(records: readonly DownloadRecord[]): Promise<void> {
    await this.logAccess({ ...emptyBatch(), downloads: [...records] });
  }

  async logSearch(record: SearchRecord): Promise<void> {
    await this.logAccess({ ...emptyBatch(), searches: [record] });
  }

  async logSearches(records: readonly SearchRecord[]): Promise<void> {
    await this.logAccess({ ...emptyBatch(), searches: [...records] });
  }

  async logProject(record: ProjectHitRecord): Promise<void> {
    await this.logAccess({ ...emptyBatch(), projects: [record] });
  }

  async logProjectHits(records: readonly ProjectHitRecord[]): Promise<void> {
    await this.logAccess({ ...emptyBatch(), projects: [...records] });
  }

  async logJson(record: JsonHitRecord): Promise<void> {
    await this.logAccess({ ...emptyBatch(), json: [record] });
  }

  async logJsonHits(records: readonly JsonHitRecord[]): Promise<void> {
    await this.logAccess({ ...emptyBatch(), json: [...records] });
  }

  async logPage(record: PageHitRecord): Promise<void> {
    await this.logAccess({ ...emptyBatch(), pages: [record] });
  }

  async logPageHits(records: readonly PageHitRecord[]): Promise<void> {
    await this.logAccess({ ...emptyBatch(), pages: [...records] });
  }

  /** Records every kind of access in one transaction; a bad record refuses the batch (RangeError). */
  async logAccess(batch: AccessBatch): Promise<void> {
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
      if (downloads !== undefined) await this.derived.downloadsLogged(db, downloads);
    };
    if (this.conn.copyTransaction !== undefined) await this.conn.copyTransaction(work);
    else await this.tx((db) => work(db, null));
  }

  // ---- builds ----

  /**
   * Records a build attempt with its files and their apt/pip dependencies in
   * one transaction; returns the new build id. A file of the same name from
   * an earlier build is replaced (with its dependencies).
   */
  async logBuild(record: BuildRecord): Promise<number> {
    const [buildId] = await this.logBuilds([record]);
    return buildId!;
  }

  /**
   * Records several build attempts in one transaction (all or none), in
   * order; resolves to their build ids. The queue and the counters are
   * brought up to date once for the whole batch.
   */
  async logBuilds(records: readonly BuildRecord[]): Promise<number[]> {
    const builds = records.map((record) => BuildRecordSchema.parse(record));
    if (builds.length === 0) return [];
    return this.tx(async (db) => {
      const ids = await this.insertBuildRows(db, builds);
      const touched: Array<[string, string]> = builds.map((b) => [b.package, b.version]);
      for (const [i, build] of builds.entries()) {
        if (build.files.length > 0) await this.insertFiles(db, build, ids[i]!, touched);
      }
      await this.derived.buildsChanged(db, builds.map((b) => durationToMicros(b.duration)), 1);
      await this.derived.refreshQueueFor(db, touched);
      return ids;
    });
  }

  /**
   * The builds rows, many per statement; their ids in the order given. Both
   * databases number the rows of one multi-row INSERT in the order of its
   * VALUES, so the returned ids, sorted, line up with the records.
   */
  private async insertBuildRows(db: Db, builds: readonly BuildRecord[]): Promise<number[]> {
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
            duration: this.derived.durationValue(durationToMicros(build.duration)),
            status: build.status ? 1 : 0,
            abi_tag: build.abiTag,
          })),
        )
        .returning('build_id')
        .execute();
      ids.push(...inserted.map((row) => Number(row.build_id)).sort((a, b) => a - b));
    }
    return ids;
  }

  /** One build's files and dependencies; adds the versions whose files it replaced to `touched`. */
  private async insertFiles(db: Db, build: BuildRecord, buildId: number, touched: Array<[string, string]>): Promise<void> {
    const names = build.files.map((f) => f.filename);
    const replaced = await db
      .selectFrom('files as f')
      .innerJoin('builds as b', 'b.build_id', 'f.build_id')
      .select(['f.filename', 'f.filesize', 'f.platform_tag', 'f.package_tag', 'b.package', 'b.version'])
      .where('f.filename', 'in', names)
      .execute();
    if (replaced.length > 0) {
      await this.derived.filesChanged(
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
    await this.derived.filesChanged(
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

  /** Filename to SHA-256 of every wheel of the package (successful builds). */
  async getPackageFiles(pkg: string): Promise<Map<string, string>> {
    const rows = await this.conn.kysely
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
  async getVersionFiles(pkg: string, version: string): Promise<Set<string>> {
    const rows = await this.conn.kysely
      .selectFrom('builds as b')
      .innerJoin('files as f', 'f.build_id', 'b.build_id')
      .select('f.filename')
      .where('b.package', '=', pkg)
      .where('b.version', '=', version)
      .where(sql<boolean>`b.status`)
      .execute();
    return new Set(rows.map((r) => r.filename));
  }

  /**
   * Per active ABI (in ABI order, every one present), up to `limit` versions
   * that need building there, oldest release first.
   */
  async getBuildQueue(limit = 1000): Promise<Map<string, QueueEntry[]>> {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`invalid queue limit: ${limit}`);
    const abis = await this.derived.activeAbis(this.conn.kysely);
    const out = new Map<string, QueueEntry[]>();
    for (const abi of abis) {
      const rows =
        limit === 0
          ? []
          : await this.conn.kysely
              .selectFrom('build_queue')
              .select(['package', 'version'])
              .where('abi_tag', '=', abi)
              .orderBy('released')
              .orderBy('package')
              .orderBy('version')
              .limit(limit)
              .execute();
      out.set(abi, rows);
    }
    return out;
  }

  // ---- rewrites pending (the secretary's queue across restarts) ----

  /** Replaces the stored queue with `queue`. */
  async saveRewritesPending(queue: readonly RewritePending[]): Promise<void> {
    const rows = queue.map((r) => RewritePendingSchema.parse(r));
    await this.tx(async (db) => {
      await db.deleteFrom('rewrites_pending').execute();
      if (rows.length > 0) {
        await db
          .insertInto('rewrites_pending')
          .values(rows.map((r) => ({ package: r.package, added_at: toDbTimestamp(r.addedAt), command: r.command })))
          .execute();
      }
    });
  }

  /** The stored queue, oldest first. */
  async loadRewritesPending(): Promise<RewritePending[]> {
    const rows = await this.conn.kysely
      .selectFrom('rewrites_pending')
      .select(['package', 'added_at', 'command'])
      .orderBy('added_at')
      .orderBy('package')
      .execute();
    return rows.map((r) => RewritePendingSchema.parse({ package: r.package, addedAt: fromDbTimestamp(r.added_at), command: r.command }));
  }

  // ---- pages and statistics ----

  /** Everything a project's pages need, or null for an unknown package. */
  async getProjectData(pkg: string, now: Date = new Date()): Promise<ProjectData | null> {
    return (await this.getProjectDataMany([pkg], now))[0] ?? null;
  }

  /**
   * getProjectData for several packages at once, in the order asked: the same
   * queries, each over all of them, so a full regeneration pays a round trip
   * per batch instead of seven per package.
   */
  async getProjectDataMany(pkgs: readonly string[], now: Date = new Date()): Promise<(ProjectData | null)[]> {
    if (pkgs.length === 0) return [];
    const list = [...pkgs];
    let tx = this.conn.kysely.transaction();
    if (this.conn.dialect === 'postgres') tx = tx.setIsolationLevel('repeatable read');
    return tx.execute(async (db) => {
      const rows = await db.selectFrom('packages').select(['package', 'skip', 'description']).where('package', 'in', list).execute();
      const known = new Map(rows.map((r) => [r.package, r]));
      const present = list.filter((p) => known.has(p));
      if (present.length === 0) return list.map(() => null);
      const group = <T extends { package: string }>(items: T[]): Map<string, T[]> => {
        const out = new Map<string, T[]>();
        for (const item of items) {
          const at = out.get(item.package);
          if (at) at.push(item);
          else out.set(item.package, [item]);
        }
        return out;
      };
      const names = group(
        await db
          .selectFrom('package_names')
          .select(['package', 'name'])
          .where('package', 'in', present)
          .orderBy('seen', 'desc')
          .orderBy('name')
          .execute(),
      );
      const abis = await this.derived.activeAbis(db);
      const versions = group(
        await db.selectFrom('versions').select(['package', 'version', 'released', 'skip', 'yanked']).where('package', 'in', present).execute(),
      );
      // Builds with their files in one pass over the packages' builds.
      const builds = group(
        await db
          .selectFrom('builds as b')
          .leftJoin('files as f', 'f.build_id', 'b.build_id')
          .select([
            'b.package',
            'b.build_id',
            'b.version',
            'b.abi_tag as builder_abi',
            'b.status',
            'b.built_at',
            'f.filename',
            'f.filesize',
            'f.filehash',
            'f.abi_tag as file_abi',
            'f.platform_tag',
            'f.requires_python',
            'f.metadata_hash',
          ])
          .where('b.package', 'in', present)
          .execute(),
      );
      // One query, through the same covering indexes, however many files.
      const allDeps = await db
        .selectFrom('builds as b')
        .innerJoin('files as f', 'f.build_id', 'b.build_id')
        .innerJoin('dependencies as d', 'd.filename', 'f.filename')
        .select(['b.package', 'd.filename', 'd.tool', 'd.dependency'])
        .where('b.package', 'in', present)
        .execute();
      // Apt dependencies are shown less what the builder's OS release has preinstalled.
      const aptNames = [...new Set(allDeps.filter((d) => d.tool === 'apt').map((d) => d.dependency))];
      const preinstalled = new Set<string>();
      for (let i = 0; i < aptNames.length; i += 500) {
        const found = await db
          .selectFrom('preinstalled_apt_packages')
          .select(['abi_tag', 'apt_package'])
          .where('apt_package', 'in', aptNames.slice(i, i + 500))
          .execute();
        for (const row of found) preinstalled.add(`${row.abi_tag} ${row.apt_package}`);
      }
      const deps = group(allDeps);
      const recentDay = recentFirstDay(now);
      const downloads = new Map(
        (
          await db
            .selectFrom('download_counts')
            .select([
              'package',
              sql<number | null>`SUM(downloads)`.as('all'),
              sql<number | null>`SUM(CASE WHEN day >= ${recentDay} THEN downloads ELSE 0 END)`.as('recent'),
            ])
            .where('package', 'in', present)
            .groupBy('package')
            .execute()
        ).map((d) => [d.package, d]),
      );
      return list.map((pkg): ProjectData | null => {
        const row = known.get(pkg);
        if (!row) return null;
        const buildRows = builds.get(pkg) ?? [];
        const buildById = new Map<number, { version: string; abi: string; status: boolean; builtAt: Date }>();
        const outcomes = new Map<string, Map<number, BuildOutcome & { fileAbis: string[] }>>();
        for (const b of buildRows) {
          if (buildById.has(b.build_id)) continue;
          const status = fromDbFlag(b.status);
          buildById.set(b.build_id, { version: b.version, abi: b.builder_abi, status, builtAt: fromDbTimestamp(b.built_at) });
          let perVersion = outcomes.get(b.version);
          if (!perVersion) outcomes.set(b.version, (perVersion = new Map()));
          perVersion.set(b.build_id, { buildId: b.build_id, builderAbi: b.builder_abi, status, fileAbis: [] });
        }
        const depsByFile = new Map<string, { apt: string[]; pip: string[] }>();
        const builderOf = new Map(buildRows.flatMap((r) => (r.filename === null ? [] : [[r.filename, r.builder_abi] as const])));
        for (const d of deps.get(pkg) ?? []) {
          let entry = depsByFile.get(d.filename);
          if (!entry) depsByFile.set(d.filename, (entry = { apt: [], pip: [] }));
          if (d.tool === 'apt') {
            if (!preinstalled.has(`${builderOf.get(d.filename) ?? ''} ${d.dependency}`)) entry.apt.push(d.dependency);
          } else if (d.tool === 'pip') {
            entry.pip.push(d.dependency);
          }
        }
        const filesByVersion = new Map<string, Record<string, FileInfo>>();
        for (const f of buildRows) {
          if (f.filename === null || f.file_abi === null) continue;
          const build = buildById.get(f.build_id);
          if (!build) continue;
          outcomes.get(build.version)?.get(f.build_id)?.fileAbis.push(f.file_abi);
          let perVersion = filesByVersion.get(build.version);
          if (!perVersion) filesByVersion.set(build.version, (perVersion = {}));
          const fileDeps = depsByFile.get(f.filename);
          perVersion[f.filename] = {
            filename: f.filename,
            hash: (f.filehash ?? '').trim(),
            size: Number(f.filesize),
            abiBuilder: build.abi,
            abiFile: f.file_abi,
            platform: f.platform_tag ?? '',
            requiresPython: f.requires_python,
            aptDependencies: (fileDeps?.apt ?? []).sort(),
            pipDependencies: (fileDeps?.pip ?? []).sort(),
            metadataHash: f.metadata_hash === null ? null : f.metadata_hash.trim(),
            builtAt: build.builtAt,
            buildId: f.build_id,
          };
        }
        const keyed = (versions.get(pkg) ?? []).map((v) => ({ v, key: versionKey(v.version) }));
        keyed.sort((a, b) => compareVersionKeys(b.key, a.key));
        const releases: ReleaseData[] = keyed.map(({ v, key }) => {
          const skip = v.skip !== '' ? v.skip : row.skip;
          const abiStatus: Record<string, AbiStatus> = releaseAbiStatuses(
            abis,
            [...(outcomes.get(v.version)?.values() ?? [])],
            skip !== '',
          );
          return {
            version: v.version,
            released: fromDbTimestamp(v.released),
            prerelease: keyIsPrerelease(key),
            yanked: fromDbFlag(v.yanked),
            skip,
            abis: abiStatus,
            files: filesByVersion.get(v.version) ?? {},
          };
        });
        const pkgNames = names.get(pkg) ?? [];
        const counts = downloads.get(pkg);
        return {
          package: pkg,
          name: pkgNames[0]?.name ?? pkg,
          description: row.description,
          skip: row.skip,
          aliases: pkgNames.map((n) => n.name).filter((n) => n !== pkg).sort(),
          releases,
          downloadsRecent: Number(counts?.recent ?? 0),
          downloadsAll: Number(counts?.all ?? 0),
        };
      });
    });
  }

  /** Figures for the home page and the monitors. */
  async getStatistics(now: Date = new Date()): Promise<FarmStatistics> {
    const db = this.conn.kysely;
    const hourAgo = toDbTimestamp(new Date(now.getTime() - HOUR_MS));
    const abis = await this.derived.activeAbis(db);
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
      .select(['abi_tag', sql<number>`COUNT(*)`.as('n')])
      .where('built_at', '>', hourAgo)
      .groupBy('abi_tag')
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
    const buildsByAbi = new Map(builds.map((b) => [b.abi_tag, Number(b.n)]));
    return {
      packagesBuilt: counters.get('packages_built') ?? 0,
      buildsTime: (counters.get('builds_time_us') ?? 0) / 1_000_000,
      buildsSize: counters.get('builds_size') ?? 0,
      filesCount: counters.get('files_count') ?? 0,
      newLastHour: Number(newLastHour?.n ?? 0),
      buildsLastHour: Object.fromEntries(abis.map((abi) => [abi, buildsByAbi.get(abi) ?? 0])),
      buildsPending: Object.fromEntries(abis.map((abi) => [abi, counters.get(PENDING_PREFIX + abi) ?? 0])),
      downloadsLastHour: Number(downloadsHour?.n ?? 0),
      downloadsLastMonth: Number(daily?.recent ?? 0),
      downloadsAll: Number(daily?.all ?? 0),
    };
  }

  /** Every package with its description and download counts, by name. */
  async getSearchIndex(now: Date = new Date()): Promise<SearchEntry[]> {
    return this.tx(async (db) => {
      await this.derived.moveDownloadWindow(db, recentFirstDay(now));
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

  // ---- derived tables ----

  /** Recomputes the derived tables from the rows and lists differences ([] when exact). */
  async verifyDerived(): Promise<string[]> {
    return this.tx((db) => this.derived.verify(db));
  }

  /** Recomputes every derived table from the rows (after bulk loads). */
  async rebuildDerived(): Promise<void> {
    await this.tx((db) => this.derived.rebuild(db));
  }
}

export interface OpenOptions {
  /** PostgreSQL pool size. */
  poolSize?: number;
}

/**
 * Opens the farm's database for either dialect. It must exist and be at the
 * schema version this software expects (piw-initdb makes it so).
 */
export async function openDatabase(dsn: string, options: OpenOptions = {}): Promise<Database> {
  const conn = await connect(dsn, { create: false, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
  try {
    const state = await detectState(conn);
    if (state.kind !== 'ours' || state.version !== LATEST_VERSION) {
      const found = state.kind === 'ours' ? `schema version ${state.version}` : state.kind === 'piwheels' ? `a piwheels ${state.version} database` : `an ${state.kind} database`;
      throw new UserError(`${conn.target} holds ${found}, this software needs schema version ${LATEST_VERSION}: run piw-initdb`);
    }
  } catch (error) {
    await conn.close();
    throw error;
  }
  return new Database(conn);
}
