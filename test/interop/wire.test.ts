// Wire compatibility with Python peers (pyzmq + cbor2, encoding as piwheels
// does): every message of the slave, file, import, logger, monitor and
// control protocols crosses in both directions over the socket types
// piwheels uses, and each value reads back as the same thing on the far side.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fileJugglerFs,
  lumberjack,
  masterControl,
  monitorStats,
  mrChase,
  reverse,
  slaveDriver,
  type Protocol,
  type Table,
} from '../../shared/wire/protocols.ts';
import { createSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { FETCH_SIZE, TransferState, TransferTable, sendFile } from '../../shared/wire/file-transfer.ts';
import { asSeenByJs, messageFromTyped, messageToTyped, startPeer, type Peer, type TypedMessage } from '../helpers/python-peer.ts';

const dir = mkdtempSync(join(tmpdir(), 'wire-interop-'));
const sockets: Array<WireSocket<Table, Table>> = [];
const peers: Peer[] = [];
after(() => {
  for (const s of sockets) s.close(0);
  for (const p of peers) p.kill();
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
const ipc = (): string => `ipc://${join(dir, `s${n++}`)}`;

function socket<R extends Table, S extends Table>(kind: Parameters<typeof createSocket>[0], protocol?: Protocol<R, S>): WireSocket<R, S> {
  const s = createSocket(kind, protocol === undefined ? {} : { protocol });
  sockets.push(s as unknown as WireSocket<Table, Table>);
  return s;
}

function peer(...args: Parameters<typeof startPeer>): Peer {
  const p = startPeer(...args);
  peers.push(p);
  return p;
}

// --- the messages ----------------------------------------------------------------

const td = (d: number, s: number, us: number) => ({ $td: [d, s, us] });
const dt = (iso: string) => ({ $dt: iso });
const float = (x: number) => ({ $float: x });
const map = (...entries: Array<[string, unknown]>) => ({ $map: entries });

const fileState = [
  'e2e_pure-1.1-py3-none-any.whl',
  1226,
  '0c8ac8594d8d22a55d36b1a38617651d0787dd0ce248e53bb7b9bbcec63112c3',
  'e2e_pure',
  '1.1',
  'py3',
  'none',
  'any',
  '>=3.7',
  map(['apt', ['libc6']], ['pip', ['numpy', 'six']], ['', []]),
  '/simple',
];
const armFile = ['nump-1.0-cp311-cp311-linux_armv7l.whl', 5_000_000_000, 'ab'.repeat(32), 'nump', '1.0', 'cp311', 'cp311', 'linux_armv7l', null, map(), 'https://archive.example/simple'];

const slaveRequests: TypedMessage[] = [
  ['HELLO', [td(0, 10800, 0), td(0, 300, 0), '311', 'cp311', 'linux_armv7l', 'pi4-büild', 'Raspbian GNU/Linux', '12 (bookworm)', 'c03114', '100000001']],
  ['IDLE', [dt('2026-11-25T07:53:36.925882Z'), 270553174016, 83122921472, 25276514304, 21983539200, 0, 0, float(1.15283203125), float(0)]],
  ['BUSY', [dt('2026-01-02T03:04:05Z'), 2 ** 40, 2 ** 33, 4_000_000_000, 1, 2, 3, float(2), float(45.5)]],
  ['BUILT', [true, td(0, 2, 372039), 'Collecting e2e-pure==1.1\nrésumé ✓\n', [fileState, armFile]]],
  ['BUILT', [false, td(1, 0, 1), '', []]],
  'SENT',
  ['IDLE', [dt('1999-12-31T23:59:59.000001Z'), 0, 0, 0, 0, 0, 0, float(0.5), float(-3)]],
  'BYE',
];
const masterReplies: TypedMessage[] = [
  ['ACK', [2, 'http://127.0.0.1:18080/simple']],
  ['SLEEP', true],
  ['SLEEP', false],
  ['BUILD', ['e2e-pure', '1.1']],
  'CONT',
  ['SEND', 'e2e_pure-1.1-py3-none-any.whl'],
  'DONE',
  'DIE',
];

const fsRequests: TypedMessage[] = [
  ['EXPECT', [3, fileState]],
  ['VERIFY', [3, 'e2e-pure']],
  ['VERIFY', [4, 'numpy']],
];
const fsReplies: TypedMessage[] = [
  ['OK', null],
  ['OK', [1, 'x', map(['k', [true]])]],
  ['ERROR', 'failed to verify transfer'],
];

const importRequests: TypedMessage[] = [
  ['ADDPKG', ['numpy', 'NumPy is the fundamental package', '', false, ['NumPy', 'num_py']]],
  ['ADDVER', ['numpy', '1.26.4', 'binary only', true, dt('2024-02-05T21:00:00.500000Z'), false, true, []]],
  ['IMPORT', [0, 'e2e-pure', '1.1', 'cp311', true, td(0, 59, 999999), 'imported', [fileState]]],
  'SENT',
  ['REMPKG', ['numpy', true, 'spam']],
  ['REMVER', ['numpy', '1.26.4', false, '', true]],
  ['REBUILD', ['HOME']],
  ['REBUILD', ['SEARCH']],
  ['REBUILD', ['PROJECT', 'numpy']],
  ['REBUILD', ['BOTH', null]],
];
const importReplies: TypedMessage[] = [
  ['DONE', 'ADDPKG'],
  ['DONE', 'ADDVER'],
  ['SEND', 'e2e_pure-1.1-py3-none-any.whl'],
  ['DONE', 'IMPORT'],
  ['ERROR', 'unknown package numpy'],
  ['DONE', 'REMVER'],
  ['DONE', 'REBUILD'],
  ['DONE', 'REBUILD'],
  ['DONE', 'REBUILD'],
  ['ERROR', 'invalid rebuild'],
];

const client = ['armv7l', 'Raspbian GNU/Linux', '12', 'Linux', '6.1.21-v7+', 'CPython', '3.11.2', 'pip', '23.0.1', null];
const loggerMessages: TypedMessage[] = [
  ['LOGDOWNLOAD', ['numpy-1.26.4-cp311-cp311-linux_armv7l.whl', '2001:db8::1', dt('2026-11-25T07:00:00Z'), ...client]],
  ['LOGSEARCH', ['numpy', '10.0.0.7', dt('2026-11-25T07:00:01.250000Z'), null, null, null, null, null, null, null, null, null, null]],
  ['LOGPROJECT', ['numpy', '10.0.0.7', dt('2026-11-25T07:00:02Z'), 'Mozilla/5.0']],
  ['LOGJSON', ['numpy', '10.0.0.7', dt('2026-11-25T07:00:03Z'), 'curl/8.0']],
  ['LOGPAGE', ['faq.html', '10.0.0.7', dt('2026-11-25T07:00:04Z'), '']],
];

const controlMessages: TypedMessage[] = ['HELLO', ['KILL', 3], ['KILL', null], ['SLEEP', 1], ['SLEEP', null], ['SKIP', 2], ['WAKE', null], 'QUIT'];

const masterStats = [
  dt('2026-11-25T07:00:00.123456Z'),
  12345,
  map(['cp311', 10], ['cp39', 0]),
  td(0, 3600, 0),
  987654321012,
  map(['cp311', 5]),
  7,
  7_300_000,
  100,
  3_000_000,
  2 ** 35,
  2 ** 42,
  2 ** 41,
  8_000_000_000,
  4_000_000_000,
  0,
  0,
  float(0.25),
  float(0),
];
const monitorMessages: TypedMessage[] = [
  ['HELLO', [dt('2026-11-25T06:00:00Z'), 'master', 'Debian GNU/Linux', '12 (bookworm)', 'unknown', 'unknown']],
  ['STATS', masterStats],
  ['SLAVE', [2, dt('2026-11-25T07:00:00Z'), 'BUILD', ['e2e-pure', '1.1']]],
  ['SLAVE', [2, dt('2026-11-25T07:00:01Z'), 'DONE', { $nodata: null }]],
];

// --- helpers -------------------------------------------------------------------------

const expectJs = (messages: TypedMessage[]): TypedMessage[] => messages.map((m) => (typeof m === 'string' ? m : [m[0], asSeenByJs(m[1])]));

/** Python is the REQ client; our ROUTER answers with `replies`. */
async function pythonRequestsOurRouter<R extends Table, S extends Table>(protocol: Protocol<R, S>, requests: TypedMessage[], replies: TypedMessage[]): Promise<void> {
  const router = socket('ROUTER', protocol);
  await router.bind('tcp://127.0.0.1:0');
  const py = peer('req', 'REQ', 'connect', router.endpoint!, [], requests);
  const seen: TypedMessage[] = [];
  for (const reply of replies) {
    const got = await router.recvAddr();
    seen.push(messageToTyped(got.msg, got.data));
    const { msg, data } = messageFromTyped(reply);
    await (router.sendAddr as (a: Buffer, m: string, d?: unknown) => Promise<void>)(got.address, msg, data);
  }
  assert.deepEqual(seen, expectJs(requests), 'what our ROUTER received from Python');
  assert.deepEqual(await py.result, replies, 'what Python received from our ROUTER');
}

/** Our REQ is the client; Python's ROUTER answers with `replies`. */
async function ourRequestsPythonRouter<R extends Table, S extends Table>(protocol: Protocol<R, S>, requests: TypedMessage[], replies: TypedMessage[]): Promise<void> {
  const py = peer('serve', 'ROUTER', 'bind', 'tcp://127.0.0.1:0', [], replies);
  const req = socket('REQ', reverse(protocol));
  req.connect(await py.endpoint);
  const seen: TypedMessage[] = [];
  for (const request of requests) {
    const { msg, data } = messageFromTyped(request);
    await (req.send as (m: string, d?: unknown) => Promise<void>)(msg, data);
    const got = await req.recv();
    seen.push(messageToTyped(got.msg, got.data));
  }
  const served = (await py.result) as { messages: TypedMessage[]; identical: boolean[] };
  assert.deepEqual(served.messages, requests, 'what Python received from our REQ');
  assert.deepEqual(served.identical, requests.map(() => true), 'cbor2 re-encodes our bytes exactly');
  assert.deepEqual(seen, expectJs(replies), 'what our REQ received from Python');
}

async function pushTo(sender: WireSocket<Table, Table>, messages: TypedMessage[]): Promise<void> {
  for (const m of messages) {
    const { msg, data } = messageFromTyped(m);
    await (sender.send as (m: string, d?: unknown) => Promise<void>)(msg, data);
  }
}

async function pushPull<R extends Table, S extends Table>(protocol: Protocol<R, S>, messages: TypedMessage[]): Promise<void> {
  // ours PUSH -> Python PULL
  const py = peer('recv', 'PULL', 'bind', `${ipc()}`, [String(messages.length)]);
  const push = socket('PUSH', reverse(protocol));
  push.connect(await py.endpoint);
  await pushTo(push as unknown as WireSocket<Table, Table>, messages);
  const pulled = (await py.result) as { messages: TypedMessage[]; identical: boolean[] };
  assert.deepEqual(pulled.messages, messages, 'what Python pulled from our PUSH');
  // cbor2 writes each of these values back to exactly our bytes
  assert.deepEqual(pulled.identical, messages.map(() => true));
  // Python PUSH -> ours PULL
  const pull = socket('PULL', protocol);
  await pull.bind(ipc());
  const pySend = peer('send', 'PUSH', 'connect', pull.endpoint!, [], messages);
  const seen: TypedMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const got = await pull.recv();
    seen.push(messageToTyped(got.msg, got.data));
  }
  assert.deepEqual(seen, expectJs(messages), 'what our PULL received from Python');
  assert.equal(await pySend.result, messages.length);
}

// --- the tests -----------------------------------------------------------------------

describe('interop with Python peers', () => {
  test('slave protocol: Python slave (REQ) to our master (ROUTER)', async () => {
    await pythonRequestsOurRouter(slaveDriver, slaveRequests, masterReplies);
  });

  test('slave protocol: our slave (REQ) to a Python master (ROUTER)', async () => {
    await ourRequestsPythonRouter(slaveDriver, slaveRequests, masterReplies);
  });

  test('file juggler control: EXPECT / VERIFY and OK / ERROR both ways', async () => {
    await pythonRequestsOurRouter(fileJugglerFs, fsRequests, fsReplies);
    await ourRequestsPythonRouter(fileJugglerFs, fsRequests, fsReplies);
  });

  test('import tools: every request and reply both ways', async () => {
    await pythonRequestsOurRouter(mrChase, importRequests, importReplies);
    await ourRequestsPythonRouter(mrChase, importRequests, importReplies);
  });

  test('logger: every entry over PUSH / PULL both ways', async () => {
    await pushPull(lumberjack, loggerMessages);
  });

  test('control: every message over PUSH / PULL both ways', async () => {
    await pushPull(masterControl, controlMessages);
  });

  test('monitor status: our PUB to a Python SUB', async () => {
    // subscribers join late, so the publisher repeats the set in rounds;
    // two rounds' worth of messages hold one complete, aligned round
    const pub = socket('PUB', monitorStats);
    await pub.bind(ipc());
    const py = peer('recv', 'SUB', 'connect', pub.endpoint!, [String(monitorMessages.length * 2)]);
    let done = false;
    void py.result.finally(() => (done = true)).catch(() => undefined);
    while (!done) {
      await pushTo(pub as unknown as WireSocket<Table, Table>, monitorMessages);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const { messages: seen, identical } = (await py.result) as { messages: TypedMessage[]; identical: boolean[] };
    assert.ok(identical.every(Boolean), 'cbor2 re-encodes our bytes exactly');
    const start = seen.findIndex((m) => JSON.stringify(m) === JSON.stringify(monitorMessages[0]));
    assert.ok(start >= 0 && start <= monitorMessages.length);
    assert.deepEqual(seen.slice(start, start + monitorMessages.length), monitorMessages);
  });

  test('monitor status: a Python PUB to our SUB', async () => {
    const sub = socket('SUB', reverse(monitorStats));
    await sub.bind(ipc());
    sub.subscribe();
    const py = peer('send', 'PUB', 'connect', sub.endpoint!, [], monitorMessages);
    const first = JSON.stringify(expectJs(monitorMessages)[0]);
    let got = await sub.recv();
    while (JSON.stringify(messageToTyped(got.msg, got.data)) !== first) got = await sub.recv();
    const seen = [messageToTyped(got.msg, got.data)];
    while (seen.length < monitorMessages.length) {
      const m = await sub.recv();
      seen.push(messageToTyped(m.msg, m.data));
    }
    py.kill();
    assert.deepEqual(seen, expectJs(monitorMessages));
  });

  test('file transfer: a Python sender (the piwheels slave loop) to our receiver', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const source = join(dir, 'py-source.whl');
    writeFileSync(source, data);
    const router = socket('ROUTER');
    await router.bind('tcp://127.0.0.1:0');
    const table = new TransferTable();
    const hash = createHash('sha256').update(data).digest('hex');
    table.expect(new TransferState(11, { filename: 'x-1-py3-none-any.whl', filesize: data.length, filehash: hash, platformTag: 'any' }, join(dir, 'out')));
    const py = peer('file-send', 'DEALER', 'connect', router.endpoint!, ['11', source]);
    for (;;) {
      const [address, ...frames] = await router.recvRaw();
      const result = table.handle(address!, frames);
      assert.equal(result.ignored, null);
      for (const reply of result.replies) await router.sendRaw(reply);
      if (result.completed !== null) break;
    }
    const transfer = table.takeCompleted(11)!;
    await transfer.verify();
    const final = await transfer.commit('x');
    assert.ok(readFileSync(final).equals(data));
    // the Python sender serves the FETCH_SIZE chunks our receiver asks for;
    // near the end the receiver re-fetches chunks still in flight (as
    // piwheels' master does), so the sender may serve a few twice
    const { chunks } = (await py.result) as { chunks: number };
    const needed = Math.ceil(data.length / FETCH_SIZE);
    assert.ok(chunks >= needed && chunks < needed + 10, `chunks sent: ${chunks}`);
  });

  test('file transfer: our sender to a Python receiver', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 7);
    const source = join(dir, 'ts-source.whl');
    writeFileSync(source, data);
    const target = join(dir, 'py-target.whl');
    const py = peer('file-recv', 'ROUTER', 'bind', 'tcp://127.0.0.1:0', [String(data.length), target]);
    const dealer = socket('DEALER');
    dealer.connect(await py.endpoint);
    await sendFile(dealer as unknown as WireSocket<Table, Table>, 12, source);
    const received = (await py.result) as { slave_id: number; sha256: string };
    assert.equal(received.slave_id, 12);
    assert.equal(received.sha256, createHash('sha256').update(data).digest('hex'));
    assert.ok(readFileSync(target).equals(data));
  });
});
