// piw-upstream: serves a local PyPI stand-in until interrupted. Prints the
// base URL on stdout (one line), so scripts can start it on port 0 and read
// where it listens.
import { Command, InvalidArgumentError } from 'commander';
import { gunzipSync } from 'node:zlib';
import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../shared/cli.ts';
import { createLogger } from '../shared/log.ts';
import { UpstreamServer } from './server.ts';
import { SyntheticLog, readNames } from './synthetic.ts';

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

export interface Running {
  server: UpstreamServer;
  url: string;
}

/** Parses arguments and starts the server; the caller decides how long it runs. */
export async function startFromArgs(argv: string[]): Promise<Running> {
  const program = new Command('piw-upstream')
    .description('Serve a local PyPI stand-in: simple index, JSON API, XML-RPC changelog, scripted events')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', integer, 0)
    .option('-d, --dir <dir>', 'directory of sdists and wheels to serve and announce')
    .option('--no-system-wheels', "don't serve Debian's pip/setuptools/wheel wheels")
    .option('--batch-limit <n>', 'most changelog rows per answer', integer, 50_000)
    .option('--synthetic <events>', 'replay a synthetic changelog of this many events', integer)
    .option('--names <file>', 'package names for --synthetic (a .tsv or .tsv.gz with a "name" column, or one per line)')
    .option('--seed <n>', 'seed of the synthetic history', integer, 1)
    .option('-v, --verbose', 'more logging')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv, { from: 'user' });
  const opts = program.opts<{
    host: string;
    port: number;
    dir?: string;
    systemWheels: boolean;
    batchLimit: number;
    synthetic?: number;
    names?: string;
    seed: number;
    verbose?: boolean;
  }>();
  if (opts.dir !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(opts.dir).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new UserError(`--dir ${opts.dir}: not a directory`);
  }
  let log: SyntheticLog | undefined;
  if (opts.synthetic !== undefined) {
    if (opts.names === undefined) throw new UserError('--synthetic needs --names FILE');
    let text: string;
    try {
      const raw = readFileSync(opts.names);
      text = opts.names.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    } catch (error) {
      throw new UserError(`--names ${opts.names}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    const names = readNames(text);
    if (names.length === 0) throw new UserError(`--names ${opts.names}: no package names found`);
    log = new SyntheticLog(names, opts.synthetic, opts.seed);
  }
  const logger = createLogger({ name: 'piw-upstream', verbosity: opts.verbose ? 1 : 0 });
  const server = new UpstreamServer({
    host: opts.host,
    port: opts.port,
    dir: opts.dir,
    systemWheels: opts.systemWheels,
    batchLimit: opts.batchLimit,
    log,
    logger,
  });
  const url = await server.start();
  return { server, url };
}
