// What upstream serves of each release, kept in the database: asked of the
// JSON API when the changelog reports an upload (in the background, a few at
// a time, so the changelog never waits), and again, afresh, when a build is
// about to be published. Every answer is handed on (onAnswer), so that a file
// of ours upstream now contradicts is withdrawn.
//
// When upstream cannot be asked (down, slow, garbage) the last recorded
// answer stands: the changelog reports every upload, and each report asks
// again, so it is as fresh as the changelog. When upstream has never
// answered for a release, filesOf says so (null) and the caller must not
// publish blindly: the slave driver records the build as failed, saying why.
import { silentLogger, type Logger } from '../../shared/log.ts';
import type { UpstreamFileRecord, UpstreamRelease } from '../../shared/db/index.ts';
import type { PyPIClient } from './pypi.ts';

/** The database's part. */
export interface UpstreamFilesStore {
  recordUpstreamFiles(pkg: string, version: string, files: readonly UpstreamFileRecord[], checkedAt?: Date): Promise<boolean>;
  getUpstreamFiles(pkg: string, version: string): Promise<UpstreamRelease | null>;
  /** Whether the release is stored and neither it nor its package is skipped (worth asking about). */
  isBuildable(pkg: string, version: string): Promise<boolean>;
}

/** What the slave driver and Mr Chase ask before publishing a build's files. */
export interface UpstreamCheck {
  /** Upstream's wheels of the release: afresh, else as last recorded; null when upstream never answered. */
  filesOf(pkg: string, version: string): Promise<UpstreamFileRecord[] | null>;
}

export interface UpstreamFilesOptions {
  pypi: Pick<PyPIClient, 'releaseFiles' | 'close'>;
  db: UpstreamFilesStore;
  logger?: Logger;
  /** Extra attempts when asked before publishing (each bounded by the client's timeout). */
  retries?: number;
  /** Releases asked about at once in the background. */
  concurrency?: number;
  /** Most releases waiting to be asked about; past it reports are dropped (the check before publishing still asks). */
  maxWanted?: number;
  /** Told of every answer once recorded (to withdraw files of ours it now contradicts). */
  onAnswer?: (pkg: string, version: string, files: readonly UpstreamFileRecord[]) => Promise<unknown>;
  now?: () => Date;
}

const key = (pkg: string, version: string): string => `${pkg}\u0000${version}`;

export class UpstreamFiles implements UpstreamCheck {
  private readonly wanted = new Map<string, { pkg: string; version: string }>();
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: UpstreamFilesOptions) {
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
  }

  async filesOf(pkg: string, version: string): Promise<UpstreamFileRecord[] | null> {
    try {
      const files = await this.options.pypi.releaseFiles(pkg, version, { retries: this.options.retries ?? 2 });
      await this.recorded(pkg, version, files);
      return files;
    } catch (error) {
      const stored = await this.options.db.getUpstreamFiles(pkg, version);
      this.logger.warn(
        { package: pkg, version, err: (error as Error).message, recorded: stored?.checkedAt.toISOString() ?? null },
        stored === null ? 'upstream cannot say what it serves, and never has' : 'upstream cannot say what it serves; using what it said last',
      );
      return stored?.files ?? null;
    }
  }

  private async recorded(pkg: string, version: string, files: readonly UpstreamFileRecord[]): Promise<void> {
    await this.options.db.recordUpstreamFiles(pkg, version, files, this.now());
    try {
      await this.options.onAnswer?.(pkg, version, files);
    } catch (error) {
      this.logger.error({ package: pkg, version, err: (error as Error).message }, 'could not act on what upstream serves');
    }
  }

  /** Asks about the release in the background (an upload was reported). */
  want(pkg: string, version: string): void {
    if (this.closed) return;
    if (this.wanted.size >= (this.options.maxWanted ?? 10_000)) {
      this.logger.debug({ package: pkg, version }, 'too many releases waiting to be asked about; this one is asked before publishing');
      return;
    }
    this.wanted.set(key(pkg, version), { pkg, version });
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  /** Resolves once every release wanted so far has been asked about (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops asking; what is under way is abandoned. */
  async close(): Promise<void> {
    this.closed = true;
    this.wanted.clear();
    this.options.pypi.close();
    await this.settled();
  }

  private async drain(): Promise<void> {
    const concurrency = this.options.concurrency ?? 4;
    while (this.wanted.size > 0 && !this.closed) {
      const next = [...this.wanted.entries()].slice(0, concurrency);
      for (const [k] of next) this.wanted.delete(k);
      await Promise.all(next.map(([, r]) => this.refresh(r.pkg, r.version)));
    }
  }

  private async refresh(pkg: string, version: string): Promise<void> {
    try {
      if (!(await this.options.db.isBuildable(pkg, version))) return;
      const files = await this.options.pypi.releaseFiles(pkg, version, { retries: 0 });
      await this.recorded(pkg, version, files);
    } catch (error) {
      if (!this.closed) this.logger.info({ package: pkg, version, err: (error as Error).message }, 'could not ask upstream what it serves; asked again before publishing');
    }
  }
}
