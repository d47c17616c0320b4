// piw-rebuild: asks the coordinator to write parts of the web site again:
// the home page (with statistics) and search index, or a package's project
// page, or its project and simple pages ("index"). For every package at once
// the packages are read from the database and requested one by one, so that
// progress can be shown and an interrupted run resumes where it stopped.
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { zmqAddress } from '../../shared/config.ts';
import { defaultDsn, openDatabase } from '../../shared/db/index.ts';
import { DEFAULT_ENDPOINTS } from '../../shared/wire/transport.ts';
import { ImportClient, confirm, parseTimeout, timeoutOption, toolConfig, toolLogger, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags } from './common.ts';

const settings = z.object({
  importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import),
  dsn: z.string().min(1).default(defaultDsn()),
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
    .option('-d, --dsn <DSN>', `the database to list packages from for a rebuild of every package (default: ${defaultDsn()}; env PIW_DSN)`)
    .option('--import-queue <ADDR>', `the coordinator's import endpoint (default: ${DEFAULT_ENDPOINTS.import}; env PIW_IMPORT_QUEUE)`)
    .addOption(timeoutOption);
}

interface RebuildFlags extends CommonFlags {
  yes?: boolean;
  dsn?: string;
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
  const config = toolConfig(settings, 'rebuild', { importQueue: opts.importQueue, dsn: opts.dsn }, opts.configuration);
  const timeout = parseTimeout(opts.timeout);
  if ((part === 'HOME' || part === 'SEARCH') && pkg !== undefined) throw new UserError(`${partText} takes no package`);
  const client = new ImportClient(config.importQueue, timeout, logger);
  try {
    if (part === 'HOME' || part === 'SEARCH') {
      check(await client.request('REBUILD', [part]));
    } else if (pkg !== undefined) {
      check(await client.request('REBUILD', [part, pkg]));
    } else {
      const db = await openDatabase(config.dsn);
      let packages: string[];
      try {
        packages = [...(await db.getAllPackages())].sort();
      } finally {
        await db.close();
      }
      if (!opts.yes && !(await confirm(`This rewrites the pages of all ${packages.length} packages; proceed?`))) {
        logger.warn('rebuild aborted');
        return 2;
      }
      const bar = new cliProgress.SingleBar({ format: 'rebuilding [{bar}] {value}/{total} packages, {eta_formatted} left', etaBuffer: 200 }, cliProgress.Presets.shades_classic);
      bar.start(packages.length, 0);
      let missing = 0;
      try {
        for (const name of packages) {
          const reply = await client.request('REBUILD', [part, name]);
          // a package deleted since the list was read is no reason to stop
          if (reply.msg === 'ERROR' && reply.data.startsWith('unknown package')) missing += 1;
          else check(reply);
          bar.increment();
        }
      } finally {
        bar.stop();
      }
      logger.info({ packages: packages.length - missing, missing }, `requested pages of ${packages.length - missing} packages`);
      return 0;
    }
    logger.info('rebuild requested successfully');
  } finally {
    client.close();
  }
  return 0;
}

function check(reply: Awaited<ReturnType<ImportClient['request']>>): void {
  if (reply.msg === 'ERROR') throw new UserError(reply.data, 1);
  if (reply.msg !== 'DONE') throw new UserError(`unexpected answer from the coordinator: ${reply.msg}`, 1);
}
