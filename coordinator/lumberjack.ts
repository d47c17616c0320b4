// Lumberjack: the logger endpoint. piw-logger instances PUSH one message per
// access (LOGDOWNLOAD, LOGSEARCH, LOGPROJECT, LOGJSON, LOGPAGE) to our PULL
// socket; each is validated and gathered into batches that the store writes
// in one transaction, so a busy web server's log keeps up. Malformed messages
// are dropped and logged (rate-limited); the socket keeps serving.
//
// Public API:
//   Lumberjack(options).start() / stop()     a Task (stop flushes what is buffered)
//   toAccessRecord(message)                  a logger message as a store record
//   AccessLogSink                            what the store must offer
import { isIP } from 'node:net';
import type { DownloadRecord, PageHitRecord, ProjectHitRecord, SearchRecord } from '../shared/db/index.ts';
import { ProtocolError, lumberjack as lumberjackProtocol, type Message } from '../shared/wire/protocols.ts';
import { createSocket, type WireSocket } from '../shared/wire/transport.ts';
import type { DownloadStateMessage, HitStateMessage, SearchStateMessage } from '../shared/wire/states.ts';
import { GarbageLog } from './control.ts';
import { Task, type TaskOptions } from './tasks.ts';
import { batchSize, emptyBatch, type AccessBatch } from './tools/access-store.ts';

export type LoggerMessage = Message<typeof lumberjackProtocol.recv>;

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

type Counter = LoggerMessage['msg'];

const LABELS: Readonly<Record<Counter, string>> = {
  LOGDOWNLOAD: 'downloads',
  LOGSEARCH: 'searches',
  LOGPROJECT: 'project hits',
  LOGJSON: 'JSON hits',
  LOGPAGE: 'page hits',
};

function clientFields(m: DownloadStateMessage | SearchStateMessage) {
  return {
    host: m[1],
    timestamp: m[2].toDate(),
    arch: m[3],
    distroName: m[4],
    distroVersion: m[5],
    osName: m[6],
    osVersion: m[7],
    pyName: m[8],
    pyVersion: m[9],
    installerName: m[10],
    installerVersion: m[11],
    setuptoolsVersion: m[12],
  };
}

function hitFields(m: HitStateMessage) {
  return { host: m[1], timestamp: m[2].toDate(), userAgent: m[3] };
}

export type AccessRecord =
  | { kind: 'downloads'; record: DownloadRecord }
  | { kind: 'searches'; record: SearchRecord }
  | { kind: 'projects' | 'json'; record: ProjectHitRecord }
  | { kind: 'pages'; record: PageHitRecord };

/** A validated logger message as the record the store keeps. */
export function toAccessRecord(message: LoggerMessage): AccessRecord {
  switch (message.msg) {
    case 'LOGDOWNLOAD':
      return { kind: 'downloads', record: { filename: message.data[0], ...clientFields(message.data) } };
    case 'LOGSEARCH':
      return { kind: 'searches', record: { package: message.data[0], ...clientFields(message.data) } };
    case 'LOGPROJECT':
      return { kind: 'projects', record: { package: message.data[0], ...hitFields(message.data) } };
    case 'LOGJSON':
      return { kind: 'json', record: { package: message.data[0], ...hitFields(message.data) } };
    case 'LOGPAGE':
      return { kind: 'pages', record: { page: message.data[0], ...hitFields(message.data) } };
  }
}

function addTo(batch: AccessBatch, r: AccessRecord): void {
  switch (r.kind) {
    case 'downloads':
      batch.downloads.push(r.record);
      return;
    case 'searches':
      batch.searches.push(r.record);
      return;
    case 'projects':
      batch.projects.push(r.record);
      return;
    case 'json':
      batch.json.push(r.record);
      return;
    case 'pages':
      batch.pages.push(r.record);
      return;
  }
}

/** Why a record cannot be stored, or null: the columns' limits, checked before batching. */
export function recordProblem(r: AccessRecord): string | null {
  if (Number.isNaN(r.record.timestamp.getTime())) return 'invalid timestamp';
  if (isIP(r.record.host) === 0) return `client ${JSON.stringify(r.record.host)} is not an IP address`;
  const name = r.kind === 'downloads' ? r.record.filename : r.kind === 'pages' ? r.record.page : r.record.package;
  if (name === '') return 'empty name';
  return null;
}

export class Lumberjack extends Task {
  readonly name = 'master.lumberjack';
  private socket: WireSocket<typeof lumberjackProtocol.recv, {}> | undefined;
  private buffer: AccessBatch = emptyBatch();
  private writing = 0;
  private writeChain: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private resumed: (() => void) | undefined;
  private counters = new Map<Counter, number>();
  private readonly garbage: GarbageLog;
  private readonly batchLimit: number;
  private readonly maxBuffered: number;
  /** Records stored since start, and records lost to database errors. */
  stored = 0;
  failed = 0;

  constructor(private readonly options: LumberjackOptions) {
    super(options);
    this.garbage = new GarbageLog(this.logger, 'logger endpoint');
    this.batchLimit = options.batchSize ?? 5000;
    this.maxBuffered = options.maxBuffered ?? this.batchLimit * 4;
    this.every(options.flushInterval ?? 1, 'flush', () => this.flush());
    this.every(60, 'counters', () => this.logCounters());
  }

  /** The bound address (with the port chosen for tcp://...:0). */
  get endpoint(): string | null {
    return this.socket?.endpoint ?? null;
  }

  protected override async setup(): Promise<void> {
    const socket = createSocket('PULL', { protocol: lumberjackProtocol, logger: this.logger, recvHwm: 100_000 });
    await socket.bind(this.options.endpoint);
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
      const record = toAccessRecord(message);
      const problem = recordProblem(record);
      if (problem !== null) {
        this.garbage.note({ msg: message.msg, err: problem });
        continue;
      }
      addTo(this.buffer, record);
      this.counters.set(message.msg, (this.counters.get(message.msg) ?? 0) + 1);
      const buffered = batchSize(this.buffer);
      if (buffered >= this.batchLimit) {
        void this.flush();
        // the database is behind: stop taking messages until it catches up
        // (they wait in ZeroMQ's queue, then in piw-logger's)
        if (this.writing >= this.maxBuffered) await this.writeChain;
      }
    }
  }

  /** Hands the buffer to the store; writes run one at a time, in order. */
  flush(): Promise<void> {
    const batch = this.buffer;
    const size = batchSize(batch);
    if (size === 0) return this.writeChain;
    this.buffer = emptyBatch();
    this.writing += size;
    this.writeChain = this.writeChain.then(async () => {
      try {
        await this.options.deps.store.logAccessBatch(batch);
        this.stored += size;
      } catch (error) {
        this.failed += size;
        this.logger.error({ err: error, records: size }, 'failed to store access records');
      } finally {
        this.writing -= size;
      }
    });
    return this.writeChain;
  }

  private logCounters(): void {
    for (const [msg, count] of this.counters) {
      if (count > 0) this.logger.info({ count }, `logged ${count} ${LABELS[msg]} in the last minute`);
    }
    this.options.deps.downloadsLogged?.(this.counters.get('LOGDOWNLOAD') ?? 0);
    this.counters = new Map();
  }

  protected override async teardown(): Promise<void> {
    this.socket?.close(0);
    this.resumed?.();
    await this.loop;
    await this.flush();
  }
}
