// The state records piwheels passes between its parts, each convertible to
// its message form (the tuple a protocol carries) and back.
//
// Public API:
//   FileState      one built wheel (+ transferred flag, never sent)
//   BuildState     one build attempt with its files (+ build id, never sent)
//   SlaveState     the master's view of one connected slave: hello details,
//                  last request/reply, stats history, kill/skip/sleep flags,
//                  the build it reported; emits monitor SLAVE status tuples
//   SlaveStats, MasterStats                    resource/statistics snapshots
//   DownloadState, SearchState, ProjectState, JSONState, PageState   log hits
// Every class has asMessage() and a static fromMessage(data). File transfers
// (TransferState) live in file-transfer.ts.
import type { z } from 'zod';
import { NO_DATA, Timedelta, UtcDateTime } from './cbor.ts';
import {
  buildStateSchema,
  downloadStateSchema,
  fileStateSchema,
  hitStateSchema,
  masterStatsSchema,
  searchStateSchema,
  slaveDriver,
  slaveHelloSchema,
  slaveStatsSchema,
  toWire,
  type Message,
} from './protocols.ts';

export type FileStateMessage = z.output<typeof fileStateSchema>;
export type BuildStateMessage = z.output<typeof buildStateSchema>;
export type SlaveHelloMessage = z.output<typeof slaveHelloSchema>;
export type SlaveStatsMessage = z.output<typeof slaveStatsSchema>;
export type MasterStatsMessage = z.output<typeof masterStatsSchema>;
export type DownloadStateMessage = z.output<typeof downloadStateSchema>;
export type SearchStateMessage = z.output<typeof searchStateSchema>;
export type HitStateMessage = z.output<typeof hitStateSchema>;

/** The facts about one wheel that a FileState carries, by name. */
export interface WheelFileFields {
  filename: string;
  filesize: number;
  /** Lower-case hex SHA-256 of the file. */
  filehash: string;
  packageTag: string;
  packageVersionTag: string;
  pyVersionTag: string;
  abiTag: string;
  platformTag: string;
  requiresPython: string | null;
}

export class FileState {
  transferred: boolean;

  constructor(
    readonly filename: string,
    readonly filesize: number,
    readonly filehash: string,
    readonly packageTag: string,
    readonly packageVersionTag: string,
    readonly pyVersionTag: string,
    readonly abiTag: string,
    readonly platformTag: string,
    readonly requiresPython: string | null,
    readonly dependencies: Record<string, string[]>,
    readonly location = '/simple',
    transferred = false,
  ) {
    this.transferred = transferred;
  }

  static fromMessage(m: FileStateMessage): FileState {
    return new FileState(...m);
  }

  asMessage(): FileStateMessage {
    return [
      this.filename,
      this.filesize,
      this.filehash,
      this.packageTag,
      this.packageVersionTag,
      this.pyVersionTag,
      this.abiTag,
      this.platformTag,
      this.requiresPython,
      this.dependencies,
      this.location,
    ];
  }

  verified(): void {
    this.transferred = true;
  }
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class BuildState {
  buildId: number | null;
  /** keyed by filename */
  readonly files: Map<string, FileState>;

  constructor(
    readonly slaveId: number,
    readonly packageName: string,
    readonly version: string,
    public abiTag: string,
    readonly status: boolean,
    readonly duration: Timedelta,
    readonly output: string,
    files: Iterable<FileState>,
    buildId: number | null = null,
  ) {
    if (abiTag === 'none') throw new RangeError('a build is attempted for a real ABI, not "none"');
    this.files = new Map([...files].map((f) => [f.filename, f]));
    this.buildId = buildId;
  }

  static fromMessage(m: BuildStateMessage): BuildState {
    const [slaveId, pkg, version, abiTag, status, duration, output, files] = m;
    return new BuildState(slaveId, pkg, version, abiTag, status, duration, output, files.map((f) => FileState.fromMessage(f)));
  }

  /** Files in filename order, as piwheels sends them. */
  asMessage(): BuildStateMessage {
    const files = [...this.files.values()].sort((a, b) => byName(a.filename, b.filename)).map((f) => f.asMessage());
    return [this.slaveId, this.packageName, this.version, this.abiTag, this.status, this.duration, this.output, files];
  }

  get transfersDone(): boolean {
    return [...this.files.values()].every((f) => f.transferred);
  }

  /** The first file (by name) still to transfer, or null. */
  get nextFile(): string | null {
    const names = [...this.files.keys()].sort(byName);
    return names.find((name) => !this.files.get(name)!.transferred) ?? null;
  }

  logged(buildId: number): void {
    this.buildId = buildId;
  }
}

// a namedtuple-like record: the message tuple is the storage
class TupleRecord<T extends readonly unknown[]> {
  constructor(protected readonly fields: T) {}
}

export class SlaveStats extends TupleRecord<SlaveStatsMessage> {
  get timestamp(): UtcDateTime {
    return this.fields[0];
  }
  get diskSize(): number {
    return this.fields[1];
  }
  get diskFree(): number {
    return this.fields[2];
  }
  get memSize(): number {
    return this.fields[3];
  }
  get memFree(): number {
    return this.fields[4];
  }
  get swapSize(): number {
    return this.fields[5];
  }
  get swapFree(): number {
    return this.fields[6];
  }
  get loadAverage(): number {
    return this.fields[7];
  }
  get cpuTemp(): number {
    return this.fields[8];
  }
  static fromMessage(m: SlaveStatsMessage): SlaveStats {
    return new SlaveStats([...m]);
  }
  asMessage(): SlaveStatsMessage {
    return [...this.fields];
  }
}

export class MasterStats extends TupleRecord<MasterStatsMessage> {
  get timestamp(): UtcDateTime {
    return this.fields[0];
  }
  get packagesBuilt(): number {
    return this.fields[1];
  }
  get buildsLastHour(): Record<string, number> {
    return this.fields[2];
  }
  get buildsTime(): Timedelta {
    return this.fields[3];
  }
  get buildsSize(): number {
    return this.fields[4];
  }
  get buildsPending(): Record<string, number> {
    return this.fields[5];
  }
  get newLastHour(): number {
    return this.fields[6];
  }
  get filesCount(): number {
    return this.fields[7];
  }
  get downloadsLastHour(): number {
    return this.fields[8];
  }
  get downloadsLastMonth(): number {
    return this.fields[9];
  }
  get downloadsAll(): number {
    return this.fields[10];
  }
  get diskSize(): number {
    return this.fields[11];
  }
  get diskFree(): number {
    return this.fields[12];
  }
  get memSize(): number {
    return this.fields[13];
  }
  get memFree(): number {
    return this.fields[14];
  }
  get swapSize(): number {
    return this.fields[15];
  }
  get swapFree(): number {
    return this.fields[16];
  }
  get loadAverage(): number {
    return this.fields[17];
  }
  get cpuTemp(): number {
    return this.fields[18];
  }
  static fromMessage(m: MasterStatsMessage): MasterStats {
    return new MasterStats([...m] as MasterStatsMessage);
  }
  asMessage(): MasterStatsMessage {
    return [...this.fields] as MasterStatsMessage;
  }
}

/** Download or search hit: the first field is a filename or a package name. */
abstract class ClientHit<T extends DownloadStateMessage | SearchStateMessage> extends TupleRecord<T> {
  get host(): string {
    return this.fields[1];
  }
  get timestamp(): UtcDateTime {
    return this.fields[2];
  }
  get arch(): string | null {
    return this.fields[3];
  }
  get distroName(): string | null {
    return this.fields[4];
  }
  get distroVersion(): string | null {
    return this.fields[5];
  }
  get osName(): string | null {
    return this.fields[6];
  }
  get osVersion(): string | null {
    return this.fields[7];
  }
  get pyName(): string | null {
    return this.fields[8];
  }
  get pyVersion(): string | null {
    return this.fields[9];
  }
  get installerName(): string | null {
    return this.fields[10];
  }
  get installerVersion(): string | null {
    return this.fields[11];
  }
  get setuptoolsVersion(): string | null {
    return this.fields[12];
  }
  asMessage(): T {
    return [...this.fields] as unknown as T;
  }
}

export class DownloadState extends ClientHit<DownloadStateMessage> {
  get filename(): string {
    return this.fields[0];
  }
  static fromMessage(m: DownloadStateMessage): DownloadState {
    return new DownloadState([...m] as DownloadStateMessage);
  }
}

export class SearchState extends ClientHit<SearchStateMessage> {
  get packageName(): string {
    return this.fields[0];
  }
  static fromMessage(m: SearchStateMessage): SearchState {
    return new SearchState([...m] as SearchStateMessage);
  }
}

abstract class PageHit extends TupleRecord<HitStateMessage> {
  get host(): string {
    return this.fields[1];
  }
  get timestamp(): UtcDateTime {
    return this.fields[2];
  }
  get userAgent(): string {
    return this.fields[3];
  }
  asMessage(): HitStateMessage {
    return [...this.fields];
  }
}

export class ProjectState extends PageHit {
  get packageName(): string {
    return this.fields[0];
  }
  static fromMessage(m: HitStateMessage): ProjectState {
    return new ProjectState([...m]);
  }
}

export class JSONState extends PageHit {
  get packageName(): string {
    return this.fields[0];
  }
  static fromMessage(m: HitStateMessage): JSONState {
    return new JSONState([...m]);
  }
}

export class PageState extends PageHit {
  get page(): string {
    return this.fields[0];
  }
  static fromMessage(m: HitStateMessage): PageState {
    return new PageState([...m]);
  }
}

type SlaveRequest = Message<typeof slaveDriver.recv>;
type SlaveReply = Message<typeof slaveDriver.send>;
/** The monitor SLAVE message's data: slave id, timestamp, message, data. */
export type SlaveStatus = [number, UtcDateTime, string, unknown];

const STATS_HISTORY = 100;

// piwheels puts its NoData marker in the status slot of a reply without data
function replyData(reply: SlaveReply): unknown {
  return reply.data === undefined ? NO_DATA : reply.data;
}

/**
 * The master's record of one slave. Feed it every request received and reply
 * sent; it builds the BuildState from BUILD + BUILT and reports each step to
 * the status sink for monitors, as piwheels does.
 */
export class SlaveState {
  readonly firstSeen: UtcDateTime;
  lastSeen: UtcDateTime;
  readonly stats: SlaveStats[] = [];
  clockSkew: Timedelta | null = null;
  killed = false;
  skipped = false;
  paused = false;
  private requestValue: SlaveRequest | null = null;
  private replyValue: SlaveReply | null = null;
  private buildValue: BuildState | null = null;

  constructor(
    readonly address: Buffer,
    readonly slaveId: number,
    readonly hello: SlaveHelloMessage,
    private readonly statusSink: (status: SlaveStatus) => void = () => undefined,
    now: UtcDateTime = UtcDateTime.now(),
  ) {
    this.firstSeen = now;
    this.lastSeen = now;
  }

  get buildTimeout(): Timedelta {
    return this.hello[0];
  }
  get busyTimeout(): Timedelta {
    return this.hello[1];
  }
  get nativePyVersion(): string {
    return this.hello[2];
  }
  get nativeAbi(): string {
    return this.hello[3];
  }
  get nativePlatform(): string {
    return this.hello[4];
  }
  get label(): string {
    return this.hello[5];
  }
  get osName(): string {
    return this.hello[6];
  }
  get osVersion(): string {
    return this.hello[7];
  }
  get boardRevision(): string {
    return this.hello[8];
  }
  get boardSerial(): string {
    return this.hello[9];
  }
  get request(): SlaveRequest | null {
    return this.requestValue;
  }
  get reply(): SlaveReply | null {
    return this.replyValue;
  }
  get build(): BuildState | null {
    return this.buildValue;
  }

  kill(): void {
    this.killed = true;
  }
  skip(): void {
    this.skipped = true;
  }
  sleep(): void {
    this.paused = true;
  }
  wake(): void {
    this.killed = this.skipped = this.paused = false;
  }

  /** True when the slave has been silent for longer than its busy timeout. */
  expired(now: UtcDateTime = UtcDateTime.now()): boolean {
    return now.minus(this.lastSeen).totalSeconds() > this.busyTimeout.totalSeconds();
  }

  setRequest(request: SlaveRequest, now: UtcDateTime = UtcDateTime.now()): void {
    this.lastSeen = now;
    this.requestValue = request;
    if (request.msg === 'BUILT') {
      const reply = this.replyValue;
      if (reply !== null && reply.msg === 'BUILD') {
        const [status, duration, output, files] = request.data;
        const [pkg, version] = reply.data;
        this.buildValue = new BuildState(this.slaveId, pkg, version, this.nativeAbi, status, duration, output, files.map((f) => FileState.fromMessage(f)));
      } else {
        this.buildValue = null;
      }
    } else if (request.msg === 'IDLE' || request.msg === 'BUSY') {
      const stats = SlaveStats.fromMessage(request.data);
      this.stats.push(stats);
      if (this.stats.length > STATS_HISTORY) this.stats.shift();
      this.clockSkew = this.lastSeen.minus(stats.timestamp);
      this.statusSink([this.slaveId, this.lastSeen, 'STATS', toWire(slaveStatsSchema, request.data)]);
    }
  }

  setReply(reply: SlaveReply): void {
    if (reply.msg !== 'CONT') this.replyValue = reply;
    if (reply.msg === 'DONE') {
      this.buildValue = null;
      this.skipped = false;
    }
    if (reply.msg === 'ACK') {
      this.replayTo(this.statusSink);
    } else if (reply.msg !== 'CONT') {
      this.statusSink([this.slaveId, this.lastSeen, reply.msg, replyData(reply)]);
    }
  }

  /** Everything a newly connected monitor needs to know about this slave. */
  replayTo(sink: (status: SlaveStatus) => void): void {
    sink([this.slaveId, this.firstSeen, 'HELLO', toWire(slaveHelloSchema, this.hello)]);
    for (const stat of this.stats) sink([this.slaveId, this.lastSeen, 'STATS', toWire(slaveStatsSchema, stat.asMessage())]);
    if (this.replyValue !== null) sink([this.slaveId, this.lastSeen, this.replyValue.msg, replyData(this.replyValue)]);
  }
}
