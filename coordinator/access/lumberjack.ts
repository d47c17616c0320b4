// Lumberjack: the logger endpoint. piw-logger instances PUSH their records
// to our PULL socket: piwheels' one message per access (LOGDOWNLOAD,
// LOGSEARCH, LOGPROJECT, LOGJSON, LOGPAGE) or our LOGBATCH of many. Each is
// validated and the records gathered into batches that the store writes in
// one transaction, so a busy web server's log keeps up whichever logger sends
// it. Malformed messages are dropped and logged (rate-limited), a LOGBATCH
// whole; the socket keeps serving.
//
// Public API:
//   Lumberjack(options).start() / stop()     a Task (stop flushes what is buffered)
//   messageRecords(message)                  a logger message as store records
//   recordProblem(record)                    why a record cannot be stored, or null
//   isRecordError(error)                     a store error that a record caused
//   AccessLogSink                            what the store must offer
import { isIP } from 'node:net';
import { batchSize, emptyBatch, type AccessBatch, type DownloadRecord, type PageHitRecord, type ProjectHitRecord } from '../../shared/db/index.ts';
import { ProtocolError, lumberjack as lumberjackProtocol, type DataOf, type HitStateMessage, type Message } from '../../shared/wire/protocols.ts';
import { bindSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { GarbageLog } from '../monitor/control.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';
import { isBotAgent } from './access-log.ts';

export type LoggerMessage = Message<typeof lumberjackProtocol.recv>;
type LogBatch = DataOf<typeof lumberjackProtocol.recv, 'LOGBATCH'>;

export interface AccessLogSink {
  logAccessBatch(batch: AccessBatch): Promise<void>;
}

export interface LumberjackDeps {
  store: AccessLogSink;
  /** Downloads stored in the last minute, for the statistics (BigBrother's LOGDOWNLOAD). */
  downloadsLogged?(count: number): void;
}

export interface LumberjackOptions extends TaskOptions {
  /** Where piw-logger connects (--log-queue). */
  endpoint: string;
  deps: LumberjackDeps;
  /** Records per transaction. */
  batchSize?: number;
  /** Longest a record waits in the buffer (seconds). */
  flushInterval?: number;
  /** Records held (buffered + being written) before receiving pauses. */
  maxBuffered?: number;
}

type Kind = keyof AccessBatch;

const KINDS: readonly Kind[] = ['downloads', 'searches', 'projects', 'json', 'pages'];

const LABELS: Readonly<Record<Kind, string>> = {
  downloads: 'downloads',
  searches: 'searches',
  projects: 'project hits',
  json: 'JSON hits',
  pages: 'page hits',
};

/** Batches written at once (the store keeps its counters right whatever their order). */
const WRITE_LANES = 2;
/** Messages queued in ZeroMQ before senders wait: a LOGBATCH holds up to thousands of records. */
const RECV_HWM = 1000;
/** A LOGBATCH's records, however long their user agents. */
const MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

type PipDetails = Pick<DownloadRecord, 'arch' | 'distroName' | 'distroVersion' | 'osName' | 'osVersion' | 'pyName' | 'pyVersion' | 'installerName' | 'installerVersion' | 'setuptoolsVersion'>;

/** pip's ten details, from `at` in a message's data (strings or null: the schema saw to it). */
function pipDetails(m: ReadonlyArray<unknown>, at: number): PipDetails {
  const field = (i: number): string | null => m[at + i] as string | null;
  return {
    arch: field(0),
    distroName: field(1),
    distroVersion: field(2),
    osName: field(3),
    osVersion: field(4),
    pyName: field(5),
    pyVersion: field(6),
    installerName: field(7),
    installerVersion: field(8),
    setuptoolsVersion: field(9),
  };
}

/** A LOGBATCH time: seconds since the epoch. */
function epochDate(seconds: number): Date {
  return new Date(Math.round(seconds * 1000));
}

type Hit = readonly [name: string, host: string, timestamp: Date, userAgent: string];

function projectHit([pkg, host, timestamp, userAgent]: Hit): ProjectHitRecord {
  return { package: pkg, host, timestamp, userAgent, bot: isBotAgent(userAgent) };
}

function jsonHit([pkg, host, timestamp, userAgent]: Hit): ProjectHitRecord {
  return { package: pkg, host, timestamp, userAgent };
}

function pageHit([page, host, timestamp, userAgent]: Hit): PageHitRecord {
  return { page, host, timestamp, userAgent, bot: isBotAgent(userAgent) };
}

const single = (m: HitStateMessage): Hit => [m[0], m[1], m[2].toDate(), m[3]];
const batched = (m: LogBatch[3][number]): Hit => [m[0], m[1], epochDate(m[2]), m[3]];

function batchRecords([clients, downloads, searches, projects, json, pages]: LogBatch): AccessBatch {
  const pip = clients.map((c) => pipDetails(c, 0));
  return {
    downloads: downloads.map(([filename, host, time, c]) => ({ filename, host, timestamp: epochDate(time), ...pip[c] })),
    searches: searches.map(([pkg, host, time, c]) => ({ package: pkg, host, timestamp: epochDate(time), ...pip[c] })),
    projects: projects.map((m) => projectHit(batched(m))),
    json: json.map((m) => jsonHit(batched(m))),
    pages: pages.map((m) => pageHit(batched(m))),
  };
}

/** A validated logger message as the records the store keeps (a crawler's page hits marked as such). */
export function messageRecords(message: LoggerMessage): AccessBatch {
  const batch = emptyBatch();
  switch (message.msg) {
    case 'LOGDOWNLOAD':
      batch.downloads.push({ filename: message.data[0], host: message.data[1], timestamp: message.data[2].toDate(), ...pipDetails(message.data, 3) });
      return batch;
    case 'LOGSEARCH':
      batch.searches.push({ package: message.data[0], host: message.data[1], timestamp: message.data[2].toDate(), ...pipDetails(message.data, 3) });
      return batch;
    case 'LOGPROJECT':
      batch.projects.push(projectHit(single(message.data)));
      return batch;
    case 'LOGJSON':
      batch.json.push(jsonHit(single(message.data)));
      return batch;
    case 'LOGPAGE':
      batch.pages.push(pageHit(single(message.data)));
      return batch;
    case 'LOGBATCH':
      return batchRecords(message.data);
  }
}

type AnyRecord = AccessBatch[Kind][number];

/** Why a record cannot be stored, or null: the columns' limits, checked before batching. */
export function recordProblem(r: AnyRecord): string | null {
  if (Number.isNaN(r.timestamp.getTime())) return 'invalid timestamp';
  if (isIP(r.host) === 0) return `client ${JSON.stringify(r.host)} is not an IP address`;
  const name = 'filename' in r ? r.filename : 'page' in r ? r.page : r.package;
  if (name === '') return 'empty name';
  return null;
}

/** A LOGBATCH's download or search referring to a client it does not carry, or null. */
function clientProblem([clients, downloads, searches]: LogBatch): string | null {
  for (const [kind, records] of [['downloads', downloads], ['searches', searches]] as const) {
    for (let i = 0; i < records.length; i++) {
      const client = records[i]![3];
      if (!(Number.isInteger(client) && client >= 0 && client < clients.length)) return `${kind} ${i}: no client ${client} among the batch's ${clients.length}`;
    }
  }
  return null;
}

/** The first problem among a message's records ("downloads 17: ..." in a LOGBATCH), or null. */
function messageProblem(message: LoggerMessage, batch: AccessBatch): string | null {
  for (const kind of KINDS) {
    const records: readonly AnyRecord[] = batch[kind];
    for (let i = 0; i < records.length; i++) {
      const problem = recordProblem(records[i]!);
      if (problem === null) continue;
      return message.msg === 'LOGBATCH' ? `${kind} ${i}: ${problem}; none of the batch's ${batchSize(batch)} records kept` : problem;
    }
  }
  return null;
}

function mergeBatches(parts: readonly AccessBatch[]): AccessBatch {
  const merged = emptyBatch();
  for (const part of parts) {
    for (const kind of KINDS) {
      const into: AnyRecord[] = merged[kind];
      for (const record of part[kind]) into.push(record);
    }
  }
  return merged;
}

/**
 * True for an error that some record caused (it failed the data layer's
 * checks, or the database refused a value: SQLSTATE classes 22 and 23),
 * as opposed to the database being unreachable or failing as a whole.
 */
export function isRecordError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'RangeError' || error.name === 'ZodError') return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

export class Lumberjack extends Task {
  readonly name = 'master.lumberjack';
  private socket: WireSocket<typeof lumberjackProtocol.recv, {}> | undefined;
  /** Each message's records, kept apart so that a store refusing one costs only that one. */
  private parts: AccessBatch[] = [];
  private buffered = 0;
  private writing = 0;
  /** Writes in progress: as many as WRITE_LANES, each lane's in order. */
  private lanes: Array<Promise<void>> = Array.from({ length: WRITE_LANES }, () => Promise.resolve());
  private nextLane = 0;
  private loop: Promise<void> | undefined;
  private resumed: (() => void) | undefined;
  private counters = new Map<Kind, number>();
  private readonly garbage: GarbageLog;
  /** Messages the store refused, logged apart so that garbage on the socket cannot hide them. */
  private readonly refused: GarbageLog;
  private readonly batchLimit: number;
  private readonly maxBuffered: number;
  /** Records stored since start, and records lost to database errors. */
  stored = 0;
  failed = 0;

  constructor(private readonly options: LumberjackOptions) {
    super(options);
    this.garbage = new GarbageLog(this.logger, 'logger endpoint');
    this.refused = new GarbageLog(this.logger, 'logger endpoint');
    this.batchLimit = options.batchSize ?? 20_000;
    this.maxBuffered = options.maxBuffered ?? this.batchLimit * 4;
    this.every(options.flushInterval ?? 1, 'flush', () => this.flush());
    this.every(60, 'counters', () => this.logCounters());
  }

  /** Records received and not yet handed to the store. */
  get pending(): number {
    return this.buffered;
  }

  /** The bound address (with the port chosen for tcp://...:0). */
  get endpoint(): string | null {
    return this.socket?.endpoint ?? null;
  }

  protected override async setup(): Promise<void> {
    const socket = await bindSocket('PULL', this.options.endpoint, { protocol: lumberjackProtocol, logger: this.logger, recvHwm: RECV_HWM, maxMessageSize: MAX_MESSAGE_SIZE });
    this.socket = socket;
    this.loop = this.receive(socket);
  }

  override resume(): void {
    super.resume();
    this.resumed?.();
    this.resumed = undefined;
  }

  private async receive(socket: WireSocket<typeof lumberjackProtocol.recv, {}>): Promise<void> {
    for (;;) {
      if (this.paused) await new Promise<void>((resolve) => (this.resumed = resolve));
      if (socket.closed) return;
      let message: LoggerMessage | null;
      try {
        // null only when the socket is being closed
        message = await socket.recv();
      } catch (error) {
        if (socket.closed) return;
        if (error instanceof ProtocolError) {
          this.garbage.note({ err: error.message });
          continue;
        }
        this.logger.error({ err: error }, 'logger endpoint failed');
        return;
      }
      if (message === null) return;
      const broken = message.msg === 'LOGBATCH' ? clientProblem(message.data) : null;
      if (broken !== null) {
        this.garbage.note({ msg: message.msg, err: `${broken}; none of the batch's records kept` });
        continue;
      }
      const records = messageRecords(message);
      const problem = messageProblem(message, records);
      if (problem !== null) {
        this.garbage.note({ msg: message.msg, err: problem });
        continue;
      }
      this.parts.push(records);
      this.buffered += batchSize(records);
      for (const kind of KINDS) this.counters.set(kind, (this.counters.get(kind) ?? 0) + records[kind].length);
      if (this.buffered >= this.batchLimit) {
        void this.flush();
        // the database is behind: stop taking messages until it catches up
        // (they wait in ZeroMQ's queue, then in piw-logger's)
        if (this.writing >= this.maxBuffered) await Promise.all(this.lanes);
      }
    }
  }

  /**
   * Hands the buffer to the store. Two writes may run at once: one batch's
   * rows are checked and sent while the database works on the other's.
   * Resolves when everything handed over so far is written.
   */
  flush(): Promise<void> {
    const parts = this.parts;
    const size = this.buffered;
    if (size > 0) {
      this.parts = [];
      this.buffered = 0;
      this.writing += size;
      const lane = this.nextLane;
      this.nextLane = (lane + 1) % WRITE_LANES;
      this.lanes[lane] = this.lanes[lane]!.then(async () => {
        try {
          await this.store(parts, size);
        } finally {
          this.writing -= size;
        }
      });
    }
    return Promise.all(this.lanes).then(() => undefined);
  }

  /**
   * Stores the messages' records in one transaction. When the store refuses
   * a record (a value the database will not take), the messages are stored
   * in halves, and so on down, so that only the message holding it is lost.
   */
  private async store(parts: AccessBatch[], size: number): Promise<void> {
    try {
      await this.options.deps.store.logAccessBatch(parts.length === 1 ? parts[0]! : mergeBatches(parts));
      this.stored += size;
    } catch (error) {
      if (parts.length > 1 && isRecordError(error)) {
        const half = parts.length >> 1;
        const first = parts.slice(0, half);
        const second = parts.slice(half);
        await this.store(first, first.reduce((n, p) => n + batchSize(p), 0));
        await this.store(second, second.reduce((n, p) => n + batchSize(p), 0));
        return;
      }
      this.failed += size;
      if (isRecordError(error)) this.refused.note({ err: `store refused: ${(error as Error).message}`, records: size });
      else this.logger.error({ err: error, records: size }, 'failed to store access records');
    }
  }

  private logCounters(): void {
    for (const [kind, count] of this.counters) {
      if (count > 0) this.logger.info({ count }, `logged ${count} ${LABELS[kind]} in the last minute`);
    }
    this.options.deps.downloadsLogged?.(this.counters.get('downloads') ?? 0);
    this.counters = new Map();
  }

  protected override async teardown(): Promise<void> {
    this.socket?.close(0);
    this.resumed?.();
    await this.loop;
    await this.flush();
  }
}
