// piw-add: adds a package or a version to the farm, or updates one: its
// description, skip reason, release time, yank flag and name aliases. The
// coordinator's import endpoint does the work; this tool states the request
// and reports the outcome.
import { Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { zmqAddress } from '../../shared/config.ts';
import { canonicalizeName, isValidProjectName } from '../../shared/names.ts';
import { UtcDateTime } from '../../shared/wire/cbor.ts';
import { DEFAULT_ENDPOINTS } from '../../shared/wire/transport.ts';
import { PyPIClient } from '../upstream/pypi.ts';
import { ImportClient, confirm, parseTimeout, timeoutOption, toolConfig, toolLogger, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags, type ImportReply } from './common.ts';

const settings = z.object({
  importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import),
  pypiJson: z.url().default('https://pypi.org/pypi'),
});

/** "2026-11-25 10:00:00" (UTC, as piwheels writes it) or ISO 8601 with an offset. */
export function parseReleased(text: string): UtcDateTime {
  const plain = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text.trim());
  const iso = plain ? `${text.trim().replace(' ', 'T')}${text.trim().length === 16 ? ':00' : ''}Z` : text.trim();
  try {
    return UtcDateTime.parse(iso);
  } catch {
    throw new UserError(`--released ${JSON.stringify(text)} is not a timestamp: use "YYYY-MM-DD HH:MM:SS" (UTC)`);
  }
}

/** What the coordinator's answer means, or the error to report. */
export function describeAddReply(reply: ImportReply, pkg: string): string {
  if (reply.msg === 'DONE') {
    const outcomes: Record<string, string> = {
      NEWPKG: 'added package',
      UPDPKG: 'updated package',
      NEWVER: 'added version',
      UPDVER: 'updated version',
    };
    const outcome = outcomes[reply.data];
    if (outcome !== undefined) return outcome;
    throw new UserError(`unexpected answer from the coordinator: DONE ${reply.data}`, 1);
  }
  if (reply.msg === 'ERROR') {
    const errors: Record<string, string> = {
      NOPKG: `package ${pkg} does not exist: add it with piw-add first`,
      SKIPPKG: 'cannot skip a known package with piw-add: use piw-remove --skip',
      SKIPVER: 'cannot skip a known version with piw-add: use piw-remove --skip',
      YANKVER: 'cannot yank a known version with piw-add: use piw-remove --yank',
    };
    throw new UserError(errors[reply.data] ?? reply.data, 1);
  }
  throw new UserError(`unexpected answer from the coordinator: ${reply.msg}`, 1);
}

function program(): Command {
  return withCurveOptions(withCommonOptions(new Command('piw-add')))
    .description('Add a package, or a version of a known package, to the farm, or update one. Run it on the same machine as piw-master.')
    .argument('<package>', 'the package name (its spelling becomes the display name)')
    .argument('[version]', 'the version to add; without it, the package itself is added or updated')
    .option('-y, --yes', 'proceed without asking')
    .option('-s, --skip <REASON>', 'mark the new package or version as skipped (never built), with this reason', '')
    .option('--unskip', 'clear the skip reason of a known package or version')
    .option('-d, --description <TEXT>', "the package's description (default for a new package: its summary on PyPI)")
    .option('-a, --alias <NAME>', 'another spelling of the package name; repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('-r, --released <TIMESTAMP>', 'release time of a new version, "YYYY-MM-DD HH:MM:SS" UTC (default: now)')
    .option('--yank', 'mark a new version as yanked (use piw-remove --yank for a known one)')
    .option('--unyank', 'clear the yanked mark of a known version')
    .option('--import-queue <ADDR>', `the coordinator's import endpoint (default: ${DEFAULT_ENDPOINTS.import}; env PIW_IMPORT_QUEUE)`)
    .option('--pypi-json <URL>', 'PyPI JSON API root for the description (default: https://pypi.org/pypi; env PIW_PYPI_JSON)')
    .addOption(timeoutOption);
}

interface AddFlags extends CommonFlags {
  yes?: boolean;
  skip: string;
  unskip?: boolean;
  description?: string;
  alias: string[];
  released?: string;
  yank?: boolean;
  unyank?: boolean;
  importQueue?: string;
  pypiJson?: string;
  timeout: string;
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<AddFlags>();
  const [name, version] = command.args as [string, string | undefined];
  const logger = toolLogger('piw-add', opts);
  useToolCurve('add', opts);
  const config = toolConfig(settings, 'add', { importQueue: opts.importQueue, pypiJson: opts.pypiJson }, opts.configuration);
  const timeout = parseTimeout(opts.timeout);
  if (!isValidProjectName(name)) throw new UserError(`${JSON.stringify(name)} is not a valid package name`);
  const pkg = canonicalizeName(name);
  for (const alias of opts.alias) {
    if (canonicalizeName(alias) !== pkg) throw new UserError(`alias ${alias} does not match the package name ${pkg}`);
  }
  if (opts.skip && opts.unskip) throw new UserError('--skip and --unskip contradict each other');
  if (opts.yank && opts.unyank) throw new UserError('--yank and --unyank contradict each other');
  if (version === undefined && (opts.yank || opts.unyank || opts.released !== undefined)) {
    throw new UserError('--yank, --unyank and --released apply to a version: give one');
  }
  if (version !== undefined && opts.description !== undefined) throw new UserError('--description applies to a package: give no version');
  if (version !== undefined && version.trim() === '') throw new UserError('the version must not be empty');
  const released = opts.released === undefined ? UtcDateTime.now() : parseReleased(opts.released);
  if (!opts.yes) {
    logger.warn(version === undefined ? `Preparing to add/update ${name}` : `Preparing to add/update ${name} ${version}`);
    if (!(await confirm('Proceed?'))) {
      logger.warn('addition aborted');
      return 2;
    }
  }
  let description = opts.description;
  if (version === undefined && description === undefined) {
    try {
      const pypi = new PyPIClient({ xmlrpcUrl: config.pypiJson, jsonUrl: config.pypiJson, retries: 0, timeoutMs: 10_000, logger });
      description = (await pypi.projectDescription(pkg)) ?? '';
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'could not fetch the description from PyPI; adding without one');
      description = '';
    }
  }
  const client = new ImportClient(config.importQueue, timeout, logger);
  try {
    const reply =
      version === undefined
        ? await client.request('ADDPKG', [name, description ?? '', opts.skip, Boolean(opts.unskip), opts.alias])
        : await client.request('ADDVER', [name, version, opts.skip, Boolean(opts.unskip), released, Boolean(opts.yank), Boolean(opts.unyank), opts.alias]);
    logger.info(`${describeAddReply(reply, pkg)} successfully`);
  } finally {
    client.close();
  }
  return 0;
}
