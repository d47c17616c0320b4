// The secretary: sits in front of the scribe and absorbs bursts of page
// rewrites. PROJECT and BOTH requests wait a short window and collapse to one
// per package (BOTH absorbing PROJECT, keeping the first arrival time); every
// other request goes straight through, and a deletion drops what was pending
// for its package. The pending buffer survives restarts via rewrites_pending:
// a recorded build's rewrite is journaled there before the build is committed
// and its row cleared only once the pages are written, so that a coordinator
// killed in between rewrites them when it starts again.
import { silentLogger, type Logger } from '../../shared/log.ts';
import {
  fromPendingRewrite,
  parseProjectRewrite,
  toPendingRewrite,
  type PageRequest,
  type PendingRewrite,
  type ProjectRewrite,
  type ProjectRewriteKind,
} from './page-request.ts';

/** The part of the database the secretary uses. */
export interface RewritesStore {
  loadRewritesPending(): Promise<PendingRewrite[]>;
  saveRewritesPending(rows: PendingRewrite[]): Promise<void>;
  /** Adds rows, or upgrades a package's row to BOTH (the write-ahead journal); without it only stop() saves. */
  notePendingRewrites?(rows: PendingRewrite[]): Promise<void>;
  /** Removes packages' rows once their pages are written. */
  clearPendingRewrites?(packages: readonly string[]): Promise<void>;
}

/** Where requests end up: normally Scribe.handle. */
export type ScribeSink = (request: PageRequest) => Promise<void>;

export interface SecretaryOptions {
  sink: ScribeSink;
  store: RewritesStore;
  /** How long a project request waits for duplicates (ms). */
  windowMs?: number;
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

export const DEFAULT_WINDOW_MS = 2000;

/**
 * The buffering decision, free of timers and I/O: entries keep insertion
 * order, so the oldest is always first.
 */
export class RewriteBuffer {
  private readonly entries = new Map<string, { addedAt: number; kind: ProjectRewriteKind }>();

  get size(): number {
    return this.entries.size;
  }

  /** Adds or upgrades a request; returns true when it is new. */
  add(request: ProjectRewrite, at: number): boolean {
    const existing = this.entries.get(request.package);
    if (existing) {
      if (request.kind === 'BOTH') existing.kind = 'BOTH';
      return false;
    }
    this.entries.set(request.package, { addedAt: at, kind: request.kind });
    return true;
  }

  drop(pkg: string): boolean {
    return this.entries.delete(pkg);
  }

  /** Removes and returns every entry at least `windowMs` old at `now`, oldest first. */
  takeDue(now: number, windowMs: number): ProjectRewrite[] {
    const due: ProjectRewrite[] = [];
    for (const [pkg, entry] of this.entries) {
      if (now - entry.addedAt < windowMs) break;
      due.push({ kind: entry.kind, package: pkg });
      this.entries.delete(pkg);
    }
    return due;
  }

  /** When the oldest entry falls due, or null if empty. */
  nextDue(windowMs: number): number | null {
    for (const entry of this.entries.values()) return entry.addedAt + windowMs;
    return null;
  }

  rows(): PendingRewrite[] {
    return [...this.entries].map(([pkg, e]) => toPendingRewrite({ kind: e.kind, package: pkg }, new Date(e.addedAt)));
  }
}

export class Secretary {
  private readonly buffer = new RewriteBuffer();
  private readonly sink: ScribeSink;
  private readonly store: RewritesStore;
  private readonly windowMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private running = false;
  /** Journal writes and clears, in order, so a clear never overtakes a later note. */
  private journaling: Promise<void> = Promise.resolve();
  private tickets = 0;
  /** Packages with a journal row: the ticket of their latest note. */
  private readonly journaled = new Map<string, number>();
  /** Buffered packages: the latest journal ticket their pending rewrite covers. */
  private readonly covers = new Map<string, number>();
  /** Packages written, with the ticket their rewrite covered, whose rows are yet to be cleared. */
  private clearing: Array<[string, number]> = [];

  constructor(options: SecretaryOptions) {
    this.sink = options.sink;
    this.store = options.store;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  get pending(): number {
    return this.buffer.size;
  }

  /**
   * Reloads what a previous run left pending. The rows stay until the pages
   * are written, so a coordinator killed before then replays them again.
   * A row that is not a valid rewrite is dropped with an error logged: one
   * lost page rewrite is better than a coordinator that will not start.
   */
  async start(): Promise<void> {
    const loaded: Array<{ request: ProjectRewrite; addedAt: Date }> = [];
    for (const row of await this.store.loadRewritesPending()) {
      try {
        loaded.push(fromPendingRewrite(row));
      } catch (error) {
        this.logger.error({ row, err: error }, 'dropped an unusable pending page rewrite');
      }
    }
    loaded.sort((a, b) => a.addedAt.getTime() - b.addedAt.getTime());
    for (const { request, addedAt } of loaded) {
      this.buffer.add(request, addedAt.getTime());
      this.tickets += 1;
      this.journaled.set(request.package, this.tickets);
      this.covers.set(request.package, this.tickets);
    }
    this.running = true;
    this.logger.info({ pending: loaded.length }, 'secretary started');
    this.schedule();
  }

  /**
   * Journals a BOTH rewrite of each package before their builds are
   * committed; resolves to the ticket that request() is then given, once the
   * rows are stored. Without a journal in the store it only hands out tickets.
   */
  async journal(packages: readonly string[]): Promise<number> {
    this.tickets += 1;
    const ticket = this.tickets;
    const names = [...new Set(packages)];
    for (const pkg of names) this.journaled.set(pkg, ticket);
    const note = this.store.notePendingRewrites;
    if (note === undefined) return ticket;
    const at = new Date(this.now());
    // a name the scribe would refuse gets no row (and must not cost the build)
    const rows = names.flatMap((pkg) => {
      try {
        return [toPendingRewrite(parseProjectRewrite({ kind: 'BOTH', package: pkg }), at)];
      } catch {
        return [];
      }
    });
    const step = this.journaling.then(() => note.call(this.store, rows));
    this.journaling = step.catch(() => undefined);
    await step;
    return ticket;
  }

  /**
   * Clears a package's journal row unless a note newer than `ticket` is still
   * uncovered. Clears wait in a list that the next journal step takes whole:
   * one statement for all the rewrites written meanwhile.
   */
  private written(pkg: string, ticket: number): void {
    const clear = this.store.clearPendingRewrites;
    if (clear === undefined) return;
    this.clearing.push([pkg, ticket]);
    // a step already queued takes this one too
    if (this.clearing.length > 1) return;
    this.journaling = this.journaling.then(async () => {
      const batch = this.clearing;
      this.clearing = [];
      const done = batch.filter(([name, covered]) => {
        const latest = this.journaled.get(name);
        if (latest === undefined || latest > covered) return false;
        this.journaled.delete(name);
        return true;
      });
      if (done.length === 0) return;
      await clear
        .call(this.store, done.map(([name]) => name))
        .catch((error: unknown) => this.logger.warn({ packages: done.length, err: error }, 'could not clear journaled page rewrites'));
    });
  }

  /**
   * Accepts one request: buffers project rewrites, passes the rest through at
   * once. The scribe checks what it is sent; a rewrite held here is checked
   * now, since it may be stored before the scribe sees it. `ticket` is the
   * journal's, for the rewrite of a recorded build.
   */
  async request(request: PageRequest, ticket = 0): Promise<void> {
    switch (request.kind) {
      case 'PROJECT':
      case 'BOTH':
        this.buffer.add(parseProjectRewrite(request), this.now());
        this.covers.set(request.package, Math.max(this.covers.get(request.package) ?? 0, ticket));
        this.schedule();
        return;
      case 'DELPKG':
      case 'DELVER':
      case 'DELFILES': {
        // The deletion rewrites the package's pages itself; a pending rewrite would be stale.
        this.buffer.drop(request.package);
        const covered = this.covers.get(request.package) ?? 0;
        this.covers.delete(request.package);
        await this.sink(request);
        this.written(request.package, covered);
        return;
      }
      default:
        await this.sink(request);
    }
  }

  private schedule(): void {
    if (!this.running || this.timer !== null) return;
    const due = this.buffer.nextDue(this.windowMs);
    if (due === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushing = this.flushing.then(() => this.flush(this.now()));
    }, Math.max(0, due - this.now()));
  }

  /** Sends everything due at `now` downstream, then re-arms the timer. */
  async flush(now: number): Promise<void> {
    for (const item of this.buffer.takeDue(now, this.windowMs)) {
      const covered = this.covers.get(item.package) ?? 0;
      this.covers.delete(item.package);
      try {
        await this.sink(item);
        this.written(item.package, covered);
      } catch (error) {
        this.logger.error({ package: item.package, err: error }, 'page rewrite failed');
      }
    }
    this.schedule();
  }

  /** Stops the timer, waits for a flush in progress, and saves what is still pending. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.flushing;
    await this.journaling;
    const rows = this.buffer.rows();
    await this.store.saveRewritesPending(rows);
    this.logger.info({ pending: rows.length }, 'secretary stopped');
  }
}
