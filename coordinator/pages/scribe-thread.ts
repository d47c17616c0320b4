// The coordinator's scribe, run in a worker thread of its own. Rendering a
// package's pages and compressing a build log cost milliseconds of CPU per
// build; on the main thread that time would be taken from the slaves,
// transfers and the database writes that every build waits for.
import { openDatabase } from '../../shared/db/index.ts';
import { createLogger, type LogLevel } from '../../shared/log.ts';
import type { SiteOptions } from '../../shared/site-settings.ts';
import type { PageRequest } from './page-request.ts';
import { Scribe } from './scribe.ts';

export interface ScribeThreadOptions {
  output: string;
  dsn: string;
  /** The farm's address and name, on every page written. */
  site: SiteOptions;
  /** Where and how much the thread logs: the coordinator's own settings. */
  log: { level: LogLevel; file?: string | undefined };
}

export interface ScribeThread {
  handle(request: PageRequest): Promise<void>;
  writeStaticPages(): Promise<void>;
  close(): Promise<void>;
}

export async function openScribeThread(options: ScribeThreadOptions): Promise<ScribeThread> {
  const logger = createLogger({ name: 'piw-master', level: options.log.level, file: options.log.file }).child({ task: 'pages' });
  const db = await openDatabase(options.dsn);
  try {
    const scribe = await Scribe.create({ output: options.output, db, logger, site: options.site });
    return {
      handle: (request) => scribe.handle(request),
      writeStaticPages: () => scribe.writeStaticPages(),
      close: () => db.close(),
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
