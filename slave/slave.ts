// The piw-slave daemon: a REQ socket to the master's slave endpoint, driven
// around the protocol (HELLO, IDLE, BUSY, BUILT, SENT, BYE) with one build at
// a time. A master that stops answering, answers nonsense, or restarts is
// met with a new socket and a fresh HELLO; a build that was under way is kept
// meanwhile and carried on if the master hands out the same job again. A
// restart is noticed when the connection drops, not only when a reply is
// overdue: the request the old master held died with it.
import { Timedelta, UtcDateTime } from '../shared/wire/cbor.ts';
import { ProtocolError, reverse, slaveDriver, type BuiltMessage, type DataOf } from '../shared/wire/protocols.ts';
import { createSocket, SendTimeout, type WireSocket } from '../shared/wire/transport.ts';
import { builtToMessage } from '../shared/build.ts';
import type { Logger } from '../shared/log.ts';
import { Build, reproduceBuild, type BuildResult } from './builder.ts';
import { probeEnvironment } from './environment.ts';
import { decide, replyTimeoutMs, type MasterReply, type Request } from './protocol.ts';
import type { BoardInfo, OsRelease, PythonTags, SystemStats } from '../shared/sysinfo.ts';

const slaveSide = reverse(slaveDriver);
type SlaveSocket = WireSocket<typeof slaveSide.recv, typeof slaveSide.send>;
type HelloData = DataOf<typeof slaveDriver.recv, 'HELLO'>;
type StatsData = DataOf<typeof slaveDriver.recv, 'IDLE'>;

/** Sends one file to the master's file endpoint (piwheels' file-transfer protocol). */
export type FileSender = (endpoint: string, slaveId: number, path: string, signal: AbortSignal) => Promise<void>;

export interface SlaveOptions {
  slaveEndpoint: string;
  fileEndpoint: string;
  label: string;
  /** Build timeout (ms). */
  timeoutMs: number;
  /** Announced busy timeout and the longest wait for a reply (ms). */
  masterTimeoutMs: number;
  /** Wait for the replies a master gives at once (ms). */
  replyTimeoutMs: number;
  dir: string;
  python: string;
  /** Overrides the index from ACK. */
  indexUrl?: string | undefined;
  extraIndexUrls: readonly string[];
  tags: PythonTags;
  os: OsRelease;
  board: BoardInfo;
  stats: () => Promise<SystemStats>;
  sendFile: FileSender;
  logger: Logger;
  /** Extra environment for builds. */
  buildEnv?: Readonly<Record<string, string>>;
  /** How long one CONT waits for the build before answering BUSY (ms). */
  busyIntervalMs?: number;
  /** Nap after an immediate SLEEP, [min, max] ms (a master that held our IDLE gets none). */
  napMs?: readonly [number, number];
}

/** Set when the session's connection to the master drops. */
interface Link {
  lost: boolean;
}

/** Raised inside a session to drop the socket and start over with HELLO. */
class Reset extends Error {
  /** True when the master said nothing (the wait itself spaced the retries out). */
  constructor(
    message: string,
    readonly silence = false,
  ) {
    super(message);
  }
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });

export function statsMessage(stats: SystemStats): StatsData {
  return [
    UtcDateTime.fromDate(stats.timestamp),
    Math.round(stats.diskSize),
    Math.round(stats.diskFree),
    Math.round(stats.memSize),
    Math.round(stats.memFree),
    Math.round(stats.swapSize),
    Math.round(stats.swapFree),
    stats.loadAverage,
    stats.cpuTemperature,
  ];
}

export function builtMessage(result: BuildResult): BuiltMessage {
  return builtToMessage(result.status, Timedelta.fromMilliseconds(result.durationMs), result.output, result.wheels);
}

export class Slave {
  private readonly options: SlaveOptions;
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private build: Build | null = null;
  private slaveId: number | null = null;
  private indexUrl = '';
  /** Sessions started (1 + the number of resets), for logs and tests. */
  sessions = 0;
  /** Set once the master has refused our CURVE key, so the refusal is logged once. */
  private authRefused = false;
  /** Resets since the master last acknowledged us: spaces out retries against a broken master. */
  private failures = 0;

  constructor(options: SlaveOptions) {
    this.options = options;
    this.logger = options.logger;
  }

  /** The id the master gave us, or null between sessions. */
  get id(): number | null {
    return this.slaveId;
  }

  /** Asks the slave to finish: the build is killed and BYE sent. */
  stop(reason = 'stopping'): void {
    if (!this.stopping.signal.aborted) {
      this.logger.warn({ reason }, 'shutting down');
      this.stopping.abort(new Error(reason));
    }
  }

  /** Runs until stop() or the master says DIE. Resolves to the exit code. */
  async run(): Promise<number> {
    try {
      while (!this.stopping.signal.aborted) {
        // heartbeats: a master that vanished without closing the connection
        // (power cut) is noticed in 20 s even while it owes a slow reply; a
        // send no master takes (a handshake refused) must not outlive a stop
        const socket = createSocket('REQ', {
          protocol: slaveSide,
          logger: this.logger,
          hwm: 10,
          linger: 1,
          heartbeat: { intervalSeconds: 5, timeoutSeconds: 15 },
          sendTimeout: this.options.replyTimeoutMs / 1000,
        });
        socket.connect(this.options.slaveEndpoint);
        const link: Link = { lost: false };
        socket.onDisconnect(() => (link.lost = true));
        socket.onAuthFailure((reason) => {
          if (this.authRefused) return;
          this.authRefused = true;
          this.logger.error({ reason }, "the master refused this slave's CURVE key: its public certificate must be in the master's --curve-clients folder");
        });
        this.sessions++;
        let pause = 0;
        try {
          const ended = await this.session(socket, link);
          if (ended === 'die') return 0;
        } catch (error) {
          const reset = error instanceof SendTimeout ? new Reset('the master took no message', true) : error;
          if (!(reset instanceof Reset)) throw reset;
          this.logger.warn({ reason: reset.message }, 'resetting connection to the master');
          // A master answering nonsense gets retries spaced out; a silent one is retried at once.
          if (!reset.silence) pause = Math.min(30_000, 250 * 2 ** this.failures++);
        } finally {
          socket.close(1);
          this.slaveId = null;
        }
        await sleep(pause, this.stopping.signal);
      }
      return 0;
    } finally {
      await this.dropBuild('slave shutting down');
    }
  }

  private hello(): HelloData {
    const { options } = this;
    return [
      Timedelta.fromMilliseconds(options.timeoutMs),
      Timedelta.fromMilliseconds(options.masterTimeoutMs),
      options.tags.pyVersion,
      options.tags.abi,
      options.tags.platform,
      options.label,
      options.os.name,
      options.os.version,
      options.board.revision,
      options.board.serial,
    ];
  }

  private async stats(): Promise<StatsData> {
    try {
      return statsMessage(await this.options.stats());
    } catch (error) {
      // Statistics are for the monitors; a build directory gone missing must not stop the slave.
      this.logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'cannot read system statistics');
      const zero = { diskSize: 0, diskFree: 0, memSize: 0, memFree: 0, swapSize: 0, swapFree: 0 };
      return statsMessage({ timestamp: new Date(), ...zero, loadAverage: 0, cpuTemperature: 0 });
    }
  }

  /** Waits for the reply to `sent`; null when asked to stop first. */
  private async reply(socket: SlaveSocket, link: Link, sent: Request): Promise<MasterReply | null> {
    const limit = replyTimeoutMs(sent, this.options.masterTimeoutMs, this.options.replyTimeoutMs);
    const deadline = Date.now() + limit;
    // Once stopping, the reply already on its way is still worth a moment: it frees the socket for BYE.
    let stopDeadline = Number.POSITIVE_INFINITY;
    for (;;) {
      const now = Date.now();
      if (this.stopping.signal.aborted && stopDeadline === Number.POSITIVE_INFINITY) stopDeadline = now + 1000;
      const until = Math.min(deadline, stopDeadline);
      if (now >= until) {
        if (this.stopping.signal.aborted) return null;
        throw new Reset(`no reply to ${sent} within ${Math.round(limit / 1000)} s`, true);
      }
      let message: MasterReply | null;
      try {
        message = await socket.recv(Math.min(250, until - now) / 1000);
      } catch (error) {
        if (error instanceof ProtocolError) throw new Reset(`bad reply to ${sent}: ${error.message}`);
        throw error;
      }
      if (message !== null) return message;
      // A reply that arrived before the drop still counts; after it none can
      // come. Not silence: a master that drops every connection gets
      // retries spaced out.
      if (link.lost && !this.stopping.signal.aborted) throw new Reset(`connection to the master lost waiting for the reply to ${sent}`);
    }
  }

  /** BYE is a courtesy (the master forgets us sooner): never wait long for it to leave. */
  private async bye(socket: SlaveSocket): Promise<void> {
    const sent = socket.send('BYE').then(
      () => true,
      () => false,
    );
    await Promise.race([sent, sleep(1000, new AbortController().signal)]);
  }

  private async dropBuild(reason: string): Promise<void> {
    const build = this.build;
    this.build = null;
    if (build !== null) await build.close(reason);
  }

  private startBuild(pkg: string, version: string): void {
    const { options } = this;
    this.build = new Build({
      package: pkg,
      version,
      python: options.python,
      indexUrl: options.indexUrl ?? this.indexUrl,
      extraIndexUrls: options.extraIndexUrls,
      timeoutMs: options.timeoutMs,
      dir: options.dir,
      env: options.buildEnv,
      describe: (build) => probeEnvironment(build.python, reproduceBuild(build)),
    });
  }

  private async session(socket: SlaveSocket, link: Link): Promise<'die' | 'stopped'> {
    const { options } = this;
    const stop = this.stopping.signal;
    let sent: Request = 'HELLO';
    await socket.send('HELLO', this.hello());
    let sentAt = Date.now();
    for (;;) {
      const reply = await this.reply(socket, link, sent);
      if (reply === null) {
        // Still waiting on the master: a REQ socket cannot send BYE now.
        await this.dropBuild('slave shutting down');
        return 'stopped';
      }
      if (stop.aborted) break;
      const heldMs = Date.now() - sentAt;
      const finished = this.build?.done ?? null;
      const action = decide(
        sent,
        reply,
        finished === null ? null : { succeeded: finished.status, filenames: finished.wheels.map((w) => w.filename) },
      );
      let next: Exclude<Request, 'HELLO'>;
      switch (action.kind) {
        case 'reset':
          throw new Reset(action.reason);
        case 'die':
          this.logger.warn('master asked us to terminate');
          await this.dropBuild('master said DIE');
          await this.bye(socket);
          return 'die';
        case 'ack':
          this.slaveId = action.slaveId;
          this.indexUrl = action.indexUrl;
          this.failures = 0;
          this.logger.info({ slave: action.slaveId, index: options.indexUrl ?? action.indexUrl }, 'connected to master');
          next = 'IDLE';
          break;
        case 'sleep': {
          // A job that outlived a reset is not wanted by this master.
          await this.dropBuild('master has other plans');
          this.logger.info(action.paused ? 'sleeping: master paused' : 'sleeping: nothing to build');
          const [min, max] = options.napMs ?? [5000, 10_000];
          // A master that held our IDLE has made us wait already.
          if (heldMs < min) await sleep(min + Math.random() * (max - min), stop);
          next = 'IDLE';
          break;
        }
        case 'build': {
          const current = this.build;
          if (current !== null && current.options.package === action.package && current.options.version === action.version) {
            this.logger.info({ package: action.package, version: action.version }, 'carrying on with the build already under way');
          } else {
            await this.dropBuild('master has other plans');
            this.logger.warn({ package: action.package, version: action.version }, 'building');
            this.startBuild(action.package, action.version);
          }
          next = 'BUSY';
          break;
        }
        case 'cont': {
          const build = this.build;
          if (build === null) throw new Reset('CONT without a build');
          await Promise.race([build.result, sleep(options.busyIntervalMs ?? 5000, stop)]);
          next = build.done === null ? 'BUSY' : 'BUILT';
          break;
        }
        case 'abort':
          this.logger.info('master stopped the build');
          await this.dropBuild('build stopped by the master');
          next = 'IDLE';
          break;
        case 'send': {
          const wheel = this.build?.done?.wheels.find((w) => w.filename === action.filename);
          if (wheel === undefined || this.slaveId === null) throw new Reset(`SEND ${action.filename}: nothing to send`);
          this.logger.info({ file: wheel.filename, size: wheel.filesize }, 'sending file');
          try {
            await options.sendFile(options.fileEndpoint, this.slaveId, wheel.path, stop);
          } catch (error) {
            // SENT anyway: the master verifies the file and asks again if it is not right.
            if (!stop.aborted) {
              this.logger.error({ file: wheel.filename, error: error instanceof Error ? error.message : String(error) }, 'file transfer failed');
            }
          }
          next = 'SENT';
          break;
        }
        case 'done':
          await this.dropBuild('build finished');
          next = 'IDLE';
          break;
      }
      if (stop.aborted) break;
      sent = next;
      switch (next) {
        case 'IDLE':
        case 'BUSY':
          await socket.send(next, await this.stats());
          break;
        case 'BUILT': {
          const result = this.build?.done;
          if (result == null) throw new Reset('BUILT without a result');
          this.logger.info({ status: result.status, files: result.wheels.length }, result.status ? 'build succeeded' : 'build failed');
          await socket.send('BUILT', builtMessage(result));
          break;
        }
        case 'SENT':
          await socket.send('SENT');
          break;
      }
      sentAt = Date.now();
    }
    // Stopping with the master's last reply in hand: the socket is free for BYE.
    await this.dropBuild('slave shutting down');
    await this.bye(socket);
    return 'stopped';
  }
}
