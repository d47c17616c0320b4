// Full regeneration: the whole output tree from the database, through exactly
// the code path incremental rewrites use, so both produce the same bytes for
// the same data (generation stamps aside). The main thread reads the database;
// with `workers` > 0, worker threads render and write the packages.
import { availableParallelism } from 'node:os';
import type { FarmStatistics, ProjectData, SearchEntry } from '../../shared/model.ts';
import type { Logger } from '../../shared/log.ts';
import { moduleUrl } from '../../shared/paths.ts';
import type { SiteRenderer } from '../../site/lib/renderer.ts';
import { DEFAULT_SITE, type SiteOptions } from '../../site/lib/views.ts';
import { WorkerObject } from '../runtime/db-pool.ts';
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
  /** Worker threads rendering packages; 0 renders in this thread. Default: one per core. */
  workers?: number;
  /** Packages in flight at once (per worker, or in this thread). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface RegenerateResult {
  packages: number;
  missing: number;
}

type Write = (data: ProjectData) => Promise<void>;

async function startWorkers(count: number, options: PageWriterOptions): Promise<{ writers: Write[]; close: () => Promise<void> }> {
  const module = moduleUrl('./page-writer.ts', import.meta.url).href;
  const objects = Array.from({ length: count }, () => new WorkerObject<PageWriter>(module, 'createPageWriter', [options]));
  try {
    await Promise.all(objects.map((o) => o.ready));
  } catch (error) {
    await Promise.all(objects.map((o) => o.close()));
    throw error;
  }
  return {
    writers: objects.map((o) => (data: ProjectData) => o.api.write(data)),
    close: async () => {
      await Promise.all(objects.map((o) => o.close()));
    },
  };
}

export async function regenerate(db: RegenerateDatabase, options: RegenerateOptions): Promise<RegenerateResult> {
  const stamp = (options.now ?? (() => new Date()))();
  const site = options.site ?? DEFAULT_SITE;
  const scribe = await Scribe.create({ ...options, site, db, now: () => stamp });
  await scribe.writeStaticPages();
  const packages = [...(await db.getAllPackages())].sort();
  const workerCount = Math.max(0, options.workers ?? availableParallelism());
  const pool =
    workerCount > 0 && packages.length > 0
      ? await startWorkers(workerCount, { output: options.output, site, packages, generatedAt: stamp.toISOString() })
      : null;
  const writers: Write[] = pool?.writers ?? [(data) => scribe.writeProject(data, { both: true })];
  const perWriter = Math.max(1, options.concurrency ?? 4);
  let next = 0;
  let done = 0;
  let missing = 0;
  try {
    // Each lane reads a package from the database and hands it to its writer.
    const lane = async (write: Write): Promise<void> => {
      while (next < packages.length) {
        const pkg = packages[next++] ?? '';
        const data = await db.getProjectData(pkg);
        if (data === null) missing += 1;
        else await write(data);
        done += 1;
        options.onProgress?.(done, packages.length);
      }
    };
    await Promise.all(writers.flatMap((write) => Array.from({ length: perWriter }, () => lane(write))));
  } finally {
    await pool?.close();
  }
  await scribe.writeSimpleIndex();
  await scribe.writeSearchIndex(await db.getSearchIndex());
  await scribe.writeHome(await db.getStatistics());
  await scribe.writeSitemaps();
  return { packages: packages.length - missing, missing };
}
