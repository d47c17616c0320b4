// piw-slave: the build daemon that runs on each build machine. It connects to
// the master, takes build jobs, builds them with pip and sends the wheels back,
// until it is stopped (SIGTERM, Ctrl+C) or the master tells it to go.
// This module is only the command line: the daemon (ZeroMQ, logging, the
// build machinery) is loaded once the options are parsed, so --help and bad
// options cost little on a Pi.
import { Command, Option } from 'commander';
import { runCli } from '../shared/cli.ts';
import type { SlaveOptions } from './daemon.ts';

const increase = (_value: string, previous: number): number => previous + 1;
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function buildProgram(): Command {
  return new Command('piw-slave')
    .description(
      'Build wheels for a piwheels master: connects to the master, builds each package version it is given with ' +
        'pip, and sends the wheels back. Run it as an unprivileged user with a clean home directory; install any ' +
        'build dependencies you want to offer beforehand. It runs until stopped (SIGTERM, Ctrl+C) or told to by the master.',
    )
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('-c, --configuration <file>', 'TOML configuration file (keys as the long options; a [slave] table overrides)')
    .option('-v, --verbose', 'more log output (repeatable)', increase, 0)
    .option('-q, --quiet', 'less log output (repeatable)', increase, 0)
    .option('--debug', 'log at debug level')
    .option('-l, --log-file <file>', 'also append JSON logs to this file')
    .option('-m, --master <host>', 'host name or address of the master (default: localhost)')
    .option('-t, --timeout <duration>', 'give up on a build after this long, e.g. 3h, 90m (default: 3h)')
    .option('-d, --dir <dir>', 'where builds run, in private temporary directories (default: the system temp dir)')
    .option('-L, --label <label>', "this machine's name for the master's monitors (default: the host name)")
    .option('--python <path>', 'the Python interpreter whose pip builds the wheels (default: python3)')
    .option('--index-url <url>', 'take sources from this index instead of the one the master hands out')
    .option('--extra-index-url <url>', 'also look here for build dependencies (repeatable)', collect)
    .option('--slave-port <port>', "the master's slave protocol port (default: 5555)")
    .option('--file-port <port>', "the master's file transfer port (default: 5556)")
    .option('--slave-endpoint <endpoint>', 'full slave protocol endpoint, overriding --master/--slave-port')
    .option('--file-endpoint <endpoint>', 'full file transfer endpoint, overriding --master/--file-port')
    .option('--master-timeout <duration>', 'how long the master may go without hearing from us, and we from it (default: 5m)')
    .option('--reply-timeout <duration>', 'wait for replies the master gives at once before reconnecting (default: 5s)')
    .option('--curve-secret <file>', "this slave's secret CURVE certificate (NAME.key_secret, from piw-keys); needs --curve-server")
    .option('--curve-server <file>', "the master's public CURVE certificate (NAME.key): talk to a master that runs with --curve-clients")
    .addOption(new Option('--allow-root', 'build as root (only for throw-away containers: setup.py runs with full rights)'))
    .exitOverride();
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.parse(argv, { from: 'user' });
  const { runDaemon } = await import('./daemon.ts');
  return runDaemon(program.opts<SlaveOptions>());
}

await runCli('piw-slave', () => main(process.argv.slice(2)));
