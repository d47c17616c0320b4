// A scribe for one worker thread of a full regeneration: it writes whole
// packages handed to it as ProjectData (read from the database by the main
// thread), so rendering runs on every core while the database is read once.
import type { ProjectData } from '../../shared/model.ts';
import type { SiteOptions } from '../../site/lib/views.ts';
import { Scribe } from './scribe.ts';

export interface PageWriterOptions {
  output: string;
  site: SiteOptions;
  /** Every package of the regeneration, so none is taken for new. */
  packages: string[];
  /** ISO time stamped on every page of this regeneration. */
  generatedAt: string;
}

export interface PageWriter {
  write(data: ProjectData): Promise<void>;
}

export async function createPageWriter(options: PageWriterOptions): Promise<PageWriter> {
  const generatedAt = new Date(options.generatedAt);
  const scribe = await Scribe.create({
    output: options.output,
    site: options.site,
    now: () => generatedAt,
    db: {
      getProjectData: async () => null,
      getAllPackages: async () => options.packages,
      getPackageAliases: async () => [],
    },
  });
  return { write: (data) => scribe.writeProject(data, { both: true }) };
}
