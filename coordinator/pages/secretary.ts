// The secretary: sits in front of the scribe and absorbs bursts of page
// rewrites. PROJECT and BOTH requests wait a short window and collapse to one
// per package (BOTH absorbing PROJECT, keeping the first arrival time); every
// other request goes straight through, and a deletion drops what was pending
// for its package. The pending buffer survives restarts via rewrites_pending.
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
   * Reloads what a previous run left pending (saved rows are then cleared).
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
    for (const { request, addedAt } of loaded) this.buffer.add(request, addedAt.getTime());
    await this.store.saveRewritesPending([]);
    this.running = true;
    this.logger.info({ pending: loaded.length }, 'secretary started');
    this.schedule();
  }

  /**
   * Accepts one request: buffers project rewrites, passes the rest through at
   * once. The scribe checks what it is sent; a rewrite held here is checked
   * now, since it may be stored before the scribe sees it.
   */
  async request(request: PageRequest): Promise<void> {
    switch (request.kind) {
      case 'PROJECT':
      case 'BOTH':
        this.buffer.add(parseProjectRewrite(request), this.now());
        this.schedule();
        return;
      case 'DELPKG':
      case 'DELVER':
        // The deletion rewrites the package's pages itself; a pending rewrite would be stale.
        this.buffer.drop(request.package);
        await this.sink(request);
        return;
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
      try {
        await this.sink(item);
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
    const rows = this.buffer.rows();
    await this.store.saveRewritesPending(rows);
    this.logger.info({ pending: rows.length }, 'secretary stopped');
  }
}
