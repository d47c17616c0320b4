// Group commit for finished builds. Fifty slaves finishing at once would
// otherwise cost fifty transactions, each with its own queue refresh; here
// the builds that finish while one write is under way (or in the same turn
// of the event loop) go to the database together as one transaction. Before
// it, the page writer journals the builds' logs and page rewrites (so that a
// coordinator killed just after the commit still writes them when it starts
// again); once a build is committed its log and pages are handed over.
import { toBuildRecord, type BuildResult } from '../../shared/build.ts';
import type { BuildRecord } from '../../shared/db/index.ts';
import type { RetrySchedule } from '../../shared/failure.ts';

/** Where builds are stored: writes records in order, all or none, resolving to their build ids. */
export interface BuildStore {
  logBuilds(records: readonly BuildRecord[], schedule?: RetrySchedule | null): Promise<number[]>;
}

/** What the page writer journaled for one build, handed back with it once committed. */
export interface Journaled {
  /** the page-rewrite journal's ticket (0: none) */
  ticket: number;
  /** the spool file holding its log (null: none) */
  spool: string | null;
}

/** The page writer's side of a recorded build: its log and the package's pages. */
export interface BuildPages {
  /** Makes the logs and page rewrites of builds durable before they are committed; one entry per build. */
  journal?(builds: ReadonlyArray<{ record: BuildRecord; log: string }>): Promise<Journaled[]>;
  buildRecorded(buildId: number, build: BuildResult, journaled: Journaled): void;
  /** A journaled build was refused by the database: its journal entries can go. */
  discard?(journaled: Journaled): void;
}

/** The build recorder as the slave driver and MrChase use it. */
export interface BuildLog {
  /** Records a finished build; resolves to its id once it is committed. */
  record(build: BuildResult): Promise<number>;
}

export interface BuildRecorderOptions {
  store: BuildStore;
  pages: BuildPages;
  /** Most builds in one transaction. */
  maxBatch?: number;
  /** When transient failures are tried again (none: never automatically). */
  schedule?: RetrySchedule;
  now?: () => Date;
}

interface Committed {
  buildId: number;
  journaled: Journaled;
}

const NOT_JOURNALED: Journaled = { ticket: 0, spool: null };

interface Waiter {
  record: BuildRecord;
  log: string;
  resolve: (committed: Committed) => void;
  reject: (error: unknown) => void;
}

export class BuildRecorder implements BuildLog {
  private queue: Waiter[] = [];
  private draining: Promise<void> | undefined;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly now: () => Date;

  constructor(private readonly options: BuildRecorderOptions) {
    this.maxBatch = options.maxBatch ?? 500;
    this.now = options.now ?? (() => new Date());
  }

  async record(build: BuildResult): Promise<number> {
    const { buildId, journaled } = await this.commit(toBuildRecord(build, this.now()), build.output);
    this.options.pages.buildRecorded(buildId, build, journaled);
    return buildId;
  }

  private commit(record: BuildRecord, log: string): Promise<Committed> {
    return new Promise<Committed>((resolve, reject) => {
      this.queue.push({ record, log, resolve, reject });
      if (this.draining || this.scheduled) return;
      // wait for the rest of this turn's arrivals before writing
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.draining = this.drain().finally(() => (this.draining = undefined));
      });
    });
  }

  /** Resolves once everything recorded so far is written (or refused). */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining || this.scheduled) {
      if (this.draining) await this.draining;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let journaled: Journaled[];
      try {
        journaled = (await this.options.pages.journal?.(batch)) ?? batch.map(() => NOT_JOURNALED);
      } catch (error) {
        for (const w of batch) w.reject(error);
        continue;
      }
      try {
        const ids = await this.options.store.logBuilds(batch.map((w) => w.record), this.options.schedule ?? null);
        batch.forEach((w, i) => w.resolve({ buildId: ids[i]!, journaled: journaled[i]! }));
      } catch (error) {
        if (batch.length === 1) {
          this.options.pages.discard?.(journaled[0]!);
          batch[0]!.reject(error);
          continue;
        }
        // one bad record must not cost the others: write them one by one
        for (const [i, w] of batch.entries()) {
          try {
            const [id] = await this.options.store.logBuilds([w.record], this.options.schedule ?? null);
            w.resolve({ buildId: id!, journaled: journaled[i]! });
          } catch (single) {
            this.options.pages.discard?.(journaled[i]!);
            w.reject(single);
          }
        }
      }
    }
  }
}
