// The retry task: every few seconds, failed builds whose retry time has come
// are moved into the attempts history by the data layer, which puts their
// versions back in the build queue by the queue's own rule. The architect
// is nudged so they are handed out at once, and their project pages say
// "pending" again.
import type { Retried } from '../../shared/db/index.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';

export interface RetrierDeps {
  retryDueBuilds(now: Date, limit: number): Promise<Retried[]>;
  /** The build queue changed: refresh it now. */
  queueChanged(): void;
  /** A project's pages must be rewritten. */
  rewrite(pkg: string): void;
}

export interface RetrierOptions extends TaskOptions {
  deps: RetrierDeps;
  /** Seconds between looks for due retries. */
  intervalSeconds: number;
  now?: () => Date;
}

/** Failed builds re-queued per transaction. */
const BATCH = 100;

export class Retrier extends Task {
  readonly name = 'retrier';

  constructor(private readonly options: RetrierOptions) {
    super(options);
    this.every(options.intervalSeconds, 'retry due builds', async () => {
      await this.retryDue();
    });
  }

  /** Re-queues every failed build due now; resolves to those re-queued. */
  async retryDue(): Promise<Retried[]> {
    const now = (this.options.now ?? (() => new Date()))();
    const all: Retried[] = [];
    // a batch at a time, so one transaction never holds many rows
    for (;;) {
      const retried = await this.options.deps.retryDueBuilds(now, BATCH);
      all.push(...retried);
      if (retried.length < BATCH) break;
    }
    if (all.length === 0) return all;
    for (const r of all) this.logger.info({ package: r.package, version: r.version, abi: r.abi, kind: r.kind, build: r.buildId }, 'failed build re-queued for another try');
    this.options.deps.queueChanged();
    for (const pkg of new Set(all.map((r) => r.package))) this.options.deps.rewrite(pkg);
    return all;
  }
}
