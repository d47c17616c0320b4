// Wire layer: protocol message round trips on REQ/REP over TCP loopback, and
// verified file-transfer throughput over loopback, each beside the same
// measurement with Python peers (pyzmq + cbor2, the original's stack; the
// Python side decodes and encodes every message but has no voluptuous here,
// so its figures flatter the original slightly).
//
// The far end of each measurement runs in its own process, as a slave does.
// WIRE_BENCH_ROUND_TRIPS (default 20,000) and WIRE_BENCH_MB (default 100)
// change the sizes.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UtcDateTime } from '../shared/wire/cbor.ts';
import { TransferState, TransferTable, sendFile } from '../shared/wire/file-transfer.ts';
import { reverse, slaveDriver, type DataOf, type Table } from '../shared/wire/protocols.ts';
import { createSocket, type WireSocket } from '../shared/wire/transport.ts';

const ROUND_TRIPS = Number(process.env.WIRE_BENCH_ROUND_TRIPS ?? 20_000);
const MEGABYTES = Number(process.env.WIRE_BENCH_MB ?? 100);
const PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('../test/fixtures/python/peer.py', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

const stats: DataOf<typeof slaveDriver.recv, 'IDLE'> = [
  UtcDateTime.parse('2026-11-25T07:53:36.925882Z'),
  270553174016,
  83122921472,
  25276514304,
  21983539200,
  0,
  0,
  1.15,
  0,
];
// the same IDLE and BUILD in the Python peer's typed JSON
const typedIdle = ['IDLE', [{ $dt: '2026-11-25T07:53:36.925882Z' }, 270553174016, 83122921472, 25276514304, 21983539200, 0, 0, { $float: 1.15 }, { $float: 0 }]];
const typedBuild = ['BUILD', ['e2e-pure', '1.1']];

interface Child {
  lines: AsyncIterableIterator<unknown>;
  done: Promise<void>;
}

function run(command: string, args: string[], stdin = ''): Child {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(stdin);
  const queue: unknown[] = [];
  let wake: (() => void) | null = null;
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      queue.push(JSON.parse(buffer.slice(0, nl)));
      buffer = buffer.slice(nl + 1);
      wake?.();
    }
  });
  const done = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}`)))),
  );
  async function* lines(): AsyncIterableIterator<unknown> {
    for (;;) {
      while (queue.length > 0) yield queue.shift();
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  return { lines: lines(), done };
}

async function nextLine<T>(child: Child): Promise<T> {
  return (await child.lines.next()).value as T;
}

// --- child roles (run in a separate process) --------------------------------

async function childMain(role: string, args: string[]): Promise<void> {
  if (role === 'rtt-req') {
    const [endpoint, count] = args as [string, string];
    const req = createSocket('REQ', { protocol: reverse(slaveDriver) });
    req.connect(endpoint);
    const start = performance.now();
    for (let i = 0; i < Number(count); i++) {
      await req.send('IDLE', stats);
      await req.recv();
    }
    const seconds = (performance.now() - start) / 1000;
    await req.send('BYE');
    req.close();
    console.log(JSON.stringify({ seconds }));
  } else if (role === 'file-send') {
    const [endpoint, slaveId, path] = args as [string, string, string];
    const dealer = createSocket('DEALER', { hwm: 10 });
    dealer.connect(endpoint);
    await sendFile(dealer as unknown as WireSocket<Table, Table>, Number(slaveId), path);
    dealer.close();
    console.log(JSON.stringify({ sent: true }));
  }
}

// --- measurements -------------------------------------------------------------

/** Our ROUTER master answering IDLE with BUILD, as the slave driver would. */
async function ourServer(client: (endpoint: string) => Child): Promise<number> {
  const router = createSocket('ROUTER', { protocol: slaveDriver });
  await router.bind('tcp://127.0.0.1:0');
  const child = client(router.endpoint!);
  const result = nextLine<{ seconds: number }>(child);
  for (;;) {
    const m = await router.recvAddr();
    if (m.msg === 'BYE') break;
    await router.sendAddr(m.address, 'BUILD', ['e2e-pure', '1.1']);
  }
  const { seconds } = await result;
  await child.done.catch(() => undefined);
  router.close(0);
  return ROUND_TRIPS / seconds;
}

function tsClient(endpoint: string): Child {
  return run(process.execPath, ['--import', 'tsx', SELF, 'child', 'rtt-req', endpoint, String(ROUND_TRIPS)]);
}

function pythonClient(endpoint: string): Child {
  // rtt-req ends without BYE; send one so the server loop ends
  const child = run(PYTHON, [PEER, 'rtt-req', 'REQ', 'connect', endpoint, String(ROUND_TRIPS)], JSON.stringify([typedIdle]));
  const bye = (async () => {
    const line = await nextLine<{ seconds: number }>(child);
    const req = createSocket('REQ', { protocol: reverse(slaveDriver) });
    req.connect(endpoint);
    await req.send('BYE');
    // the default linger lets BYE leave before the socket goes
    req.close();
    return line;
  })();
  return { lines: (async function* () { yield await bye; })(), done: child.done };
}

async function pythonToPython(): Promise<number> {
  const server = run(PYTHON, [PEER, 'rtt-serve', 'REP', 'bind', 'tcp://127.0.0.1:0'], JSON.stringify([typedBuild]));
  const { endpoint } = await nextLine<{ endpoint: string }>(server);
  const client = run(PYTHON, [PEER, 'rtt-req', 'REQ', 'connect', endpoint, String(ROUND_TRIPS)], JSON.stringify([typedIdle]));
  const { seconds } = await nextLine<{ seconds: number }>(client);
  await client.done;
  const bye = run(PYTHON, [PEER, 'rtt-req', 'REQ', 'connect', endpoint, '1'], JSON.stringify(['BYE']));
  await bye.done;
  await server.done;
  return ROUND_TRIPS / seconds;
}

interface TransferRun {
  mbPerSecond: number;
}

/** Our ROUTER receiving, verifying and committing one file from `sender`. */
async function ourReceiver(dir: string, data: Buffer, hash: string, sender: (endpoint: string) => Child): Promise<TransferRun> {
  const router = createSocket('ROUTER', { hwm: 1000 });
  await router.bind('tcp://127.0.0.1:0');
  const table = new TransferTable();
  const out = mkdtempSync(join(dir, 'out-'));
  table.expect(new TransferState(1, { filename: 'bench-1.0-py3-none-any.whl', filesize: data.length, filehash: hash, platformTag: 'any' }, out));
  const child = sender(router.endpoint!);
  let start = 0;
  for (;;) {
    const [address, ...frames] = await router.recvRaw();
    if (start === 0) start = performance.now();
    const result = table.handle(address!, frames);
    for (const reply of result.replies) await router.sendRaw(reply);
    if (result.completed !== null) break;
  }
  const transfer = table.takeCompleted(1)!;
  await transfer.verify();
  await transfer.commit('bench');
  const seconds = (performance.now() - start) / 1000;
  await child.done;
  router.close(0);
  return { mbPerSecond: data.length / 1e6 / seconds };
}

async function pythonReceiver(dir: string, data: Buffer, source: string): Promise<TransferRun> {
  const receiver = run(PYTHON, [PEER, 'file-recv', 'ROUTER', 'bind', 'tcp://127.0.0.1:0', String(data.length), join(dir, 'py-received.whl')]);
  const { endpoint } = await nextLine<{ endpoint: string }>(receiver);
  const sender = run(PYTHON, [PEER, 'file-send', 'DEALER', 'connect', endpoint, '1', source]);
  const { seconds } = await nextLine<{ seconds: number }>(receiver);
  await Promise.all([sender.done, receiver.done]);
  return { mbPerSecond: data.length / 1e6 / seconds };
}

async function best<T>(runs: number, f: () => Promise<T>, key: (t: T) => number): Promise<number> {
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, key(await f()));
  return top;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wire-bench-'));
  try {
    const rttOurs = await best(3, () => ourServer(tsClient), (x) => x);
    const rttCross = await best(3, () => ourServer(pythonClient), (x) => x);
    const rttPython = await best(3, pythonToPython, (x) => x);

    const data = randomBytes(MEGABYTES * 1024 * 1024);
    const hash = createHash('sha256').update(data).digest('hex');
    const source = join(dir, 'source.whl');
    writeFileSync(source, data);
    const tsSender = (endpoint: string) => run(process.execPath, ['--import', 'tsx', SELF, 'child', 'file-send', endpoint, '1', source]);
    const pySender = (endpoint: string) => run(PYTHON, [PEER, 'file-send', 'DEALER', 'connect', endpoint, '1', source]);
    const fileOurs = await best(3, () => ourReceiver(dir, data, hash, tsSender), (r) => r.mbPerSecond);
    const fileCross = await best(3, () => ourReceiver(dir, data, hash, pySender), (r) => r.mbPerSecond);
    const filePython = await best(3, () => pythonReceiver(dir, data, source), (r) => r.mbPerSecond);

    const f0 = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`| measurement | ours (TS ↔ TS) | Python slave ↔ our master | Python ↔ Python | target |`);
    console.log(`|---|---|---|---|---|`);
    console.log(`| REQ/ROUTER round trips over tcp loopback (IDLE → BUILD), /s | ${f0(rttOurs)} | ${f0(rttCross)} | ${f0(rttPython)} | ≥ 20,000 |`);
    console.log(`| file transfer, ${MEGABYTES} MiB, SHA-256 verified + committed (window 10 chunks: ours ask 1 MiB, piwheels' 64 KiB), MB/s | ${f0(fileOurs)} | ${f0(fileCross)} | ${f0(filePython)} | ≥ 800 |`);
    console.log(`\n(best of 3 runs; ${ROUND_TRIPS.toLocaleString('en-US')} round trips per run)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') {
  await childMain(process.argv[3]!, process.argv.slice(4));
} else {
  await main();
}
