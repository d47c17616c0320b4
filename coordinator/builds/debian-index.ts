// Which Debian package provides a file, from Debian's own file index on this
// machine: `apt-file search -x` over the Contents indexes apt has fetched,
// or a Contents file the operator names (plain or gzipped). Nothing is
// downloaded here. Lookups run as child processes or streams, never on the
// event loop's time; answers (also "none") are cached, and a lookup already
// running is shared. Without an index the answer is null, logged once.
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { MissingDependency } from '../../shared/failure.ts';
import type { Logger } from '../../shared/log.ts';
import { contentsLineToApt, contentsPattern, pickDebianPackage } from './missing-dependency.ts';

/** Where the index is: apt-file (the command to run), or a Contents file. */
export type DebianIndexSource = { kind: 'apt-file'; command: string } | { kind: 'contents'; path: string } | { kind: 'none' };

export interface DebianIndexOptions {
  source: DebianIndexSource;
  logger: Logger;
  /** Longest one lookup may take (ms). */
  timeoutMs?: number;
  /** Most answers kept. */
  cacheSize?: number;
}

/** The apt-file output is a few lines per match; anything past this is not an answer worth reading. */
const MAX_OUTPUT = 1024 * 1024;

export class DebianIndex {
  private readonly cache = new Map<string, Promise<string | null>>();
  private warned = false;

  constructor(private readonly options: DebianIndexOptions) {}

  /** The Debian package providing the missing file, or null (not found, or no index). */
  lookup(missing: MissingDependency): Promise<string | null> {
    const pattern = contentsPattern(missing);
    const known = this.cache.get(pattern);
    if (known) return known;
    const pending = this.search(pattern);
    this.cache.set(pattern, pending);
    if (this.cache.size > (this.options.cacheSize ?? 1000)) this.cache.delete(this.cache.keys().next().value as string);
    return pending;
  }

  private async search(pattern: string): Promise<string | null> {
    const { source } = this.options;
    try {
      if (source.kind === 'none') return null;
      const output = source.kind === 'apt-file' ? await this.aptFile(source.command, pattern) : await this.contents(source.path, pattern);
      return pickDebianPackage(output);
    } catch (error) {
      // no index is not a fault of the build: say so once, then answer "unknown"
      if (!this.warned) {
        this.warned = true;
        this.options.logger.warn({ err: error, source }, 'no Debian file index; missing native dependencies are not named');
      }
      this.cache.delete(pattern);
      return null;
    }
  }

  private aptFile(command: string, pattern: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        command,
        ['search', '-x', pattern],
        { timeout: this.options.timeoutMs ?? 60_000, maxBuffer: MAX_OUTPUT, env: { ...process.env, LC_ALL: 'C' } },
        (error, stdout, stderr) => {
          // apt-file exits 1 when nothing matches: an answer, not a failure
          if (error && !(typeof error.code === 'number' && error.code === 1 && stderr.trim() === '')) reject(error);
          else resolve(stdout);
        },
      );
    });
  }

  private async contents(path: string, pattern: string): Promise<string> {
    const re = new RegExp(pattern);
    const raw = createReadStream(path);
    const lines = createInterface({ input: path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw, crlfDelay: Infinity });
    const found: string[] = [];
    for await (const line of lines) {
      const entry = /^(\S+)\s/.exec(line);
      if (!entry || !re.test(entry[1] as string)) continue;
      const answer = contentsLineToApt(line);
      if (answer !== null) found.push(answer);
    }
    return found.join('\n');
  }
}
