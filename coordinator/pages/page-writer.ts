// A scribe for one worker thread of a full regeneration. With the database's
// DSN it reads its packages itself (each worker its own connection), so
// reading and rendering both run on every core; without one it writes the
// ProjectData the main thread hands it.
import { openDatabase, type Database } from '../../shared/db/index.ts';
import type { ProjectData } from '../../shared/model.ts';
import type { SiteOptions } from '../../site/lib/views.ts';
import { Scribe } from './scribe.ts';

export interface PageWriterOptions {
  output: string;
  site: SiteOptions;
  /** Every package of the regeneration, so none is taken for new. */
  packages: string[];
  /** The packages with a file published, as the regeneration found them. */
  indexed: string[];
  /** ISO time stamped on every page of this regeneration. */
  generatedAt: string;
  /** The database to read packages from; none: only write() is offered. */
  dsn?: string | undefined;
}

export interface PageWriter {
  write(data: ProjectData): Promise<void>;
  /** Reads and writes each package; returns how many are gone from the database. */
  writePackages(packages: string[]): Promise<number>;
  close(): Promise<void>;
}

export async function createPageWriter(options: PageWriterOptions): Promise<PageWriter> {
  const generatedAt = new Date(options.generatedAt);
  const db: Database | null = options.dsn === undefined ? null : await openDatabase(options.dsn);
  const scribe = await Scribe.create({
    output: options.output,
    site: options.site,
    now: () => generatedAt,
    // the main thread writes the root index once every package is written
    rootIndex: false,
    db: {
      getProjectData: async () => null,
      getAllPackages: async () => options.packages,
      getPackagesWithFiles: async () => options.indexed,
      getPackageAliases: async () => [],
    },
  });
  return {
    write: (data) => scribe.writeProject(data, { both: true }),
    async writePackages(packages) {
      if (db === null) throw new Error('this page writer has no database');
      let missing = 0;
      for (const data of await db.getProjectDataMany(packages)) {
        if (data === null) missing += 1;
        else await scribe.writeProject(data, { both: true });
      }
      return missing;
    },
    close: async () => {
      await db?.close();
    },
  };
}
