// FileJuggler: receives wheels from slaves on the file endpoint (a ROUTER
// socket speaking piwheels' multipart HELLO / FETCH / CHUNK / DONE protocol),
// into hidden temp files inside the output tree. Nothing reaches
// simple/<package>/ until the slave driver asks for a VERIFY and the size and
// SHA-256 match: then the file is renamed into place in one step, and its
// METADATA, read once, is written beside it as the PEP 658 `.metadata` file.
import { lstat, readdir, readlink, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { armv6TwinName, type WheelFileFields } from '../../shared/build.ts';
import { readWheelMetadata } from '../../shared/wheel/metadata.ts';
import { FETCH_SIZE, PIPELINE_SIZE, TransferError, TransferState, TransferTable } from '../../shared/wire/file-transfer.ts';
import { bindSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { GarbageLog } from '../monitor/control.ts';
import { writeMetadataFile } from '../pages/metadata-file.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';

const TEMP_FILE = /^\.transfer-[0-9a-f]+\.tmp$/;

export interface FileJugglerOptions extends TaskOptions {
  address: string;
  outputPath: string;
  /** Called after a file is committed (e.g. to refresh disk statistics). */
  onCommit?: (path: string) => void;
}

/** What the juggler learned from a wheel it verified and committed. */
export interface CommittedWheel {
  path: string;
  /** SHA-256 of the wheel's METADATA (PEP 658); null when the wheel has none readable. */
  metadataHash: string | null;
}

/** The file juggler as the slave driver and MrChase use it. */
export interface FileTransfers {
  /** The slave is about to send `file` (piwheels' EXPECT). */
  expect(slaveId: number, file: WheelFileFields): void;
  /** Verifies and commits the slave's finished transfer (piwheels' VERIFY); null when it does not match. */
  verify(slaveId: number, pkg: string): Promise<CommittedWheel | null>;
  /** Forgets (and deletes) anything the slave was sending. */
  cancel(slaveId: number): void;
  /** When the slave last sent a frame of its expected transfer (ms), if it has. */
  lastActivity(slaveId: number): number | undefined;
}

export class FileJuggler extends Task implements FileTransfers {
  readonly name = 'file-juggler';
  // transfers in flight must finish whatever the rest of the master does
  override readonly pauseMode = 'nonstop' as const;
  private socket: WireSocket<{}, {}> | undefined;
  private readonly table = new TransferTable();
  /** Slaves with a transfer expected or under way. */
  private readonly expected = new Set<number>();
  /** When each slave with a transfer expected last sent a frame of it (ms); keys are a subset of `expected`. */
  private readonly activity = new Map<number, number>();
  private receiving: Promise<void> | undefined;
  private readonly garbage: GarbageLog;

  constructor(private readonly options: FileJugglerOptions) {
    super(options);
    this.garbage = new GarbageLog(this.logger, 'file queue');
  }

  get endpoint(): string | null {
    return this.socket?.endpoint ?? null;
  }

  protected override async setup(): Promise<void> {
    await this.removeStaleTempFiles();
    // A CHUNK is never longer than we ask for, so a larger frame drops its
    // sender; a sender has PIPELINE_SIZE chunks in flight, so a small inbound
    // queue bounds what one peer can make us buffer (past it libzmq stops
    // reading that connection, it loses nothing).
    const socket = await bindSocket('ROUTER', this.options.address, {
      logger: this.logger,
      sendHwm: PIPELINE_SIZE * 50,
      recvHwm: PIPELINE_SIZE * 2,
      maxMessageSize: FETCH_SIZE,
      linger: 0,
    });
    this.socket = socket;
    this.receiving = this.receive(socket);
  }

  /** A temp file left by a previous run that died mid-transfer is never valid. */
  private async removeStaleTempFiles(): Promise<void> {
    const dir = join(this.options.outputPath, 'simple');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.filter((n) => TEMP_FILE.test(n))) {
      await unlink(join(dir, name)).catch(() => undefined);
      this.logger.info({ file: name }, 'removed a transfer left unfinished by a previous run');
    }
  }

  private async receive(socket: WireSocket<{}, {}>): Promise<void> {
    while (!socket.closed) {
      let frames: Buffer[] | null;
      try {
        frames = await socket.recvRaw();
      } catch (error) {
        if (socket.closed) return;
        this.logger.error({ err: error }, 'file queue failed');
        return;
      }
      if (!frames) continue;
      try {
        this.handleFrames(socket, frames);
      } catch (error) {
        // one bad transfer (a full disk, say) must not stop the others
        this.logger.error({ err: error }, 'file transfer error');
      }
    }
  }

  private handleFrames(socket: WireSocket<{}, {}>, frames: Buffer[]): void {
    const [address, ...rest] = frames;
    if (!address || rest.length === 0) return;
    const result = this.table.handle(address, rest);
    if (result.slaveId !== null && this.expected.has(result.slaveId)) this.activity.set(result.slaveId, Date.now());
    if (result.ignored !== null) {
      if (result.ignored.startsWith('redundant CHUNK')) this.logger.debug(result.ignored);
      else this.garbage.note({ reason: result.ignored, peer: address.toString('hex') });
    }
    if (result.completed) this.logger.info({ file: result.completed.file.filename }, 'transfer complete');
    for (const reply of result.replies) {
      socket.sendRaw(reply).catch((error: unknown) => {
        if (!socket.closed) this.logger.warn({ err: error }, 'file queue send failed');
      });
    }
  }

  expect(slaveId: number, file: WheelFileFields): void {
    const transfer = new TransferState(
      slaveId,
      { filename: file.filename, filesize: file.filesize, filehash: file.filehash, platformTag: file.platformTag },
      this.options.outputPath,
    );
    this.table.expect(transfer);
    this.expected.add(slaveId);
    this.logger.info({ slave: slaveId, file: file.filename }, 'expecting transfer');
  }

  /**
   * Verifies the slave's finished transfer and commits it under
   * simple/<pkg>/ with its `.metadata` file. Null when there is nothing
   * complete to verify or it does not match; the temp file is then discarded.
   */
  async verify(slaveId: number, pkg: string): Promise<CommittedWheel | null> {
    const transfer = this.table.takeCompleted(slaveId);
    this.expected.delete(slaveId);
    this.activity.delete(slaveId);
    if (!transfer) {
      this.logger.warn({ slave: slaveId }, 'verify without a completed transfer');
      await this.table.cancel(slaveId);
      return null;
    }
    try {
      await transfer.verify();
    } catch (error) {
      await transfer.rollback();
      if (!(error instanceof TransferError)) throw error;
      this.logger.warn({ slave: slaveId, file: transfer.file.filename, reason: error.message }, 'verification failed');
      return null;
    }
    const path = await transfer.commit(pkg);
    this.logger.info({ slave: slaveId, file: transfer.file.filename }, 'verified and committed');
    const metadataHash = await this.writeMetadata(path, pkg);
    this.options.onCommit?.(path);
    return { path, metadataHash };
  }

  /**
   * Writes the wheel's METADATA beside it (and beside its armv6l link, which
   * serves the same bytes); returns its SHA-256, or null when the wheel has
   * none readable.
   */
  private async writeMetadata(path: string, pkg: string): Promise<string | null> {
    let metadata;
    try {
      metadata = await readWheelMetadata(path);
    } catch (error) {
      this.logger.warn({ file: path, package: pkg, err: error }, 'no readable METADATA in the wheel');
      return null;
    }
    try {
      writeMetadataFile(path, metadata.raw);
      const twin = armv6TwinName(basename(path));
      if (twin !== null && (await this.linksTo(join(dirname(path), twin), basename(path)))) {
        writeMetadataFile(join(dirname(path), twin), metadata.raw);
      }
    } catch (error) {
      // the wheel is in place; the page writer extracts a missing .metadata file itself
      this.logger.warn({ file: path, package: pkg, err: error }, 'could not write the .metadata file');
    }
    return metadata.sha256;
  }

  /** True when `path` is a symlink to `target` (a real armv6l build keeps its own metadata). */
  private async linksTo(path: string, target: string): Promise<boolean> {
    try {
      return (await lstat(path)).isSymbolicLink() && (await readlink(path)) === target;
    } catch {
      return false;
    }
  }

  /** Forgets (and deletes) anything the slave was sending. */
  cancel(slaveId: number): void {
    this.expected.delete(slaveId);
    this.activity.delete(slaveId);
    this.table.cancel(slaveId).catch((error: unknown) => this.logger.warn({ err: error, slave: slaveId }, 'could not discard transfer'));
  }

  lastActivity(slaveId: number): number | undefined {
    return this.activity.get(slaveId);
  }

  protected override async teardown(): Promise<void> {
    this.socket?.close(0);
    await this.receiving;
    // half-finished transfers are discarded; the slave re-sends after a restart
    for (const slaveId of [...this.expected]) await this.table.cancel(slaveId).catch(() => undefined);
    this.expected.clear();
  }
}
