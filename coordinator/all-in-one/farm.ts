// piw-farm (`npm start`): a whole farm on one machine in one command. It
// creates the SQLite database when missing, runs the coordinator, one local
// build slave with this machine's Python, and a small web server for the
// output tree, and shows where the index is and how builds are going. By
// default it follows PyPI for a small allow-list; with --offline (or when
// PyPI cannot be reached) it serves a few bundled sample packages from a
// local PyPI stand-in instead, so the whole pipeline runs without internet.
// Ctrl+C (SIGINT) or SIGTERM stops every part, the slave process included.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { pino, destination } from 'pino';
import { z } from 'zod';
import { runCli, UserError } from '../../shared/cli.ts';
import { envBoolean, envInteger, envNumber, loadConfig } from '../../shared/config.ts';
import { connect } from '../../shared/db/connect.ts';
import { Database, openDatabase } from '../../shared/db/index.ts';
import { applyUpgrade, detectState, planUpgrade } from '../../shared/db/migrate.ts';
import { createLogger, levelFor, type Logger } from '../../shared/log.ts';
import { canonicalizeName } from '../../shared/names.ts';
import { repoPath } from '../../shared/paths.ts';
import { probePython } from '../../shared/sysinfo.ts';
import { writeDemoSdists, DEMO_SAMPLES } from '../../upstream/demo-samples/samples.ts';
import { UpstreamServer } from '../../upstream/server.ts';
import { parseAllowList } from '../upstream/allow-list.ts';
import { masterConfigSchema } from '../config.ts';
import { startCoordinator, type Coordinator } from '../coordinator.ts';
import { loadSiteOptions, type SiteFlags, type SiteOptions } from '../../shared/site-settings.ts';
import { formatProgress, readProgress, StatusLine, type LineWriter } from './progress.ts';
import { StaticServer } from './static-server.ts';
import { defaultAllowListText, reachable, seedFromUpstream } from './upstream-seed.ts';

const port = envInteger.pipe(z.number().int().min(0).max(65535));
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const farmConfigSchema = z.object({
  /** Database, output tree, logs and build space live here (the offline demo in its demo/ folder). */
  dataDir: z.string().min(1).default('./data'),
  offline: envBoolean.default(false),
  /** Address the web server listens on. */
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
  /** The coordinator's slave and file ports, on 127.0.0.1 (0: any free port). */
  slavePort: port.default(5555),
  filePort: port.default(5556),
  python: z.string().min(1).default('python3'),
  allowList: z.string().min(1).optional(),
  pypiXmlrpc: httpUrl.default('https://pypi.org/pypi'),
  pypiSimple: httpUrl.default('https://pypi.org/simple'),
  pypiJson: httpUrl.default('https://pypi.org/pypi'),
  /** Seconds to wait for PyPI before falling back to the offline demo. */
  probeTimeout: envNumber.pipe(z.number().positive()).default(3),
  pollInterval: envNumber.pipe(z.number().positive()).default(10),
  /** Let the local slave build as root (throw-away containers only). */
  allowRoot: envBoolean.default(false),
});
export type FarmConfig = z.output<typeof farmConfigSchema>;

const increase = (_value: string, previous: number): number => previous + 1;

export function buildProgram(): Command {
  return new Command('piw-farm')
    .description(
      'Run a whole farm on this machine: database (SQLite, created when missing), coordinator, one local build ' +
        'slave and a web server for the index. Follows PyPI for the packages in an allow-list, or with --offline ' +
        '(and when PyPI is unreachable) builds bundled sample packages from a local PyPI stand-in. Every option can ' +
        'also be a PIW_* environment variable (PIW_DATA_DIR, PIW_PORT, ...) or a key of the TOML file given with -c ' +
        '(top level or a [farm] table). Ctrl+C stops everything.',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('-c, --configuration <file>', 'TOML configuration file (keys as the long options)')
    .option('-v, --verbose', 'also show the coordinator log on stderr (repeatable)', increase, 0)
    .option('-q, --quiet', 'less detail in the log files (repeatable)', increase, 0)
    .option('--data-dir <dir>', 'where the database, output tree, logs and builds live (default: ./data)')
    .option('--offline', 'build the bundled sample packages from a local PyPI stand-in instead of following PyPI')
    .option('--host <address>', 'address the web server listens on (default: 127.0.0.1)')
    .option('-p, --port <port>', 'web server port, 0 for any free port (default: 8080)')
    .option('--slave-port <port>', 'coordinator port for build slaves, 0 for any free port (default: 5555)')
    .option('--file-port <port>', 'coordinator port for wheel transfers, 0 for any free port (default: 5556)')
    .option('--python <path>', 'the Python the local slave builds with (default: python3)')
    .option('--allow-list <file>', 'packages to build when following PyPI (default: <data-dir>/allow-list.txt, created with a few small packages)')
    .option('--pypi-xmlrpc <url>', 'upstream XML-RPC changelog (default: https://pypi.org/pypi)')
    .option('--pypi-simple <url>', 'upstream simple index (default: https://pypi.org/simple)')
    .option('--pypi-json <url>', 'upstream JSON API root (default: https://pypi.org/pypi)')
    .option('--probe-timeout <seconds>', 'how long to wait for PyPI before running the offline demo (default: 3)')
    .option('--poll-interval <seconds>', 'seconds between upstream changelog polls (default: 10)')
    .option('--base-url <url>', 'the address pages name as this farm\'s (default: the web server\'s http://host:port; env PIW_BASE_URL, [site] base-url)')
    .option('--site-name <name>', 'the farm\'s name in page titles (default: piwheels; env PIW_SITE_NAME)')
    .option('--site-contact <address>', 'who runs the farm, shown in the footer (env PIW_SITE_CONTACT)')
    .option('--allow-root', 'let the local slave build as root (only in a throw-away container: setup.py runs with full rights)')
    .exitOverride();
}

export function configFromArgv(
  argv: string[],
  env: Record<string, string | undefined>,
): { config: FarmConfig; verbosity: number; site: (fallbackBaseUrl: string) => SiteOptions } {
  const program = buildProgram();
  program.parse(argv, { from: 'user' });
  const { configuration, verbose, quiet, baseUrl, siteName, siteContact, ...flags } = program.opts<
    { configuration?: string; verbose: number; quiet: number; [key: string]: unknown } & SiteFlags
  >();
  const config = loadConfig(farmConfigSchema, { flags, env, file: configuration, section: 'farm' });
  // The fallback address is the web server's, known once it listens.
  const site = (fallbackBaseUrl: string): SiteOptions =>
    loadSiteOptions({ flags: { baseUrl, siteName, siteContact }, env, file: configuration, fallbackBaseUrl });
  return { config, verbosity: verbose - quiet, site };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

/** Where users reach the web server: a wildcard address is shown as this host's name. */
export function publicHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return hostname();
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The pip command a user runs to install `pkg` from the farm's index. */
export function pipInstallLine(indexUrl: string, pkg: string): string {
  const url = new URL(indexUrl);
  // pip trusts plain http only on loopback addresses
  const trusted = url.protocol === 'http:' && !LOOPBACK.test(url.hostname) ? ` --trusted-host ${url.hostname}` : '';
  return `pip install --index-url ${indexUrl}${trusted} ${pkg}`;
}

/** An ipc:// endpoint in the data dir; ZeroMQ (like Unix sockets) caps the path at 107 bytes. */
export function ipcEndpoint(dir: string, name: string): string {
  const path = join(dir, name);
  if (Buffer.byteLength(path) > 100) throw new UserError(`the data directory path is too long for a local socket (${path}): choose a shorter --data-dir`);
  return `ipc://${path}`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolvePromise);
  });
  const address = server.address();
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Creates or upgrades the database (as piw-initdb does) and makes sure `abi` is a build ABI. */
export async function prepareDatabase(dsn: string, abi: string): Promise<{ created: boolean; upgraded: boolean }> {
  const conn = await connect(dsn, { create: true });
  try {
    const state = await detectState(conn);
    const steps = planUpgrade(state);
    if (steps.length > 0) await applyUpgrade(conn, steps);
    const db = new Database(conn);
    if (!(await db.getBuildAbis(true)).includes(abi)) await db.addBuildAbi(abi);
    return { created: state.kind === 'empty', upgraded: steps.length > 0 && state.kind !== 'empty' };
  } finally {
    await conn.close();
  }
}

function fileLogger(name: string, path: string, verbosity: number): Logger {
  if (verbosity > 0) return createLogger({ name, verbosity: verbosity - 1, file: path });
  return pino({ name, level: levelFor(verbosity), base: { name } }, destination({ dest: path, append: true, mkdir: true }));
}

interface SlaveProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The last lines it wrote to stderr, to explain an early exit. */
  tail(): string[];
}

function startSlave(args: string[]): SlaveProcess {
  const child = spawn(process.execPath, [repoPath('bin', 'piw-slave.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.trim() !== ''));
    lines.splice(0, Math.max(0, lines.length - 20));
  });
  const exited = new Promise<number | null>((resolvePromise) => {
    child.once('error', () => resolvePromise(null));
    child.once('exit', (code) => resolvePromise(code));
  });
  return { child, exited, tail: () => [...lines, ...(partial ? [partial] : [])] };
}

/** The slave's own one-line error if it printed one, else its last log message. */
export function explainExit(lines: string[]): string {
  const own = lines.filter((line) => line.startsWith('piw-slave:')).at(-1);
  if (own !== undefined) return own;
  for (const line of [...lines].reverse()) {
    try {
      const parsed = z.object({ msg: z.string() }).safeParse(JSON.parse(line));
      if (parsed.success) return `piw-slave: ${parsed.data.msg}`;
    } catch {
      return line;
    }
  }
  return 'piw-slave stopped without a message';
}

async function stopSlave(slave: SlaveProcess, signal: NodeJS.Signals): Promise<void> {
  const { child } = slave;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await slave.exited;
  clearTimeout(timer);
}

export interface FarmIo {
  out: LineWriter;
  env: Record<string, string | undefined>;
}

export async function main(argv: string[], io: FarmIo = { out: process.stdout, env: process.env }): Promise<number> {
  const { config, verbosity, site: siteFrom } = configFromArgv(argv, io.env);
  const status = new StatusLine(io.out);
  const say = (line: string): void => status.message(line);

  let offline = config.offline;
  if (!offline && !(await reachable(config.pypiSimple, config.probeTimeout * 1000))) {
    say(`${new URL(config.pypiSimple).host} cannot be reached: running the offline demo with bundled sample packages instead`);
    offline = true;
  }
  const dir = resolve(offline ? join(config.dataDir, 'demo') : config.dataDir);
  const [www, logs, builds] = [join(dir, 'www'), join(dir, 'logs'), join(dir, 'build')];
  for (const path of [www, logs, builds]) mkdirSync(path, { recursive: true });

  let tags;
  try {
    tags = await probePython(config.python);
  } catch (error) {
    throw new UserError(`${error instanceof Error ? error.message : String(error)} (choose one with --python)`);
  }
  const dsn = join(dir, 'piwheels.sqlite');
  const db = await prepareDatabase(dsn, tags.abi);
  if (db.created) say(`created the database ${dsn}`);
  else if (db.upgraded) say(`upgraded the database ${dsn}`);

  const logger = fileLogger('piw-farm', join(logs, 'master.log'), verbosity);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) await step().catch((error: unknown) => logger.error({ err: error }, 'stopping failed'));
  };
  try {
    let urls = { xmlrpc: config.pypiXmlrpc, simple: config.pypiSimple, json: config.pypiJson };
    let allowList: string | undefined;
    let sample: string;
    if (offline) {
      const files = join(dir, 'upstream');
      mkdirSync(files, { recursive: true });
      const sdists = writeDemoSdists(files);
      const upstream = new UpstreamServer({ dir: files, logger: logger.child({ task: 'upstream' }) });
      for (const { name, summary } of sdists) upstream.create(name, { summary });
      const base = await upstream.start();
      cleanups.push(() => upstream.stop());
      urls = { xmlrpc: `${base}/pypi`, simple: `${base}/simple`, json: `${base}/pypi` };
      sample = Object.keys(DEMO_SAMPLES)[0] as string;
    } else {
      allowList = resolve(config.allowList ?? join(dir, 'allow-list.txt'));
      if (config.allowList === undefined && !existsSync(allowList)) writeFileSync(allowList, defaultAllowListText());
      let names: string[];
      try {
        names = [...parseAllowList(readFileSync(allowList, 'utf8')).names];
      } catch (error) {
        throw new UserError(`cannot read the allow-list ${allowList}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      if (names.length === 0) throw new UserError(`the allow-list ${allowList} names no package: add one name per line`);
      const database = await openDatabase(dsn);
      try {
        const seeded = await seedFromUpstream(database, names, { xmlrpc: urls.xmlrpc, json: urls.json });
        if (seeded !== null) {
          say(`following PyPI from serial ${seeded.serial}; queued the newest release of ${seeded.added.map((r) => `${r.name} ${r.version}`).join(', ') || 'nothing'}`);
          if (seeded.missing.length > 0) say(`not found upstream: ${seeded.missing.join(', ')}`);
        }
      } finally {
        await database.close();
      }
      sample = canonicalizeName(names[0] as string);
    }

    const slavePort = config.slavePort === 0 ? await freePort() : config.slavePort;
    const filePort = config.filePort === 0 ? await freePort() : config.filePort;
    const masterConfig = masterConfigSchema.parse({
      dsn,
      outputPath: www,
      pypiXmlrpc: urls.xmlrpc,
      pypiSimple: urls.simple,
      pypiJson: urls.json,
      statusQueue: ipcEndpoint(dir, 'piw-status'),
      controlQueue: ipcEndpoint(dir, 'piw-control'),
      importQueue: ipcEndpoint(dir, 'piw-import'),
      logQueue: ipcEndpoint(dir, 'piw-logger'),
      slaveQueue: `tcp://127.0.0.1:${slavePort}`,
      fileQueue: `tcp://127.0.0.1:${filePort}`,
      pollInterval: config.pollInterval,
      ...(allowList !== undefined ? { allowList } : {}),
    });

    const web = new StaticServer({ root: www, host: config.host, port: config.port });
    try {
      await web.start();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(`the web server cannot listen on ${config.host}:${config.port} (${code ?? String(error)}): choose another with --port, or 0 for any`);
    }
    cleanups.push(() => web.stop());
    const webPort = new URL(web.url).port;
    const site = `http://${publicHost(config.host)}:${webPort}`;
    // The pages name the address this farm is reached at unless told another.
    const siteOptions = siteFrom(site);
    let coordinator: Coordinator;
    try {
      coordinator = await startCoordinator({ ...masterConfig, site: siteOptions }, { logger });
    } catch (error) {
      if (error instanceof Error && /EADDRINUSE|Address already in use/i.test(error.message)) {
        throw new UserError(`port ${slavePort} or ${filePort} is taken (another farm running?): choose others with --slave-port / --file-port, or 0 for any`);
      }
      throw error;
    }
    cleanups.push(() => coordinator.stop());

    const slave = startSlave([
      '--slave-endpoint', masterConfig.slaveQueue,
      '--file-endpoint', masterConfig.fileQueue,
      '--python', config.python,
      '--label', `${hostname()}-local`,
      '--dir', builds,
      '--log-file', join(logs, 'slave.log'),
      ...(config.allowRoot ? ['--allow-root'] : []),
    ]);
    let stopSignal: NodeJS.Signals = 'SIGTERM';
    cleanups.push(() => stopSlave(slave, stopSignal));

    say(`piwheels farm ${offline ? '(offline demo)' : `following ${new URL(urls.simple).host} for ${allowList}`}`);
    say(`  web site:  ${site}/`);
    say(`  index:     ${site}/simple/`);
    say(`  try:       ${pipInstallLine(`${site}/simple`, sample)}`);
    say(`  monitor:   piw-monitor --status-queue ${masterConfig.statusQueue} --control-queue ${masterConfig.controlQueue}`);
    say(`  data:      ${dir} (logs in ${logs})`);
    say('Ctrl+C stops the farm.');

    let signals = 0;
    // the first of: a signal, a monitor's QUIT, the slave process ending
    const stopped = new Promise<'signal' | 'quit' | 'slave'>((resolvePromise) => {
      const onSignal = (signal: NodeJS.Signals): void => {
        signals += 1;
        if (signals > 1) {
          // a second Ctrl+C: stop waiting for builds and transfers
          slave.child.kill('SIGKILL');
          process.exit(130);
        }
        stopSignal = signal;
        resolvePromise('signal');
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      cleanups.push(async () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      });
      void coordinator.untilQuit().then(() => resolvePromise('quit'));
      void slave.exited.then(() => resolvePromise('slave'));
    });

    let showing = Promise.resolve();
    const refresh = (): void => {
      showing = showing
        .then(() => readProgress(coordinator.db))
        .then((progress) => status.update(formatProgress(progress)))
        .catch((error: unknown) => logger.warn({ err: error }, 'cannot read progress'));
    };
    refresh();
    const ticker = setInterval(refresh, 1000);
    const reason = await stopped;
    clearInterval(ticker);
    await showing;
    status.finish();
    if (reason === 'slave') {
      say(`the local build slave stopped: ${explainExit(slave.tail())}`);
      say(`(its log is ${join(logs, 'slave.log')})`);
    }
    say('stopping the farm...');
    await cleanUp();
    say('stopped.');
    return reason === 'slave' ? 1 : 0;
  } finally {
    await cleanUp();
  }
}

/** The piw-farm command (bin/piw-farm.js, `npm start`). */
export function run(): Promise<void> {
  return runCli('piw-farm', () => main(process.argv.slice(2)));
}
