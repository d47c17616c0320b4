// The database API of the farm: every operation piwheels' Database offers,
// with the same meanings, over SQLite or PostgreSQL through kysely. Each
// concern lives in its own module; Database is the one object tasks receive
// (and the coordinator's worker threads proxy method by method), so it keeps
// a flat list of methods that hand over to those modules. Writes that other
// tables summarise keep those summaries (derived.ts) in the same transaction.
import type { FarmStatistics, ProjectData, SearchEntry } from '../model.ts';
import { logAccess, type AccessBatch } from './access.ts';
import * as builds from './builds.ts';
import type { BuildCounts, QueueEntry } from './builds.ts';
import { applyChangelog, getStoredReleases, type ChangelogChanges, type StoredReleases } from './changelog.ts';
import * as config from './config.ts';
import type { TargetChange } from './config.ts';
import { connect, type Connection } from './connect.ts';
import { DerivedTables } from './derived.ts';
import { detectState, LATEST_VERSION } from './migrate.ts';
import * as packages from './packages.ts';
import { getProjectData, getProjectDataMany } from './project-data.ts';
import type { BuildRecord, RewritePending, UpstreamFileRecord, WithheldFileRecord } from './records.ts';
import { clearPendingRewrites, loadRewritesPending, notePendingRewrites, saveRewritesPending } from './rewrites.ts';
import { getSearchIndex, getStatistics } from './statistics.ts';
import { transaction, type Store } from './store.ts';
import * as triage from './triage.ts';
import type { FailureInfo, LostBuild, Retried } from './triage.ts';
import type { RetrySchedule } from '../failure.ts';
import { getPublishedFiles, getUpstreamFiles, isBuildable, recordServedByUpstream, recordUpstreamFiles, withdrawFiles, type PublishedFile, type ServedTarget, type UpstreamRelease } from './upstream.ts';
import { UserError } from '../cli.ts';
import type { BuildTarget } from '../target.ts';

export { batchSize, emptyBatch, type AccessBatch } from './access.ts';
export type { BuildCounts, QueueEntry } from './builds.ts';
export type { ChangelogChanges, StoredReleases, VersionChange } from './changelog.ts';
export type { TargetChange } from './config.ts';
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
  UpstreamFileRecord,
  WithheldFileRecord,
} from './records.ts';
export type { PublishedFile, ServedTarget, UpstreamRelease } from './upstream.ts';
export { compareAbis, sortAbis } from './abi.ts';
export type { AttemptInfo, FailureInfo, LostBuild, Retried } from './triage.ts';

export class Database {
  private readonly store: Store;

  constructor(conn: Connection) {
    this.store = { conn, derived: new DerivedTables(conn.dialect) };
  }

  async close(): Promise<void> {
    await this.store.conn.close();
  }

  // ---- packages and versions (packages.ts) ----

  /** Inserts a package; false (not an error) when it is already known. */
  addNewPackage(pkg: string, skip = '', description = ''): Promise<boolean> {
    return packages.addNewPackage(this.store, pkg, skip, description);
  }

  /** Inserts a version (released defaults to now); false when it is already known. */
  addNewPackageVersion(pkg: string, version: string, released?: Date, skip = ''): Promise<boolean> {
    return packages.addNewPackageVersion(this.store, pkg, version, released, skip);
  }

  /** Records a spelling of a package's name, or when it was last seen. */
  addPackageName(pkg: string, name: string, seen?: Date): Promise<void> {
    return packages.addPackageName(this.store, pkg, name, seen);
  }

  /** Every known spelling of the package's name other than the canonical one. */
  getPackageAliases(pkg: string): Promise<string[]> {
    return packages.getPackageAliases(this.store, pkg);
  }

  /** Every known spelling of every package's name. */
  getAllPackageNames(): Promise<Set<string>> {
    return packages.getAllPackageNames(this.store);
  }

  /** The package's description, or null for an unknown package. */
  getPackageDescription(pkg: string): Promise<string | null> {
    return packages.getPackageDescription(this.store, pkg);
  }

  /** Of the given packages, those stored without a description. */
  getUndescribedPackages(pkgs: readonly string[]): Promise<string[]> {
    return packages.getUndescribedPackages(this.store, pkgs);
  }

  setPackageDescription(pkg: string, description: string): Promise<void> {
    return packages.setPackageDescription(this.store, pkg, description);
  }

  /** Packages whose skip reason is one of `reasons` ('' for those not skipped), with it. */
  getPackagesSkipped(reasons: readonly string[]): Promise<Array<{ package: string; skip: string }>> {
    return packages.getPackagesSkipped(this.store, reasons);
  }

  /** Skips every version of a package, now and to come ('' un-skips). */
  skipPackage(pkg: string, reason: string): Promise<void> {
    return packages.skipPackage(this.store, pkg, reason);
  }

  /** Skips one version ('' un-skips). */
  skipPackageVersion(pkg: string, version: string, reason: string): Promise<void> {
    return packages.skipPackageVersion(this.store, pkg, version, reason);
  }

  /** Removes a package with its versions, builds, files and dependencies. */
  deletePackage(pkg: string): Promise<void> {
    return packages.deletePackage(this.store, pkg);
  }

  /** Removes a version with its builds, files and dependencies. */
  deleteVersion(pkg: string, version: string): Promise<void> {
    return packages.deleteVersion(this.store, pkg, version);
  }

  yankVersion(pkg: string, version: string): Promise<void> {
    return packages.setVersionYanked(this.store, pkg, version, true);
  }

  unyankVersion(pkg: string, version: string): Promise<void> {
    return packages.setVersionYanked(this.store, pkg, version, false);
  }

  /** Whether the package is known, skipped or not. */
  testPackage(pkg: string): Promise<boolean> {
    return packages.testPackage(this.store, pkg);
  }

  testPackageVersion(pkg: string, version: string): Promise<boolean> {
    return packages.testPackageVersion(this.store, pkg, version);
  }

  getAllPackages(): Promise<Set<string>> {
    return packages.getAllPackages(this.store);
  }

  /** Every known version, by package. */
  getAllPackageVersions(): Promise<Map<string, Set<string>>> {
    return packages.getAllPackageVersions(this.store);
  }

  // ---- PyPI's changelog (changelog.ts) ----

  /** The stored packages among these, with all their versions. */
  getStoredReleases(pkgs: Iterable<string>): Promise<StoredReleases> {
    return getStoredReleases(this.store, pkgs);
  }

  /** A changelog batch's additions and changes, with the build queue, in one transaction. */
  applyChangelog(changes: ChangelogChanges): Promise<void> {
    return applyChangelog(this.store, changes);
  }

  // ---- ABIs, platforms, targets and configuration (config.ts) ----

  /** Build ABIs in ABI order; only the active ones when excludeSkipped. */
  getBuildAbis(excludeSkipped = false): Promise<string[]> {
    return config.getBuildAbis(this.store, excludeSkipped);
  }

  /** Adds a build ABI, or re-activates a retired one; the queue is recomputed. */
  addBuildAbi(abi: string): Promise<void> {
    return config.addBuildAbi(this.store, abi);
  }

  /** Retires a build ABI (its builds stay); the queue is recomputed. */
  skipBuildAbi(abi: string, reason: string): Promise<void> {
    return config.skipBuildAbi(this.store, abi, reason);
  }

  /** Build platforms in name order; only the active ones when excludeSkipped. */
  getBuildPlatforms(excludeSkipped = false): Promise<string[]> {
    return config.getBuildPlatforms(this.store, excludeSkipped);
  }

  /** Adds a build platform, or re-activates a retired one; the queue is recomputed. */
  addBuildPlatform(platform: string): Promise<void> {
    return config.addBuildPlatform(this.store, platform);
  }

  /** Retires a build platform (its builds stay), never the last active one; the queue is recomputed. */
  skipBuildPlatform(platform: string, reason: string): Promise<void> {
    return config.skipBuildPlatform(this.store, platform, reason);
  }

  /** Adds and retires build ABIs and platforms in one transaction, with one recomputation of the queue. */
  changeBuildTargets(change: TargetChange): Promise<void> {
    return config.changeBuildTargets(this.store, change);
  }

  /** The active build targets: every active ABI on every active platform, or on any platform when none is. */
  getBuildTargets(): Promise<BuildTarget[]> {
    return config.getBuildTargets(this.store);
  }

  getPypiSerial(): Promise<number> {
    return config.getPypiSerial(this.store);
  }

  /** Records the last PyPI event seen; refuses to go backwards. */
  setPypiSerial(serial: number): Promise<void> {
    return config.setPypiSerial(this.store, serial);
  }

  // ---- access logs (access.ts) ----

  /** Records every kind of access in one transaction; a bad record refuses the batch (RangeError). */
  logAccess(batch: AccessBatch): Promise<void> {
    return logAccess(this.store, batch);
  }

  // ---- builds and the build queue (builds.ts) ----

  /**
   * Records several build attempts in one transaction (all or none), in
   * order; resolves to their build ids. A file of the same name from an
   * earlier build is replaced (with its dependencies).
   */
  logBuilds(records: readonly BuildRecord[], schedule: RetrySchedule | null = null): Promise<number[]> {
    return builds.logBuilds(this.store, records, schedule);
  }

  // ---- failure triage (triage.ts) ----

  /** Moves failed builds due for a retry into the attempts history; their versions are queued again. */
  retryDueBuilds(now: Date = new Date(), limit = 100): Promise<Retried[]> {
    return triage.retryDueBuilds(this.store, now, limit);
  }

  /** Notes a build handed back to the queue because its slave went silent; false when the version is gone. */
  recordLostBuild(lost: LostBuild): Promise<boolean> {
    return triage.recordLostBuild(this.store, lost);
  }

  /** Names the Debian package that provides a failed build's missing dependency. */
  setDebianPackage(buildId: number, debianPackage: string): Promise<void> {
    return triage.setDebianPackage(this.store, buildId, debianPackage);
  }

  /** A failed build's kind, try and retry time, or null. */
  getBuildFailure(buildId: number): Promise<FailureInfo | null> {
    return triage.getBuildFailure(this.store, buildId);
  }

  /** Removes every build of a version with their files and dependencies (it goes back in the queue). */
  deleteBuild(pkg: string, version: string): Promise<void> {
    return builds.deleteBuild(this.store, pkg, version);
  }

  /**
   * Per active target (by name, in target order, every one present), up to
   * `limit` versions that need building there, oldest release first.
   */
  getBuildQueue(limit = 1000): Promise<Map<string, QueueEntry[]>> {
    return builds.getBuildQueue(this.store, limit);
  }

  /** Builds that succeeded and failed, versions waiting, and wheels stored. */
  getBuildCounts(): Promise<BuildCounts> {
    return builds.getBuildCounts(this.store);
  }

  /** The packages with at least one wheel stored: those the simple index lists. */
  getPackagesWithFiles(): Promise<Set<string>> {
    return builds.getPackagesWithFiles(this.store);
  }

  /** Package to filename to SHA-256 of every wheel of a successful build. */
  getWheelHashes(): Promise<Map<string, Map<string, string>>> {
    return builds.getWheelHashes(this.store);
  }

  /** Every build id, in order. */
  /** The id of the build recorded with these facts, or null. */
  findBuildId(pkg: string, version: string, builtBy: number, builtAt: Date): Promise<number | null> {
    return builds.findBuildId(this.store, pkg, version, builtBy, builtAt);
  }

  getBuildIds(): Promise<number[]> {
    return builds.getBuildIds(this.store);
  }

  // ---- what upstream serves (upstream.ts) ----

  /** Replaces what is known of a release's upstream wheels; false when the release is not stored. */
  recordUpstreamFiles(pkg: string, version: string, files: readonly UpstreamFileRecord[], checkedAt: Date = new Date()): Promise<boolean> {
    return recordUpstreamFiles(this.store, pkg, version, files, checkedAt);
  }

  /** Whether the release is stored and neither it nor its package is skipped. */
  isBuildable(pkg: string, version: string): Promise<boolean> {
    return isBuildable(this.store, pkg, version);
  }

  /** A release's upstream wheels as last recorded, or null when upstream was never asked. */
  getUpstreamFiles(pkg: string, version: string): Promise<UpstreamRelease | null> {
    return getUpstreamFiles(this.store, pkg, version);
  }

  /** The files of ours stored for a release, with their builds. */
  getPublishedFiles(pkg: string, version: string): Promise<PublishedFile[]> {
    return getPublishedFiles(this.store, pkg, version);
  }

  /** Withdraws a release's published files found to clash with upstream's; the filenames withdrawn. */
  withdrawFiles(pkg: string, version: string, files: ReadonlyArray<WithheldFileRecord & { buildId: number }>): Promise<string[]> {
    return withdrawFiles(this.store, pkg, version, files);
  }

  /** Records that an upstream wheel installs on a target, so the release is not built there; false when it is not stored. */
  recordServedByUpstream(pkg: string, version: string, served: ServedTarget): Promise<boolean> {
    return recordServedByUpstream(this.store, pkg, version, served);
  }

  // ---- rewrites pending, the page writer's queue across restarts (rewrites.ts) ----

  /** Replaces the stored queue with `queue`. */
  saveRewritesPending(queue: readonly RewritePending[]): Promise<void> {
    return saveRewritesPending(this.store, queue);
  }

  /** The stored queue, oldest first. */
  loadRewritesPending(): Promise<RewritePending[]> {
    return loadRewritesPending(this.store);
  }

  /** Journals rewrites of builds about to be committed (a pending package becomes BOTH if either is). */
  notePendingRewrites(queue: readonly RewritePending[]): Promise<void> {
    return notePendingRewrites(this.store, queue);
  }

  /** Clears these packages' journal rows once their pages are written. */
  clearPendingRewrites(packages: readonly string[]): Promise<void> {
    return clearPendingRewrites(this.store, packages);
  }

  // ---- pages and statistics (project-data.ts, statistics.ts) ----

  /** Everything a project's pages need, or null for an unknown package. */
  getProjectData(pkg: string, now?: Date): Promise<ProjectData | null> {
    return getProjectData(this.store, pkg, now);
  }

  /** getProjectData for a batch of packages, in the order asked (null for unknown ones). */
  getProjectDataMany(pkgs: readonly string[], now?: Date): Promise<Array<ProjectData | null>> {
    return getProjectDataMany(this.store, pkgs, now);
  }

  /** Figures for the home page and the monitors. */
  getStatistics(now?: Date): Promise<FarmStatistics> {
    return getStatistics(this.store, now);
  }

  /** Every package with its description and download counts, by name. */
  getSearchIndex(now?: Date): Promise<SearchEntry[]> {
    return getSearchIndex(this.store, now);
  }

  // ---- derived tables (derived.ts) ----

  /** Recomputes the derived tables from the rows and lists differences ([] when exact). */
  verifyDerived(): Promise<string[]> {
    return transaction(this.store, (db) => this.store.derived.verify(db));
  }

  /** Recomputes every derived table from the rows (after bulk loads). */
  rebuildDerived(): Promise<void> {
    return transaction(this.store, (db) => this.store.derived.rebuild(db));
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
