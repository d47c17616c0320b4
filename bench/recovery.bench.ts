// Recovery: how soon a real piw-slave is back at work after its piw-master
// is killed (SIGKILL) and started again at once, with the slave idle and with
// it busy building. Both are real processes (bin/piw-master.js,
// bin/piw-slave.js) on loopback TCP; times come from the slave's log.
//   - idle: the slave waits for work; while the master is down a version is
//     queued, so "at work" is the slave starting that build;
//   - busy: the slave is building (a setup.py that never ends); "at work" is
//     the new master handing the same job back and the slave carrying on.
// Each row gives kill → slave registered again (ACK) and kill → at work, and
// how much of that the new master took to start listening.
//
//   npm run bench -- recovery
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../shared/db/connect.ts';
import { openDatabase } from '../shared/db/index.ts';
import { applyUpgrade, detectState, planUpgrade } from '../shared/db/migrate.ts';
import { insertReleases, openTables } from '../test/helpers/db.ts';
import { freePort, PYTHON, spawnSlave } from '../test/helpers/farm.ts';
import { fixtureProject } from '../test/fixtures/packages/sdist.ts';
import { makeFixtureIndex } from '../test/fixtures/packages/simple-index.ts';
import { probePython } from '../shared/sysinfo.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'piw-bench-recovery-'));

/** Lines of the slave's JSON log whose msg is one of `messages`, with their times. */
function logEntries(path: string, messages: readonly string[]): Array<{ msg: string; time: number }> {
  const out: Array<{ msg: string; time: number }> = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; time?: number };
    if (entry.msg !== undefined && entry.time !== undefined && messages.includes(entry.msg)) out.push({ msg: entry.msg, time: entry.time });
  }
  return out;
}

async function waitForEntry(path: string, msg: string, after: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = logEntries(path, [msg]).find((e) => e.time >= after);
    if (hit !== undefined) return hit.time;
    if (Date.now() > deadline) throw new Error(`no "${msg}" in the slave's log`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** When `master` listens on `port`; rejects if it exits first. */
async function waitForPort(master: ChildProcess, port: number): Promise<number> {
  for (;;) {
    if (master.exitCode !== null) throw new Error(`piw-master exited with status ${master.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function row(what: string, killed: number, listening: number, acked: number, working: number): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  return `| ${what} | ${s(listening - killed)} | ${s(acked - killed)} | ${s(working - killed)} | ${s(working - listening)} |`;
}

async function queueVersion(dsn: string, pkg: string, version: string): Promise<void> {
  const tables = await openTables(dsn);
  await insertReleases(tables, [{ package: pkg, version, released: new Date() }]);
  await tables.close();
  const db = await openDatabase(dsn);
  await db.rebuildDerived();
  await db.close();
}

try {
  const dsn = join(dir, 'piwheels.sqlite');
  const conn = await connect(dsn, { create: true });
  await applyUpgrade(conn, planUpgrade(await detectState(conn)));
  await conn.close();
  const { abi } = await probePython(PYTHON);
  const db = await openDatabase(dsn);
  await db.addBuildAbi(abi);
  await db.close();
  const { url: indexUrl } = makeFixtureIndex(dir, ['e2e-slow']);
  const output = join(dir, 'www');
  mkdirSync(output);
  const [slavePort, filePort] = [await freePort(), await freePort()];
  const masterArgs = [
    join(REPO, 'bin', 'piw-master.js'), '-q', '-d', dsn, '-o', output, '--no-follow',
    // the slave takes its sources from the fixture index (--index-url below)
    '--pypi-simple', 'http://127.0.0.1:1/simple', '--pypi-xmlrpc', 'http://127.0.0.1:1/pypi', '--pypi-json', 'http://127.0.0.1:1/pypi',
    '--status-queue', `ipc://${dir}/status`, '--control-queue', `ipc://${dir}/control`,
    '--import-queue', `ipc://${dir}/import`, '--log-queue', `ipc://${dir}/logger`,
    '--slave-queue', `tcp://127.0.0.1:${slavePort}`, '--file-queue', `tcp://127.0.0.1:${filePort}`,
  ];
  const startMaster = (): ChildProcess => spawn(process.execPath, masterArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
  const killMaster = async (master: ChildProcess): Promise<number> => {
    const exited = new Promise((resolve) => master.once('exit', resolve));
    const at = Date.now();
    master.kill('SIGKILL');
    await exited;
    return at;
  };

  let master = startMaster();
  await waitForPort(master, slavePort);
  const slave = spawnSlave(dir, { slave: `tcp://127.0.0.1:${slavePort}`, file: `tcp://127.0.0.1:${filePort}` }, 'bench', ['--index-url', indexUrl]);
  const rows: string[] = [];
  try {
    await waitForEntry(slave.logPath, 'connected to master', 0);
    // idle: the slave's IDLE is held by the master when it dies
    await new Promise((resolve) => setTimeout(resolve, 2000));
    let killed = await killMaster(master);
    await queueVersion(dsn, 'e2e-slow', fixtureProject('e2e-slow').version);
    master = startMaster();
    let listening = await waitForPort(master, slavePort);
    let acked = await waitForEntry(slave.logPath, 'connected to master', killed);
    let working = await waitForEntry(slave.logPath, 'building', killed);
    rows.push(row('slave idle (at work: BUILD of the version queued meanwhile)', killed, listening, acked, working));

    // busy: the never-ending build is under way when the master dies
    await new Promise((resolve) => setTimeout(resolve, 2000));
    killed = await killMaster(master);
    master = startMaster();
    listening = await waitForPort(master, slavePort);
    acked = await waitForEntry(slave.logPath, 'connected to master', killed);
    working = await waitForEntry(slave.logPath, 'carrying on with the build already under way', killed);
    rows.push(row('slave busy building (at work: the same job handed back, build carried on)', killed, listening, acked, working));
  } finally {
    await slave.kill('SIGTERM');
    await killMaster(master);
  }
  console.log('| coordinator SIGKILLed and restarted at once | new master listening | slave registered again | slave back at work | at work after the master listens |');
  console.log('|---|---|---|---|---|');
  for (const line of rows) console.log(line);
  console.log('\n(times from the kill; target: back at work within 10 s of the restart)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
