// The piw-slave daemon proper, started by main.ts with the parsed options:
// checks the machine, then runs the Slave until it stops. The protocol stack
// and the logger load while Python is asked for its tags (a few hundred
// milliseconds of its own start-up), so the two waits overlap.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { UserError } from '../shared/cli.ts';
import { fileEndpoint, loadSlaveConfig, slaveEndpoint } from './config.ts';
import { formatDuration } from '../shared/duration.ts';
import { probePython, readBoardInfo, readOsRelease, readSystemStats, type PythonTags } from '../shared/sysinfo.ts';

/** A wrong clock breaks TLS to the index and the timestamps the master records. */
export const EARLIEST_SANE_CLOCK = Date.UTC(2020, 5, 1);

/** piw-slave's options as commander parses them (main.ts). */
export interface SlaveOptions {
  configuration?: string;
  verbose: number;
  quiet: number;
  debug?: boolean;
  logFile?: string;
  allowRoot?: boolean;
  [key: string]: unknown;
}

export async function runDaemon(opts: SlaveOptions): Promise<number> {
  const config = loadSlaveConfig(
    {
      master: opts.master,
      timeout: opts.timeout,
      dir: opts.dir,
      label: opts.label,
      python: opts.python,
      indexUrl: opts.indexUrl,
      extraIndexUrl: opts.extraIndexUrl,
      slavePort: opts.slavePort,
      filePort: opts.filePort,
      slaveEndpoint: opts.slaveEndpoint,
      fileEndpoint: opts.fileEndpoint,
      masterTimeout: opts.masterTimeout,
      replyTimeout: opts.replyTimeout,
      curveSecret: opts.curveSecret,
      curveServer: opts.curveServer,
    },
    process.env,
    opts.configuration,
  );
  if (typeof process.geteuid === 'function' && process.geteuid() === 0 && !opts.allowRoot) {
    throw new UserError('refusing to build as root: run piw-slave as an unprivileged user (or pass --allow-root in a throw-away container)');
  }
  if (Date.now() < EARLIEST_SANE_CLOCK) throw new UserError('the system clock is far in the past: set the time (e.g. enable NTP) first');
  try {
    mkdirSync(config.dir, { recursive: true });
    accessSync(config.dir, constants.W_OK);
  } catch {
    throw new UserError(`build directory ${config.dir} is not writable: choose another with --dir`);
  }
  if (config.curveSecret !== undefined && config.curveServer !== undefined) {
    const { connectWithCurve } = await import('../shared/wire/curve.ts');
    connectWithCurve(config.curveSecret, config.curveServer);
  }
  const probe = async (): Promise<PythonTags> => {
    try {
      return await probePython(config.python);
    } catch (error) {
      throw new UserError(`${error instanceof Error ? error.message : String(error)} (set --python)`);
    }
  };
  const [tags, os, board, { createLogger }, { Slave }, { fileSender }] = await Promise.all([
    probe(),
    readOsRelease(),
    readBoardInfo(),
    import('../shared/log.ts'),
    import('./slave.ts'),
    import('./transfer.ts'),
  ]);
  const logger = createLogger({
    name: 'piw-slave',
    verbosity: opts.debug ? 2 : opts.verbose - opts.quiet,
    file: opts.logFile,
  });

  logger.info(
    {
      master: slaveEndpoint(config),
      files: fileEndpoint(config),
      label: config.label,
      python: `${tags.version} (${tags.abi}, ${tags.platform})`,
      timeout: formatDuration(config.timeout),
    },
    'piw-slave starting',
  );
  const slave = new Slave({
    slaveEndpoint: slaveEndpoint(config),
    fileEndpoint: fileEndpoint(config),
    label: config.label,
    timeoutMs: config.timeout,
    masterTimeoutMs: config.masterTimeout,
    replyTimeoutMs: config.replyTimeout,
    dir: config.dir,
    python: config.python,
    indexUrl: config.indexUrl,
    extraIndexUrls: config.extraIndexUrl,
    tags,
    os,
    board,
    stats: () => readSystemStats(config.dir),
    sendFile: fileSender(config.masterTimeout, logger),
    logger,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    // A second signal means "now": the exit hook still kills the build's process group.
    if (signals > 1) process.exit(1);
    slave.stop(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    return await slave.run();
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    logger.info('piw-slave stopped');
  }
}
