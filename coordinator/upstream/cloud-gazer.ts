// CloudGazer: follows PyPI's changelog into the database.
//
// Interface for the coordinator (piw-master wires it):
//
//   const gazer = new CloudGazer({ db, pypi, events, logger, devMode, allowList });
//   await gazer.start();   // reads the saved serial, then polls every `pollSeconds`
//   ...
//   await gazer.stop();
//
//   events (all optional; awaited, in this order within a batch):
//     deleted({ package, version? })   before a package (no version) or a version
//                                      is deleted: cancel its builds
//     rewrite({ kind, package, version? })
//                                      DELPKG / DELVER before the rows go, then
//                                      BOTH (index and project pages) or PROJECT
//                                      for what was added or changed
//     queueChanged()                   versions were added, enabled or deleted:
//                                      the architect should look at the queue again
//
//   upstreamFiles.want(package, version) (optional) for each recent upload: what
//                                      upstream serves of the release is asked in
//                                      the background (see upstream-files.ts)
//
//   poll()  one step: reads one answer of the changelog (up to 50,000 events),
//           stores it, and returns how many events it held (0: caught up or
//           upstream unavailable; errors are logged, never thrown).
//
// A batch is stored before the saved serial moves past it, and replaying
// events is harmless, so a crash at any point loses nothing. On start the
// events just before the saved serial are read again (not applied) so that
// late-arriving events are still judged against them.
import type { Database } from '../../shared/db/index.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import { AllowList, allowListChanges, NOT_ALLOWED } from './allow-list.ts';
import {
  ChangelogState,
  PYPI_EPOCH,
  planBatch,
  toEvent,
  touchedPackages,
  type BatchImage,
  type BatchPlan,
  type ChangelogOptions,
  type Effect,
} from './changelog.ts';
import type { ChangelogBatch, PyPIClient } from './pypi.ts';
import { UpstreamError } from './pypi.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';
import type { PackageRewrite } from '../pages/page-request.ts';
import type { UpstreamFiles } from './upstream-files.ts';

/**
 * Uploads older than this (upstream time) are not asked about when reported:
 * a first sync replays years of them, and a release built later is asked
 * about before its files are published anyway.
 */
export const RECENT_UPLOAD_SECONDS = 86_400;

export interface GazerEvents {
  deleted?(target: { package: string; version?: string }): void | Promise<void>;
  rewrite?(request: PackageRewrite): void | Promise<void>;
  queueChanged?(): void | Promise<void>;
}

/** The upstream calls the gazer makes (PyPIClient, or a stand-in in tests). */
export type Upstream = Pick<PyPIClient, 'changelogSinceSerial' | 'projectDescription' | 'close'>;

export interface CloudGazerOptions extends TaskOptions {
  db: Database;
  pypi: Upstream;
  events?: GazerEvents;
  /** piwheels' development mode: new packages are skipped with reason "development mode". */
  devMode?: boolean;
  /** Build only these packages; others are recorded, skipped NOT_ALLOWED. */
  allowList?: AllowList;
  /** Seconds between polls once caught up (piwheels: 10). */
  pollSeconds?: number;
  /** False: read upstream only when poll() is called (tests, one-shot tools). Default true. */
  follow?: boolean;
  /** Fetch project descriptions from the JSON API (default true). */
  descriptions?: boolean;
  /** Descriptions fetched at once. */
  descriptionConcurrency?: number;
  /** Told of each recent upload, to ask upstream what it serves of the release. */
  upstreamFiles?: Pick<UpstreamFiles, 'want'>;
  /** Wall clock in ms (tests): what "recent" is measured against. */
  now?: () => number;
  /** Events read again on start, before the saved serial. */
  warmupSerials?: number;
  changelog?: ChangelogOptions;
}

export interface PollResult {
  /** Rows in the answer (including ignored ones). */
  events: number;
  /** The serial saved after this step. */
  serial: number;
}

const versionKey = (pkg: string, version: string): string => `${pkg}\u0000${version}`;

export class CloudGazer extends Task {
  readonly name = 'master.cloud_gazer';
  private readonly db: Database;
  private readonly pypi: Upstream;
  private readonly events: GazerEvents;
  private readonly options: CloudGazerOptions;
  private window: ChangelogState;
  private serial = 0;
  private warmedUp = false;
  private readonly wantDescriptions = new Set<string>();
  /** The next answer, asked for while the current one is being stored. */
  private prefetch: { since: number; answer: Promise<ChangelogBatch> } | undefined;
  private describing: Promise<void> | undefined;

  constructor(options: CloudGazerOptions) {
    super(options);
    this.options = options;
    this.db = options.db;
    this.pypi = options.pypi;
    this.events = options.events ?? {};
    this.window = new ChangelogState(options.changelog);
    if (options.follow !== false) this.every(options.pollSeconds ?? 10, 'read-pypi', () => this.catchUp());
  }

  /** The serial stored so far. */
  get currentSerial(): number {
    return this.serial;
  }

  protected override async setup(): Promise<void> {
    this.serial = await this.db.getPypiSerial();
    this.logger.info({ serial: this.serial }, 'following PyPI from the saved serial');
    if (this.options.allowList) await this.refreshAllowList();
  }

  protected override async teardown(): Promise<void> {
    this.pypi.close();
    this.prefetch = undefined;
    await this.describing;
  }

  /** Polls until an answer is empty (caught up, or upstream unavailable). */
  private async catchUp(): Promise<void> {
    if (this.options.allowList) await this.refreshAllowList();
    while (this.runsPeriodicWork()) {
      const { events } = await this.poll();
      if (events === 0) break;
    }
    this.describeInBackground();
  }

  async poll(): Promise<PollResult> {
    try {
      if (!this.warmedUp) await this.warmUp();
      const batch = await this.fetchSince(this.serial);
      const count = batch.rows.length + batch.rejected.length;
      if (count === 0) return { events: 0, serial: this.serial };
      // While catching up, upstream's next answer is on its way during the writes.
      if (batch.lastSerial > this.serial) {
        const answer = this.pypi.changelogSinceSerial(batch.lastSerial);
        answer.catch(() => undefined);
        this.prefetch = { since: batch.lastSerial, answer };
      }
      await this.store(batch);
      return { events: count, serial: this.serial };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof UpstreamError) this.logger.warn({ err: message }, 'upstream unavailable; will try again');
      else this.logger.error({ err: error }, 'storing PyPI events failed; will try again');
      // Whatever was half-done is replayed from the saved serial with a fresh window.
      this.window = new ChangelogState(this.options.changelog);
      this.warmedUp = false;
      this.prefetch = undefined;
      return { events: 0, serial: this.serial };
    }
  }

  private fetchSince(serial: number): Promise<ChangelogBatch> {
    const ahead = this.prefetch;
    this.prefetch = undefined;
    return ahead !== undefined && ahead.since === serial ? ahead.answer : this.pypi.changelogSinceSerial(serial);
  }

  /** Re-reads (without applying) the events just before the saved serial. */
  private async warmUp(): Promise<void> {
    const margin = this.options.warmupSerials ?? 10_000;
    // Before the epoch events are out of order by years: all of them count.
    const epoch = this.options.changelog?.epoch ?? PYPI_EPOCH;
    let from = this.serial < epoch ? 0 : Math.max(0, this.serial - margin);
    const created = new Set<string>();
    while (from < this.serial) {
      const batch = await this.pypi.changelogSinceSerial(from);
      if (batch.lastSerial <= from) break;
      for (const row of batch.rows) {
        if (row.serial > this.serial) break;
        const outcome = toEvent(row);
        if (!('event' in outcome)) continue;
        this.window.ingest(outcome.event);
        if (outcome.event.action === 'create') created.add(outcome.event.package);
      }
      from = batch.lastSerial;
    }
    this.window.expire();
    // Descriptions wanted before a restart were only in memory: ask again
    // for the recently created packages still without one.
    if (this.options.descriptions !== false) {
      for (const pkg of await this.db.getUndescribedPackages([...created])) this.wantDescriptions.add(pkg);
    }
    this.warmedUp = true;
  }

  private async store(batch: ChangelogBatch): Promise<void> {
    for (const bad of batch.rejected) this.logger.warn({ index: bad.index, reason: bad.reason }, 'malformed changelog row skipped');
    const effects: Effect[] = [];
    // Every upload counts here, even one the window folds into an earlier
    // (a wheel added to a release after its sdist is news to the clash check).
    const uploads = new Map<string, { package: string; version: string }>();
    const recent = ((this.options.now ?? Date.now)() / 1000) - RECENT_UPLOAD_SECONDS;
    let last = this.serial;
    for (const row of batch.rows) {
      last = Math.max(last, row.serial);
      if (row.serial <= this.serial) continue;
      const outcome = toEvent(row);
      if ('ignored' in outcome) {
        this.logger.debug({ serial: row.serial, reason: outcome.ignored }, 'event ignored');
        continue;
      }
      const event = outcome.event;
      if ((event.action === 'source' || event.action === 'binary') && event.version !== null && event.timestamp >= recent) {
        uploads.set(versionKey(event.package, event.version), { package: event.package, version: event.version });
      }
      effects.push(...this.window.ingest(event));
    }
    last = Math.max(last, batch.lastSerial);
    this.window.expire();
    if (effects.length > 0) {
      const image = await this.loadImage(touchedPackages(effects));
      const plan = planBatch(image, effects, (pkg) => this.newPackageSkip(pkg));
      await this.apply(plan);
    }
    for (const upload of uploads.values()) this.options.upstreamFiles?.want(upload.package, upload.version);
    if (last > this.serial) {
      await this.db.setPypiSerial(last);
      this.serial = last;
    }
  }

  private newPackageSkip(pkg: string): string {
    if (this.options.devMode) return 'development mode';
    if (this.options.allowList && !this.options.allowList.allows(pkg)) return NOT_ALLOWED;
    return '';
  }

  private async loadImage(packages: Set<string>): Promise<BatchImage> {
    const stored = await this.db.getStoredReleases(packages);
    const image: BatchImage = { packages: new Map(), versions: new Map() };
    for (const row of stored.packages) image.packages.set(row.package, row.skip);
    for (const row of stored.versions) {
      image.versions.set(versionKey(row.package, row.version), { released: row.released.getTime(), skip: row.skip, yanked: row.yanked });
    }
    return image;
  }

  private async apply(plan: BatchPlan): Promise<void> {
    // Deletions first, told to the other tasks before the rows go (as piwheels
    // does), so no build of a deleted version is handed out or accepted.
    for (const pkg of plan.deletePackages) {
      this.logger.info({ package: pkg }, 'deleting package');
      await this.events.deleted?.({ package: pkg });
      await this.events.rewrite?.({ kind: 'DELPKG', package: pkg });
      await this.db.deletePackage(pkg);
    }
    for (const { package: pkg, version } of plan.deleteVersions) {
      this.logger.info({ package: pkg, version }, 'deleting version');
      await this.events.deleted?.({ package: pkg, version });
      await this.events.rewrite?.({ kind: 'DELVER', package: pkg, version });
      await this.db.deleteVersion(pkg, version);
    }
    await this.db.applyChangelog(plan);
    if (this.options.descriptions !== false) for (const pkg of plan.describe) this.wantDescriptions.add(pkg);
    for (const request of plan.rewrites) {
      if (request.kind === 'BOTH' || request.kind === 'PROJECT') await this.events.rewrite?.(request);
    }
    if (plan.insertVersions.length > 0 || plan.enabled.length > 0 || plan.deleteVersions.length > 0 || plan.deletePackages.length > 0) {
      await this.events.queueChanged?.();
    }
    const added = plan.insertVersions.length;
    if (added > 0 || plan.insertPackages.length > 0) {
      this.logger.info({ packages: plan.insertPackages.length, versions: added }, 'added from PyPI');
    }
  }

  /** Fetches wanted descriptions a few at a time, never holding up the changelog. */
  private describeInBackground(): void {
    if (this.options.descriptions === false || this.describing || this.wantDescriptions.size === 0) return;
    this.describing = (async () => {
      const concurrency = this.options.descriptionConcurrency ?? 4;
      while (this.wantDescriptions.size > 0 && this.runsPeriodicWork()) {
        const next = [...this.wantDescriptions].slice(0, concurrency);
        for (const pkg of next) this.wantDescriptions.delete(pkg);
        await Promise.all(next.map((pkg) => this.describe(pkg)));
      }
    })().finally(() => {
      this.describing = undefined;
    });
  }

  /** Waits for the descriptions wanted so far (tests, shutdown). */
  async descriptionsSettled(): Promise<void> {
    this.describeInBackground();
    while (this.describing) await this.describing;
  }

  private async describe(pkg: string): Promise<void> {
    const description = await this.pypi.projectDescription(pkg).catch(() => null);
    if (description === null) return;
    try {
      const stored = await this.db.getPackageDescription(pkg);
      if (stored === null || stored === description) return;
      await this.db.setPackageDescription(pkg, description);
      await this.events.rewrite?.({ kind: 'PROJECT', package: pkg });
    } catch (error) {
      this.logger.warn({ package: pkg, err: (error as Error).message }, 'could not store description');
    }
  }

  /** Applies allow-list edits to stored packages' skip reasons. */
  private async refreshAllowList(): Promise<void> {
    const list = this.options.allowList;
    if (!list) return;
    let parsed;
    try {
      parsed = await list.refresh();
    } catch (error) {
      this.logger.error({ path: list.path, err: (error as Error).message }, 'cannot read the allow-list; keeping the last one');
      return;
    }
    if (parsed === null) return;
    for (const problem of parsed.problems) {
      this.logger.warn({ path: list.path, line: problem.line, text: problem.text }, 'allow-list line names no package');
    }
    this.logger.info({ path: list.path, packages: parsed.names.size }, 'allow-list loaded');
    const stored = await this.db.getPackagesSkipped(['', NOT_ALLOWED]);
    const changes = allowListChanges(stored, list.packages);
    for (const change of changes) {
      await this.db.skipPackage(change.package, change.skip);
      await this.events.rewrite?.({ kind: 'BOTH', package: change.package });
    }
    if (changes.length > 0) await this.events.queueChanged?.();
  }
}
