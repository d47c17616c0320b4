// The whole output tree from the database, as one command runs it (`astro
// build`, `piw-rebuild index`): where the database and the tree are, read the
// way piw-master reads them (its [master] table, PIW_DSN, PIW_OUTPUT_PATH) so
// both programs agree without being told twice, and the farm's [site]
// identity.
import { z } from 'zod';
import { loadConfig } from '../../shared/config.ts';
import { defaultDsn, openDatabase } from '../../shared/db/index.ts';
import type { Logger } from '../../shared/log.ts';
import { loadSiteOptions, type SiteFlags, type SiteOptions } from '../../shared/site-settings.ts';
import { regenerate, type RegenerateResult } from './regenerate.ts';

export const DEFAULT_CONFIG_FILES = ['/etc/piwheels.toml', '/usr/local/etc/piwheels.toml', '~/.config/piwheels/piwheels.toml'];

export interface SiteBuildSettings {
  dsn: string;
  outputPath: string;
  site: SiteOptions;
}

const locations = z.object({
  dsn: z.string().min(1).optional(),
  outputPath: z.string().min(1).optional(),
});

export interface SiteBuildSources {
  flags?: { dsn?: string | undefined; outputPath?: string | undefined } & SiteFlags;
  env?: Record<string, string | undefined>;
  file?: string | undefined;
  /** The calling program's own table, read over [master] (e.g. "rebuild"). */
  section?: string;
}

/** Flags over PIW_* over the program's own table over [master] over the defaults. */
export function siteBuildSettings(sources: SiteBuildSources): SiteBuildSettings {
  const { flags = {}, env = {}, file } = sources;
  const defaultFiles = DEFAULT_CONFIG_FILES;
  const master = loadConfig(locations, { file, defaultFiles, section: 'master', sectionOnly: true, ignoreUnknown: true });
  const own =
    sources.section === undefined
      ? {}
      : loadConfig(locations, { file, defaultFiles, section: sources.section, sectionOnly: true, ignoreUnknown: true });
  const given = loadConfig(locations, { flags: { dsn: flags.dsn, outputPath: flags.outputPath }, env });
  return {
    dsn: given.dsn ?? own.dsn ?? master.dsn ?? defaultDsn(),
    outputPath: given.outputPath ?? own.outputPath ?? master.outputPath ?? '/var/www',
    site: loadSiteOptions({ flags, env, file, defaultFiles }),
  };
}

export interface SiteBuildOptions {
  workers?: number;
  /** The generation time stamped on every page (tests pin it). */
  now?: () => Date;
  resume?: boolean;
  logger?: Logger;
  onProgress?: (done: number, total: number) => void;
}

/** Regenerates the whole tree; worker threads read their packages from the database themselves. */
export async function buildSiteFromDatabase(settings: SiteBuildSettings, options: SiteBuildOptions = {}): Promise<RegenerateResult> {
  const db = await openDatabase(settings.dsn);
  try {
    return await regenerate(db, {
      output: settings.outputPath,
      site: settings.site,
      dsn: settings.dsn,
      ...options,
    });
  } finally {
    await db.close();
  }
}

/**
 * `astro build`'s regeneration: settings from the environment and the file,
 * progress as log lines (rate and time left) every few seconds.
 */
export async function runSiteBuild(options: { env: Record<string, string | undefined>; file?: string | undefined; log: (line: string) => void }): Promise<RegenerateResult> {
  const settings = siteBuildSettings({ env: options.env, file: options.file });
  options.log(`regenerating ${settings.outputPath} for ${settings.site.baseUrl}`);
  const started = Date.now();
  // The rate counts from the first package: loading the renderer comes before.
  let first: { at: number; done: number } | null = null;
  let lastLog = started;
  const result = await buildSiteFromDatabase(settings, {
    resume: true,
    onProgress: (done, total) => {
      const now = Date.now();
      first ??= { at: now, done };
      if (now - lastLog < 5000 || done === total || now === first.at) return;
      lastLog = now;
      const rate = (done - first.done) / ((now - first.at) / 1000);
      options.log(`${done}/${total} packages, ${Math.round(rate)}/s, ${Math.round((total - done) / Math.max(rate, 1e-9))} s left`);
    },
  });
  const seconds = (Date.now() - started) / 1000;
  options.log(`${result.packages + result.resumed} packages written in ${seconds.toFixed(1)} s${result.resumed > 0 ? ` (${result.resumed} by an earlier run)` : ''}`);
  return result;
}
