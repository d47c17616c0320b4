// piw-rebuild: asks the coordinator to write parts of the web site again:
// the home page (with statistics) and search index, or a package's project
// page, or its project and simple pages ("index"). For every package at once
// it regenerates the whole output tree itself, from the database, the way
// `astro build` does: no round trip per package, and an interrupted run
// resumes after the packages it finished.
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { zmqAddress } from '../../shared/config.ts';
import { defaultDsn } from '../../shared/db/index.ts';
import { buildSiteFromDatabase, siteBuildSettings } from '../pages/site-build.ts';
import { DEFAULT_ENDPOINTS } from '../../shared/wire/transport.ts';
import { ImportClient, confirm, parseTimeout, timeoutOption, toolConfig, toolLogger, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags } from './common.ts';

const settings = z.object({
  importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import),
});

export type RebuildPart = 'HOME' | 'SEARCH' | 'PROJECT' | 'BOTH';

/** piwheels' part names: home, search, project, index (project and simple pages); "both" is accepted for index. */
export function parsePart(text: string): RebuildPart {
  const parts: Record<string, RebuildPart> = { home: 'HOME', search: 'SEARCH', project: 'PROJECT', index: 'BOTH', both: 'BOTH' };
  const part = parts[text.toLowerCase()];
  if (part === undefined) throw new UserError(`invalid website part ${JSON.stringify(text)}: use home, search, project or index`);
  return part;
}

function program(): Command {
  return withCurveOptions(withCommonOptions(new Command('piw-rebuild')))
    .description('Have the coordinator write parts of the web site again. Run it on the same machine as piw-master.')
    .argument('<part>', 'home (home page and statistics), search (search index), project (project pages) or index (project and simple pages)')
    .argument('[package]', 'for project or index: the package; without it, every package (read from the database)')
    .option('-y, --yes', 'proceed without asking')
    .option('-d, --dsn <DSN>', `for every package: the database (default: [master] dsn, else ${defaultDsn()}; env PIW_DSN)`)
    .option('-o, --output-path <PATH>', 'for every package: the output tree (default: [master] output-path, else /var/www; env PIW_OUTPUT_PATH)')
    .option('--base-url <URL>', 'for every package: the address the site is published at (env PIW_BASE_URL, [site] base-url)')
    .option('--site-name <NAME>', 'for every package: the farm\'s name (env PIW_SITE_NAME, [site] name)')
    .option('--site-contact <ADDRESS>', 'for every package: who runs the farm (env PIW_SITE_CONTACT, [site] contact)')
    .option('--import-queue <ADDR>', `the coordinator's import endpoint (default: ${DEFAULT_ENDPOINTS.import}; env PIW_IMPORT_QUEUE)`)
    .addOption(timeoutOption);
}

interface RebuildFlags extends CommonFlags {
  yes?: boolean;
  dsn?: string;
  outputPath?: string;
  baseUrl?: string;
  siteName?: string;
  siteContact?: string;
  importQueue?: string;
  timeout: string;
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<RebuildFlags>();
  const [partText, pkg] = command.args as [string, string | undefined];
  const part = parsePart(partText);
  const logger = toolLogger('piw-rebuild', opts);
  useToolCurve('rebuild', opts);
  if ((part === 'HOME' || part === 'SEARCH') && pkg !== undefined) throw new UserError(`${partText} takes no package`);
  if ((part === 'PROJECT' || part === 'BOTH') && pkg === undefined) return rebuildAll(opts, logger);
  const config = toolConfig(settings, 'rebuild', { importQueue: opts.importQueue }, opts.configuration);
  const timeout = parseTimeout(opts.timeout);
  const client = new ImportClient(config.importQueue, timeout, logger);
  try {
    if (part === 'HOME' || part === 'SEARCH') check(await client.request('REBUILD', [part]));
    else check(await client.request('REBUILD', [part, pkg ?? null]));
    logger.info('rebuild requested successfully');
  } finally {
    client.close();
  }
  return 0;
}

/** Every package's pages (project and simple: the whole tree), regenerated here from the database. */
async function rebuildAll(opts: RebuildFlags, logger: ReturnType<typeof toolLogger>): Promise<number> {
  const settings = siteBuildSettings({
    flags: { dsn: opts.dsn, outputPath: opts.outputPath, baseUrl: opts.baseUrl, siteName: opts.siteName, siteContact: opts.siteContact },
    env: process.env,
    file: opts.configuration,
    section: 'rebuild',
  });
  if (!opts.yes && !(await confirm(`This rewrites every page under ${settings.outputPath} from the database; proceed?`))) {
    logger.warn('rebuild aborted');
    return 2;
  }
  const bar = new cliProgress.SingleBar(
    { format: 'rebuilding [{bar}] {value}/{total} packages, {rate}/s, {eta_formatted} left', etaBuffer: 2000, noTTYOutput: true, notTTYSchedule: 5000 },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let barStarted = false;
  try {
    const result = await buildSiteFromDatabase(settings, {
      resume: true,
      logger,
      onProgress: (done, total) => {
        if (!barStarted) {
          bar.start(total, done, { rate: 0 });
          barStarted = true;
        }
        bar.update(done, { rate: Math.round(done / Math.max((performance.now() - started) / 1000, 1e-3)) });
      },
    });
    bar.stop();
    logger.info(
      { packages: result.packages, missing: result.missing, resumed: result.resumed },
      `wrote the pages of ${result.packages} packages${result.resumed > 0 ? ` (${result.resumed} written by an earlier run)` : ''}`,
    );
  } finally {
    if (barStarted) bar.stop();
  }
  return 0;
}

function check(reply: Awaited<ReturnType<ImportClient['request']>>): void {
  if (reply.msg === 'ERROR') throw new UserError(reply.data, 1);
  if (reply.msg !== 'DONE') throw new UserError(`unexpected answer from the coordinator: ${reply.msg}`, 1);
}
