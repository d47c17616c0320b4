// The page writer as one task of piw-master: the scribe in the background thread
// behind the secretary, with the journal and log spool that keep a recorded
// build's pages and log across a crash.
import type { BuildResult } from '../../shared/build.ts';
import type { BuildRecord, Database } from '../../shared/db/index.ts';
import { moduleUrl } from '../../shared/paths.ts';
import type { BuildPages, Journaled } from '../builds/build-recorder.ts';
import type { RemoteObject, WorkerThread } from '../runtime/worker-thread.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';
import { LogSpool } from './log-spool.ts';
import type { PageRequest } from './page-request.ts';
import type { ScribeThread, ScribeThreadOptions } from './scribe-thread.ts';
import { Secretary } from './secretary.ts';

/**
 * The scribe (in a worker thread) behind the secretary, as one task: pending
 * rewrites are saved on stop.
 */
export class Pages extends Task implements BuildPages {
  readonly name = 'pages';
  override readonly pauseMode = 'nonstop' as const;
  private writer: RemoteObject<ScribeThread> | undefined;
  private writerUp: Promise<void> | undefined;
  private secretary: Secretary | undefined;
  private readonly spool: LogSpool;
  /** Spool files, with the number of their logs not yet written. */
  private readonly spooled = new Map<string, number>();

  constructor(private readonly options: TaskOptions & { db: Database; windowMs: number; host: WorkerThread; thread: ScribeThreadOptions }) {
    super(options);
    this.spool = new LogSpool(options.thread.output);
  }

  /**
   * Starts the writer in the background thread without waiting for it: the
   * slave port must not wait for the renderer to load. Requests taken before
   * the writer is up wait in the secretary; `ready` says when it is.
   */
  protected override async setup(): Promise<void> {
    const { remote: writer, ready } = this.options.host.open<ScribeThread>(moduleUrl('coordinator/pages/scribe-thread.ts').href, 'openScribeThread', [this.options.thread]);
    this.writer = writer;
    const up = ready.then(async () => {
      await writer.api.writeStaticPages();
      const recovered = await this.spool.recover(this.options.db, (buildId, log) => writer.api.handle({ kind: 'LOG', buildId, log }));
      if (recovered > 0) this.logger.warn({ logs: recovered }, 'wrote build logs a previous run left unwritten');
    });
    this.writerUp = up;
    up.catch(() => undefined);
    this.secretary = new Secretary({
      sink: async (request) => {
        await up;
        await writer.api.handle(request);
      },
      store: this.options.db,
      windowMs: this.options.windowMs,
      logger: this.logger,
    });
    await this.secretary.start();
  }

  /** Resolves once the writer is up with the static pages written; rejects if it could not start. */
  get ready(): Promise<void> {
    return this.writerUp ?? Promise.reject(new Error('the page writer has not been started'));
  }

  /** Queues a page rewrite; failures are logged, never thrown at the caller. */
  request(request: PageRequest, ticket = 0): Promise<void> {
    return this.tryRequest(request, ticket).then(() => undefined);
  }

  /** request(), resolving to whether the request was taken (a LOG: written). */
  private tryRequest(request: PageRequest, ticket: number): Promise<boolean> {
    const secretary = this.secretary;
    if (!secretary) return Promise.resolve(false);
    return secretary.request(request, ticket).then(
      () => true,
      (error: unknown) => {
        this.logger.error({ err: error, kind: request.kind }, 'page request failed');
        return false;
      },
    );
  }

  /** Spools the logs and journals the page rewrites of builds about to be committed. */
  async journal(builds: ReadonlyArray<{ record: BuildRecord; log: string }>): Promise<Journaled[]> {
    const secretary = this.secretary;
    // before start nothing is recorded; a build then is left to the audit
    if (!secretary) return builds.map(() => ({ ticket: 0, spool: null }));
    const [spool, ticket] = await Promise.all([
      this.spool.write(
        builds.map(({ record, log }) => ({ package: record.package, version: record.version, builtAt: record.builtAt.toISOString(), builtBy: record.slaveId, log })),
      ),
      secretary.journal(builds.map(({ record }) => record.package)),
    ]);
    this.spooled.set(spool, builds.length);
    return builds.map(() => ({ ticket, spool }));
  }

  /** One log of a spool file is written (or its build refused): the file goes with its last one. */
  private spoolDone(spool: string | null): void {
    if (spool === null) return;
    const left = (this.spooled.get(spool) ?? 1) - 1;
    if (left > 0) {
      this.spooled.set(spool, left);
      return;
    }
    this.spooled.delete(spool);
    this.spool.remove(spool).catch((error: unknown) => this.logger.warn({ err: error, spool }, 'could not remove a spooled log'));
  }

  /** A recorded build: its log, and the package's pages (the index too when it made wheels). */
  buildRecorded(buildId: number, build: BuildResult, journaled: Journaled): void {
    // a log that could not be written keeps its spool file, for the next start
    void this.tryRequest({ kind: 'LOG', buildId, log: build.output }, 0).then((written) => {
      if (written) this.spoolDone(journaled.spool);
    });
    void this.request({ kind: build.status ? 'BOTH' : 'PROJECT', package: build.package }, journaled.ticket);
  }

  discard(journaled: Journaled): void {
    this.spoolDone(journaled.spool);
  }

  protected override async teardown(): Promise<void> {
    await this.secretary?.stop();
    await this.writer?.close('close');
  }
}
