// Build logs on their way to logs/. A log's path comes from its build id,
// which only the database's commit gives; a coordinator killed between that
// commit and the log's write would lose the log for good (the database keeps
// no copy). So the logs of a batch of builds are first written to one spool
// file, each with its build's unique key, before the batch is committed, and
// the file is removed once every log proper is written. On start, spooled
// logs of builds that were committed are written out; the rest (builds never
// committed) go.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Database } from '../../shared/db/index.ts';

/** builds' unique key (package, version, built_at, built_by) and the log text. */
const spooledLog = z.object({
  package: z.string(),
  version: z.string(),
  builtAt: z.iso.datetime(),
  builtBy: z.number().int(),
  log: z.string(),
});
const spoolFile = z.array(spooledLog);

export type SpooledLog = z.output<typeof spooledLog>;

const SPOOL_FILE = /^[0-9a-f]{16}\.json$/;

export class LogSpool {
  readonly dir: string;

  constructor(output: string) {
    this.dir = join(output, 'logs', '.spool');
  }

  /** Writes the logs to one spool file (temp file + rename); resolves to its path. */
  async write(logs: readonly SpooledLog[]): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const name = `${randomBytes(8).toString('hex')}.json`;
    const path = join(this.dir, name);
    const temp = join(this.dir, `.${name}.tmp`);
    await writeFile(temp, JSON.stringify(logs), { mode: 0o600 });
    await rename(temp, path);
    return path;
  }

  async remove(path: string): Promise<void> {
    await unlink(path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
  }

  /**
   * Hands every spooled log whose build was committed to `writeLog` (with its
   * build id) and removes the spool files, and unfinished temp files too.
   * Resolves to the number of logs written.
   */
  async recover(db: Pick<Database, 'findBuildId'>, writeLog: (buildId: number, log: string) => Promise<void>): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let written = 0;
    for (const name of names.sort()) {
      const path = join(this.dir, name);
      if (!SPOOL_FILE.test(name)) {
        await this.remove(path);
        continue;
      }
      let content: unknown = null;
      try {
        content = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        // unreadable: dropped below with the file
      }
      const entries = spoolFile.safeParse(content);
      for (const { package: pkg, version, builtAt, builtBy, log } of entries.success ? entries.data : []) {
        const buildId = await db.findBuildId(pkg, version, builtBy, new Date(builtAt));
        if (buildId !== null) {
          await writeLog(buildId, log);
          written += 1;
        }
      }
      await this.remove(path);
    }
    return written;
  }
}
