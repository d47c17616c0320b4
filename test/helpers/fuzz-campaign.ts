// The fuzzing campaign: a real piw-master child process on a fresh SQLite
// database, loopback endpoints only, is sent seeded malformed, truncated,
// oversized and wrong-typed messages and file-transfer frames on all six
// endpoints (test/helpers/fuzz-cases.ts makes them). Cases that still pass
// the schema are made harmless first where a valid request would change
// what is stored or stop the master (control messages are not sent, import
// requests name no existing package, logger records carry no valid client
// address). Afterwards: the master is alive; the database and the output
// tree are exactly as before; its memory is back near its baseline; and each
// endpoint serves a valid request (HELLO gets ACK, a wheel arriving between
// bogus frames is verified and recorded, an import tool gets its answer, a
// monitor's HELLO gets the status HELLO, a download record is stored).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import * as zmq from 'zeromq';
import { openDatabase } from '../../shared/db/index.ts';
import { UtcDateTime, decodeCbor, encodeCbor } from '../../shared/wire/cbor.ts';
import { sendFile } from '../../shared/wire/file-transfer.ts';
import { downloadStateSchema, encodeMessage, lumberjack, masterControl, mrChase, reverse, toWire, type Table } from '../../shared/wire/protocols.ts';
import { createSocket } from '../../shared/wire/transport.ts';
import { wheelKey } from './burst-slave.ts';
import { diffTrees, strayTempFiles, treeHashes } from './campaign-checks.ts';
import { migrateTo } from './db.ts';
import { FakeSlave, fakeWheel } from './fake-slave.ts';
import { CBOR_ENDPOINTS, ENDPOINTS, makeCase, oversized, verdict, type CborEndpoint, type EndpointName, type FuzzCase } from './fuzz-cases.ts';
import { MasterProcess, loopbackEndpoints, type LogEntry } from './master-process.ts';
import { Prng } from './prng.ts';
import { buildWheel, type BuiltWheel } from './wheel.ts';

const ABI = 'cp311';
/** The ABI fuzzed HELLOs claim: not a build ABI, so no fuzzed slave is ever handed a build. */
const FUZZ_ABI = 'cp34';
const ABSENT = 'zz-absent-package';
/** Output areas that hold what the farm stores (the home page and search index are rewritten on timers). */
const STORED_AREAS = ['simple', 'project', 'logs'];
/** Tables whose rows come and go by themselves: the page-rewrite journal. */
const TRANSIENT_TABLES = new Set(['rewrites_pending']);

export interface FuzzOptions {
  seed: number;
  messages: number;
  /** Send one message just over each CBOR endpoint's size limit. */
  oversized?: boolean;
  /** Fuzz only these endpoints (all six by default); each is still checked afterwards. */
  only?: readonly EndpointName[];
  log?: (line: string) => void;
}

export interface FuzzReport {
  sent: Record<EndpointName, number>;
  /** cases by what was done to them */
  kinds: Map<string, number>;
  /** cases that still passed the schema and were made harmless (import, logger) or not sent (control) */
  defused: number;
  withheld: number;
  /** cases whose local decode threw something other than a ProtocolError */
  escapes: string[];
  replies: number;
  /** the master exited during the campaign */
  crashes: number;
  /** SIGTERM afterwards ended it with status 0 */
  stoppedCleanly: boolean;
  errorsLogged: number;
  warningsLogged: number;
  /** distinct messages of the errors logged */
  errorMessages: string[];
  rss: { baseline: number; peak: number; after: number };
  /** differences in the database or stored tree after the fuzzing */
  storeChanges: string[];
  /** valid requests after the fuzzing: endpoint -> problem, or null when served */
  served: Record<EndpointName, string | null>;
  seconds: number;
}

/** Every table's row count and a hash of its sorted rows. */
function tableDigests(dsn: string): Map<string, string> {
  const db = new BetterSqlite3(dsn, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>;
    const out = new Map<string, string>();
    for (const { name } of tables) {
      if (TRANSIENT_TABLES.has(name)) continue;
      const rows = (db.prepare(`SELECT * FROM "${name}"`).raw().all() as unknown[][]).map((row) => JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).sort();
      out.set(name, `${rows.length} rows, ${createHash('sha256').update(rows.join('\n')).digest('hex').slice(0, 16)}`);
    }
    return out;
  } finally {
    db.close();
  }
}

function tableCount(dsn: string, table: string, where = ''): number {
  const db = new BetterSqlite3(dsn, { readonly: true, fileMustExist: true });
  try {
    return Number((db.prepare(`SELECT count(*) AS n FROM "${table}" ${where}`).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

async function waitFor<T>(timeoutMs: number, check: () => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() > end) return value;
    await sleep(100);
  }
}

/** Rewrites a schema-valid import request so that it must be refused and change nothing. */
function defuseImport(msg: string, data: unknown): unknown {
  // freshly decoded, so changed in place
  const d = data as unknown[];
  switch (msg) {
    case 'ADDPKG':
      d[0] = `!not a name ${String(d[0])}`;
      return d;
    case 'ADDVER':
      d[0] = ABSENT;
      d[7] = [];
      return d;
    case 'IMPORT':
      d[1] = ABSENT;
      return d;
    case 'REMPKG':
    case 'REMVER':
      d[0] = ABSENT;
      return d;
    case 'REBUILD':
      return ['PROJECT', ABSENT];
    default:
      return data;
  }
}

/** Rewrites a schema-valid logger message so that every record it holds is refused (no client address). */
function defuseLogger(msg: string, data: unknown): unknown {
  const d = data as unknown[];
  if (msg !== 'LOGBATCH') {
    d[1] = 'not-an-address';
    return d;
  }
  for (const records of d.slice(1) as unknown[][][]) for (const record of records) record[1] = 'not-an-address';
  return d;
}

/** The CBOR of a (defused) valid message, in its wire form. */
function reencode(table: Table, msg: string, data: unknown): Buffer {
  const schema = table[msg];
  return schema === null || schema === undefined ? encodeCbor(msg) : encodeCbor([msg, toWire(schema, data)]);
}

interface Senders {
  send(c: FuzzCase): Promise<void>;
  replies(): number;
  close(): void;
}

/** A few sockets per endpoint, each case on one of them; replies are drained and counted. */
function openSenders(endpoints: Record<EndpointName, string>, rng: Prng): Senders {
  let replies = 0;
  const all: zmq.Socket[] = [];
  const drain = (socket: zmq.Dealer): void => {
    void (async () => {
      for (;;) {
        try {
          await socket.receive();
          replies += 1;
        } catch {
          return;
        }
      }
    })();
  };
  const make = <S extends zmq.Socket>(count: number, create: () => S, endpoint: string): S[] =>
    Array.from({ length: count }, () => {
      const socket = create();
      socket.connect(endpoint);
      all.push(socket);
      return socket;
    });
  const dealer = (): zmq.Dealer => {
    const socket = new zmq.Dealer({ linger: 0, sendHighWaterMark: 10_000 });
    drain(socket);
    return socket;
  };
  const pools: Record<EndpointName, zmq.Writable[]> = {
    slaves: make(4, dealer, endpoints.slaves),
    files: make(4, dealer, endpoints.files),
    import: make(2, dealer, endpoints.import),
    control: make(2, () => new zmq.Push({ linger: 0 }), endpoints.control),
    logger: make(2, () => new zmq.Push({ linger: 0 }), endpoints.logger),
    status: make(2, () => new zmq.XSubscriber({ linger: 0 }), endpoints.status),
  };
  return {
    async send(c) {
      const socket = rng.pick(pools[c.endpoint]);
      // a send that cannot go within 10 s means the master stopped reading
      await Promise.race([
        socket.send(c.frames),
        sleep(10_000).then(() => {
          throw new Error(`send to ${c.endpoint} blocked for 10 s`);
        }),
      ]);
    },
    replies: () => replies,
    close() {
      for (const socket of all) socket.close();
    },
  };
}

/** HELLO → IDLE → BUILD → BUILT → SEND → transfer → SENT → DONE for one wheel, with bogus frames mixed into the transfer. */
async function buildUnderFire(master: MasterProcess, wheels: ReadonlyMap<string, BuiltWheel>, bogus: boolean): Promise<{ built: string; resends: number }> {
  const slave = new FakeSlave(master.endpoints.slaves, ABI, 300, 30);
  try {
    const ack = await slave.hello();
    if (ack.msg !== 'ACK') throw new Error(`HELLO answered with ${ack.msg}`);
    const [pkg, version] = await slave.untilBuild(60_000);
    const wheel = wheels.get(wheelKey(pkg, version));
    if (!wheel) throw new Error(`no wheel for ${pkg} ${version}`);
    let reply = await slave.built(true, [fakeWheel(wheel.filename, wheel.bytes)]);
    let resends = -1;
    for (let attempt = 0; reply.msg === 'SEND' && attempt < 5; attempt++) {
      resends += 1;
      if (bogus && attempt === 0) await sendCorrupted(master.endpoints.files, slave.id, wheel.bytes);
      else await sendPlain(master.endpoints.files, slave.id, wheel.path);
      reply = await slave.sent();
    }
    if (reply.msg !== 'DONE') throw new Error(`transfer ended with ${reply.msg}`);
    return { built: wheelKey(pkg, version), resends };
  } finally {
    slave.close();
  }
}

async function sendPlain(endpoint: string, slaveId: number, path: string): Promise<void> {
  const socket = createSocket('DEALER', { linger: 0 });
  socket.connect(endpoint);
  try {
    await sendFile(socket, slaveId, path, { signal: AbortSignal.timeout(30_000) });
  } finally {
    socket.close(0);
  }
}

/**
 * A transfer with bogus frames before each real chunk (offsets past the end,
 * chunks running over it, garbage numbers, another sender claiming the same
 * slave id) and one byte of the file flipped: the master must refuse it at
 * SENT and ask again.
 */
async function sendCorrupted(endpoint: string, slaveId: number, data: Buffer): Promise<void> {
  const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 30_000 });
  const intruder = new zmq.Dealer({ linger: 0 });
  dealer.connect(endpoint);
  intruder.connect(endpoint);
  try {
    await dealer.send(['HELLO', String(slaveId)]);
    let flipped = false;
    for (let frames = 0; frames < 10_000; frames++) {
      const [msg, offsetFrame, sizeFrame] = await dealer.receive();
      if (msg?.toString() === 'DONE') return;
      if (msg?.toString() !== 'FETCH') continue;
      const offset = Number(offsetFrame?.toString());
      const size = Number(sizeFrame?.toString());
      await intruder.send(['HELLO', String(slaveId)]);
      await intruder.send(['CHUNK', String(offset), data.subarray(offset, offset + size)]);
      await dealer.send(['CHUNK', String(data.length + 10), Buffer.from('past the end')]);
      await dealer.send(['CHUNK', String(Math.max(0, data.length - 2)), Buffer.from('runs over the end')]);
      await dealer.send(['CHUNK', '-1', Buffer.from('negative')]);
      await dealer.send(['CHUNK', '1e3', Buffer.from('not a number')]);
      await dealer.send(['FETCH', '0', '10']);
      await dealer.send(['CHUNK', String(offset)]);
      const chunk = Buffer.from(data.subarray(offset, offset + size));
      if (!flipped && chunk.length > 0) {
        chunk[chunk.length >> 1] = chunk[chunk.length >> 1]! ^ 0xff;
        flipped = true;
      }
      await dealer.send(['CHUNK', String(offset), chunk]);
    }
  } finally {
    dealer.close();
    intruder.close();
  }
}

/** A monitor's HELLO on the control queue answered by the status HELLO. */
async function monitorHello(endpoints: Record<EndpointName, string>): Promise<string | null> {
  const sub = new zmq.Subscriber({ linger: 0, receiveTimeout: 1000 });
  const push = new zmq.Push({ linger: 0 });
  sub.connect(endpoints.status);
  sub.subscribe();
  push.connect(endpoints.control);
  try {
    for (let tries = 0; tries < 20; tries++) {
      await push.send(encodeMessage(masterControl.recv, 'HELLO'));
      const end = Date.now() + 1000;
      while (Date.now() < end) {
        let frames: Buffer[];
        try {
          frames = await sub.receive();
        } catch {
          break;
        }
        const value = frames[0] === undefined ? null : decodeCbor(frames[0]);
        if (Array.isArray(value) && value[0] === 'HELLO') return null;
      }
    }
    return 'no HELLO on the status queue after 20 monitor HELLOs';
  } finally {
    sub.close();
    push.close();
  }
}

async function importAnswer(endpoint: string): Promise<string | null> {
  const socket = createSocket('REQ', { protocol: reverse(mrChase), linger: 0 });
  socket.connect(endpoint);
  try {
    await socket.send('REMPKG', [ABSENT, false, '']);
    const reply = await socket.recv(30);
    if (reply === null) return 'no answer from the import endpoint';
    return reply.msg === 'ERROR' && reply.data === 'NOPKG' ? null : `unexpected answer ${reply.msg} ${String(reply.data)}`;
  } finally {
    socket.close(0);
  }
}

async function logDownload(endpoint: string, filename: string): Promise<void> {
  const socket = createSocket('PUSH', { protocol: reverse(lumberjack), linger: 1 });
  socket.connect(endpoint);
  try {
    const record = [filename, '192.0.2.1', UtcDateTime.now(), 'armv7l', 'Raspbian', '12', 'Linux', '6.1', 'CPython', '3.11.2', 'pip', '23.0', '66.0'];
    await socket.send('LOGDOWNLOAD', downloadStateSchema.parse(record));
  } finally {
    socket.close(1);
  }
}

function errorEntries(entries: readonly LogEntry[]): LogEntry[] {
  return entries.filter((entry) => entry.level >= 50);
}

export async function runFuzzCampaign(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const log = options.log ?? ((): void => undefined);
  const rng = new Prng(options.seed);
  const dir = mkdtempSync(join(tmpdir(), 'piw-fuzz-'));
  const dsn = join(dir, 'piwheels.sqlite');
  const output = join(dir, 'www');
  mkdirSync(output);
  const endpoints = await loopbackEndpoints(dir);
  const master = new MasterProcess(dir, dsn, output, endpoints, ['--idle-hold', '1', '--page-window', '0.2']);
  const sent = Object.fromEntries(ENDPOINTS.map((e) => [e, 0])) as Record<EndpointName, number>;
  const kinds = new Map<string, number>();
  const served = Object.fromEntries(ENDPOINTS.map((e) => [e, 'not checked'])) as Record<EndpointName, string | null>;
  let senders: Senders | undefined;
  let defused = 0;
  let withheld = 0;
  const escapes: string[] = [];
  try {
    await migrateTo(dsn);
    const db = await openDatabase(dsn);
    const wheels = new Map<string, BuiltWheel>();
    try {
      await db.addBuildAbi(ABI);
      for (const pkg of ['fuzz-a', 'fuzz-b']) {
        await db.addNewPackage(pkg);
        await db.addNewPackageVersion(pkg, '1.0', new Date(pkg === 'fuzz-a' ? '2026-01-01T00:00:00Z' : '2026-01-02T00:00:00Z'));
        wheels.set(wheelKey(pkg, '1.0'), await buildWheel(join(dir, 'wheels'), pkg.replace('-', '_'), '1.0', { padBytes: 300_000 }));
      }
    } finally {
      await db.close();
    }
    await master.start();

    // something stored to protect: one build with its wheel, pages and log, and one download
    const first = await buildUnderFire(master, wheels, false);
    const firstWheel = wheels.get(first.built)!;
    await logDownload(endpoints.logger, firstWheel.filename);
    await waitFor(30_000, () => (tableCount(dsn, 'downloads') === 1 && tableCount(dsn, 'rewrites_pending') === 0 ? true : undefined));
    await waitFor(30_000, async () => ((await strayTempFiles(output)).length === 0 ? true : undefined));
    const dbBefore = tableDigests(dsn);
    const treeBefore = await treeHashes(output, STORED_AREAS);
    const rssSamples: number[] = [];
    for (let i = 0; i < 5; i++) {
      rssSamples.push(master.rss());
      await sleep(200);
    }
    const baseline = rssSamples.sort((a, b) => a - b)[2]!;
    let peak = baseline;
    const errorsBefore = errorEntries(master.entries()).length;
    const warningsBefore = master.entries().filter((e) => e.level === 40).length;

    log(`fuzzing ${options.messages} messages (seed ${options.seed}); master RSS ${(baseline / 2 ** 20).toFixed(0)} MiB`);
    senders = openSenders(endpoints, rng.fork());
    const caseRng = rng.fork();
    const sizes = { huge: 1 << 20 };
    for (let i = 0; i < options.messages; i++) {
      const targets = options.only ?? ENDPOINTS;
      const endpoint = targets[i % targets.length]!;
      const fuzz = makeCase(endpoint, caseRng, sizes);
      if (endpoint in CBOR_ENDPOINTS) {
        const cbor = endpoint as CborEndpoint;
        const payload = fuzz.frames[fuzz.frames.length - 1]!;
        const judged = verdict(cbor, payload);
        if (judged.verdict === 'escaped') escapes.push(`${endpoint} ${fuzz.kind}: ${judged.error}`);
        // only a case framed as the socket expects can reach the master as a message
        if (judged.verdict === 'valid' && !fuzz.reframed) {
          if (cbor === 'control') {
            withheld += 1;
            continue;
          }
          if (cbor === 'import' || cbor === 'logger') {
            const table: Table = CBOR_ENDPOINTS[cbor].table;
            const data = cbor === 'import' ? defuseImport(judged.msg, judged.data) : defuseLogger(judged.msg, judged.data);
            fuzz.frames[fuzz.frames.length - 1] = reencode(table, judged.msg, data);
            fuzz.kind = `${fuzz.kind} (defused)`;
            defused += 1;
          } else if (judged.msg === 'HELLO') {
            // a slave HELLO may stay: only its ABI is pinned to one without builds
            const data = judged.data as unknown[];
            data[3] = FUZZ_ABI;
            fuzz.frames[fuzz.frames.length - 1] = reencode(CBOR_ENDPOINTS.slaves.table, 'HELLO', data);
          }
        }
      }
      await senders.send(fuzz);
      sent[endpoint] += 1;
      kinds.set(`${endpoint}: ${fuzz.kind}`, (kinds.get(`${endpoint}: ${fuzz.kind}`) ?? 0) + 1);
      if (i % 200 === 0) {
        if (!master.alive) break;
        peak = Math.max(peak, master.rss());
      }
    }
    if (options.oversized && master.alive) {
      for (const endpoint of (Object.keys(CBOR_ENDPOINTS) as CborEndpoint[]).filter((e) => (options.only ?? ENDPOINTS).includes(e))) {
        await senders.send(oversized(endpoint));
        sent[endpoint] += 1;
        kinds.set(`${endpoint}: oversized`, (kinds.get(`${endpoint}: oversized`) ?? 0) + 1);
        peak = Math.max(peak, master.rss());
      }
    }
    // let the master work through what is queued, then see what it kept
    const replies = senders.replies();
    senders.close();
    senders = undefined;
    await sleep(2000);
    const crashes = master.alive ? 0 : 1;
    if (crashes > 0) log(`the master died: exit ${String(master.child?.exitCode)} signal ${String(master.child?.signalCode)}`);
    const storeChanges: string[] = [];
    let after = 0;
    if (crashes === 0) {
      // fuzzed slaves are held at most a second (--idle-hold) and slaves time out; memory settles
      const limit = baseline + Math.max(64 * 2 ** 20, baseline * 0.15);
      after = (await waitFor(60_000, () => {
        const rss = master.rss();
        peak = Math.max(peak, rss);
        return rss <= limit ? rss : undefined;
      })) ?? master.rss();
      const dbAfter = tableDigests(dsn);
      for (const [table, digest] of dbBefore) if (dbAfter.get(table) !== digest) storeChanges.push(`table ${table}: ${digest} before, ${dbAfter.get(table) ?? 'gone'} after`);
      for (const table of dbAfter.keys()) if (!dbBefore.has(table)) storeChanges.push(`table ${table} appeared`);
      const diff = diffTrees(treeBefore, await treeHashes(output, STORED_AREAS));
      storeChanges.push(...diff.added.map((p) => `added ${p}`), ...diff.removed.map((p) => `removed ${p}`), ...diff.changed.map((p) => `changed ${p}`));
      storeChanges.push(...(await strayTempFiles(output)).map((p) => `temporary file ${p}`));

      // each endpoint serves a valid request
      served.slaves = null;
      try {
        const second = await buildUnderFire(master, wheels, true);
        const wheel = wheels.get(second.built)!;
        const stored = await waitFor(30_000, () => {
          const db = new BetterSqlite3(dsn, { readonly: true, fileMustExist: true });
          try {
            const row = db.prepare('SELECT f.filehash AS h FROM files f JOIN builds b ON b.build_id = f.build_id WHERE f.filename = ?').get(wheel.filename) as { h: string } | undefined;
            return row?.h.trim();
          } finally {
            db.close();
          }
        });
        const path = join(output, 'simple', second.built.split(' ')[0]!, wheel.filename);
        let onDisk: string | null = null;
        try {
          onDisk = createHash('sha256').update(readFileSync(path)).digest('hex');
        } catch {
          onDisk = null;
        }
        served.files =
          second.resends !== 1 ? `the corrupted transfer was answered with ${second.resends} re-sends, not 1`
          : stored !== wheel.sha256 ? `database has ${String(stored)} for ${wheel.filename}`
          : onDisk !== wheel.sha256 ? `${path} has ${String(onDisk)}`
          : null;
      } catch (error) {
        served.slaves = `valid build failed: ${(error as Error).message}`;
        served.files = 'not reached';
      }
      served.import = await importAnswer(endpoints.import);
      served.control = served.status = await monitorHello(endpoints);
      await logDownload(endpoints.logger, firstWheel.filename);
      served.logger = (await waitFor(30_000, () => (tableCount(dsn, 'downloads') === 2 ? true : undefined))) ? null : 'the download record was not stored';
    }
    const entries = master.entries();
    const errors = errorEntries(entries).slice(errorsBefore);
    await master.stop();
    return {
      sent, kinds, defused, withheld, escapes, replies, crashes,
      stoppedCleanly: crashes === 0 && master.child?.exitCode === 0,
      errorsLogged: errors.length,
      warningsLogged: entries.filter((e) => e.level === 40).length - warningsBefore,
      errorMessages: [...new Set(errors.map((e) => String(e.msg)))],
      rss: { baseline, peak, after },
      storeChanges, served,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    senders?.close();
    await master.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
