// What the operator tools share: the common options (-v/-q, -l, -c, -y),
// configuration from flags over PIW_* environment over a TOML file, the
// yes/no prompt, and one request/answer exchange with the coordinator's
// import endpoint.
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { loadConfig } from '../../shared/config.ts';
import { createLogger, type Logger } from '../../shared/log.ts';
import { mrChase, reverse, type DataArgs, type Message } from '../../shared/wire/protocols.ts';
import { connectWithCurve } from '../../shared/wire/curve.ts';
import { createSocket } from '../../shared/wire/transport.ts';

/** Configuration files read when present (the first found), unless -c names one. */
export const DEFAULT_CONFIG_FILES = ['/etc/piwheels.toml', '~/.config/piwheels.toml'];

export interface CommonFlags {
  verbose: number;
  quiet: number;
  logFile?: string;
  configuration?: string;
  curveSecret?: string;
  curveServer?: string;
}

const increase = (_: string, previous: number): number => previous + 1;

/** Adds -v, -q, -l and -c to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('-v, --verbose', 'more messages (repeatable)', increase, 0)
    .option('-q, --quiet', 'fewer messages (repeatable)', increase, 0)
    .option('-l, --log-file <FILE>', 'also append JSON log lines to FILE')
    .option('-c, --configuration <FILE>', `read settings from this TOML file (default: the first of ${DEFAULT_CONFIG_FILES.join(', ')})`)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
}

/** Adds --curve-secret and --curve-server to a tool that talks to the master. */
export function withCurveOptions(command: Command): Command {
  return command
    .option('--curve-secret <FILE>', "this tool's secret CURVE certificate (NAME.key_secret, from piw-keys); needs --curve-server")
    .option('--curve-server <FILE>', "the master's public CURVE certificate (NAME.key), for a master reached over tcp:// with CURVE on");
}

const curveSettings = z
  .object({ curveSecret: z.string().min(1).optional(), curveServer: z.string().min(1).optional() })
  .refine((c) => (c.curveSecret === undefined) === (c.curveServer === undefined), {
    message: "CURVE needs both curve-secret (this tool's NAME.key_secret) and curve-server (the master's NAME.key)",
  });

/** Switches CURVE on for the tool's tcp:// connections when flags, PIW_* or the file ask for it. */
export function useToolCurve(section: string, flags: CommonFlags): void {
  // the tool's table holds its other settings too: only the CURVE keys are read here
  const config = loadConfig(curveSettings, {
    flags: { curveSecret: flags.curveSecret, curveServer: flags.curveServer },
    env: process.env,
    file: flags.configuration,
    defaultFiles: DEFAULT_CONFIG_FILES,
    section,
    ignoreUnknown: true,
  });
  if (config.curveSecret !== undefined && config.curveServer !== undefined) connectWithCurve(config.curveSecret, config.curveServer);
}

export function toolLogger(name: string, flags: CommonFlags): Logger {
  return createLogger({ name, verbosity: flags.verbose - flags.quiet, file: flags.logFile });
}

/**
 * Merges flags, PIW_* environment and the configuration file (its top level
 * and the tool's own table) for the settings in `schema`.
 */
export function toolConfig<S extends z.ZodObject>(schema: S, section: string, flags: Record<string, unknown>, configuration?: string): z.infer<S> {
  return loadConfig(schema, {
    flags,
    env: process.env,
    file: configuration,
    defaultFiles: DEFAULT_CONFIG_FILES,
    section,
  });
}

/** Asks on the terminal; anything but y/yes is no. Refuses to ask when stdin is not a terminal. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UserError(`${question} — no terminal to ask on: re-run with --yes`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const importTools = reverse(mrChase);
export type ImportReply = Message<typeof importTools.recv>;
type ImportSend = typeof importTools.send;

/** Seconds to wait for the coordinator's answer before giving up. */
export const timeoutOption = new Option('--timeout <SECONDS>', 'how long to wait for the coordinator to answer').default('300');

export function parseTimeout(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UserError(`--timeout must be a positive number of seconds, not ${JSON.stringify(text)}`);
  return seconds;
}

/**
 * A REQ conversation with the import endpoint (MrChase). Each request gets
 * one answer; silence past the timeout is an error naming the address.
 */
export class ImportClient {
  private readonly socket = createSocket('REQ', { protocol: importTools, hwm: 10 });

  constructor(
    readonly address: string,
    private readonly timeoutSeconds: number,
    logger?: Logger,
  ) {
    if (logger) logger.debug({ address }, 'connecting to the coordinator');
    this.socket.connect(address);
  }

  async request<K extends keyof ImportSend & string>(msg: K, ...data: DataArgs<ImportSend, K>): Promise<ImportReply> {
    await this.socket.send(msg, ...data);
    const reply = await this.socket.recv(this.timeoutSeconds);
    if (reply === null) {
      throw new UserError(`no answer from the coordinator at ${this.address} within ${this.timeoutSeconds}s: is piw-master running?`, 1);
    }
    return reply;
  }

  close(): void {
    this.socket.close(0);
  }
}
