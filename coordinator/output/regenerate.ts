// Full regeneration: the whole output tree from the database, through exactly
// the code path incremental rewrites use, so both produce the same bytes for
// the same data (generation stamps aside).
import type { FarmStatistics, SearchEntry } from '../../shared/model.ts';
import type { Logger } from '../../shared/log.ts';
import type { SiteRenderer } from '../../site/lib/renderer.ts';
import type { SiteOptions } from '../../site/lib/views.ts';
import { Scribe, type ScribeDatabase } from '../scribe.ts';

export interface RegenerateDatabase extends ScribeDatabase {
  getStatistics(): Promise<FarmStatistics>;
  getSearchIndex(): Promise<SearchEntry[]>;
}

export interface RegenerateOptions {
  output: string;
  site?: SiteOptions;
  logger?: Logger;
  now?: () => Date;
  renderer?: SiteRenderer;
  /** Packages in flight at once: overlaps database reads, rendering and file writes. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface RegenerateResult {
  packages: number;
  missing: number;
}

export async function regenerate(db: RegenerateDatabase, options: RegenerateOptions): Promise<RegenerateResult> {
  const scribe = await Scribe.create({ ...options, db });
  await scribe.writeStaticPages();
  const packages = [...(await db.getAllPackages())].sort();
  let next = 0;
  let done = 0;
  let missing = 0;
  const worker = async (): Promise<void> => {
    while (next < packages.length) {
      const pkg = packages[next++] ?? '';
      const data = await db.getProjectData(pkg);
      if (data === null) missing += 1;
      else await scribe.writeProject(data, { both: true });
      done += 1;
      options.onProgress?.(done, packages.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  await scribe.writeSimpleIndex();
  await scribe.writeSearchIndex(await db.getSearchIndex());
  await scribe.writeHome(await db.getStatistics());
  await scribe.writeSitemaps();
  return { packages: packages.length - missing, missing };
}
