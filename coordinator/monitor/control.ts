// The endpoints monitors use, as piwheels has them: a PUB socket on the status
// address carrying HELLO / STATS / SLAVE messages, and a PULL socket on the
// control address taking HELLO (replay everything to a new monitor), KILL,
// SLEEP, SKIP, WAKE (one slave by id, or all with null) and QUIT. This is
// what lets the Python piw-monitor watch and steer this coordinator.
import { chmod, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Logger } from '../../shared/log.ts';
import { UtcDateTime } from '../../shared/wire/cbor.ts';
import { ProtocolError, masterControl, monitorStats, type DataArgs } from '../../shared/wire/protocols.ts';
import { createSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { readBoardInfo, readOsRelease } from '../../shared/sysinfo.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';

type StatusTable = typeof monitorStats.send;
export type StatusPublisher = <K extends keyof StatusTable & string>(msg: K, ...data: DataArgs<StatusTable, K>) => void;

export type SlaveAction = 'KILL' | 'SLEEP' | 'SKIP' | 'WAKE';

export interface ControlHandlers {
  /** A monitor attached: replay master stats and every slave's state. */
  replay(): void;
  slave(action: SlaveAction, slaveId: number | null): void;
  /** SLEEP / WAKE for everyone also pauses / resumes the master's tasks. */
  pauseAll(): void;
  resumeAll(): void;
  quit(): void;
}

/**
 * Logs the first bad message from a source and then at most one summary a
 * minute, so a peer spewing garbage cannot flood the log.
 */
export class GarbageLog {
  private suppressed = 0;
  private lastLogged = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns true when this occurrence was logged. */
  note(detail: Record<string, unknown>): boolean {
    const now = this.now();
    if (now - this.lastLogged < this.intervalMs) {
      this.suppressed += 1;
      return false;
    }
    this.logger.warn({ ...detail, suppressed: this.suppressed }, `ignored invalid message on the ${this.what}`);
    this.suppressed = 0;
    this.lastLogged = now;
    return true;
  }
}

/** ipc:// endpoints get group write permission so monitors of the owning group can connect. */
async function allowGroupWrite(address: string): Promise<void> {
  if (!address.startsWith('ipc://')) return;
  const path = address.slice('ipc://'.length);
  const info = await stat(path);
  await chmod(path, info.mode | 0o020);
}

export interface ControlOptions extends TaskOptions {
  statusAddress: string;
  controlAddress: string;
  handlers: ControlHandlers;
  started?: Date;
}

export class ControlEndpoints extends Task {
  readonly name = 'control';
  override readonly pauseMode = 'nonstop' as const;
  private status: WireSocket<{}, StatusTable> | undefined;
  private pull: WireSocket<typeof masterControl.recv, {}> | undefined;
  private receiving: Promise<void> | undefined;
  private readonly started: UtcDateTime;
  private readonly garbage: GarbageLog;
  private helloData: DataArgs<StatusTable, 'HELLO'> | undefined;
  /** Topics monitors are subscribed to, as the XPUB socket reports them. */
  private subscriptions = 0;
  /**
   * A monitor said HELLO: it is subscribed, though its subscription may not
   * have been read yet (it travels on the other socket). Cleared when the
   * last subscription goes.
   */
  private greeted = false;
  private watching: Promise<void> | undefined;

  constructor(private readonly options: ControlOptions) {
    super(options);
    this.started = UtcDateTime.fromDate(options.started ?? new Date());
    this.garbage = new GarbageLog(this.logger, 'control queue');
  }

  /**
   * Publishes to attached monitors; dropped before start and when none is
   * attached, which spares the slave protocol the encoding of a status
   * message per request on a farm nobody is watching.
   */
  readonly publish: StatusPublisher = (msg, ...data) => {
    const socket = this.status;
    if (!socket || socket.closed || !this.watched) return;
    socket.send(msg, ...data).catch((error: unknown) => this.logger.debug({ err: error, msg }, 'status message dropped'));
  };

  get statusEndpoint(): string | null {
    return this.status?.endpoint ?? null;
  }

  get controlEndpoint(): string | null {
    return this.pull?.endpoint ?? null;
  }

  protected override async setup(): Promise<void> {
    const [os, board] = await Promise.all([readOsRelease(), readBoardInfo()]);
    this.helloData = [[this.started, hostname(), os.name, os.version, board.revision, board.serial]];
    this.status = createSocket('XPUB', { protocol: monitorStats, logger: this.logger, linger: 0 });
    this.pull = createSocket('PULL', { protocol: masterControl, logger: this.logger, hwm: 10, linger: 0 });
    try {
      await this.status.bind(this.options.statusAddress);
      await this.pull.bind(this.options.controlAddress);
      await allowGroupWrite(this.options.statusAddress);
      await allowGroupWrite(this.options.controlAddress);
    } catch (error) {
      this.status.close();
      this.pull.close();
      throw error;
    }
    this.receiving = this.receive(this.pull);
    this.watching = this.watchSubscriptions(this.status);
  }

  /** True while a monitor is attached (status messages are only encoded and sent then). */
  get watched(): boolean {
    return this.subscriptions > 0 || this.greeted;
  }

  /** Counts subscriptions: XPUB passes on each topic's first subscribe and last unsubscribe. */
  private async watchSubscriptions(socket: WireSocket<{}, typeof monitorStats.send>): Promise<void> {
    while (!socket.closed) {
      let frames;
      try {
        frames = await socket.recvRaw();
      } catch (error) {
        if (socket.closed) return;
        this.logger.error({ err: error }, 'status queue failed');
        return;
      }
      // a receive cut short by close() reads as nothing received
      if (frames === null) continue;
      const kind = frames[0]?.[0];
      if (kind === 1) this.subscriptions += 1;
      else if (kind === 0) this.subscriptions = Math.max(0, this.subscriptions - 1);
      if (this.subscriptions === 0) this.greeted = false;
    }
  }

  private async receive(socket: WireSocket<typeof masterControl.recv, {}>): Promise<void> {
    while (!socket.closed) {
      let message;
      try {
        message = await socket.recv();
      } catch (error) {
        if (socket.closed) return;
        if (error instanceof ProtocolError) {
          this.garbage.note({ error: error.message });
          continue;
        }
        this.logger.error({ err: error }, 'control queue failed');
        return;
      }
      if (message) this.dispatch(message.msg, message.data ?? null);
    }
  }

  private dispatch(msg: 'HELLO' | 'QUIT' | SlaveAction, slaveId: number | null): void {
    const handlers = this.options.handlers;
    switch (msg) {
      case 'HELLO':
        this.logger.info('sending status to a new monitor');
        this.greeted = true;
        if (this.helloData) this.publish('HELLO', ...this.helloData);
        handlers.replay();
        return;
      case 'QUIT':
        this.logger.warn('shutting down on QUIT message');
        handlers.quit();
        return;
      default:
        this.logger.warn({ slave: slaveId ?? 'all' }, `${msg.toLowerCase()} ${slaveId === null ? 'all slaves' : `slave ${slaveId}`}`);
        if (slaveId === null && msg === 'SLEEP') handlers.pauseAll();
        if (slaveId === null && msg === 'WAKE') handlers.resumeAll();
        handlers.slave(msg, slaveId);
    }
  }

  protected override async teardown(): Promise<void> {
    this.pull?.close(0);
    await this.receiving;
    this.status?.close(0);
    await this.watching;
  }
}
