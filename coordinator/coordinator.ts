// Assembles piw-master: opens the database, creates every task, connects them
// with plain calls, starts them in dependency order and stops them in reverse.
// The CLI (master.ts), piw-farm and the end-to-end tests all start the farm here.
import { openDatabase, type Database } from '../shared/db/index.ts';
import { logLevel, type Logger } from '../shared/log.ts';
import { serveCurve } from '../shared/wire/curve.ts';
import type { MasterConfig } from './config.ts';
import { Lumberjack } from './access/lumberjack.ts';
import { Architect, BuildQueues, QueueQuery } from './builds/architect.ts';
import { BuildRecorder } from './builds/build-recorder.ts';
import { BuildTriage } from './builds/build-triage.ts';
import { DebianIndex, type DebianIndexSource } from './builds/debian-index.ts';
import { Retrier } from './builds/retrier.ts';
import { nextRetry, RetryPolicySchema } from './builds/retry-policy.ts';
import { FileJuggler } from './builds/file-juggler.ts';
import { MrChase } from './builds/mr-chase.ts';
import { SlaveDriver } from './builds/slave-driver.ts';
import { BigBrother } from './monitor/big-brother.ts';
import { ControlEndpoints } from './monitor/control.ts';
import type { PageRequest } from './pages/page-request.ts';
import { Pages } from './pages/pages.ts';
import { TaskRunner, type Task } from './runtime/tasks.ts';
import { openAccessWriter, openQueryDatabase, startBackgroundThread } from './runtime/threads.ts';
import { AllowList } from './upstream/allow-list.ts';
import { CloudGazer, type Upstream } from './upstream/cloud-gazer.ts';
import { PyPIClient } from './upstream/pypi.ts';
import { UpstreamFiles } from './upstream/upstream-files.ts';
import { withdrawClashing } from './builds/upstream-withdrawal.ts';

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
    const background = startBackgroundThread();
    closers.push(() => background.close());
    // the background thread loads while the tasks start: the slave port does not wait for it
    const heavy = openQueryDatabase(config.dsn, main, background);
    closers.push(heavy.close);
    const access = openAccessWriter(config.dsn, main, background);
    closers.push(access.close);

    const runner = new TaskRunner(logger);
    const queues = new BuildQueues(config.queueLimit);
    const pages = new Pages({
      logger: child('pages'),
      db: main,
      windowMs: config.pageWindow * 1000,
      host: background,
      thread: { output: config.outputPath, dsn: config.dsn, site: config.site, log: { level: logLevel(logger), file: config.logFile } },
    });
    const page = (request: PageRequest): Promise<void> => pages.request(request);

    // The build path: slave driver (and MrChase for imports) -> file juggler
    // -> build recorder -> page writer.
    const fileJuggler = new FileJuggler({ logger: child('file-juggler'), address: config.fileQueue, outputPath: config.outputPath });
    const retryPolicy = RetryPolicySchema.parse({ baseSeconds: config.retryBase, maxSeconds: config.retryMax, maxTries: config.retryTries });
    const recorder = new BuildRecorder({ store: main, pages, schedule: (failure) => nextRetry(retryPolicy, failure) });
    const triage = new BuildTriage({
      store: main,
      index: new DebianIndex({ source: debianIndexSource(config), logger: child('debian-index') }),
      rewrite: (pkg) => void page({ kind: 'PROJECT', package: pkg }).catch((error: unknown) => logger.error({ err: error, package: pkg }, 'page rewrite refused')),
      logger: child('triage'),
    });
    const architect = new Architect({
      logger: child('architect'),
      queues,
      refreshSeconds: config.queueRefresh,
      source: new QueueQuery(heavy.api),
    });
    // What upstream serves is asked before a build's files are published,
    // by a farm that follows upstream (one fed only by piw-add and piw-import
    // talks to no upstream). Its own client: a slow answer here must not hold
    // up the changelog, nor the changelog's shutdown this.
    const upstreamFiles = config.follow
      ? new UpstreamFiles({
          pypi: new PyPIClient({ xmlrpcUrl: config.pypiXmlrpc, jsonUrl: config.pypiJson, logger: child('pypi'), timeoutMs: 10_000, backoffMs: 1_000, maxBackoffMs: 4_000 }),
          db: main,
          logger: child('upstream-files'),
          // a file of ours upstream now contradicts is withdrawn
          onAnswer: (pkg, version, files) => withdrawClashing({ db: main, pages, refill: architect, logger: child('upstream-files') }, pkg, version, files),
        })
      : undefined;
    if (upstreamFiles) closers.push(() => upstreamFiles.close());

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
      minFreeDisk: config.minFreeDisk * 1024 * 1024,
      deps: { queues, transfers: fileJuggler, recorder, refill: architect, monitors: control, triage, ...(upstreamFiles ? { upstream: upstreamFiles } : {}) },
    });
    const retrier = new Retrier({
      logger: child('retrier'),
      intervalSeconds: config.retryInterval,
      deps: {
        retryDueBuilds: (now, limit) => main.retryDueBuilds(now, limit),
        queueChanged: () => architect.nudge(),
        rewrite: (pkg) => void page({ kind: 'PROJECT', package: pkg }).catch((error: unknown) => logger.error({ err: error, package: pkg }, 'page rewrite refused')),
      },
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
        ...(upstreamFiles ? { upstream: upstreamFiles } : {}),
      },
    });
    const lumberjack = new Lumberjack({
      logger: child('lumberjack'),
      endpoint: config.logQueue,
      deps: { store: access.api, downloadsLogged: (count) => bigBrother.addDownloads(count) },
    });
    const tasks: Task[] = [control, pages, bigBrother, fileJuggler, slaveDriver, mrChase, lumberjack, architect, retrier];
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
          ...(upstreamFiles ? { upstreamFiles } : {}),
          events: {
            deleted: ({ package: pkg, version }) => slaveDriver.deleted(pkg, version ?? null),
            rewrite: page,
            queueChanged: () => architect.nudge(),
          },
        }),
      );
    }
    await runner.start(tasks);
    try {
      await Promise.all([heavy.ready, access.ready, pages.ready]);
    } catch (error) {
      await runner.stop();
      throw error;
    }
    logger.info('all tasks started');
    let stopping: Promise<void> | undefined;
    return {
      runner, slaveDriver, fileJuggler, architect, control, db: main,
      untilQuit: () => runner.untilQuit(),
      stop: () => {
        stopping ??= (async () => {
          logger.info('stopping tasks');
          await runner.stop();
          await triage.settled();
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

/** Where missing native dependencies are looked up: a Contents file if named, else apt-file unless turned off. */
function debianIndexSource(config: MasterConfig): DebianIndexSource {
  if (config.debianContents !== undefined) return { kind: 'contents', path: config.debianContents };
  return config.aptFile === 'none' ? { kind: 'none' } : { kind: 'apt-file', command: config.aptFile };
}
