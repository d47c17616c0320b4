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
//   poll()  one step: reads one answer of the changelog (up to 50,000 events),
//           stores it, and returns how many events it held (0: caught up or
//           upstream unavailable; errors are logged, never thrown).
//
// A batch is stored before the saved serial moves past it, and replaying
// events is harmless, so a crash at any point loses nothing. On start the
// events just before the saved serial are read again (not applied) so that
// late-arriving events are still judged against them.
import { sql } from 'kysely';
import type { Database } from '../../shared/db/index.ts';
import { DerivedTables, PENDING_PREFIX } from '../../shared/db/derived.ts';
import { nextBuildAbi } from '../../shared/db/queue.ts';
import { fromDbFlag, fromDbTimestamp, toDbTimestamp } from '../../shared/db/values.ts';
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

const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const versionKey = (pkg: string, version: string): string => `${pkg}\u0000${version}`;

export class CloudGazer extends Task {
  readonly name = 'master.cloud_gazer';
  private readonly db: Database;
  private readonly pypi: Upstream;
  private readonly events: GazerEvents;
  private readonly options: CloudGazerOptions;
  private readonly derived: DerivedTables;
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
    this.derived = new DerivedTables(options.db.dialect);
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
    for (const part of this.options.descriptions === false ? [] : chunks([...created])) {
      const rows = await this.db.kysely
        .selectFrom('packages')
        .select('package')
        .where('package', 'in', part)
        .where('description', '=', '')
        .execute();
      for (const row of rows) this.wantDescriptions.add(row.package);
    }
    this.warmedUp = true;
  }

  private async store(batch: ChangelogBatch): Promise<void> {
    for (const bad of batch.rejected) this.logger.warn({ index: bad.index, reason: bad.reason }, 'malformed changelog row skipped');
    const effects: Effect[] = [];
    let last = this.serial;
    for (const row of batch.rows) {
      last = Math.max(last, row.serial);
      if (row.serial <= this.serial) continue;
      const outcome = toEvent(row);
      if ('ignored' in outcome) {
        this.logger.debug({ serial: row.serial, reason: outcome.ignored }, 'event ignored');
        continue;
      }
      effects.push(...this.window.ingest(outcome.event));
    }
    last = Math.max(last, batch.lastSerial);
    this.window.expire();
    if (effects.length > 0) {
      const image = await this.loadImage(touchedPackages(effects));
      const plan = planBatch(image, effects, (pkg) => this.newPackageSkip(pkg));
      await this.apply(plan);
    }
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
    const image: BatchImage = { packages: new Map(), versions: new Map() };
    const db = this.db.kysely;
    for (const part of chunks([...packages])) {
      for (const row of await db.selectFrom('packages').select(['package', 'skip']).where('package', 'in', part).execute()) {
        image.packages.set(row.package, row.skip);
      }
      const versions = await db
        .selectFrom('versions')
        .select(['package', 'version', 'released', 'skip', 'yanked'])
        .where('package', 'in', part)
        .execute();
      for (const row of versions) {
        image.versions.set(versionKey(row.package, row.version), {
          released: fromDbTimestamp(row.released).getTime(),
          skip: row.skip,
          yanked: fromDbFlag(row.yanked),
        });
      }
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
    const skipOf = new Map(plan.insertPackages.map((p) => [p.package, p.skip]));
    await this.db.kysely.transaction().execute(async (tx) => {
      for (const part of chunks(plan.insertPackages, 1000)) {
        await tx
          .insertInto('packages')
          .values(part.map((p) => ({ package: p.package, skip: p.skip, description: '' })))
          .onConflict((oc) => oc.column('package').doNothing())
          .execute();
      }
      for (const part of chunks(plan.insertVersions, 1000)) {
        await tx
          .insertInto('versions')
          .values(part.map((v) => ({ package: v.package, version: v.version, released: toDbTimestamp(new Date(v.released)), skip: v.skip, yanked: v.yanked ? 1 : 0 })))
          .onConflict((oc) => oc.columns(['package', 'version']).doNothing())
          .execute();
      }
      for (const v of plan.updateVersions) {
        await tx
          .updateTable('versions')
          .set({ released: toDbTimestamp(new Date(v.released)), skip: v.skip, yanked: v.yanked ? 1 : 0 })
          .where('package', '=', v.package)
          .where('version', '=', v.version)
          .execute();
      }
      for (const part of chunks(plan.names, 1000)) {
        await tx
          .insertInto('package_names')
          .values(part.map((n) => ({ package: n.package, name: n.name, seen: toDbTimestamp(new Date(n.seen)) })))
          .onConflict((oc) =>
            oc.column('name').doUpdateSet({
              seen: sql<string>`CASE WHEN excluded.seen > package_names.seen THEN excluded.seen ELSE package_names.seen END`,
            }),
          )
          .execute();
      }
      // New versions have no builds: each joins the queue on the first active
      // ABI, as the derived queue's own rule would put it.
      const packageSkips = new Map<string, string>();
      const toQueue = plan.insertVersions.filter((v) => v.skip === '');
      if (toQueue.length > 0) {
        const unknown = [...new Set(toQueue.map((v) => v.package))].filter((p) => !skipOf.has(p));
        for (const part of chunks(unknown)) {
          for (const row of await tx.selectFrom('packages').select(['package', 'skip']).where('package', 'in', part).execute()) {
            packageSkips.set(row.package, row.skip);
          }
        }
        const abi = nextBuildAbi(await this.derived.activeAbis(tx), []);
        const queued = abi === null ? [] : toQueue.filter((v) => (skipOf.get(v.package) ?? packageSkips.get(v.package)) === '');
        let inserted = 0;
        for (const part of chunks(queued, 1000)) {
          const result = await tx
            .insertInto('build_queue')
            .values(part.map((v) => ({ package: v.package, version: v.version, abi_tag: abi as string, released: toDbTimestamp(new Date(v.released)) })))
            .onConflict((oc) => oc.columns(['package', 'version']).doNothing())
            .executeTakeFirst();
          inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
        }
        if (abi !== null && inserted > 0) await this.derived.bump(tx, new Map([[PENDING_PREFIX + abi, inserted]]));
      }
      const enabled = new Map<string, string[]>();
      for (const { package: pkg, version } of plan.enabled) enabled.set(pkg, [...(enabled.get(pkg) ?? []), version]);
      for (const [pkg, versions] of enabled) await this.derived.refreshQueue(tx, pkg, versions);
    });
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
      const row = await this.db.kysely.selectFrom('packages').select('description').where('package', '=', pkg).executeTakeFirst();
      if (row === undefined || row.description === description) return;
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
    const stored = await this.db.kysely
      .selectFrom('packages')
      .select(['package', 'skip'])
      .where('skip', 'in', ['', NOT_ALLOWED])
      .execute();
    const changes = allowListChanges(stored, list.packages);
    for (const change of changes) {
      await this.db.skipPackage(change.package, change.skip);
      await this.events.rewrite?.({ kind: 'BOTH', package: change.package });
    }
    if (changes.length > 0) await this.events.queueChanged?.();
  }
}
