// Full regeneration: the whole output tree from the database, through exactly
// the code path incremental rewrites use, so both produce the same bytes for
// the same data (generation stamps aside). Packages stream through in batches
// (never all at once in memory); with `workers` > 0, worker threads render
// and write them, each reading its own batches from the database when given
// its DSN. Every file is replaced atomically, and a checkpoint in the output
// tree lets an interrupted run resume after the packages it finished.
import { availableParallelism } from 'node:os';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { FarmStatistics, ProjectData, SearchEntry } from '../../shared/model.ts';
import type { Logger } from '../../shared/log.ts';
import { moduleUrl } from '../../shared/paths.ts';
import type { SiteRenderer } from '../../site/lib/renderer.ts';
import { DEFAULT_SITE, type SiteOptions } from '../../site/lib/views.ts';
import { WorkerObject } from '../runtime/worker-thread.ts';
import { writeFileAtomic } from './atomic.ts';
import { Scribe, type ScribeDatabase } from './scribe.ts';
import type { PageWriter, PageWriterOptions } from './page-writer.ts';

export interface RegenerateDatabase extends ScribeDatabase {
  getStatistics(): Promise<FarmStatistics>;
  getSearchIndex(): Promise<SearchEntry[]>;
}

export interface RegenerateOptions {
  output: string;
  site?: SiteOptions;
  logger?: Logger;
  /** The generation time stamped on every page (read once). */
  now?: () => Date;
  renderer?: SiteRenderer;
  /** The database's DSN: worker threads then read their batches themselves. */
  dsn?: string;
  /** Worker threads rendering packages; 0 renders in this thread. Default: one per core. */
  workers?: number;
  /** Packages per batch handed to a writer (default 64). */
  batch?: number;
  /** Carry on after the packages an interrupted run finished, if it left a checkpoint. */
  resume?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface RegenerateResult {
  packages: number;
  missing: number;
  /** Packages an earlier, interrupted run had written already. */
  resumed: number;
}

/** The checkpoint: every package up to `after` (in name order) is written. */
export const CHECKPOINT = '.regenerate-checkpoint.json';
const checkpointSchema = z.object({ after: z.string() });

function readCheckpoint(output: string): string | null {
  try {
    const parsed = checkpointSchema.safeParse(JSON.parse(readFileSync(join(output, CHECKPOINT), 'utf8')));
    return parsed.success ? parsed.data.after : null;
  } catch {
    return null;
  }
}

/** Writes a batch of packages; resolves to how many were gone from the database. */
type WriteBatch = (packages: string[]) => Promise<number>;

async function startWorkers(
  count: number,
  options: PageWriterOptions,
  db: RegenerateDatabase,
): Promise<{ writers: WriteBatch[]; close: () => Promise<void> }> {
  const module = moduleUrl('coordinator/pages/page-writer.ts').href;
  const objects = Array.from({ length: count }, () => new WorkerObject<PageWriter>(module, 'createPageWriter', [options]));
  try {
    await Promise.all(objects.map((o) => o.ready));
  } catch (error) {
    await Promise.all(objects.map((o) => o.close()));
    throw error;
  }
  return {
    writers: objects.map((o): WriteBatch => {
      if (options.dsn !== undefined) return (packages) => o.api.writePackages(packages);
      return async (packages) => {
        let missing = 0;
        for (const pkg of packages) {
          const data = await db.getProjectData(pkg);
          if (data === null) missing += 1;
          else await o.api.write(data);
        }
        return missing;
      };
    }),
    close: async () => {
      await Promise.all(objects.map((o) => o.close('close')));
    },
  };
}

function inThreadWriter(db: RegenerateDatabase, scribe: Scribe): WriteBatch {
  return async (packages) => {
    let missing = 0;
    for (const pkg of packages) {
      const data: ProjectData | null = await db.getProjectData(pkg);
      if (data === null) missing += 1;
      else await scribe.writeProject(data, { both: true });
    }
    return missing;
  };
}

export async function regenerate(db: RegenerateDatabase, options: RegenerateOptions): Promise<RegenerateResult> {
  const stamp = (options.now ?? (() => new Date()))();
  const site = options.site ?? DEFAULT_SITE;
  const scribe = await Scribe.create({ ...options, site, db, now: () => stamp });
  await scribe.writeStaticPages();
  const packages = [...(await db.getAllPackages())].sort();
  const after = options.resume ? readCheckpoint(options.output) : null;
  const todo = after === null ? packages : packages.filter((p) => p > after);
  const resumed = packages.length - todo.length;
  const size = Math.max(1, options.batch ?? 64);
  const batches: string[][] = [];
  for (let i = 0; i < todo.length; i += size) batches.push(todo.slice(i, i + size));

  const workerCount = Math.max(0, options.workers ?? availableParallelism());
  const pool =
    workerCount > 0 && batches.length > 0
      ? await startWorkers(
          workerCount,
          { output: options.output, site, packages, indexed: [...(await db.getPackagesWithFiles())], generatedAt: stamp.toISOString(), dsn: options.dsn },
          db,
        )
      : null;
  const writers = pool?.writers ?? [inThreadWriter(db, scribe)];
  let next = 0;
  let done = resumed;
  let missing = 0;
  // The checkpoint advances over the finished prefix of the batches only, so
  // a resumed run never skips a batch still in flight when this one stopped.
  const finished = new Set<number>();
  let prefix = 0;
  options.onProgress?.(done, packages.length);
  try {
    // Two batches in flight per writer keep each worker busy while the next is handed over.
    const lane = async (write: WriteBatch): Promise<void> => {
      while (next < batches.length) {
        const index = next++;
        const batch = batches[index] ?? [];
        missing += await write(batch);
        done += batch.length;
        finished.add(index);
        const before = prefix;
        while (finished.delete(prefix)) prefix += 1;
        if (prefix > before) writeFileAtomic(join(options.output, CHECKPOINT), JSON.stringify({ after: batches[prefix - 1]?.at(-1) ?? '' }));
        options.onProgress?.(done, packages.length);
      }
    };
    await Promise.all(writers.flatMap((write) => [lane(write), lane(write)]));
  } finally {
    await pool?.close();
  }
  await scribe.writeSimpleIndex();
  await scribe.writeSearchIndex(await db.getSearchIndex());
  await scribe.writeHome(await db.getStatistics());
  await scribe.writeSitemaps();
  rmSync(join(options.output, CHECKPOINT), { force: true });
  return { packages: packages.length - missing - resumed, missing, resumed };
}
