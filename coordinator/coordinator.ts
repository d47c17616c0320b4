// Assembles piw-master: opens the database, creates every task, connects them
// with plain calls, starts them in dependency order and stops them in reverse.
// The CLI (master.ts) and the end-to-end tests both start the farm here.
import { z } from 'zod';
import { UserError } from '../shared/cli.ts';
import type { BuildResult } from '../shared/build.ts';
import { defaultDsn, openDatabase, type Database } from '../shared/db/index.ts';
import { logLevel, type Logger } from '../shared/log.ts';
import { moduleUrl } from '../shared/paths.ts';
import { serveCurve } from '../shared/wire/curve.ts';
import { DEFAULT_ENDPOINTS } from '../shared/wire/transport.ts';
import { defaultBaseUrl, siteOptionsSchema } from '../shared/site-settings.ts';
import { envBoolean, envInteger, envNumber, zmqAddress } from '../shared/config.ts';
import { AllowList } from './upstream/allow-list.ts';
import { Architect, BuildQueues, type BuildKey, type BuildQueueSource, type QueueSnapshot } from './builds/architect.ts';
import { BigBrother } from './monitor/big-brother.ts';
import { BuildRecorder, type BuildPages, type Journaled } from './builds/build-recorder.ts';
import type { BuildRecord } from '../shared/db/index.ts';
import { CloudGazer, type Upstream } from './upstream/cloud-gazer.ts';
import { ControlEndpoints } from './monitor/control.ts';
import { WorkerObject, isPostgresDsn, type AsyncApi } from './runtime/db-pool.ts';
import { FileJuggler } from './builds/file-juggler.ts';
import { Lumberjack } from './access/lumberjack.ts';
import { MrChase } from './builds/mr-chase.ts';
import { PyPIClient } from './upstream/pypi.ts';
import type { PageRequest } from './pages/page-request.ts';
import type { ScribeThread, ScribeThreadOptions } from './pages/scribe-thread.ts';
import { LogSpool } from './pages/log-spool.ts';
import { Secretary } from './pages/secretary.ts';
import { SlaveDriver } from './builds/slave-driver.ts';
import { Task, TaskRunner, type TaskOptions } from './runtime/tasks.ts';
import { AccessStore, type AccessBatch } from './access/access-store.ts';

const url = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const masterConfigSchema = z.object({
  dsn: z.string().min(1).default(() => defaultDsn()),
  outputPath: z.string().min(1).default('/var/www'),
  devMode: envBoolean.default(false),
  pypiXmlrpc: url.default('https://pypi.org/pypi'),
  pypiSimple: url.default('https://pypi.org/simple'),
  pypiJson: url.default('https://pypi.org/pypi'),
  statusQueue: zmqAddress.default(DEFAULT_ENDPOINTS.status),
  controlQueue: zmqAddress.default(DEFAULT_ENDPOINTS.control),
  importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import),
  logQueue: zmqAddress.default(DEFAULT_ENDPOINTS.logger),
  slaveQueue: zmqAddress.default(DEFAULT_ENDPOINTS.slaves),
  fileQueue: zmqAddress.default(DEFAULT_ENDPOINTS.files),
  logFile: z.string().min(1).optional(),
  /** Build only the packages listed in this file (a private farm). */
  allowList: z.string().min(1).optional(),
  /** Follow the upstream changelog (off for a farm fed only by piw-add / piw-import). */
  follow: envBoolean.default(true),
  /** Seconds between upstream changelog polls once caught up. */
  pollInterval: envNumber.pipe(z.number().positive()).default(10),
  /** Seconds between scheduled build-queue refreshes (new versions also refresh it at once). */
  queueRefresh: envNumber.pipe(z.number().positive()).default(60),
  /** Seconds an IDLE slave is held waiting for work before it is told to SLEEP. */
  idleHold: envNumber.pipe(z.number().min(0)).default(10),
  /** Seconds a page rewrite waits to absorb duplicates. */
  pageWindow: envNumber.pipe(z.number().min(0)).default(2),
  /** Builds per ABI kept in memory for dispatch. */
  queueLimit: envInteger.pipe(z.number().int().positive()).default(1000),
  /** This master's secret CURVE certificate; with curveClients, tcp:// endpoints admit only authorized keys. */
  curveSecret: z.string().min(1).optional(),
  /** A folder of the public certificates (NAME.key) of the slaves and tools admitted. */
  curveClients: z.string().min(1).optional(),
  /** The farm's identity on every page ([site] table, --base-url; see shared/site-settings.ts). */
  site: siteOptionsSchema.default(() => siteOptionsSchema.parse({ baseUrl: defaultBaseUrl() })),
}).refine((config) => (config.curveSecret === undefined) === (config.curveClients === undefined), {
  message: 'CURVE needs both curve-secret (this master\'s NAME.key_secret) and curve-clients (the folder of authorized NAME.key files)',
});

export type MasterConfig = z.output<typeof masterConfigSchema>;

/**
 * The scribe (in its own thread) behind the secretary, as one task: pending
 * rewrites are saved on stop.
 */
class Pages extends Task implements BuildPages {
  readonly name = 'pages';
  override readonly pauseMode = 'nonstop' as const;
  private writer: WorkerObject<ScribeThread> | undefined;
  private secretary: Secretary | undefined;
  private readonly spool: LogSpool;
  /** Spool files, with the number of their logs not yet written. */
  private readonly spooled = new Map<string, number>();

  constructor(private readonly options: TaskOptions & { db: Database; windowMs: number; thread: ScribeThreadOptions }) {
    super(options);
    this.spool = new LogSpool(options.thread.output);
  }

  protected override async setup(): Promise<void> {
    const writer = new WorkerObject<ScribeThread>(moduleUrl('./pages/scribe-thread.ts', import.meta.url).href, 'openScribeThread', [this.options.thread]);
    this.writer = writer;
    await writer.ready;
    await writer.api.writeStaticPages();
    const recovered = await this.spool.recover(this.options.db, (buildId, log) => writer.api.handle({ kind: 'LOG', buildId, log }));
    if (recovered > 0) this.logger.warn({ logs: recovered }, 'wrote build logs a previous run left unwritten');
    this.secretary = new Secretary({
      sink: (request) => writer.api.handle(request),
      store: this.options.db,
      windowMs: this.options.windowMs,
      logger: this.logger,
    });
    await this.secretary.start();
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

/** The architect's source: the build queue query, on the heavy-query thread. */
class QueueQuery implements BuildQueueSource {
  constructor(private readonly db: AsyncApi<Database>) {}

  async getBuildQueue(limit: number): Promise<QueueSnapshot> {
    const raw = await this.db.getBuildQueue(limit);
    return new Map([...raw].map(([abi, entries]) => [abi, entries.map((e): BuildKey => [e.package, e.version])]));
  }
}

export interface Coordinator {
  readonly runner: TaskRunner;
  readonly slaveDriver: SlaveDriver;
  readonly fileJuggler: FileJuggler;
  readonly architect: Architect;
  readonly control: ControlEndpoints;
  readonly db: Database;
  /** Resolves when a QUIT arrives (monitor, signal, or a task giving up). */
  untilQuit(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  /** Upstream stand-in (tests); a PyPIClient on the configured URLs otherwise. */
  upstream?: Upstream;
}

async function openHeavy(dsn: string, main: Database): Promise<{ api: AsyncApi<Database>; close(): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { api: main, close: async () => undefined };
  const worker = new WorkerObject<Database>(moduleUrl('../shared/db/index.ts', import.meta.url).href, 'openDatabase', [dsn]);
  try {
    await worker.ready;
  } catch (error) {
    await worker.close();
    if (error instanceof Error && error.name === 'UserError') throw new UserError(error.message);
    throw error;
  }
  return { api: worker.api, close: () => worker.close('close') };
}

async function openAccessStore(dsn: string, main: Database): Promise<{ store: { logAccessBatch(b: AccessBatch): Promise<void> }; close(): Promise<void> }> {
  if (isPostgresDsn(dsn)) return { store: new AccessStore(main), close: async () => undefined };
  // a busy web server's log is many inserts: keep them off the event loop
  const worker = new WorkerObject<AccessStore>(moduleUrl('./access/access-store.ts', import.meta.url).href, 'openAccessStore', [dsn]);
  await worker.ready;
  return { store: worker.api, close: () => worker.close('close') };
}

export async function startCoordinator(config: MasterConfig, options: StartOptions): Promise<Coordinator> {
  const logger = options.logger;
  const child = (name: string): Logger => logger.child({ task: name });
  // certificates are read before anything else opens, so a bad one fails fast
  const stopCurve =
    config.curveSecret !== undefined && config.curveClients !== undefined ? await serveCurve(config.curveSecret, config.curveClients, child('curve')) : null;
  const main = await openDatabase(config.dsn).catch(async (error: unknown) => {
    await stopCurve?.();
    throw error;
  });
  // closed in reverse: CURVE's authenticator goes last
  const closers: Array<() => Promise<void>> = stopCurve ? [stopCurve, () => main.close()] : [() => main.close()];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'close failed'));
  };
  try {
    const heavy = await openHeavy(config.dsn, main);
    closers.push(heavy.close);
    const access = await openAccessStore(config.dsn, main);
    closers.push(access.close);

    const runner = new TaskRunner(logger);
    const queues = new BuildQueues(config.queueLimit);
    const pages = new Pages({
      logger: child('pages'),
      db: main,
      windowMs: config.pageWindow * 1000,
      thread: { output: config.outputPath, dsn: config.dsn, site: config.site, log: { level: logLevel(logger), file: config.logFile } },
    });
    const page = (request: PageRequest): Promise<void> => pages.request(request);

    // The build path: slave driver (and MrChase for imports) -> file juggler
    // -> build recorder -> page writer.
    const fileJuggler = new FileJuggler({ logger: child('file-juggler'), address: config.fileQueue, outputPath: config.outputPath });
    const recorder = new BuildRecorder({ store: main, pages });
    const architect = new Architect({
      logger: child('architect'),
      queues,
      refreshSeconds: config.queueRefresh,
      source: new QueueQuery(heavy.api),
    });
    const pauseAll = (): void => runner.control('PAUSE');
    const control = new ControlEndpoints({
      logger: child('control'),
      statusAddress: config.statusQueue,
      controlAddress: config.controlQueue,
      handlers: {
        replay: () => {
          bigBrother.replay();
          slaveDriver.replay();
        },
        slave: (action, id) => {
          slaveDriver.controlSlave(action, id);
          if (action === 'WAKE' && id === null) bigBrother.woken();
        },
        pauseAll,
        resumeAll: () => runner.control('RESUME'),
        quit: () => runner.quit(),
      },
    });
    const slaveDriver = new SlaveDriver({
      logger: child('slave-driver'),
      address: config.slaveQueue,
      pypiSimple: config.pypiSimple,
      idleHoldMs: config.idleHold * 1000,
      deps: { queues, transfers: fileJuggler, recorder, refill: architect, monitors: control },
    });
    // slaves held waiting for work get it as soon as the queues are refreshed
    architect.onRefresh(() => slaveDriver.wakeWaiting());
    const bigBrother = new BigBrother({
      logger: child('big-brother'),
      outputPath: config.outputPath,
      deps: {
        getStatistics: () => heavy.api.getStatistics(),
        getSearchIndex: () => heavy.api.getSearchIndex(),
        writeHome: (stats) => page({ kind: 'HOME', stats }),
        writeSearchIndex: (entries) => page({ kind: 'SEARCH', entries }),
        publish: (stats) => control.publish('STATS', stats),
        diskFull: () => {
          pauseAll();
          slaveDriver.controlSlave('SLEEP', null);
        },
      },
    });
    const mrChase = new MrChase({
      logger: child('mr-chase'),
      endpoint: config.importQueue,
      deps: {
        db: main,
        transfers: fileJuggler,
        recorder,
        pages,
        home: bigBrother,
        builds: slaveDriver,
        refill: architect,
      },
    });
    const lumberjack = new Lumberjack({
      logger: child('lumberjack'),
      endpoint: config.logQueue,
      deps: { store: access.store, downloadsLogged: (count) => bigBrother.addDownloads(count) },
    });
    const tasks: Task[] = [control, pages, bigBrother, fileJuggler, slaveDriver, mrChase, lumberjack, architect];
    if (config.follow) {
      const pypi = options.upstream ?? new PyPIClient({ xmlrpcUrl: config.pypiXmlrpc, jsonUrl: config.pypiJson, logger: child('pypi') });
      const allowList = config.allowList ? new AllowList(config.allowList) : undefined;
      tasks.push(
        new CloudGazer({
          logger: child('cloud-gazer'),
          db: main,
          pypi,
          devMode: config.devMode,
          pollSeconds: config.pollInterval,
          ...(allowList ? { allowList } : {}),
          events: {
            deleted: ({ package: pkg, version }) => slaveDriver.deleted(pkg, version ?? null),
            rewrite: page,
            queueChanged: () => architect.nudge(),
          },
        }),
      );
    }
    await runner.start(tasks);
    logger.info('all tasks started');
    let stopping: Promise<void> | undefined;
    return {
      runner, slaveDriver, fileJuggler, architect, control, db: main,
      untilQuit: () => runner.untilQuit(),
      stop: () => {
        stopping ??= (async () => {
          logger.info('stopping tasks');
          await runner.stop();
          await closeAll();
          logger.info('stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
