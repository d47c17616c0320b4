// The coordinator under load: a whole piw-master (SQLite, every task running)
// and simulated peers in a separate process, so the coordinator's own CPU and
// memory are measured apart from theirs.
//   - dispatch: 50 slaves looping IDLE → BUILD → BUILT (failed, no files) →
//     DONE; builds handed out per second and coordinator CPU per build (each
//     build is also recorded in the database);
//   - transfer: one 100 MB wheel slave → coordinator over loopback, verified
//     and committed into the index;
//   - resident memory idle and during the transfer.
//
//   npm run bench -- coordinator
//   node --import tsx bench/coordinator.bench.ts [--slaves 50] [--seconds 10] [--mb 100] [--dsn DSN]
// With --dsn the coordinator runs on that database (a full-scale farm, say)
// instead of a fresh SQLite one; the builds it records stay there, so give
// it a copy (createdb -T piw_bench_farm piw_bench_dispatch).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '../shared/db/connect.ts';
import { openDatabase } from '../shared/db/index.ts';
import { applyUpgrade, detectState, planUpgrade } from '../shared/db/migrate.ts';
import { silentLogger } from '../shared/log.ts';
import { Timedelta, UtcDateTime } from '../shared/wire/cbor.ts';
import { sendFile } from '../shared/wire/file-transfer.ts';
import { reverse, slaveDriver } from '../shared/wire/protocols.ts';
import { createSocket } from '../shared/wire/transport.ts';
import { masterConfigSchema } from '../coordinator/config.ts';
import { startCoordinator } from '../coordinator/coordinator.ts';
import { countRows, insertReleases, openTables } from '../test/helpers/db.ts';
import { freePort } from '../test/helpers/farm.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    slaves: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    mb: { type: 'string', default: '100' },
    versions: { type: 'string', default: '60000' },
    dsn: { type: 'string' },
    // the peer side, run in a child process
    'as-slaves': { type: 'string' },
    'as-sender': { type: 'string' },
  },
});

const ABI = 'cp311';
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- peer side

/** Simulated slaves: each loops IDLE → BUILD → BUILT(failed) → DONE until time is up. */
async function runSlaves(endpoint: string, count: number, ms: number): Promise<void> {
  const stats = (): [UtcDateTime, number, number, number, number, number, number, number, number] =>
    [UtcDateTime.now(), 1e10, 5e9, 4e9, 2e9, 0, 0, 0.5, 40.5];
  await waitForGo();
  const cpu0 = process.cpuUsage();
  const end = Date.now() + ms;
  let builds = 0;
  const one = async (n: number): Promise<void> => {
    const socket = createSocket('REQ', { protocol: reverse(slaveDriver), linger: 0 });
    socket.connect(endpoint);
    const ask = async (send: () => Promise<void>) => {
      await send();
      const reply = await socket.recv(60);
      if (!reply) throw new Error('master silent');
      return reply;
    };
    await ask(() =>
      socket.send('HELLO', [new Timedelta(0, 3600), new Timedelta(0, 300), '311', ABI, 'linux_armv7l', `sim${n}`, 'Debian GNU/Linux', '12', '', '']),
    );
    while (Date.now() < end) {
      const reply = await ask(() => socket.send('IDLE', stats()));
      if (reply.msg !== 'BUILD') continue;
      const done = await ask(() => socket.send('BUILT', [false, new Timedelta(0, 1), 'simulated failure\n', []]));
      if (done.msg !== 'DONE') throw new Error(`expected DONE, got ${done.msg}`);
      builds += 1;
    }
    await socket.send('BYE');
    socket.close();
  };
  await Promise.all(Array.from({ length: count }, (_, n) => one(n)));
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ builds, cpuUs: cpu.user + cpu.system })}\n`);
}

async function runSender(endpoint: string, slaveId: number, path: string): Promise<void> {
  const socket = createSocket('DEALER', { linger: 0, hwm: 100 });
  socket.connect(endpoint);
  await waitForGo();
  await sendFile(socket, slaveId, path);
  socket.close();
  process.stdout.write('{"sent":true}\n');
}

/** The parent starts its clock only after the child has loaded. */
async function waitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line === 'go') break;
  lines.close();
}

// ---------------------------------------------------------------- coordinator side

function peer(args: string[]): { child: ChildProcess; ready: Promise<void>; result: Promise<Record<string, unknown>>; exited: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  // listening from the start: the child may be gone before anyone awaits it
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stdout! });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'ready') onReady();
      else resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`peer exited ${code}`))));
  });
  return { child, ready, result, exited };
}

/** Waits until this process (the coordinator, all its threads) uses under a tenth of a core. */
async function settle(): Promise<void> {
  for (let tries = 0; tries < 120; tries++) {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const used = process.cpuUsage(before);
    if ((used.user + used.system) / 1000 < 50) return;
  }
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);

async function prepareDatabase(dsn: string, versions: number): Promise<void> {
  const conn = await connect(dsn, { create: true });
  await applyUpgrade(conn, planUpgrade(await detectState(conn)));
  await conn.close();
  const db = await openDatabase(dsn);
  await db.addBuildAbi(ABI);
  const released = new Date('2024-01-01T00:00:00Z');
  const rows = Array.from({ length: versions }, (_, i) => ({ package: `pkg${i}`, version: '1.0', released: new Date(released.getTime() + i * 1000) }));
  const tables = await openTables(dsn);
  for (let i = 0; i < rows.length; i += 2000) await insertReleases(tables, rows.slice(i, i + 2000));
  await tables.close();
  await db.rebuildDerived();
  await db.close();
}

async function coordinatorSide(): Promise<void> {
  const slaves = Number(values.slaves);
  const seconds = Number(values.seconds);
  const size = Number(values.mb) * 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'piw-bench-coordinator-'));
  try {
    const dsn = values.dsn ?? join(dir, 'piwheels.sqlite');
    if (values.dsn === undefined) await prepareDatabase(dsn, Number(values.versions));
    const output = join(dir, 'www');
    mkdirSync(output);
    const config = masterConfigSchema.parse({
      dsn,
      outputPath: output,
      follow: false,
      statusQueue: `ipc://${dir}/status`,
      controlQueue: `ipc://${dir}/control`,
      importQueue: `ipc://${dir}/import`,
      logQueue: `ipc://${dir}/logger`,
      slaveQueue: `tcp://127.0.0.1:${await freePort()}`,
      fileQueue: `tcp://127.0.0.1:${await freePort()}`,
      pypiSimple: 'http://127.0.0.1:1/simple',
    });
    const coordinator = await startCoordinator(config, { logger: silentLogger() });
    const tables = await openTables(dsn);
    // the first queue refresh and the first statistics pass
    await new Promise((resolve) => setTimeout(resolve, 2000));
    globalThis.gc?.();
    const rssIdle = process.memoryUsage().rss;

    // dispatch
    const buildsBefore = await countRows(tables, 'builds');
    const sim = peer(['--as-slaves', config.slaveQueue, '--slaves', String(slaves), '--seconds', String(seconds)]);
    await sim.ready;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    sim.child.stdin!.write('go\n');
    const { builds, cpuUs: peerCpuUs } = (await sim.result) as { builds: number; cpuUs: number };
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuPerBuildUs = (cpu.user + cpu.system) / builds;
    const recorded = (await countRows(tables, 'builds')) - buildsBefore;

    // transfer, once the coordinator has digested the dispatch phase (the
    // builds it recorded, the pages they changed)
    await settle();
    const source = join(dir, 'bench-1.0-py3-none-any.whl');
    const hash = createHash('sha256');
    const fd = openSync(source, 'w');
    for (let written = 0; written < size; written += 1024 * 1024) {
      const block = randomBytes(Math.min(1024 * 1024, size - written));
      hash.update(block);
      writeSync(fd, block);
    }
    closeSync(fd);
    globalThis.gc?.();
    const slaveId = 999_999;
    const sender = peer(['--as-sender', config.fileQueue, String(slaveId), source]);
    await sender.ready;
    let rssPeak = process.memoryUsage().rss;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const t1 = performance.now();
    coordinator.fileJuggler.expect(slaveId, {
      filename: 'bench-1.0-py3-none-any.whl', filesize: size, filehash: hash.digest('hex'), packageTag: 'bench',
      packageVersionTag: '1.0', pyVersionTag: 'py3', abiTag: 'none', platformTag: 'any', requiresPython: null,
    });
    sender.child.stdin!.write('go\n');
    await sender.result;
    const ok = await coordinator.fileJuggler.verify(slaveId, 'bench');
    const transferSeconds = (performance.now() - t1) / 1000;
    clearInterval(sampler);
    if (!ok) throw new Error('the benchmark transfer failed to verify');
    await sender.exited;
    await tables.close();
    await coordinator.stop();

    console.log('| figure | original | target | measured |');
    console.log('|---|---|---|---|');
    console.log(`| dispatch, ${slaves} simulated slaves (IDLE→BUILD→BUILT→DONE, recorded) | — | ≥ 2000 builds/s | ${(builds / elapsed).toFixed(0)} builds/s (${builds} in ${elapsed.toFixed(1)} s, ${recorded} recorded) |`);
    console.log(`| coordinator CPU per build | — | — | ${cpuPerBuildUs.toFixed(0)} µs (the simulated slaves: ${(peerCpuUs / builds).toFixed(0)} µs) |`);
    console.log(`| ${mb(size)} MB wheel slave → coordinator, loopback, verified and committed | ~300 MB/s | ≥ 600 MB/s | ${(size / 1024 / 1024 / transferSeconds).toFixed(0)} MB/s |`);
    console.log(`| coordinator RSS idle (all tasks, ${values.dsn === undefined ? 'SQLite' : 'given database'}) | ~80 MB | — | ${mb(rssIdle)} MB |`);
    console.log(`| coordinator RSS during the transfer (peak) | — | — | ${mb(rssPeak)} MB |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values['as-slaves']) await runSlaves(values['as-slaves'], Number(values.slaves), Number(values.seconds) * 1000);
else if (values['as-sender']) await runSender(values['as-sender'], Number(positionals[0]), positionals[1]!);
else await coordinatorSide();
