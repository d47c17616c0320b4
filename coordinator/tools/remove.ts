// piw-remove: removes a package or version from the farm, or only its builds
// (they are then built again unless skipped), or marks it skipped or yanked.
// The coordinator's import endpoint removes the rows, files and pages; this
// tool asks before anything is destroyed.
import { Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { zmqAddress } from '../../shared/config.ts';
import { DEFAULT_ENDPOINTS } from '../../shared/wire/transport.ts';
import { ImportClient, confirm, parseTimeout, timeoutOption, toolConfig, toolLogger, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags, type ImportReply } from './common.ts';

const settings = z.object({ importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import) });

export function describeRemoveReply(reply: ImportReply, pkg: string, version: string | undefined): string {
  if (reply.msg === 'DONE') {
    const outcomes: Record<string, string> = {
      DELPKG: 'removed package',
      DELVER: 'removed version',
      DELPKGBLD: 'removed the builds of the package',
      DELVERBLD: 'removed the builds of the version',
      SKIPPKG: 'skipped package',
      SKIPVER: 'skipped version',
      YANKVER: 'yanked version',
    };
    const outcome = outcomes[reply.data];
    if (outcome !== undefined) return outcome;
    throw new UserError(`unexpected answer from the coordinator: DONE ${reply.data}`, 1);
  }
  if (reply.msg === 'ERROR') {
    if (reply.data === 'NOPKG') throw new UserError(`package ${pkg} does not exist`, 1);
    if (reply.data === 'NOVER') throw new UserError(`version ${pkg} ${version ?? ''} does not exist`, 1);
    throw new UserError(reply.data, 1);
  }
  throw new UserError(`unexpected answer from the coordinator: ${reply.msg}`, 1);
}

/** What the request will do, for the confirmation question. */
export function removalSummary(pkg: string, version: string | undefined, o: { builds: boolean; skip: string; yank: boolean }): string {
  const what = version === undefined ? `package ${pkg}` : `${pkg} ${version}`;
  const steps: string[] = [];
  if (o.skip) steps.push(`mark ${what} skipped (${o.skip})`);
  if (o.yank) steps.push(`yank ${what}`);
  if (o.builds) steps.push(`delete every build and wheel of ${what}`);
  if (steps.length === 0) steps.push(`delete ${what} entirely: its versions, builds, wheels and pages`);
  return steps.join(', then ');
}

function program(): Command {
  return withCurveOptions(withCommonOptions(new Command('piw-remove')))
    .description('Remove a package or version from the farm, or only its builds, or mark it skipped or yanked. Run it on the same machine as piw-master.')
    .argument('<package>', 'the package')
    .argument('[version]', 'the version; without it the whole package')
    .option('-y, --yes', 'proceed without asking')
    .option('-b, --builds', 'delete only the builds and their wheels (the version is built again unless --skip is given too)')
    .option('-s, --skip <REASON>', 'mark the package or version as skipped with this reason (never built again)', '')
    .option('--yank', 'mark a version as yanked (PEP 592): it stays, but pip only installs it when pinned')
    .option('--import-queue <ADDR>', `the coordinator's import endpoint (default: ${DEFAULT_ENDPOINTS.import}; env PIW_IMPORT_QUEUE)`)
    .addOption(timeoutOption);
}

interface RemoveFlags extends CommonFlags {
  yes?: boolean;
  builds?: boolean;
  skip: string;
  yank?: boolean;
  importQueue?: string;
  timeout: string;
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<RemoveFlags>();
  const [pkg, version] = command.args as [string, string | undefined];
  const logger = toolLogger('piw-remove', opts);
  useToolCurve('remove', opts);
  const config = toolConfig(settings, 'remove', { importQueue: opts.importQueue }, opts.configuration);
  const timeout = parseTimeout(opts.timeout);
  if (opts.yank && version === undefined) throw new UserError('--yank applies to a version: give one');
  const request = { builds: Boolean(opts.builds), skip: opts.skip, yank: Boolean(opts.yank) };
  if (!opts.yes) {
    logger.warn(`Preparing to ${removalSummary(pkg, version, request)}`);
    if (!(await confirm('Proceed?'))) {
      logger.warn('removal aborted');
      return 2;
    }
  }
  const client = new ImportClient(config.importQueue, timeout, logger);
  try {
    const reply =
      version === undefined
        ? await client.request('REMPKG', [pkg, request.builds, request.skip])
        : await client.request('REMVER', [pkg, version, request.builds, request.skip, request.yank]);
    logger.info(`${describeRemoveReply(reply, pkg, version)} successfully`);
  } finally {
    client.close();
  }
  return 0;
}
