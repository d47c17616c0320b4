// piw-import: registers wheels built elsewhere as one successful build of one
// package version for one build target (an ABI, and the platform the wheels
// name). The build is described from the wheels
// themselves (names, hashes, METADATA, apt dependencies), checked to hang
// together, announced to the coordinator with IMPORT, and each file is sent
// when the coordinator asks for it (SEND) over the file endpoint.
import { readFile, unlink } from 'node:fs/promises';
import { Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { zmqAddress } from '../../shared/config.ts';
import type { Logger } from '../../shared/log.ts';
import { canonicalizeName } from '../../shared/names.ts';
import { BadWheelError, metadataField, parseCoreMetadata } from '../../shared/wheel/metadata.ts';
import { Timedelta } from '../../shared/wire/cbor.ts';
import { sendFile } from '../../shared/wire/file-transfer.ts';
import type { BuildStateMessage } from '../../shared/wire/protocols.ts';
import { builderPlatform, buildToMessage, type WheelFile } from '../../shared/build.ts';
import { parseTargetKey } from '../../shared/target.ts';
import { DEFAULT_ENDPOINTS, createSocket } from '../../shared/wire/transport.ts';
import { parseDuration } from '../../shared/duration.ts';
import { inspectWheel, type InspectedWheel } from '../../shared/wheel/inspect.ts';
import { ImportClient, confirm, parseTimeout, timeoutOption, toolConfig, toolLogger, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags } from './common.ts';

/** Where the coordinator takes files; piwheels' importer always uses this. */
export const DEFAULT_FILE_QUEUE = 'tcp://localhost:5556';

const settings = z.object({
  importQueue: zmqAddress.default(DEFAULT_ENDPOINTS.import),
  fileQueue: zmqAddress.default(DEFAULT_FILE_QUEUE),
});

/** What a wheel contributes to the build, as far as the checks go. */
export interface WheelFacts extends WheelFile {
  /** Name and Version from METADATA. */
  name: string;
  version: string;
}

export interface ImportOverrides {
  package?: string;
  version?: string;
  abi?: string;
  /** The builder's platform (from --target): the wheels must name it, or none. */
  platform?: string;
  /** Seconds. */
  duration: number;
  output?: string;
  /** Replaces the apt dependencies found in the wheels. */
  aptDependencies?: string[];
}

/** ABI tags that say nothing about the machine that built the wheel. */
const PORTABLE_ABIS = new Set(['none', 'abi3']);

/**
 * The IMPORT message for a set of wheels; refuses a set that is not one
 * build: different packages or versions, or ABIs that differ from each
 * other or from the build's.
 */
export function planImport(wheels: readonly WheelFacts[], overrides: ImportOverrides): BuildStateMessage {
  if (wheels.length === 0) throw new UserError('no wheels to import');
  const seen = new Set<string>();
  for (const w of wheels) {
    if (seen.has(w.filename)) throw new UserError(`${w.filename} is given twice`);
    seen.add(w.filename);
  }
  const packages = new Set(wheels.map((w) => canonicalizeName(w.name)));
  if (packages.size > 1) throw new UserError(`the wheels belong to different packages (${[...packages].sort().join(', ')}): import one package version at a time`);
  const versions = new Set(wheels.map((w) => w.version));
  if (versions.size > 1) throw new UserError(`the wheels are of different versions (${[...versions].sort().join(', ')}): import one package version at a time`);
  const pkg = canonicalizeName(overrides.package ?? wheels[0]!.name);
  if (pkg !== [...packages][0]) throw new UserError(`--package ${overrides.package} does not match the wheels' package ${[...packages][0]}`);
  const version = overrides.version ?? wheels[0]!.version;
  const specific = new Set(wheels.map((w) => w.abiTag).filter((abi) => !PORTABLE_ABIS.has(abi)));
  if (specific.size > 1) throw new UserError(`the wheels are built for different ABIs (${[...specific].sort().join(', ')}): import one ABI at a time`);
  const abi = overrides.abi ?? [...specific][0];
  if (abi === undefined) throw new UserError("couldn't determine the builder's ABI from the wheels: re-run with --abi (e.g. --abi cp311)");
  if (PORTABLE_ABIS.has(abi)) throw new UserError(`--abi ${abi} is not a builder's ABI (e.g. cp311)`);
  if (specific.size === 1 && !specific.has(abi)) throw new UserError(`the wheels are built for ${[...specific][0]}, not --abi ${abi}`);
  // IMPORT carries no platform: the coordinator reads it from the wheels' tags, so they must name one at most
  const platform = builderPlatform(wheels);
  if (platform === null) {
    const named = [...new Set(wheels.map((w) => w.platformTag).filter((p) => p !== 'any'))].sort();
    throw new UserError(`the wheels are built for different platforms (${named.join(', ')}): import one build target at a time`);
  }
  if (overrides.platform !== undefined && platform !== '' && platform !== overrides.platform) {
    throw new UserError(`the wheels are built for ${platform}, not --target ${abi}-${overrides.platform}`);
  }
  if (!Number.isFinite(overrides.duration) || overrides.duration < 0) throw new UserError('--duration must not be negative');
  const files = wheels.map((w) => (overrides.aptDependencies === undefined ? w : { ...w, dependencies: { ...w.dependencies, apt: overrides.aptDependencies } }));
  return buildToMessage({
    slaveId: 0, package: pkg, version, abiTag: abi, status: true, duration: Timedelta.fromSeconds(overrides.duration),
    output: overrides.output ?? 'Imported manually via piw-import', files,
  });
}

function facts(w: InspectedWheel): WheelFacts {
  const metadata = parseCoreMetadata(w.metadata.toString('utf8'));
  const name = metadataField(metadata, 'Name');
  const version = metadataField(metadata, 'Version');
  if (name === null || version === null) throw new UserError(`${w.filename}: its METADATA lacks Name or Version`);
  return {
    filename: w.filename,
    filesize: w.filesize,
    filehash: w.filehash,
    packageTag: w.packageTag,
    packageVersionTag: w.packageVersionTag,
    pyVersionTag: w.pyVersionTag,
    abiTag: w.abiTag,
    platformTag: w.platformTag,
    requiresPython: w.requiresPython,
    dependencies: w.dependencies,
    name,
    version,
  };
}

async function inspect(path: string): Promise<InspectedWheel> {
  try {
    return await inspectWheel(path);
  } catch (error) {
    if (error instanceof BadWheelError) throw new UserError(`${path} is not a usable wheel: ${error.message}`);
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new UserError(`cannot read ${path}: ${code}`);
    throw error;
  }
}

function describe(state: BuildStateMessage, logger: Logger): void {
  const [, pkg, version, abi, , duration, output, files] = state;
  const lines = [
    'Preparing to import build',
    `Package:  ${pkg}`,
    `Version:  ${version}`,
    `ABI:      ${abi}`,
    `Platform: ${builderPlatform(files.map((f) => ({ platformTag: f[7] }))) || 'any'}`,
    `Duration: ${duration.totalSeconds()}s`,
    `Output:   ${output.split('\n').length} line(s)`,
    `Files:    ${files.length}`,
  ];
  for (const f of files) {
    lines.push('', `Filename: ${f[0]}`, `  Size: ${f[1]} bytes`, `  Hash: ${f[2]}`, `  Tags: ${f[5]}-${f[6]}-${f[7]}`);
    lines.push(`  Requires-Python: ${f[8] ?? '-'}`, `  Apt dependencies: ${(f[9].apt ?? []).join(' ') || '-'}`);
  }
  logger.warn(lines.join('\n'));
}

/** IMPORT, then a file per SEND, until DONE; an ERROR ends it with the coordinator's reason. */
export async function runImport(
  state: BuildStateMessage,
  paths: ReadonlyMap<string, string>,
  config: { importQueue: string; fileQueue: string; timeout: number },
  logger: Logger,
): Promise<void> {
  const client = new ImportClient(config.importQueue, config.timeout, logger);
  try {
    let reply = await client.request('IMPORT', state);
    while (reply.msg === 'SEND') {
      const path = paths.get(reply.data);
      if (path === undefined) throw new UserError(`the coordinator asked for ${reply.data}, which is not being imported`, 1);
      logger.info({ file: reply.data }, `sending ${reply.data}`);
      const dealer = createSocket('DEALER', { hwm: 10 });
      dealer.connect(config.fileQueue);
      try {
        await sendFile(dealer, 0, path);
      } finally {
        dealer.close(0);
      }
      reply = await client.request('SENT');
    }
    if (reply.msg === 'ERROR') throw new UserError(`the coordinator refused the import: ${reply.data}`, 1);
    logger.info({ package: state[1], version: state[2] }, 'imported build successfully');
  } finally {
    client.close();
  }
}

function program(): Command {
  return withCurveOptions(withCommonOptions(new Command('piw-import')))
    .description(
      'Import wheels built elsewhere into the farm as one successful build of one package version for one build target: the ' +
        'coordinator records the build and takes the files. Run it on the same machine as piw-master.',
    )
    .argument('<files...>', 'the wheel(s) of the build')
    .option('--package <NAME>', "the package (default: from the wheels' METADATA)")
    .option('--package-version <VERSION>', "the version (default: from the wheels' METADATA)")
    .option('--version <VERSION>', 'the same as --package-version')
    .option('--abi <TAG>', "the builder's ABI, e.g. cp311 (default: the wheels' ABI tag; needed for none/abi3 wheels)")
    .option(
      '--target <TARGET>',
      "the build target instead of --abi, e.g. cp311-linux_aarch64: the builder's ABI, and the platform the wheels must be built for",
    )
    .option('--duration <TIME>', 'how long the build took, e.g. 90s, 1h30m or 0:05:00', '0s')
    .option('--output <FILE>', 'a file holding the build output to record (default: a note that the build was imported)')
    .option('--dependencies <FILE>', 'a file listing the apt packages the wheels need (replaces what is found in them)')
    .option('-y, --yes', 'proceed without asking')
    .option('-d, --delete', 'remove the wheel files once the import has succeeded (never after a failure)')
    .option('--import-queue <ADDR>', `the coordinator's import endpoint (default: ${DEFAULT_ENDPOINTS.import}; env PIW_IMPORT_QUEUE)`)
    .option('--file-queue <ADDR>', `the coordinator's file endpoint (default: ${DEFAULT_FILE_QUEUE}; env PIW_FILE_QUEUE)`)
    .addOption(timeoutOption);
}

interface ImportFlags extends CommonFlags {
  package?: string;
  packageVersion?: string;
  version?: string;
  abi?: string;
  target?: string;
  duration: string;
  output?: string;
  dependencies?: string;
  yes?: boolean;
  delete?: boolean;
  importQueue?: string;
  fileQueue?: string;
  timeout: string;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(`cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<ImportFlags>();
  const logger = toolLogger('piw-import', opts);
  useToolCurve('import', opts);
  const config = toolConfig(settings, 'import', { importQueue: opts.importQueue, fileQueue: opts.fileQueue }, opts.configuration);
  const timeout = parseTimeout(opts.timeout);
  if (opts.version !== undefined && opts.packageVersion !== undefined && opts.version !== opts.packageVersion) {
    throw new UserError('--version and --package-version disagree');
  }
  if (opts.target !== undefined && opts.abi !== undefined) throw new UserError('give --abi or --target, not both');
  const target = opts.target === undefined ? undefined : parseTargetKey(opts.target);
  const durationMs = parseDuration(opts.duration);
  if (durationMs === null) throw new UserError(`--duration ${JSON.stringify(opts.duration)} is not a duration (e.g. 90s, 1h30m)`);
  const wheels = [];
  for (const path of command.args) wheels.push({ path, facts: facts(await inspect(path)) });
  const state = planImport(
    wheels.map((w) => w.facts),
    {
      package: opts.package,
      version: opts.packageVersion ?? opts.version,
      abi: opts.abi ?? target?.abi,
      platform: target?.platform === '' ? undefined : target?.platform,
      duration: durationMs / 1000,
      output: opts.output === undefined ? undefined : await readText(opts.output, 'output'),
      aptDependencies: opts.dependencies === undefined ? undefined : (await readText(opts.dependencies, 'dependencies')).split(/\s+/).filter(Boolean),
    },
  );
  if (!opts.yes) {
    describe(state, logger);
    if (!(await confirm('Proceed?'))) {
      logger.warn('import aborted');
      return 2;
    }
  }
  await runImport(state, new Map(wheels.map((w) => [w.facts.filename, w.path])), { ...config, timeout }, logger);
  if (opts.delete) {
    for (const w of wheels) await unlink(w.path);
    logger.info({ files: wheels.length }, 'removed the imported files');
  }
  return 0;
}
