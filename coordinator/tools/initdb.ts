// piw-initdb: creates the farm's database or upgrades it to the current
// schema (adopting a piwheels 0.23 database on the way), sets the build ABIs
// and platforms (whose pairs are the build targets), grants the coordinator's role what it needs, and checks the derived tables.
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { runCli, UserError } from '../../shared/cli.ts';
import { buildAbiSkips, buildPlatformSkips, checkRole, grantRole } from '../../shared/db/admin.ts';
import { connect } from '../../shared/db/connect.ts';
import { Database, defaultDsn } from '../../shared/db/index.ts';
import {
  applyUpgrade,
  describeState,
  describeStep,
  detectState,
  LATEST_VERSION,
  planUpgrade,
} from '../../shared/db/migrate.ts';
import { createLogger } from '../../shared/log.ts';
import { checkAbiTag, checkPlatformTag } from '../../shared/target.ts';

interface Options {
  dsn: string;
  user?: string;
  yes: boolean;
  abi: string[];
  skipAbi: string[];
  platform: string[];
  skipPlatform: string[];
  check: boolean;
  rebuild: boolean;
  verbose: number;
  quiet: number;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const count = (_: string, previous: number): number => previous + 1;

function program(): Command {
  return new Command('piw-initdb')
    .description(
      'Create the piwheels database, or upgrade it to the current schema version. An empty SQLite file or ' +
        'PostgreSQL database is initialised; a database of an older schema version, or a piwheels 0.23 ' +
        'PostgreSQL database, is upgraded with its data intact. Everything happens in one transaction, after ' +
        'showing what will be done and asking (unless --yes).',
    )
    .option('-d, --dsn <dsn>', 'postgres://user@host/dbname, or a SQLite file path', defaultDsn())
    .option('-u, --user <name>', "PostgreSQL role the coordinator connects as: grant it what it needs (it must not be a superuser)")
    .option('-y, --yes', 'proceed without asking', false)
    .option('--abi <tag>', 'add (or re-activate) a build ABI, e.g. cp311; repeatable', collect, [])
    .option('--skip-abi <tag>', 'retire a build ABI (its builds stay); repeatable', collect, [])
    .option(
      '--platform <tag>',
      'add (or re-activate) a build platform, e.g. linux_armv7l or linux_aarch64; repeatable. The farm builds every ' +
        'active ABI on every active platform; with no platform, each ABI builds on a machine of any platform (as piwheels)',
      collect,
      [],
    )
    .option('--skip-platform <tag>', 'retire a build platform (its builds stay; the last one cannot go); repeatable', collect, [])
    .option('--check', 'recompute the build queue, counters and download counts from the rows and report differences (exit 1 if any)', false)
    .option('--rebuild', 'recompute the build queue, counters and download counts from the rows', false)
    .addOption(new Option('-v, --verbose', 'more output').argParser(count).default(0))
    .addOption(new Option('-q, --quiet', 'less output').argParser(count).default(0))
    .exitOverride()
    .showHelpAfterError('(run piw-initdb --help for usage)');
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UserError('not confirmed: run interactively or pass --yes');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const cmd = program();
  cmd.parse(argv);
  const opts = cmd.opts<Options>();
  const verbosity = opts.verbose - opts.quiet;
  const log = createLogger({ name: 'piw-initdb', verbosity });
  const say = (line: string): void => {
    if (verbosity >= 0) process.stdout.write(`${line}\n`);
  };

  const conn = await connect(opts.dsn, { create: true });
  try {
    const state = await detectState(conn);
    const steps = planUpgrade(state);
    say(`${conn.target}: ${describeState(state)}`);
    if (opts.user !== undefined) await checkRole(conn, opts.user);

    for (const abi of [...opts.abi, ...opts.skipAbi]) checkAbiTag(abi);
    for (const platform of [...opts.platform, ...opts.skipPlatform]) checkPlatformTag(platform);
    const plan = steps.map(describeStep);
    const known = state.kind === 'empty' ? new Map<string, string>() : await buildAbiSkips(conn);
    const addAbis = [...new Set(opts.abi)].filter((abi) => known.get(abi) !== '');
    const skipAbis = [...new Set(opts.skipAbi)].filter((abi) => {
      if (addAbis.includes(abi)) throw new UserError(`--abi and --skip-abi both name ${abi}`);
      if (!known.has(abi)) throw new UserError(`no build ABI ${JSON.stringify(abi)} to retire`);
      return known.get(abi) === '';
    });
    for (const abi of addAbis) plan.push(`add build ABI ${abi}`);
    for (const abi of skipAbis) plan.push(`retire build ABI ${abi}`);
    const knownPlatforms = state.kind === 'empty' ? new Map<string, string>() : await buildPlatformSkips(conn);
    const addPlatforms = [...new Set(opts.platform)].filter((p) => knownPlatforms.get(p) !== '');
    const skipPlatforms = [...new Set(opts.skipPlatform)].filter((p) => {
      if (addPlatforms.includes(p)) throw new UserError(`--platform and --skip-platform both name ${p}`);
      if (!knownPlatforms.has(p)) throw new UserError(`no build platform ${JSON.stringify(p)} to retire`);
      return knownPlatforms.get(p) === '';
    });
    const activeAfter = [...knownPlatforms].filter(([, skip]) => skip === '').map(([p]) => p).concat(addPlatforms);
    if (skipPlatforms.length > 0 && activeAfter.every((p) => skipPlatforms.includes(p))) {
      throw new UserError('--skip-platform would retire every build platform: keep one, or add another with --platform');
    }
    for (const p of addPlatforms) plan.push(`add build platform ${p}`);
    for (const p of skipPlatforms) plan.push(`retire build platform ${p}`);
    if (opts.user !== undefined) plan.push(`grant role ${opts.user} access to every table and sequence`);
    if (opts.rebuild) plan.push('recompute the build queue, counters and download counts');

    if (plan.length === 0) {
      say(`nothing to do: the schema is current (version ${LATEST_VERSION})`);
    } else {
      for (const line of plan) say(`  - ${line}`);
      if (!opts.yes && !(await confirm('Proceed?'))) {
        say('nothing changed');
        return 1;
      }
      if (steps.length > 0) {
        if (state.kind !== 'empty') say('upgrading: on a big database this takes a while');
        await applyUpgrade(conn, steps, (step) => log.debug({ step: describeStep(step) }, 'applying'));
        say(`schema is now at version ${LATEST_VERSION}`);
      }
      const db = new Database(conn);
      if (addAbis.length + skipAbis.length + addPlatforms.length + skipPlatforms.length > 0) {
        // one transaction and one recomputation of the queue for all of them
        await db.changeBuildTargets({ addAbis, skipAbis, addPlatforms, skipPlatforms, reason: 'retired' });
        for (const abi of addAbis) say(`build ABI ${abi} active`);
        for (const abi of skipAbis) say(`build ABI ${abi} retired`);
        for (const p of addPlatforms) say(`build platform ${p} active`);
        for (const p of skipPlatforms) say(`build platform ${p} retired`);
      }
      if (opts.user !== undefined) {
        await grantRole(conn, opts.user);
        say(`role ${opts.user} granted`);
      }
      if (opts.rebuild) {
        await db.rebuildDerived();
        say('derived tables recomputed');
      }
    }

    if (opts.check) {
      const problems = await new Database(conn).verifyDerived();
      if (problems.length > 0) {
        for (const p of problems) process.stderr.write(`piw-initdb: ${p}\n`);
        process.stderr.write('piw-initdb: derived tables differ from the rows: run piw-initdb --rebuild\n');
        return 1;
      }
      say('derived tables match the rows');
    }
    return 0;
  } finally {
    await conn.close();
  }
}

await runCli('piw-initdb', () => main(process.argv));
