// PyPI's changelog, turned into database changes, without waiting.
//
// PyPI numbers its events (serials) in one order and stamps them (timestamps)
// in another: an event can arrive after a later-stamped one by up to a few
// minutes (by years before serial ~628000). The meaning of the history is the
// timestamp order. Rather than hold every event until the stream has moved
// five minutes past it, each event is applied at once and the few that arrive
// late are reconciled against a short window of recent events per package:
//
// - uploads and creates are idempotent (insert if absent, `released` lowered
//   to the earliest upload, a source upload lifts "binary only"), so their
//   order among themselves does not matter;
// - a removal, yank or unyank carries its timestamp and only wins over older
//   facts: a late event that a newer removal already covers is dropped; a late
//   removal deletes, then re-applies the window's newer events; a yank is only
//   applied to a version released by the yank's time.
//
// Everything here is pure: `ChangelogState.ingest` turns one event into the
// effects the caller must store, in order.
import { canonicalizeName, isValidProjectName } from '../../shared/names.ts';
import type { PackageRewrite } from '../pages/page-request.ts';

/** The kinds of event that matter to the farm. */
export type EventAction = 'create' | 'source' | 'binary' | 'remove' | 'yank' | 'unyank';

/** One row of `changelog_since_serial`, as validated by the upstream client. */
export interface ChangelogRow {
  name: string;
  version: string | null;
  /** Seconds since the epoch. */
  timestamp: number;
  action: string;
  serial: number;
}

export interface UpstreamEvent {
  /** Canonical (PEP 503) name. */
  package: string;
  /** The spelling PyPI used in this event. */
  name: string;
  version: string | null;
  timestamp: number;
  serial: number;
  action: EventAction;
}

/** Longest name or version the database columns hold. */
export const MAX_NAME_LENGTH = 200;

/**
 * Maps PyPI's action text to an event kind; null for actions the farm ignores
 * (ownership changes, "remove file", documentation uploads...).
 */
export function classifyAction(action: string): EventAction | null {
  const file = /^add (\S+) file/.exec(action);
  if (file) return file[1] === 'source' ? 'source' : 'binary';
  if (action === 'create') return 'create';
  if (/^remove(?: (?:project|release))?$/.test(action)) return 'remove';
  if (action === 'yank release') return 'yank';
  if (action === 'unyank release') return 'unyank';
  return null;
}

export type RowOutcome = { event: UpstreamEvent } | { ignored: string };

/** Turns a changelog row into an event, or says why it is ignored. */
export function toEvent(row: ChangelogRow): RowOutcome {
  const action = classifyAction(row.action);
  if (action === null) return { ignored: `action "${row.action}" is not followed` };
  if (row.name.length > MAX_NAME_LENGTH) return { ignored: 'package name too long' };
  if (!isValidProjectName(row.name)) return { ignored: 'not a valid project name' };
  const pkg = canonicalizeName(row.name);
  if (row.version !== null && row.version.length > MAX_NAME_LENGTH) return { ignored: 'version too long' };
  const needsVersion = action === 'source' || action === 'binary' || action === 'yank' || action === 'unyank';
  if (needsVersion && (row.version === null || row.version === '')) return { ignored: `"${row.action}" without a version` };
  const version = action === 'create' || row.version === '' ? null : row.version;
  return { event: { package: pkg, name: row.name, version, timestamp: row.timestamp, serial: row.serial, action } };
}

/** What the caller must store, in the order given. */
export type Effect =
  /** Insert the package if absent; record `name` as seen at `at`. `describe`: fetch its description. */
  | { op: 'addPackage'; package: string; name: string; at: number; describe: boolean }
  /**
   * Insert the version if absent (skip "binary only" unless `source`); if
   * present, lower `released` to this one when earlier and, for a source
   * upload, lift a "binary only" skip.
   */
  | { op: 'addVersion'; package: string; version: string; released: number; source: boolean }
  /** Set the yank flag of the version if it exists and was released at or before `at`. */
  | { op: 'setYanked'; package: string; version: string; yanked: boolean; at: number }
  | { op: 'deleteVersion'; package: string; version: string }
  | { op: 'deletePackage'; package: string };

export interface ChangelogOptions {
  /** Seconds of upstream time an event is remembered for reconciling late arrivals. */
  window?: number;
  /** Below this serial PyPI's timestamps are unreliable: nothing is forgotten. */
  epoch?: number;
  /** Number of (package, version) pairs remembered to suppress repeated uploads. */
  dedupSize?: number;
}

/** piwheels' observation: before this serial, timestamps jump around by years. */
export const PYPI_EPOCH = 628_000;
export const DEFAULT_WINDOW = 600;
export const DEFAULT_DEDUP_SIZE = 10_000;

interface PackageWindow {
  /** Sorted by (timestamp, serial). */
  events: UpstreamEvent[];
  latest: number;
}

function later(a: UpstreamEvent, b: UpstreamEvent): boolean {
  return a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.serial > b.serial);
}

const isUpload = (e: UpstreamEvent): boolean => e.action === 'source' || e.action === 'binary';
const isYank = (e: UpstreamEvent): boolean => e.action === 'yank' || e.action === 'unyank';

/** True when removal `r` takes away what event `e` refers to. */
function covers(r: UpstreamEvent, e: UpstreamEvent): boolean {
  if (r.action !== 'remove') return false;
  if (r.version === null) return true;
  return e.version !== null && e.version === r.version;
}

const dedupKey = (pkg: string, version: string): string => `${pkg}\u0000${version}`;

/**
 * The reconciling state: recent events per package, and the cache that
 * suppresses repeated reports of the same upload (one per file of a release).
 */
export class ChangelogState {
  private readonly windowSeconds: number;
  private readonly epoch: number;
  private readonly windows = new Map<string, PackageWindow>();
  /** Packages in the order their windows were touched, for expiry. */
  private readonly touched: Array<{ package: string; at: number }> = [];
  private touchedHead = 0;
  private readonly seen: RecentUploads;
  private maxTimestamp = Number.NEGATIVE_INFINITY;
  private maxSerial = -1;

  constructor(options: ChangelogOptions = {}) {
    this.windowSeconds = options.window ?? DEFAULT_WINDOW;
    this.epoch = options.epoch ?? PYPI_EPOCH;
    this.seen = new RecentUploads(options.dedupSize ?? DEFAULT_DEDUP_SIZE);
  }

  /** Number of packages with remembered events (for monitoring and tests). */
  get windowSize(): number {
    return this.windows.size;
  }

  /** The effects of one event, given every event ingested before it. */
  ingest(event: UpstreamEvent): Effect[] {
    const window = this.windowFor(event);
    const events = window.events;
    let index = events.length;
    while (index > 0 && later(events[index - 1] as UpstreamEvent, event)) index -= 1;
    const newer = events.slice(index);
    events.splice(index, 0, event);
    this.maxTimestamp = Math.max(this.maxTimestamp, event.timestamp);
    this.maxSerial = Math.max(this.maxSerial, event.serial);
    const effects = newer.length === 0 ? this.inOrder(event) : this.late(event, newer);
    // Past the epoch nothing arrives more than a window late, so a busy
    // package's older events can go.
    if (this.maxSerial >= this.epoch) {
      const horizon = this.maxTimestamp - this.windowSeconds;
      let drop = 0;
      while (drop < events.length && (events[drop] as UpstreamEvent).timestamp < horizon) drop += 1;
      if (drop > 0) events.splice(0, drop);
    }
    return effects;
  }

  /**
   * Forgets packages whose newest event is older than the window, once past
   * the epoch. Call after each batch.
   */
  expire(): void {
    if (this.maxSerial < this.epoch) return;
    const horizon = this.maxTimestamp - this.windowSeconds;
    while (this.touchedHead < this.touched.length) {
      const entry = this.touched[this.touchedHead] as { package: string; at: number };
      if (entry.at >= horizon) break;
      this.touchedHead += 1;
      const window = this.windows.get(entry.package);
      if (window !== undefined && window.latest < horizon) this.windows.delete(entry.package);
    }
    if (this.touchedHead > 4096 && this.touchedHead * 2 > this.touched.length) {
      this.touched.splice(0, this.touchedHead);
      this.touchedHead = 0;
    }
  }

  private windowFor(event: UpstreamEvent): PackageWindow {
    let window = this.windows.get(event.package);
    if (window === undefined) {
      window = { events: [], latest: event.timestamp };
      this.windows.set(event.package, window);
    }
    if (event.timestamp >= window.latest || window.events.length === 0) {
      window.latest = Math.max(window.latest, event.timestamp);
      this.touched.push({ package: event.package, at: window.latest });
    }
    return window;
  }

  /** An event newer than everything known about its package: apply as is. */
  private inOrder(e: UpstreamEvent): Effect[] {
    if (isUpload(e)) {
      const key = dedupKey(e.package, e.version as string);
      const before = this.seen.get(key);
      if (before === 'source' || before === e.action) return [];
    }
    return this.apply(e);
  }

  /** An event older than some already applied: reconcile with the newer ones. */
  private late(e: UpstreamEvent, newer: UpstreamEvent[]): Effect[] {
    if (newer.some((r) => covers(r, e))) return [];
    if (e.action === 'create' || isUpload(e)) {
      const effects = this.apply(e);
      if (isUpload(e)) {
        const lastYank = newer.filter((n) => isYank(n) && n.version === e.version).pop();
        if (lastYank) effects.push(...this.apply(lastYank));
      }
      return effects;
    }
    if (isYank(e)) {
      return newer.some((n) => isYank(n) && n.version === e.version) ? [] : this.apply(e);
    }
    const effects = this.apply(e);
    const replay = e.version === null ? newer : newer.filter((n) => n.version === e.version);
    for (const n of replay) effects.push(...this.apply(n));
    return effects;
  }

  /** The effects of an event applied in timestamp order, remembering uploads. */
  private apply(e: UpstreamEvent): Effect[] {
    switch (e.action) {
      case 'create':
        return [{ op: 'addPackage', package: e.package, name: e.name, at: e.timestamp, describe: true }];
      case 'source':
      case 'binary': {
        const version = e.version as string;
        this.remember(e.package, dedupKey(e.package, version), e.action);
        return [
          { op: 'addPackage', package: e.package, name: e.name, at: e.timestamp, describe: false },
          { op: 'addVersion', package: e.package, version, released: e.timestamp, source: e.action === 'source' },
        ];
      }
      case 'yank':
      case 'unyank':
        return [
          { op: 'setYanked', package: e.package, version: e.version as string, yanked: e.action === 'yank', at: e.timestamp },
        ];
      case 'remove':
        if (e.version === null) {
          this.seen.forgetPackage(e.package);
          return [{ op: 'deletePackage', package: e.package }];
        }
        this.seen.forget(e.package, dedupKey(e.package, e.version));
        return [{ op: 'deleteVersion', package: e.package, version: e.version }];
    }
  }

  private remember(pkg: string, key: string, kind: 'source' | 'binary'): void {
    const before = this.seen.get(key);
    this.seen.set(pkg, key, before === 'source' ? 'source' : kind);
  }
}

const packageOf = (key: string): string => key.slice(0, key.indexOf('\u0000'));

/**
 * The bounded memory of uploads already reported: two generations, the
 * older dropped whole once the newer holds half the size. (A Map used as an
 * LRU by deleting its oldest key degrades badly as deleted slots pile up.)
 */
class RecentUploads {
  private young = new Map<string, 'source' | 'binary'>();
  private old = new Map<string, 'source' | 'binary'>();
  /** Keys by package, so a package's removal finds its own. */
  private readonly byPackage = new Map<string, Set<string>>();

  constructor(private readonly size: number) {}

  get(key: string): 'source' | 'binary' | undefined {
    const young = this.young.get(key);
    if (young !== undefined) return young;
    const old = this.old.get(key);
    if (old !== undefined) {
      this.old.delete(key);
      this.young.set(key, old);
      this.rotate();
    }
    return old;
  }

  set(pkg: string, key: string, kind: 'source' | 'binary'): void {
    this.old.delete(key);
    this.young.set(key, kind);
    let keys = this.byPackage.get(pkg);
    if (keys === undefined) this.byPackage.set(pkg, (keys = new Set()));
    keys.add(key);
    this.rotate();
  }

  forget(pkg: string, key: string): void {
    this.young.delete(key);
    this.old.delete(key);
    this.unindex(pkg, key);
  }

  forgetPackage(pkg: string): void {
    for (const key of this.byPackage.get(pkg) ?? []) {
      this.young.delete(key);
      this.old.delete(key);
    }
    this.byPackage.delete(pkg);
  }

  private unindex(pkg: string, key: string): void {
    const keys = this.byPackage.get(pkg);
    if (keys === undefined) return;
    keys.delete(key);
    if (keys.size === 0) this.byPackage.delete(pkg);
  }

  private rotate(): void {
    if (this.young.size * 2 < this.size) return;
    for (const key of this.old.keys()) this.unindex(packageOf(key), key);
    this.old = this.young;
    this.young = new Map();
  }
}

// --- batches ----------------------------------------------------------------------
//
// Storing one statement per effect is too slow at PyPI's scale (a first sync
// is tens of millions of events). A batch's effects are instead replayed on an
// image of the rows they touch, and the difference between the image before
// and after is what gets written: deletions, then inserts and updates in bulk.

export interface VersionImage {
  /** Milliseconds since the epoch. */
  released: number;
  skip: string;
  yanked: boolean;
}

/** The stored rows of the packages a batch touches (absent: not stored). */
export interface BatchImage {
  /** Package → its skip reason. */
  packages: Map<string, string>;
  /** dedupKey(package, version) → row. */
  versions: Map<string, VersionImage>;
}

export interface VersionRow extends VersionImage {
  package: string;
  version: string;
}

export interface BatchPlan {
  /** Stored packages to delete (with everything of theirs), before anything else. */
  deletePackages: string[];
  /** Stored versions to delete, of packages not deleted. */
  deleteVersions: Array<{ package: string; version: string }>;
  insertPackages: Array<{ package: string; skip: string }>;
  insertVersions: VersionRow[];
  /** Stored versions whose released, skip or yank changed. */
  updateVersions: VersionRow[];
  /** Stored versions whose "binary only" skip was lifted (the build queue must look again). */
  enabled: Array<{ package: string; version: string }>;
  /** Name spellings with when last seen (ms), for packages that exist afterwards. */
  names: Array<{ package: string; name: string; seen: number }>;
  /** Packages whose description should be (re)fetched. */
  describe: string[];
  /** Deletions first, then the pages of what was added or changed. */
  rewrites: PackageRewrite[];
}

export const BINARY_ONLY = 'binary only';

/** The packages and (package, version) keys a batch of effects touches. */
export function touchedPackages(effects: readonly Effect[]): Set<string> {
  return new Set(effects.map((e) => e.package));
}

/**
 * Plans the writes for a batch of effects. `newPackageSkip` gives the skip
 * reason of a package the batch creates ('' to build it).
 */
export function planBatch(image: BatchImage, effects: readonly Effect[], newPackageSkip: (pkg: string) => string): BatchPlan {
  const packages = new Map(image.packages);
  const versions = new Map<string, VersionImage>();
  for (const [key, row] of image.versions) versions.set(key, { ...row });
  const deletedPackages = new Set<string>();
  const deletedVersions = new Set<string>();
  const names = new Map<string, { package: string; name: string; seen: number }>();
  const describe = new Set<string>();
  // Version keys by package, so that deleting a package need not scan them all.
  const byPackage = new Map<string, Set<string>>();
  const index = (pkg: string, key: string): void => {
    let keys = byPackage.get(pkg);
    if (keys === undefined) byPackage.set(pkg, (keys = new Set()));
    keys.add(key);
  };
  for (const key of versions.keys()) index(key.slice(0, key.indexOf('\u0000')), key);
  const namesOf = new Map<string, Set<string>>();
  const seeName = (pkg: string, name: string, seen: number): void => {
    const before = names.get(name);
    if (before === undefined || before.package !== pkg || before.seen < seen) names.set(name, { package: pkg, name, seen });
    let spellings = namesOf.get(pkg);
    if (spellings === undefined) namesOf.set(pkg, (spellings = new Set()));
    spellings.add(name);
  };

  for (const effect of effects) {
    const pkg = effect.package;
    switch (effect.op) {
      case 'addPackage':
        if (!packages.has(pkg)) {
          packages.set(pkg, newPackageSkip(pkg));
          describe.add(pkg);
        }
        if (effect.describe) describe.add(pkg);
        // The canonical spelling is always recorded, dated so it never becomes the display name.
        if (effect.name !== pkg) seeName(pkg, pkg, 0);
        seeName(pkg, effect.name, effect.at * 1000);
        break;
      case 'addVersion': {
        if (!packages.has(pkg)) packages.set(pkg, newPackageSkip(pkg));
        const key = dedupKey(pkg, effect.version);
        const row = versions.get(key);
        const released = effect.released * 1000;
        if (row === undefined) {
          versions.set(key, { released, skip: effect.source ? '' : BINARY_ONLY, yanked: false });
          index(pkg, key);
        } else {
          row.released = Math.min(row.released, released);
          if (effect.source && row.skip === BINARY_ONLY) row.skip = '';
        }
        break;
      }
      case 'setYanked': {
        const row = versions.get(dedupKey(pkg, effect.version));
        if (row !== undefined && row.released <= effect.at * 1000) row.yanked = effect.yanked;
        break;
      }
      case 'deleteVersion': {
        const key = dedupKey(pkg, effect.version);
        if (versions.delete(key) && image.versions.has(key)) deletedVersions.add(key);
        break;
      }
      case 'deletePackage':
        if (packages.delete(pkg) && image.packages.has(pkg)) deletedPackages.add(pkg);
        for (const key of byPackage.get(pkg) ?? []) versions.delete(key);
        byPackage.delete(pkg);
        for (const name of namesOf.get(pkg) ?? []) if (names.get(name)?.package === pkg) names.delete(name);
        namesOf.delete(pkg);
        break;
    }
  }

  const plan: BatchPlan = {
    deletePackages: [...deletedPackages],
    deleteVersions: [],
    insertPackages: [],
    insertVersions: [],
    updateVersions: [],
    enabled: [],
    names: [...names.values()].filter((n) => packages.has(n.package)),
    describe: [...describe].filter((pkg) => packages.has(pkg)),
    rewrites: [],
  };
  const changed = new Map<string, 'BOTH' | 'PROJECT'>();
  const mark = (pkg: string, kind: 'BOTH' | 'PROJECT'): void => {
    if (changed.get(pkg) !== 'BOTH') changed.set(pkg, kind);
  };
  for (const pkg of deletedPackages) plan.rewrites.push({ kind: 'DELPKG', package: pkg });
  for (const [pkg, skip] of packages) {
    if (!image.packages.has(pkg) || deletedPackages.has(pkg)) {
      plan.insertPackages.push({ package: pkg, skip });
      mark(pkg, 'BOTH');
    }
  }
  const split = (key: string): { package: string; version: string } => {
    const at = key.indexOf('\u0000');
    return { package: key.slice(0, at), version: key.slice(at + 1) };
  };
  for (const key of deletedVersions) {
    const id = split(key);
    if (deletedPackages.has(id.package)) continue;
    plan.deleteVersions.push(id);
    plan.rewrites.push({ kind: 'DELVER', ...id });
  }
  for (const [key, row] of versions) {
    const id = split(key);
    const before = deletedPackages.has(id.package) || deletedVersions.has(key) ? undefined : image.versions.get(key);
    if (before === undefined) {
      plan.insertVersions.push({ ...id, ...row });
      mark(id.package, 'BOTH');
    } else if (before.released !== row.released || before.skip !== row.skip || before.yanked !== row.yanked) {
      plan.updateVersions.push({ ...id, ...row });
      if (before.skip === BINARY_ONLY && row.skip === '') plan.enabled.push(id);
      mark(id.package, before.yanked !== row.yanked || before.released !== row.released ? 'BOTH' : 'PROJECT');
    }
  }
  for (const [pkg, kind] of changed) plan.rewrites.push({ kind, package: pkg });
  return plan;
}
