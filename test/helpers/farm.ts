// A whole farm on one machine for end-to-end tests: a local upstream index
// (piw-upstream) serving the fixture sdists, a fresh database of either
// dialect, the coordinator in this process, and real slaves as child
// processes (node bin/piw-slave.js) building with Debian's Python.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import type { DialectName } from '../../shared/db/index.ts';
import type { Tables } from '../../shared/db/schema.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import { probePython } from '../../shared/sysinfo.ts';
import { UpstreamServer } from '../../upstream/server.ts';
import { masterConfigSchema, type MasterConfig } from '../../coordinator/config.ts';
import { startCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import { migrateTo, openTables, scratchDatabase, type Scratch } from './db.ts';
import { buildSdist, type FixtureName } from '../fixtures/packages/sdist.ts';

export const PYTHON = '/usr/bin/python3';
const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

export interface Farm {
  dir: string;
  output: string;
  config: MasterConfig;
  upstream: UpstreamServer;
  coordinator: Coordinator;
  abi: string;
  slaveEndpoint: string;
  fileEndpoint: string;
  logger: Logger;
  /** The farm's tables through a connection of the test's own, for checking what the coordinator stored. */
  tables: Kysely<Tables>;
  /** Stops the coordinator and starts a new one on the same database, ports and output. */
  restart(): Promise<void>;
  startSlave(args?: string[], label?: string): Slave;
  stop(): Promise<void>;
}

export interface Slave {
  child: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A real piw-slave (node bin/piw-slave.js) for the master at `endpoints`, logging to DIR/LABEL.log. */
export function spawnSlave(dir: string, endpoints: { slave: string; file: string }, label: string, args: string[] = []): Slave {
  const logPath = join(dir, `${label}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    [
      join(REPO, 'bin', 'piw-slave.js'),
      '--slave-endpoint', endpoints.slave,
      '--file-endpoint', endpoints.file,
      '--python', PYTHON,
      '--label', label,
      '--dir', mkdtempSync(join(dir, 'build-')),
      '--allow-root',
      '-l', logPath,
      ...args,
    ],
    { stdio: ['ignore', fd, fd], env: { ...process.env, PIP_FIND_LINKS: '', PIP_RETRIES: '0' } },
  );
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, logPath, exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export async function startFarm(dialect: DialectName, fixtures: FixtureName[], options: Partial<MasterConfig> = {}): Promise<Farm> {
  const dir = mkdtempSync(join(tmpdir(), 'piw-e2e-'));
  const output = join(dir, 'www');
  const files = join(dir, 'upstream');
  mkdirSync(output);
  mkdirSync(files);
  for (const fixture of fixtures) buildSdist(fixture, files);
  const upstream = new UpstreamServer({ dir: files });
  const base = await upstream.start();
  const scratch: Scratch = await scratchDatabase(dialect);
  await migrateTo(scratch.dsn);
  const { abi } = await probePython(PYTHON);
  const [slavePort, filePort] = [await freePort(), await freePort()];
  const slaveEndpoint = `tcp://127.0.0.1:${slavePort}`;
  const fileEndpoint = `tcp://127.0.0.1:${filePort}`;
  const config = masterConfigSchema.parse({
    dsn: scratch.dsn,
    outputPath: output,
    pypiXmlrpc: `${base}/pypi`,
    pypiSimple: `${base}/simple`,
    pypiJson: `${base}/pypi`,
    statusQueue: `ipc://${dir}/status`,
    controlQueue: `ipc://${dir}/control`,
    importQueue: `ipc://${dir}/import`,
    logQueue: `ipc://${dir}/logger`,
    slaveQueue: slaveEndpoint,
    fileQueue: fileEndpoint,
    pollInterval: 1,
    pageWindow: 0.2,
    ...options,
  });
  const logger = createLogger({ name: 'piw-master', verbosity: -2, file: join(dir, 'master.log') });
  const seedAbi = async (): Promise<void> => {
    const { openDatabase } = await import('../../shared/db/index.ts');
    const db = await openDatabase(scratch.dsn);
    await db.addBuildAbi(abi);
    await db.close();
  };
  await seedAbi();
  const tables = await openTables(scratch.dsn);
  let coordinator = await startCoordinator(config, { logger });
  const slaves: Slave[] = [];
  const farm: Farm = {
    dir, output, config, upstream, abi, slaveEndpoint, fileEndpoint, logger,
    tables: tables.kysely,
    get coordinator() {
      return coordinator;
    },
    async restart() {
      await coordinator.stop();
      coordinator = await startCoordinator(config, { logger });
    },
    startSlave(args = [], label = `slave${slaves.length + 1}`) {
      const slave = spawnSlave(dir, { slave: slaveEndpoint, file: fileEndpoint }, label, args);
      slaves.push(slave);
      return slave;
    },
    async stop() {
      await Promise.all(slaves.map((s) => s.kill('SIGKILL')));
      await coordinator.stop();
      await upstream.stop();
      await tables.close();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return farm;
}
