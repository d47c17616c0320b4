// Group commit for finished builds. Fifty slaves finishing at once would
// otherwise cost fifty transactions, each with its own queue refresh; here
// the builds that finish while one write is under way (or in the same turn
// of the event loop) go to the database together as one transaction.
import type { BuildRecord } from '../../shared/db/index.ts';

interface Waiter {
  record: BuildRecord;
  resolve: (buildId: number) => void;
  reject: (error: unknown) => void;
}

/** Writes records in order, all or none, resolving to their build ids. */
export type WriteBuilds = (records: BuildRecord[]) => Promise<number[]>;

export class BuildRecorder {
  private queue: Waiter[] = [];
  private draining: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly write: WriteBuilds,
    private readonly maxBatch = 500,
  ) {}

  /** Records one build; resolves to its build id once it is committed. */
  record(record: BuildRecord): Promise<number> {
    return new Promise<number>((resolve, reject) => {
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
      try {
        const ids = await this.write(batch.map((w) => w.record));
        batch.forEach((w, i) => w.resolve(ids[i]!));
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        // one bad record must not cost the others: write them one by one
        for (const w of batch) {
          try {
            const [id] = await this.write([w.record]);
            w.resolve(id!);
          } catch (single) {
            w.reject(single);
          }
        }
      }
    }
  }
}
