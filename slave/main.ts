// piw-slave: the build daemon that runs on each build machine. It connects to
// the master, takes build jobs, builds them with pip and sends the wheels back,
// until it is stopped (SIGTERM, Ctrl+C) or the master tells it to go.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { Command, Option } from 'commander';
import { createLogger } from '../shared/log.ts';
import { runCli, UserError } from '../shared/cli.ts';
import { fileEndpoint, loadSlaveConfig, slaveEndpoint } from './config.ts';
import { formatDuration } from '../shared/duration.ts';
import { Slave } from './slave.ts';
import { probePython, readBoardInfo, readOsRelease, readSystemStats } from '../shared/sysinfo.ts';
import { fileSender } from './transfer.ts';
import { connectWithCurve } from '../shared/wire/curve.ts';

const increase = (_value: string, previous: number): number => previous + 1;
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** A wrong clock breaks TLS to the index and the timestamps the master records. */
export const EARLIEST_SANE_CLOCK = Date.UTC(2020, 5, 1);

export function buildProgram(): Command {
  return new Command('piw-slave')
    .description(
      'Build wheels for a piwheels master: connects to the master, builds each package version it is given with ' +
        'pip, and sends the wheels back. Run it as an unprivileged user with a clean home directory; install any ' +
        'build dependencies you want to offer beforehand. It runs until stopped (SIGTERM, Ctrl+C) or told to by the master.',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('-c, --configuration <file>', 'TOML configuration file (keys as the long options; a [slave] table overrides)')
    .option('-v, --verbose', 'more log output (repeatable)', increase, 0)
    .option('-q, --quiet', 'less log output (repeatable)', increase, 0)
    .option('--debug', 'log at debug level')
    .option('-l, --log-file <file>', 'also append JSON logs to this file')
    .option('-m, --master <host>', 'host name or address of the master (default: localhost)')
    .option('-t, --timeout <duration>', 'give up on a build after this long, e.g. 3h, 90m (default: 3h)')
    .option('-d, --dir <dir>', 'where builds run, in private temporary directories (default: the system temp dir)')
    .option('-L, --label <label>', "this machine's name for the master's monitors (default: the host name)")
    .option('--python <path>', 'the Python interpreter whose pip builds the wheels (default: python3)')
    .option('--index-url <url>', 'take sources from this index instead of the one the master hands out')
    .option('--extra-index-url <url>', 'also look here for build dependencies (repeatable)', collect)
    .option('--slave-port <port>', "the master's slave protocol port (default: 5555)")
    .option('--file-port <port>', "the master's file transfer port (default: 5556)")
    .option('--slave-endpoint <endpoint>', 'full slave protocol endpoint, overriding --master/--slave-port')
    .option('--file-endpoint <endpoint>', 'full file transfer endpoint, overriding --master/--file-port')
    .option('--master-timeout <duration>', 'how long the master may go without hearing from us, and we from it (default: 5m)')
    .option('--reply-timeout <duration>', 'wait for replies the master gives at once before reconnecting (default: 5s)')
    .option('--curve-secret <file>', "this slave's secret CURVE certificate (NAME.key_secret, from piw-keys); needs --curve-server")
    .option('--curve-server <file>', "the master's public CURVE certificate (NAME.key): talk to a master that runs with --curve-clients")
    .addOption(new Option('--allow-root', 'build as root (only for throw-away containers: setup.py runs with full rights)'))
    .exitOverride();
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<{
    configuration?: string;
    verbose: number;
    quiet: number;
    debug?: boolean;
    logFile?: string;
    allowRoot?: boolean;
    [key: string]: unknown;
  }>();
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
  const logger = createLogger({
    name: 'piw-slave',
    verbosity: opts.debug ? 2 : opts.verbose - opts.quiet,
    file: opts.logFile,
  });

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
  if (config.curveSecret !== undefined && config.curveServer !== undefined) connectWithCurve(config.curveSecret, config.curveServer);
  let tags;
  try {
    tags = await probePython(config.python);
  } catch (error) {
    throw new UserError(`${error instanceof Error ? error.message : String(error)} (set --python)`);
  }
  const [os, board] = await Promise.all([readOsRelease(), readBoardInfo()]);

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

await runCli('piw-slave', () => main(process.argv.slice(2)));
