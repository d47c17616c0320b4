// TheArchitect: keeps one queue per build target (ABI and platform) of the
// versions still to build, from the database's build queue. The queues are
// refreshed periodically and whenever something may have changed (a new
// version, a dropped slave), and never hand out a version a slave is already
// building, nor one whose result or deletion a refresh started too early may
// not have seen yet.
import type { Database } from '../../shared/db/index.ts';
import { parseTargetKey, slaveTarget, targetKey } from '../../shared/target.ts';
import type { AsyncApi } from '../runtime/worker-thread.ts';
import { Task, type Interval, type TaskOptions } from '../runtime/tasks.ts';

export type BuildKey = readonly [pkg: string, version: string];

/** The database's answer: target name (cp311, cp311-linux_aarch64) → versions to build, in build order. */
export type QueueSnapshot = ReadonlyMap<string, readonly BuildKey[]>;

export interface BuildQueueSource {
  getBuildQueue(limit: number): Promise<QueueSnapshot>;
}

const keyOf = (pkg: string, version: string): string => `${pkg}\u0000${version}`;

/**
 * The per-target queues (by target name) and what must be kept out of them. Pure state: the
 * caller passes the clock, so every rule is testable without waiting.
 */
export class BuildQueues {
  private queues = new Map<string, BuildKey[]>();
  /** Target → key → when the hand-out lapses (a build outliving its timeout is fair game again). */
  private readonly building = new Map<string, Map<string, number>>();
  /** Target → key → when its result was recorded. */
  private readonly finished = new Map<string, Map<string, number>>();
  /** "pkg\0version" or "pkg\0" (whole package) → when it was deleted upstream. */
  private readonly deleted = new Map<string, number>();

  constructor(readonly limit = 1000) {}

  /**
   * Replaces the queues with a snapshot from a query that started at
   * `queriedAt`: anything handed out, finished or deleted after the query
   * started is left out, since the query could not have seen it.
   */
  replace(snapshot: QueueSnapshot, queriedAt: number, now: number): void {
    for (const [key, at] of this.deleted) if (at < queriedAt) this.deleted.delete(key);
    for (const done of this.finished.values()) for (const [key, at] of done) if (at < queriedAt) done.delete(key);
    for (const active of this.building.values()) for (const [key, until] of active) if (until <= now) active.delete(key);
    const next = new Map<string, BuildKey[]>();
    for (const [target, entries] of snapshot) {
      const active = this.building.get(target);
      const done = this.finished.get(target);
      const queue: BuildKey[] = [];
      for (const [pkg, version] of entries) {
        if (queue.length >= this.limit) break;
        const key = keyOf(pkg, version);
        if (active?.has(key) || done?.has(key) || this.isDeleted(pkg, version)) continue;
        queue.push([pkg, version]);
      }
      next.set(target, queue);
    }
    this.queues = next;
  }

  /**
   * The queue a build machine takes its work from: the target of its ABI
   * and native platform, else its ABI's any-platform target; null when the
   * farm builds for neither.
   */
  targetFor(abi: string, platform: string): string | null {
    const target = slaveTarget([...this.queues.keys()].map(parseTargetKey), abi, platform);
    return target === null ? null : targetKey(target);
  }

  /** Takes the next version for a target, marking it as building until `until`. */
  next(target: string, until: number): BuildKey | undefined {
    const queue = this.queues.get(target);
    if (!queue) return undefined;
    const item = queue.shift();
    if (!item) return undefined;
    let active = this.building.get(target);
    if (!active) this.building.set(target, (active = new Map()));
    active.set(keyOf(item[0], item[1]), until);
    return item;
  }

  /** The build's result is recorded: keep it out until a fresher refresh. */
  finish(target: string, pkg: string, version: string, now: number): void {
    const key = keyOf(pkg, version);
    this.building.get(target)?.delete(key);
    let done = this.finished.get(target);
    if (!done) this.finished.set(target, (done = new Map()));
    done.set(key, now);
  }

  /** The build was abandoned without a result: put it back at the head of its queue. */
  abandon(target: string, pkg: string, version: string): void {
    const key = keyOf(pkg, version);
    if (!this.building.get(target)?.delete(key)) return;
    if (this.isDeleted(pkg, version)) return;
    let queue = this.queues.get(target);
    if (!queue) this.queues.set(target, (queue = []));
    if (!queue.some(([p, v]) => p === pkg && v === version)) queue.unshift([pkg, version]);
  }

  /** Upstream deleted a version (or, with `version` null, a whole package). */
  remove(pkg: string, version: string | null, now: number): void {
    this.deleted.set(keyOf(pkg, version ?? ''), now);
    for (const [target, queue] of this.queues) {
      this.queues.set(target, queue.filter(([p, v]) => !(p === pkg && (version === null || v === version))));
    }
  }

  isBuilding(target: string, pkg: string, version: string): boolean {
    return this.building.get(target)?.has(keyOf(pkg, version)) ?? false;
  }

  /** Versions waiting in one target's queue. */
  size(target: string): number {
    return this.queues.get(target)?.length ?? 0;
  }

  /** Pending builds per target (for statistics). */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [target, queue] of this.queues) out[target] = queue.length;
    return out;
  }

  /** The targets' names. */
  targets(): string[] {
    return [...this.queues.keys()];
  }

  private isDeleted(pkg: string, version: string): boolean {
    return this.deleted.has(keyOf(pkg, '')) || this.deleted.has(keyOf(pkg, version));
  }
}

export interface ArchitectOptions extends TaskOptions {
  source: BuildQueueSource;
  queues: BuildQueues;
  /** Seconds between scheduled refreshes. */
  refreshSeconds?: number;
  /** Called after every refresh (the slave driver wakes its waiting slaves). */
  onRefresh?: () => void;
  now?: () => number;
}

export class Architect extends Task {
  readonly name = 'architect';
  private readonly refresh: Interval;
  private readonly listeners: Array<() => void> = [];
  private readonly now: () => number;

  constructor(private readonly options: ArchitectOptions) {
    super(options);
    this.now = options.now ?? Date.now;
    if (options.onRefresh) this.listeners.push(options.onRefresh);
    this.refresh = this.every(options.refreshSeconds ?? 60, 'refresh build queues', () => this.update());
  }

  get queues(): BuildQueues {
    return this.options.queues;
  }

  onRefresh(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Asks for a refresh now (new versions, rebuild requests, abandoned builds). */
  nudge(): void {
    this.refresh.force();
  }

  private async update(): Promise<void> {
    const queriedAt = this.now();
    const snapshot = await this.options.source.getBuildQueue(this.options.queues.limit);
    this.options.queues.replace(snapshot, queriedAt, this.now());
    this.logger.debug({ pending: this.options.queues.sizes() }, 'build queues refreshed');
    for (const listener of this.listeners) listener();
  }
}

/** The architect's source: the build queue query, on the heavy-query thread. */
export class QueueQuery implements BuildQueueSource {
  constructor(private readonly db: AsyncApi<Database>) {}

  async getBuildQueue(limit: number): Promise<QueueSnapshot> {
    const raw = await this.db.getBuildQueue(limit);
    return new Map([...raw].map(([target, entries]) => [target, entries.map((e): BuildKey => [e.package, e.version])]));
  }
}
