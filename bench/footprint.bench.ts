// Footprint: what our piw-slave and piw-master cost to start and to keep
// running, beside the Python piwheels programs when PIWHEELS_SRC names a
// checkout of them ("not run" otherwise).
//   - idle RSS: VmRSS from /proc/PID/status once the program has settled
//     (the master: an empty SQLite database, not following upstream; the
//     slave: connected to that master and waiting for work). Worker threads
//     are threads of the one process, so VmRSS counts them;
//   - --help: wall time, median of several runs;
// The slave is measured twice: from the compiled tree and as the packed
// bundle build machines install (npm run pack:slave, made here).
//   - start: launch until the master's slave port accepts connections, or
//     until the slave's HELLO reaches a stand-in master (a ROUTER socket).
// The Python master needs PostgreSQL (it runs on a throwaway database, as in
// the interop tests); it and the Python slave run as "nobody" when we are root.
//
//   npm run bench -- footprint [--runs 5] [--settle 5]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { connect } from '../shared/db/connect.ts';
import { openDatabase } from '../shared/db/index.ts';
import { applyUpgrade, detectState, planUpgrade } from '../shared/db/migrate.ts';
import { REPO_ROOT } from '../shared/paths.ts';
import { probePython } from '../shared/sysinfo.ts';
import { freePort, PYTHON } from '../test/helpers/farm.ts';
import { packSlave } from '../scripts/pack-slave.ts';
import { PIWHEELS_SRC, piwheelsCommand, piwheelsEnv, startPythonMaster, unprivileged } from '../test/helpers/python-master.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, settle: { type: 'string', default: '5' } } });
const RUNS = Math.max(1, Number(values.runs));
const SETTLE_MS = Math.max(0, Number(values.settle)) * 1000;
const dir = mkdtempSync(join(tmpdir(), 'piw-bench-footprint-'));
chmodSync(dir, 0o755);
const NOT_RUN = 'not run';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Resident memory of the whole process (all its threads), in MB. */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}

/** Median wall time of `command --help`. */
function helpTime(command: string[], env: NodeJS.ProcessEnv = process.env): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const result = spawnSync(command[0] ?? '', [...command.slice(1), '--help'], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    times.push(performance.now() - start);
    if (result.status !== 0) throw new Error(`${command.join(' ')} --help failed: ${result.stderr}`);
  }
  return median(times);
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Milliseconds from `launched` until `port` accepts connections. */
async function untilListening(child: ChildProcess, port: number, launched: number): Promise<number> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with status ${child.exitCode} before listening`);
    if (await portOpen(port)) return performance.now() - launched;
    await sleep(5);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(killer);
}

/** Whether a TCP port on loopback can be bound (the Python slave only speaks to 5555 and 5556). */
async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Milliseconds from launching `command` until its first message reaches a ROUTER bound at `endpoint`. */
async function untilHello(command: string[], endpoint: string, env: NodeJS.ProcessEnv): Promise<number> {
  const router = new zmq.Router();
  await router.bind(endpoint);
  const launched = performance.now();
  const child = spawn(command[0] ?? '', command.slice(1), { env, stdio: 'ignore' });
  try {
    // identity, the REQ socket's empty delimiter, then the message
    const frames = await router.receive();
    const elapsed = performance.now() - launched;
    const message = frames[frames.length - 1];
    if (message === undefined || !message.toString('latin1').includes('HELLO')) throw new Error('the first message was not HELLO');
    return elapsed;
  } finally {
    await stop(child);
    router.close();
  }
}

interface Row {
  program: string;
  ours: string;
  python: string;
}

const rows: Row[] = [];
const python = PIWHEELS_SRC !== undefined && PIWHEELS_SRC !== '';
const pyEnv = piwheelsEnv();
const pyCommand = (module: string, args: string[] = []): string[] => unprivileged(piwheelsCommand(module, args));
const bin = (name: string): string[] => [process.execPath, join(REPO_ROOT, 'bin', `${name}.js`)];
const masters: ChildProcess[] = [];

try {
  // the compiled tree (bin/piw-slave.js) and the packed bundle a Pi installs (npm run pack:slave)
  const packed = join(dirname(await packSlave(join(REPO_ROOT, 'dist'))), 'slave-package', 'bin', 'piw-slave.js');
  const slaves: Array<{ name: string; command: string[] }> = [
    { name: 'piw-slave', command: bin('piw-slave') },
    { name: 'piw-slave, packed', command: [process.execPath, packed] },
  ];
  const pySlaveHelp = python ? seconds(helpTime(pyCommand('slave'), pyEnv)) : NOT_RUN;
  for (const { name, command } of slaves) rows.push({ program: `${name} --help`, ours: seconds(helpTime(command)), python: pySlaveHelp });
  rows.push({
    program: 'piw-master --help',
    ours: seconds(helpTime(bin('piw-master'))),
    python: python ? seconds(helpTime(pyCommand('master'), pyEnv)) : NOT_RUN,
  });

  // our master: an empty SQLite database; the slave ports are 5555/5556 when free, so the Python slave can join
  const dsn = join(dir, 'piwheels.sqlite');
  const conn = await connect(dsn, { create: true });
  await applyUpgrade(conn, planUpgrade(await detectState(conn)));
  await conn.close();
  const db = await openDatabase(dsn);
  await db.addBuildAbi((await probePython(PYTHON)).abi);
  await db.close();
  const output = join(dir, 'www');
  mkdirSync(output);
  const standard = (await portFree(5555)) && (await portFree(5556));
  const [slavePort, filePort] = standard ? [5555, 5556] : [await freePort(), await freePort()];
  const masterArgs = [
    ...bin('piw-master'), '-q', '-d', dsn, '-o', output, '--no-follow',
    '--pypi-simple', 'http://127.0.0.1:1/simple', '--pypi-xmlrpc', 'http://127.0.0.1:1/pypi', '--pypi-json', 'http://127.0.0.1:1/pypi',
    '--status-queue', `ipc://${dir}/status`, '--control-queue', `ipc://${dir}/control`,
    '--import-queue', `ipc://${dir}/import`, '--log-queue', `ipc://${dir}/logger`,
    '--slave-queue', `tcp://127.0.0.1:${slavePort}`, '--file-queue', `tcp://127.0.0.1:${filePort}`,
  ];
  const launchMaster = (): { child: ChildProcess; launched: number } => {
    const launched = performance.now();
    const child = spawn(masterArgs[0] ?? '', masterArgs.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    masters.push(child);
    return { child, launched };
  };
  const listenTimes: number[] = [];
  for (let i = 0; i < RUNS - 1; i++) {
    const { child, launched } = launchMaster();
    listenTimes.push(await untilListening(child, slavePort, launched));
    await stop(child);
  }
  const { child: master, launched } = launchMaster();
  listenTimes.push(await untilListening(master, slavePort, launched));
  await sleep(SETTLE_MS);
  const ourMasterRss = rssMb(master.pid ?? 0);

  // slaves, idle at our master
  const ourSlaveRss: number[] = [];
  for (const { command } of slaves) {
    const args = [
      ...command, '--slave-endpoint', `tcp://127.0.0.1:${slavePort}`, '--file-endpoint', `tcp://127.0.0.1:${filePort}`,
      '--python', PYTHON, '--label', 'bench', '--dir', mkdtempSync(join(dir, 'build-')), '--allow-root', '-q',
    ];
    const slave = spawn(args[0] ?? '', args.slice(1), { stdio: 'ignore' });
    await sleep(SETTLE_MS + 2000);
    ourSlaveRss.push(rssMb(slave.pid ?? 0));
    await stop(slave);
  }
  let pySlaveRss = NOT_RUN;
  if (python && standard) {
    const home = mkdtempSync(join(dir, 'pyslave-'));
    chmodSync(home, 0o777);
    const command = pyCommand('slave', ['--master', '127.0.0.1', '--dir', home, '--label', 'python-slave']);
    const pySlave = spawn(command[0] ?? '', command.slice(1), { env: pyEnv, stdio: 'ignore' });
    await sleep(SETTLE_MS + 2000);
    pySlaveRss = `${rssMb(pySlave.pid ?? 0).toFixed(0)} MB`;
    await stop(pySlave);
  }
  await stop(master);
  slaves.forEach(({ name }, i) => {
    rows.push({ program: `${name} idle RSS (connected, waiting for work)`, ours: `${(ourSlaveRss[i] ?? NaN).toFixed(0)} MB`, python: pySlaveRss });
  });

  // launch → HELLO at a stand-in master
  const helloOurs: number[][] = slaves.map(() => []);
  const helloPython: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const [j, { command }] of slaves.entries()) {
      const port = await freePort();
      const args = [...command, '--slave-endpoint', `tcp://127.0.0.1:${port}`, '--file-endpoint', `tcp://127.0.0.1:${port + 1}`, '--python', PYTHON, '--dir', dir, '--allow-root', '-q'];
      helloOurs[j]?.push(await untilHello(args, `tcp://127.0.0.1:${port}`, process.env));
    }
    if (python && (await portFree(5555))) {
      const home = mkdtempSync(join(dir, 'pyslave-'));
      chmodSync(home, 0o777);
      helloPython.push(await untilHello(pyCommand('slave', ['--master', '127.0.0.1', '--dir', home]), 'tcp://127.0.0.1:5555', pyEnv));
    }
  }
  slaves.forEach(({ name }, i) => {
    rows.push({ program: `${name}: launch → HELLO sent`, ours: seconds(median(helloOurs[i] ?? [])), python: helloPython.length > 0 ? seconds(median(helloPython)) : NOT_RUN });
  });
  let pyMasterRss = NOT_RUN;
  let pyMasterListen = NOT_RUN;
  if (python) {
    try {
      let spawned: (master: { pid: number; slaveQueue: string }) => void = () => undefined;
      const started = new Promise<{ pid: number; listenMs: number }>((resolve) => {
        spawned = ({ pid, slaveQueue }) => {
          const at = performance.now();
          const port = Number(/:(\d+)$/.exec(slaveQueue)?.[1]);
          void (async () => {
            while (!(await portOpen(port))) await sleep(5);
            resolve({ pid, listenMs: performance.now() - at });
          })();
        };
      });
      const pyMaster = await startPythonMaster({ abis: [(await probePython(PYTHON)).abi], onSpawn: (m) => spawned(m) });
      try {
        const { pid, listenMs } = await started;
        await sleep(SETTLE_MS);
        pyMasterRss = `${rssMb(pid).toFixed(0)} MB (PostgreSQL)`;
        pyMasterListen = seconds(listenMs);
      } finally {
        await pyMaster.stop();
      }
    } catch (error) {
      console.error(`the Python master did not run: ${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)}`);
    }
  }
  rows.push({ program: 'piw-master idle RSS (empty database)', ours: `${ourMasterRss.toFixed(0)} MB (SQLite)`, python: pyMasterRss });
  rows.push({ program: 'piw-master launch → slave port listening', ours: seconds(median(listenTimes)), python: pyMasterListen });

  console.log('| figure | this project | piwheels (Python) |');
  console.log('|---|---|---|');
  for (const row of rows) console.log(`| ${row.program} | ${row.ours} | ${row.python} |`);
  if (!standard) console.log('\n(ports 5555/5556 were taken: the Python slave, which only uses those, was not run against our master)');
} finally {
  for (const child of masters) await stop(child);
  rmSync(dir, { recursive: true, force: true });
}
