// piw-master: the coordinator of the farm. Follows upstream, keeps the build
// queues, hands builds to slaves, takes their wheels, and keeps the index and
// web pages up to date. Runs until SIGTERM / SIGINT or a monitor's QUIT, then
// stops every task cleanly (pending page rewrites are saved, half-finished
// transfers are discarded).
import { Command } from 'commander';
import { runCli } from '../shared/cli.ts';
import { loadConfig } from '../shared/config.ts';
import { createLogger } from '../shared/log.ts';
import { redact } from '../shared/db/index.ts';
import { loadSiteOptions } from '../shared/site-settings.ts';
import { masterConfigSchema, type MasterConfig } from './config.ts';
import { startCoordinator } from './coordinator.ts';

const increase = (_value: string, previous: number): number => previous + 1;

export const DEFAULT_CONFIG_FILES = ['/etc/piwheels.toml', '/usr/local/etc/piwheels.toml', '~/.config/piwheels/piwheels.toml'];

export function buildProgram(): Command {
  return new Command('piw-master')
    .description(
      'Run the farm: follow upstream, queue builds, hand them to slaves, receive their wheels, and write the index ' +
        'and web site under --output-path. The database must exist (piw-initdb). Every option can also come from a ' +
        'PIW_* environment variable (e.g. PIW_OUTPUT_PATH) or a TOML configuration file (a [master] table overrides).',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('-c, --configuration <file>', 'TOML configuration file (keys as the long options)')
    .option('-v, --verbose', 'more log output (repeatable)', increase, 0)
    .option('-q, --quiet', 'less log output (repeatable)', increase, 0)
    .option('-l, --log-file <file>', 'also append JSON logs to this file')
    .option('-d, --dsn <dsn>', 'the database: postgres://user@host/db or a SQLite file (default: data/piwheels.sqlite)')
    .option('-o, --output-path <path>', 'where the index and web site are written (default: /var/www)')
    .option('--dev-mode', 'development mode: new upstream packages are recorded but skipped')
    .option('--pypi-xmlrpc <url>', 'upstream XML-RPC changelog (default: https://pypi.org/pypi)')
    .option('--pypi-simple <url>', 'upstream simple index handed to slaves (default: https://pypi.org/simple)')
    .option('--pypi-json <url>', 'upstream JSON API root (default: https://pypi.org/pypi)')
    .option('--status-queue <addr>', 'monitors read status here (default: ipc:///tmp/piw-status)')
    .option('--control-queue <addr>', 'monitors send control messages here (default: ipc:///tmp/piw-control)')
    .option('--import-queue <addr>', 'piw-import, piw-add, piw-remove, piw-rebuild connect here (default: ipc:///tmp/piw-import)')
    .option('--log-queue <addr>', 'piw-logger connects here (default: ipc:///tmp/piw-logger)')
    .option('--slave-queue <addr>', 'build slaves connect here (default: tcp://*:5555)')
    .option('--file-queue <addr>', 'build slaves send wheels here (default: tcp://*:5556)')
    .option('--allow-list <file>', 'build only the packages listed in this file (one name or requirement per line)')
    .option('--no-follow', 'do not follow the upstream changelog (packages come from piw-add / piw-import)')
    .option('--retry-base <seconds>', 'wait before a build that failed for a transient reason is tried again; doubles with each try (default: 300)')
    .option('--retry-max <seconds>', 'longest wait between tries of a transiently failing build (default: 21600)')
    .option('--retry-tries <n>', 'tries in all before a transiently failing build stays failed (default: 5)')
    .option('--retry-interval <seconds>', 'seconds between looks for failed builds due another try (default: 30)')
    .option('--min-free-disk <MB>', 'free space a slave needs in its build directory to get builds; 0 turns the check off (default: 1024)')
    .option('--apt-file <command>', 'apt-file, to name the Debian package of a missing header or library; "none" to not look (default: apt-file)')
    .option('--debian-contents <file>', 'a Debian Contents index (plain or .gz) to look in instead of apt-file')
    .option('--poll-interval <seconds>', 'seconds between upstream changelog polls once caught up (default: 10)')
    .option('--queue-refresh <seconds>', 'seconds between scheduled build-queue refreshes (default: 60)')
    .option('--idle-hold <seconds>', 'seconds an idle slave waits for work before it is told to sleep (default: 10)')
    .option('--page-window <seconds>', 'seconds a page rewrite waits to absorb duplicates (default: 2)')
    .option('--queue-limit <n>', 'builds per ABI kept ready for dispatch (default: 1000)')
    .option('--base-url <url>', 'the address the site is published at, for canonical links, sitemaps and JSON (default: http://<this host>; env PIW_BASE_URL, [site] base-url)')
    .option('--site-name <name>', 'the farm\'s name in page titles and the header (default: piwheels; env PIW_SITE_NAME, [site] name)')
    .option('--site-contact <address>', 'who runs the farm, an email address or URL shown in the footer (env PIW_SITE_CONTACT, [site] contact)')
    .option('--curve-secret <file>', "this master's secret CURVE certificate (NAME.key_secret, from piw-keys); needs --curve-clients")
    .option('--curve-clients <dir>', 'admit on tcp:// endpoints only the slaves and tools whose public certificates (NAME.key) are in this folder, re-read as it changes')
    .exitOverride();
}

interface Flags {
  configuration?: string;
  baseUrl?: string;
  siteName?: string;
  siteContact?: string;
  verbose: number;
  quiet: number;
  follow: boolean;
  [key: string]: unknown;
}

/** Flags as config keys; commander's --no-follow default (true) is left to the config's own default. */
export function configFromArgv(argv: string[], env: Record<string, string | undefined>): { config: MasterConfig; verbosity: number } {
  const program = buildProgram();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<Flags>();
  const { configuration, verbose, quiet, follow, baseUrl, siteName, siteContact, ...rest } = opts;
  const flags: Record<string, unknown> = { ...rest };
  if (program.getOptionValueSource('follow') === 'cli') flags.follow = follow;
  const config = loadConfig(masterConfigSchema, { flags, env, file: configuration, defaultFiles: DEFAULT_CONFIG_FILES, section: 'master' });
  const site = loadSiteOptions({ flags: { baseUrl, siteName, siteContact }, env, file: configuration, defaultFiles: DEFAULT_CONFIG_FILES });
  return { config: { ...config, site }, verbosity: verbose - quiet };
}

export async function main(argv: string[]): Promise<number> {
  const { config, verbosity } = configFromArgv(argv, process.env);
  const logger = createLogger({ name: 'piw-master', verbosity, file: config.logFile });
  logger.info({ dsn: redact(config.dsn), output: config.outputPath, slaves: config.slaveQueue, files: config.fileQueue }, 'starting');
  if (config.devMode) logger.warn('development mode: do not use this in production');
  const coordinator = await startCoordinator(config, { logger });
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.warn(`shutting down on ${signal}`);
    coordinator.runner.quit();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await coordinator.untilQuit();
  await coordinator.stop();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return 0;
}

/** The piw-master command (bin/piw-master.js). */
export function run(): Promise<void> {
  return runCli('piw-master', () => main(process.argv.slice(2)));
}
