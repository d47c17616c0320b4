// SlaveDriver: the master's side of the slave protocol (HELLO, IDLE, BUSY,
// BUILT, SENT, BYE). Slaves drive the conversation; each request gets exactly
// one reply, except BYE and messages from unknown slaves, which get none (as
// piwheels does). The socket is someone else's: this class takes decoded
// requests and returns replies, so every rule here is testable directly.
import type { z } from 'zod';
import { UtcDateTime } from '../../shared/wire/cbor.ts';
import {
  ProtocolError,
  encodeMessage,
  slaveDriver as slaveProtocol,
  slaveHelloSchema,
  slaveStatsSchema,
  toWire,
  type Message,
} from '../../shared/wire/protocols.ts';
import { PeerGoneError, bindSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { CHECK_INTERVAL_MS, DEFAULT_MAX_SLAVES, admit, judge, type LastReply } from './slave-liveness.ts';
import type { BuildQueues } from './architect.ts';
import { GarbageLog, type StatusPublisher } from '../monitor/control.ts';
import type { BuildLog } from './build-recorder.ts';
import type { FileTransfers } from './file-juggler.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';
import { checkWheelFilename } from './wheel-check.ts';
import { sortOutClashes, withheldNote } from './upstream-clash.ts';
import type { UpstreamCheck } from '../upstream/upstream-files.ts';
import { addArmv6Twins, builtFromMessage, nextFile, type BuildResult } from '../../shared/build.ts';
import type { FailureInfo, LostBuild } from '../../shared/db/index.ts';
import { describeFailure, triageBuild } from './build-triage.ts';
import { diskShortage, type DiskFigures } from './disk-health.ts';
import { MASTER_TIMEOUT_NOTE } from './failure-triage.ts';

export type SlaveRequest = Message<typeof slaveProtocol.recv>;
export type SlaveReply = Message<typeof slaveProtocol.send>;
type SlaveHello = z.output<typeof slaveHelloSchema>;
type SlaveStats = z.output<typeof slaveStatsSchema>;

/** Whom the slave driver asks for a refill when a target's queue runs low (the architect). */
export interface QueueRefill {
  nudge(): void;
}

/** Where the slave driver reports each slave's steps for monitors (the control endpoints). */
export interface SlaveMonitors {
  publish: StatusPublisher;
}

/** Failure triage around recording (build-triage.ts). */
export interface SlaveTriage {
  /** After a build is committed: its failure as recorded, or null. */
  recorded(buildId: number, build: BuildResult): Promise<FailureInfo | null>;
  /** A build handed back to the queue because its slave went silent. */
  lost(lost: LostBuild): void;
}

/** The slave driver's collaborators. */
export interface SlaveDriverDeps {
  queues: BuildQueues;
  /** The file juggler: receives, verifies and commits the wheels. */
  transfers: FileTransfers;
  /** The build recorder: stores finished builds (and hands them to the page writer). */
  recorder: BuildLog;
  refill?: QueueRefill;
  monitors?: SlaveMonitors;
  triage?: SlaveTriage;
  /** What upstream serves, asked before a build's files are published; none: nothing is checked (a farm not following upstream). */
  upstream?: UpstreamCheck;
}

export interface SlaveDriverOptions extends TaskOptions {
  deps: SlaveDriverDeps;
  /** Where slaves connect (--slave-queue); without it only handle() is used (tests, benchmarks). */
  address?: string;
  /** The index URL handed to slaves in ACK (--pypi-simple). */
  pypiSimple: string;
  /** How long an IDLE with nothing to build is held before SLEEP (ms). */
  idleHoldMs?: number;
  /** Verify failures of one file before the build is abandoned. */
  maxTransferAttempts?: number;
  /** The most slaves kept at once (default DEFAULT_MAX_SLAVES). */
  maxSlaves?: number;
  /** Bytes a slave's build directory must have free for it to get builds (0: no check). */
  minFreeDisk?: number;
  now?: () => number;
}

const STATS_HISTORY = 100;

/** Everything the master knows about one connected slave. */
export class SlaveState {
  readonly firstSeen: UtcDateTime;
  lastSeen: number;
  lastSeenUtc: UtcDateTime;
  reply: SlaveReply | undefined;
  build: BuildResult | undefined;
  /** When the current BUILD was handed out (ms). */
  buildStarted = 0;
  /** When the master last replied (ms). */
  repliedAt = 0;
  transferAttempts = 0;
  readonly stats: SlaveStats[] = [];
  killed = false;
  skipped = false;
  paused = false;
  /** True while a request of this slave is being handled. */
  inFlight = false;
  /** Why the slave gets no builds now (its disk), shown to monitors; null when it may build. */
  holdReason: string | null = null;
  /** What became of the slave's last build, for monitors. */
  lastOutcome: string | null = null;

  constructor(
    readonly id: number,
    readonly address: string,
    readonly hello: SlaveHello,
    now: number,
  ) {
    this.firstSeen = UtcDateTime.fromDate(new Date(now));
    this.lastSeen = now;
    this.lastSeenUtc = this.firstSeen;
  }

  get label(): string {
    return this.hello[5];
  }
  get abi(): string {
    return this.hello[3];
  }
  /** The native platform the slave reported (linux_armv7l, linux_aarch64...). */
  get platform(): string {
    return this.hello[4];
  }
  get buildTimeoutMs(): number {
    return this.hello[0].totalMilliseconds();
  }
  get busyTimeoutMs(): number {
    return this.hello[1].totalMilliseconds();
  }
  /** The package and version handed out in the last BUILD, until recorded or abandoned. */
  currentBuild: readonly [string, string] | undefined;
  /** The build target whose queue the current build came from. */
  currentTarget: string | undefined;

  get lastReply(): LastReply {
    return this.reply?.msg;
  }

  /** The disk figures of the slave's last stats, if any. */
  get disk(): DiskFigures | undefined {
    const last = this.stats.at(-1);
    return last === undefined ? undefined : { size: Number(last[1]), free: Number(last[2]) };
  }
}

/**
 * Socket options of the slave queue. Replies to a slave whose connection is
 * gone fail at once (so a build handed to a slave that just stopped goes
 * back to the queue); heartbeats find connections that died without a FIN
 * within 20 s. A REQ peer has one request in flight, so small high-water
 * marks suffice.
 */
const SLAVE_QUEUE_OPTIONS = { mandatory: true, heartbeat: { intervalSeconds: 5, timeoutSeconds: 15 }, hwm: 10, linger: 1 } as const;

export class SlaveDriver extends Task {
  readonly name = 'slave-driver';
  override readonly pauseMode = 'pausing' as const;
  private readonly slaves = new Map<string, SlaveState>();
  private readonly byId = new Map<number, SlaveState>();
  private counter = 0;
  private readonly waiting = new Map<SlaveState, { timer: NodeJS.Timeout; resolve: (reply: SlaveReply) => void }>();
  private readonly now: () => number;
  private readonly deps: SlaveDriverDeps;
  private socket: WireSocket<typeof slaveProtocol.recv, typeof slaveProtocol.send> | undefined;
  private receiving: Promise<void> | undefined;
  private readonly inProgress = new Set<Promise<void>>();
  private readonly garbage: GarbageLog;

  constructor(private readonly options: SlaveDriverOptions) {
    super(options);
    this.deps = options.deps;
    this.now = options.now ?? Date.now;
    this.garbage = new GarbageLog(this.logger, 'slave queue');
    this.every(CHECK_INTERVAL_MS / 1000, 'remove expired slaves', () => this.removeExpired());
  }

  get endpoint(): string | null {
    return this.socket?.endpoint ?? null;
  }

  protected override async setup(): Promise<void> {
    if (this.options.address === undefined) return;
    const socket = await bindSocket('ROUTER', this.options.address, { protocol: slaveProtocol, logger: this.logger, ...SLAVE_QUEUE_OPTIONS });
    this.socket = socket;
    this.receiving = this.receive(socket);
  }

  private async receive(socket: WireSocket<typeof slaveProtocol.recv, typeof slaveProtocol.send>): Promise<void> {
    while (!socket.closed) {
      let request;
      try {
        request = await socket.recvAddr();
      } catch (error) {
        if (socket.closed) return;
        if (error instanceof ProtocolError) {
          // no reply: a REQ peer sending garbage waits for its own timeout, as with piwheels
          this.garbage.note({ error: error.message, peer: error.address?.toString('hex') });
          continue;
        }
        this.logger.error({ err: error }, 'slave queue failed');
        return;
      }
      if (!request) continue;
      const { address, ...message } = request;
      // requests of different slaves are handled side by side; one slave has one at a time
      const work = this.serve(socket, address, message as SlaveRequest);
      this.inProgress.add(work);
      void work.finally(() => this.inProgress.delete(work));
    }
  }

  private async serve(socket: WireSocket<typeof slaveProtocol.recv, typeof slaveProtocol.send>, address: Buffer, request: SlaveRequest): Promise<void> {
    let reply: SlaveReply | undefined;
    try {
      reply = await this.handle(address.toString('hex'), request);
    } catch (error) {
      this.logger.error({ err: error, msg: request.msg }, 'failed to handle a slave request');
      return;
    }
    if (!reply || socket.closed) return;
    try {
      await socket.sendRaw([address, '', encodeMessage(slaveProtocol.send, reply.msg, reply.data)]);
    } catch (error) {
      if (socket.closed) return;
      if (error instanceof PeerGoneError) this.vanished(address.toString('hex'), reply.msg);
      // a full queue towards a peer that sends without reading: rate-limited, it may be a flood
      else this.garbage.note({ error: error instanceof Error ? error.message : String(error), msg: reply.msg, peer: address.toString('hex') });
    }
  }

  /**
   * The reply to the slave at `address` could not be delivered: its
   * connection is gone (stopped, killed, or cut off), so it will never ask
   * again. A build just handed to it goes back to the queue at once.
   */
  vanished(address: string, undelivered: SlaveReply['msg']): void {
    const slave = this.slaves.get(address);
    if (!slave) return;
    const building = slave.currentBuild;
    this.logger.warn(
      { slave: slave.id, label: slave.label, undelivered, package: building?.[0], version: building?.[1] },
      'slave disconnected; forgotten',
    );
    if (building) this.lost(slave, building);
    this.drop(slave);
  }

  /** Notes a build that goes back to the queue because its slave is gone. */
  private lost(slave: SlaveState, [pkg, version]: readonly [string, string]): void {
    this.deps.triage?.lost({ package: pkg, version, abiTag: slave.abi, slaveId: slave.id, at: new Date(this.now()) });
  }

  /** Connected slaves, by id. */
  list(): SlaveState[] {
    return [...this.byId.values()];
  }

  /**
   * Handles one request from the slave at `address`. Resolves to the reply,
   * or undefined when none must be sent.
   */
  async handle(address: string, request: SlaveRequest): Promise<SlaveReply | undefined> {
    const now = this.now();
    let slave = this.slaves.get(address);
    if (request.msg === 'HELLO') {
      // a slave restarting on the same connection: its old build is gone
      if (slave) this.drop(slave);
      else if (!this.makeRoom(address)) return undefined;
      slave = new SlaveState(++this.counter, address, request.data, now);
    } else if (!slave) {
      this.logger.warn({ address, msg: request.msg }, 'invalid first message from slave');
      return undefined;
    } else if (slave.inFlight) {
      this.logger.warn({ slave: slave.id, msg: request.msg }, 'request while the last one is unanswered; ignored');
      return undefined;
    }
    slave.lastSeen = now;
    slave.lastSeenUtc = UtcDateTime.fromDate(new Date(now));
    if (request.msg === 'IDLE' || request.msg === 'BUSY') this.recordStats(slave, request.data);
    slave.inFlight = true;
    let reply: SlaveReply | undefined;
    try {
      reply = await this.dispatch(slave, request);
    } finally {
      slave.inFlight = false;
    }
    if (reply) {
      slave.repliedAt = this.now();
      this.setReply(slave, reply);
    }
    return reply;
  }

  private dispatch(slave: SlaveState, request: SlaveRequest): Promise<SlaveReply | undefined> | SlaveReply | undefined {
    switch (request.msg) {
      case 'HELLO':
        return this.doHello(slave);
      case 'BYE':
        this.logger.warn({ slave: slave.id, label: slave.label }, 'slave shut down');
        this.drop(slave);
        return undefined;
      case 'IDLE':
        return this.doIdle(slave);
      case 'BUSY':
        return this.doBusy(slave);
      case 'BUILT':
        return this.doBuilt(slave, request.data);
      case 'SENT':
        return this.doSent(slave);
    }
  }

  /** Whether a new peer may say HELLO; the table of slaves never grows past maxSlaves. */
  private makeRoom(address: string): boolean {
    const decision = admit(this.byId.values(), this.byId.size, this.options.maxSlaves ?? DEFAULT_MAX_SLAVES);
    if (decision.kind === 'refuse') {
      this.garbage.note({ reason: 'too many slaves; HELLO refused', peer: address });
      return false;
    }
    if (decision.kind === 'evict') {
      this.logger.info({ slave: decision.slave.id }, 'slave never asked for work; forgotten to make room');
      this.drop(decision.slave);
    }
    return true;
  }

  private doHello(slave: SlaveState): SlaveReply {
    const [buildTimeout, busyTimeout, pyVersion, abi, platform, label, osName, osVersion] = slave.hello;
    this.logger.warn(
      { slave: slave.id, label, abi, platform, pyVersion, osName, osVersion, buildTimeout: String(buildTimeout), busyTimeout: String(busyTimeout) },
      'slave said hello',
    );
    const targets = this.deps.queues.targets();
    if (targets.length > 0 && this.deps.queues.targetFor(abi, platform) === null) {
      // an operator's mistake more often than not: say so where they look
      this.logger.warn(
        { slave: slave.id, label, abi, platform, targets },
        'no build target for this slave: it gets no builds until its ABI and platform are added (piw-initdb --abi, --platform)',
      );
    }
    this.slaves.set(slave.address, slave);
    this.byId.set(slave.id, slave);
    return { msg: 'ACK', data: [slave.id, this.options.pypiSimple] };
  }

  private protocolError(slave: SlaveState, msg: string): SlaveReply {
    this.logger.error({ slave: slave.id, label: slave.label, after: slave.reply?.msg }, `protocol error (${msg} after ${slave.reply?.msg ?? 'nothing'})`);
    this.abandonBuild(slave);
    return { msg: 'DIE', data: undefined };
  }

  private doIdle(slave: SlaveState): SlaveReply | Promise<SlaveReply> {
    const last = slave.reply?.msg;
    if (last !== 'ACK' && last !== 'SLEEP' && last !== 'DONE') return this.protocolError(slave, 'IDLE');
    const immediate = this.idleAnswer(slave);
    if (immediate) return immediate;
    const holdMs = Math.min(this.options.idleHoldMs ?? 10_000, slave.busyTimeoutMs / 3);
    if (holdMs <= 0 || this.state !== 'running') return { msg: 'SLEEP', data: false };
    // Nothing to build now: hold the request so that a version arriving in
    // the meantime goes out at once instead of after the slave's next nap.
    return new Promise<SlaveReply>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(slave);
        resolve({ msg: 'SLEEP', data: false });
      }, holdMs);
      timer.unref();
      this.waiting.set(slave, { timer, resolve });
    });
  }

  /** The reply to IDLE if one is due now: DIE, SLEEP(paused) or BUILD. */
  private idleAnswer(slave: SlaveState): SlaveReply | undefined {
    if (slave.killed) return { msg: 'DIE', data: undefined };
    if (this.paused || slave.paused || this.state !== 'running') return { msg: 'SLEEP', data: true };
    const shortage = diskShortage(slave.disk, this.options.minFreeDisk ?? 0);
    if (shortage !== slave.holdReason) {
      if (shortage !== null) this.logger.warn({ slave: slave.id, label: slave.label, reason: shortage }, 'slave short of disk; no builds for it');
      else this.logger.info({ slave: slave.id, label: slave.label }, 'slave has disk space again');
      slave.holdReason = shortage;
    }
    if (shortage !== null) return { msg: 'SLEEP', data: false };
    // matched on every IDLE: the farm's targets can change while a slave lives
    const target = this.deps.queues.targetFor(slave.abi, slave.platform);
    if (target === null) return undefined;
    const item = this.deps.queues.next(target, this.now() + slave.buildTimeoutMs);
    if (!item) return undefined;
    const [pkg, version] = item;
    if (this.deps.queues.size(target) < this.deps.queues.limit / 2) this.deps.refill?.nudge();
    this.logger.info({ slave: slave.id, label: slave.label, target, package: pkg, version }, 'build');
    slave.currentBuild = [pkg, version];
    slave.currentTarget = target;
    slave.buildStarted = this.now();
    slave.build = undefined;
    slave.lastOutcome = null;
    return { msg: 'BUILD', data: [pkg, version] };
  }

  /** Answers held IDLE requests that can now be answered (new builds, control). */
  wakeWaiting(): void {
    for (const [slave, waiter] of [...this.waiting]) {
      const reply = this.idleAnswer(slave);
      if (!reply) continue;
      clearTimeout(waiter.timer);
      this.waiting.delete(slave);
      waiter.resolve(reply);
    }
  }

  private async doBusy(slave: SlaveState): Promise<SlaveReply> {
    if (slave.reply?.msg !== 'BUILD' || !slave.currentBuild) return this.protocolError(slave, 'BUSY');
    if (slave.skipped) {
      this.logger.info({ slave: slave.id }, 'build skipped');
      return { msg: 'DONE', data: undefined };
    }
    const elapsed = this.now() - slave.buildStarted;
    if (elapsed > slave.buildTimeoutMs) {
      const [pkg, version] = slave.currentBuild;
      this.logger.warn({ slave: slave.id, package: pkg, version }, 'build exceeded its timeout; stopped and recorded as failed');
      const build: BuildResult = {
        slaveId: slave.id, package: pkg, version, abiTag: slave.abi, platformTag: slave.platform, status: false, duration: elapsed / 1000,
        output: `${MASTER_TIMEOUT_NOTE} of ${slave.hello[0].toString()}\n`,
        files: [],
      };
      await this.record(slave, build);
      return { msg: 'DONE', data: undefined };
    }
    return { msg: 'CONT', data: undefined };
  }

  private async doBuilt(slave: SlaveState, data: Extract<SlaveRequest, { msg: 'BUILT' }>['data']): Promise<SlaveReply> {
    if (slave.reply?.msg !== 'BUILD' || !slave.currentBuild) return this.protocolError(slave, 'BUILT');
    if (slave.skipped) {
      this.logger.info({ slave: slave.id }, 'build skipped; result discarded');
      return { msg: 'DONE', data: undefined };
    }
    const [pkg, version] = slave.currentBuild;
    const reported = builtFromMessage(data);
    const refused = reported.files.map((f) => checkWheelFilename(f.filename, pkg)).filter((r): r is string => r !== null);
    if (refused.length > 0) {
      this.logger.error({ slave: slave.id, package: pkg, version, refused }, 'build produced unacceptable files; recorded as failed');
      reported.output += `\nRefused by the master: ${refused.join('; ')}\n`;
      reported.status = false;
    }
    const withheld = reported.status ? await this.sortOutUpstream(slave, pkg, version, reported) : [];
    // upstream may take a while to answer: the build can have been skipped or dropped meanwhile
    if (slave.skipped || slave.currentBuild === undefined) {
      this.logger.info({ slave: slave.id, package: pkg, version }, 'build skipped while upstream was asked; result discarded');
      return { msg: 'DONE', data: undefined };
    }
    const build: BuildResult = {
      slaveId: slave.id, package: pkg, version, abiTag: slave.abi, platformTag: slave.platform, status: reported.status,
      duration: reported.duration, output: reported.output, files: reported.status ? addArmv6Twins(reported.files) : [], withheld,
    };
    slave.build = build;
    slave.transferAttempts = 0;
    const first = build.status ? nextFile(build) : undefined;
    if (first) {
      this.logger.info({ slave: slave.id, package: pkg, version, file: first.filename }, 'build succeeded; send');
      this.deps.transfers.expect(slave.id, first);
      return { msg: 'SEND', data: first.filename };
    }
    this.logger.info({ slave: slave.id, package: pkg, version, status: build.status }, build.status ? 'build succeeded (no files)' : 'build failed');
    await this.record(slave, build);
    return { msg: 'DONE', data: undefined };
  }

  /**
   * Takes out of a successful build's files those whose names upstream
   * serves with other bytes (returned, to be recorded as withheld). When
   * upstream has never said what it serves, nothing may be published
   * blindly: the build is marked failed, saying why.
   */
  private async sortOutUpstream(slave: SlaveState, pkg: string, version: string, reported: Pick<BuildResult, 'status' | 'output' | 'files'>) {
    const upstream = this.deps.upstream;
    if (upstream === undefined) return [];
    const theirs = await upstream.filesOf(pkg, version);
    if (theirs === null) {
      this.logger.error({ slave: slave.id, package: pkg, version }, 'upstream never said what it serves of this release; nothing published, build recorded as failed');
      reported.output += '\nNot published by the master: upstream could not be asked whether it serves files of these names; build again once it answers.\n';
      reported.status = false;
      reported.files = [];
      return [];
    }
    const verdict = sortOutClashes(reported.files, theirs);
    if (verdict.withheld.length > 0) {
      this.logger.warn({ slave: slave.id, package: pkg, version, withheld: verdict.withheld.map((w) => w.filename) }, 'files withheld: upstream serves their names with other bytes');
      reported.output += `\n${withheldNote(verdict.withheld)}`;
      reported.files = verdict.publish;
    }
    return verdict.withheld;
  }

  private async doSent(slave: SlaveState): Promise<SlaveReply> {
    const build = slave.build;
    if (slave.reply?.msg !== 'SEND' || !build) return this.protocolError(slave, 'SENT');
    const current = build.files.find((f) => f.filename === slave.reply?.data);
    if (!current) return this.protocolError(slave, 'SENT');
    const committed = await this.deps.transfers.verify(slave.id, build.package);
    if (committed) {
      current.transferred = true;
      current.metadataHash = committed.metadataHash;
      slave.transferAttempts = 0;
      this.logger.info({ slave: slave.id, file: current.filename }, 'verified transfer');
      const next = nextFile(build);
      if (!next) {
        await this.record(slave, build);
        return { msg: 'DONE', data: undefined };
      }
      this.deps.transfers.expect(slave.id, next);
      return { msg: 'SEND', data: next.filename };
    }
    slave.transferAttempts += 1;
    if (slave.transferAttempts >= (this.options.maxTransferAttempts ?? 5)) {
      this.logger.error({ slave: slave.id, file: current.filename }, 'transfer keeps failing to verify; build abandoned');
      this.abandonBuild(slave);
      return { msg: 'DONE', data: undefined };
    }
    this.logger.warn({ slave: slave.id, file: current.filename, attempt: slave.transferAttempts }, 'transfer failed to verify; re-send');
    this.deps.transfers.expect(slave.id, current);
    return { msg: 'SEND', data: current.filename };
  }

  private async record(slave: SlaveState, result: BuildResult): Promise<void> {
    const diskLow = diskShortage(slave.disk, this.options.minFreeDisk ?? 0) !== null;
    const build = triageBuild(result, { buildTimeoutS: slave.buildTimeoutMs / 1000, diskLow });
    const buildId = await this.deps.recorder.record(build);
    if (slave.currentTarget !== undefined) this.deps.queues.finish(slave.currentTarget, build.package, build.version, this.now());
    slave.currentBuild = undefined;
    slave.currentTarget = undefined;
    const failure = await this.deps.triage?.recorded(buildId, build).catch((error: unknown) => {
      this.logger.error({ err: error, buildId }, 'could not read back a failed build');
      return null;
    });
    slave.lastOutcome = failure ? `${build.package} ${build.version} ${describeFailure(failure)}` : `${build.package} ${build.version} ${build.status ? 'built' : 'failed'}`;
  }

  private setReply(slave: SlaveState, reply: SlaveReply): void {
    if (reply.msg === 'CONT') return;
    slave.reply = reply;
    if (reply.msg === 'DONE') {
      slave.build = undefined;
      slave.currentBuild = undefined;
      slave.currentTarget = undefined;
      slave.skipped = false;
    }
    if (reply.msg === 'ACK') this.announce(slave);
    else this.status(slave, reply.msg, this.statusData(slave, reply));
  }

  /**
   * What a monitor is told with a reply: the reply's own data, except that
   * a SLEEP for want of disk carries the reason and a DONE the outcome of
   * the build (piwheels' monitor reads neither, so it is unaffected).
   */
  private statusData(slave: SlaveState, reply: SlaveReply): unknown {
    if (reply.msg === 'SLEEP') return slave.holdReason ?? reply.data;
    if (reply.msg === 'DONE') return slave.lastOutcome;
    return reply.msg === 'BUILD' || reply.msg === 'SEND' ? reply.data : null;
  }

  private recordStats(slave: SlaveState, stats: SlaveStats): void {
    slave.stats.push(stats);
    if (slave.stats.length > STATS_HISTORY) slave.stats.shift();
    this.status(slave, 'STATS', toWire(slaveStatsSchema, stats));
  }

  private status(slave: SlaveState, msg: string, data: unknown): void {
    this.deps.monitors?.publish('SLAVE', [slave.id, slave.lastSeenUtc, msg, data]);
  }

  /** Replays what a newly attached monitor needs to know about a slave. */
  private announce(slave: SlaveState): void {
    this.deps.monitors?.publish('SLAVE', [slave.id, slave.firstSeen, 'HELLO', toWire(slaveHelloSchema, slave.hello)]);
  }

  /** Replays every slave's HELLO, recent stats and last reply (monitor HELLO). */
  replay(): void {
    for (const slave of this.byId.values()) {
      this.announce(slave);
      for (const stats of slave.stats) this.status(slave, 'STATS', toWire(slaveStatsSchema, stats));
      if (slave.reply && slave.reply.msg !== 'ACK') this.status(slave, slave.reply.msg, this.statusData(slave, slave.reply));
    }
  }

  /** Monitor control: KILL, SLEEP, SKIP or WAKE one slave (by id) or all (null). */
  controlSlave(action: 'KILL' | 'SLEEP' | 'SKIP' | 'WAKE', slaveId: number | null): void {
    for (const slave of this.byId.values()) {
      if (slaveId !== null && slave.id !== slaveId) continue;
      if (action === 'KILL') slave.killed = true;
      else if (action === 'SKIP') slave.skipped = true;
      else if (action === 'SLEEP') slave.paused = true;
      else slave.killed = slave.skipped = slave.paused = false;
    }
    this.wakeWaiting();
  }

  /**
   * Upstream deleted a version (or a whole package, `version` null): drop it
   * from the queues and skip any build of it in progress.
   */
  deleted(pkg: string, version: string | null): void {
    this.deps.queues.remove(pkg, version, this.now());
    for (const slave of this.byId.values()) {
      const current = slave.currentBuild;
      if (current && current[0] === pkg && (version === null || current[1] === version)) {
        this.logger.info({ slave: slave.id, package: pkg, version: current[1] }, 'skipping deleted version');
        slave.skipped = true;
      }
    }
  }

  override resume(): void {
    super.resume();
    this.wakeWaiting();
  }

  override pause(): void {
    super.pause();
    this.wakeWaiting();
  }

  /** Drops slaves that have gone silent (see slave-liveness.ts); their builds go back to the queue. */
  removeExpired(): void {
    const now = this.now();
    for (const slave of [...this.byId.values()]) {
      const verdict = judge(
        {
          lastReply: slave.lastReply,
          inFlight: slave.inFlight,
          lastSeen: slave.lastSeen,
          repliedAt: slave.repliedAt,
          lastFileActivity: this.deps.transfers.lastActivity(slave.id),
          busyTimeoutMs: slave.busyTimeoutMs,
        },
        now,
      );
      if (verdict.kind === 'keep') continue;
      const building = slave.currentBuild;
      this.logger.warn(
        { slave: slave.id, label: slave.label, during: slave.reply?.msg, silentMs: verdict.silentMs, package: building?.[0], version: building?.[1] },
        verdict.kind === 'stalled' ? 'slave went silent mid-build; build re-queued' : 'slave timed out',
      );
      if (building) this.lost(slave, building);
      this.drop(slave);
    }
  }

  private abandonBuild(slave: SlaveState): void {
    const current = slave.currentBuild;
    this.deps.transfers.cancel(slave.id);
    if (!current) return;
    const target = slave.currentTarget;
    slave.currentBuild = undefined;
    slave.currentTarget = undefined;
    slave.build = undefined;
    if (target !== undefined) this.deps.queues.abandon(target, current[0], current[1]);
    this.wakeWaiting();
  }

  private drop(slave: SlaveState): void {
    this.abandonBuild(slave);
    const waiter = this.waiting.get(slave);
    if (waiter) {
      clearTimeout(waiter.timer);
      this.waiting.delete(slave);
      waiter.resolve({ msg: 'SLEEP', data: false });
    }
    this.slaves.delete(slave.address);
    this.byId.delete(slave.id);
    // monitors remove a slave when they see DIE
    this.status(slave, 'DIE', null);
  }

  protected override async teardown(): Promise<void> {
    // answer held requests so slaves retry against the next master at once
    for (const [slave, waiter] of [...this.waiting]) {
      clearTimeout(waiter.timer);
      this.waiting.delete(slave);
      waiter.resolve({ msg: 'SLEEP', data: false });
    }
    await Promise.all([...this.inProgress]);
    this.socket?.close();
    await this.receiving;
  }
}
