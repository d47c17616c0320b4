// Group commit for finished builds. Fifty slaves finishing at once would
// otherwise cost fifty transactions, each with its own queue refresh; here
// the builds that finish while one write is under way (or in the same turn
// of the event loop) go to the database together as one transaction. Before
// it, the page writer journals the packages' rewrites (so a coordinator
// killed after the commit still rewrites them); once a build is committed its
// log and pages are handed to the page writer.
import { toBuildRecord, type BuildResult } from '../../shared/build.ts';
import type { BuildRecord } from '../../shared/db/index.ts';

/** Where builds are stored: writes records in order, all or none, resolving to their build ids. */
export interface BuildStore {
  logBuilds(records: readonly BuildRecord[]): Promise<number[]>;
}

/** The page writer's side of a recorded build: its log and the package's pages. */
export interface BuildPages {
  /** Stores the coming rewrites of these packages before their builds are committed; resolves to a ticket. */
  journal?(packages: readonly string[]): Promise<number>;
  /** `ticket` is journal()'s for the batch the build was committed in (0 without a journal). */
  buildRecorded(buildId: number, build: BuildResult, ticket: number): void;
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
  now?: () => Date;
}

interface Committed {
  buildId: number;
  ticket: number;
}

interface Waiter {
  record: BuildRecord;
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
    const { buildId, ticket } = await this.commit(toBuildRecord(build, this.now()));
    this.options.pages.buildRecorded(buildId, build, ticket);
    return buildId;
  }

  private commit(record: BuildRecord): Promise<Committed> {
    return new Promise<Committed>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
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
      let ticket = 0;
      try {
        ticket = (await this.options.pages.journal?.(batch.map((w) => w.record.package))) ?? 0;
      } catch (error) {
        for (const w of batch) w.reject(error);
        continue;
      }
      try {
        const ids = await this.options.store.logBuilds(batch.map((w) => w.record));
        batch.forEach((w, i) => w.resolve({ buildId: ids[i]!, ticket }));
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        // one bad record must not cost the others: write them one by one
        for (const w of batch) {
          try {
            const [id] = await this.options.store.logBuilds([w.record]);
            w.resolve({ buildId: id!, ticket });
          } catch (single) {
            w.reject(single);
          }
        }
      }
    }
  }
}
