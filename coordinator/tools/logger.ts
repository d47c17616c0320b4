// piw-logger: feeds web-server access logs to the coordinator's logger
// endpoint. Works as a piped log program (nginx/Apache writing to its stdin)
// or on existing log files, gzipped or not. Each line is parsed, classified
// and, when it is a hit worth recording, pushed as one logger-protocol
// message; bad lines are counted and skipped, never fatal.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { envBoolean, zmqAddress } from '../../shared/config.ts';
import type { Logger } from '../../shared/log.ts';
import { lumberjack, reverse } from '../../shared/wire/protocols.ts';
import { DEFAULT_ENDPOINTS, createSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { compileLogFormat, processLine, type LineParser, type LogMessage } from './access-log.ts';
import { toolConfig, toolLogger, withCommonOptions, type CommonFlags } from './common.ts';

const settings = z.object({
  logQueue: zmqAddress.default(DEFAULT_ENDPOINTS.logger),
  format: z.string().min(1).default('combined'),
  drop: envBoolean.default(false),
});

export interface FeedCounts {
  lines: number;
  sent: number;
  ignored: number;
  bad: number;
  dropped: number;
}

const loggerProtocol = reverse(lumberjack);
type LoggerSocket = WireSocket<{}, typeof loggerProtocol.send>;

/** Sends in flight before the reader waits for ZeroMQ to take them. */
const MAX_IN_FLIGHT = 1000;
/** Bad lines described in the log before they are only counted. */
const BAD_LINES_SHOWN = 10;

/**
 * Pushes every recordable line of `input` to the socket. With `drop`, a
 * message that ZeroMQ cannot take at once (coordinator away, queue full) is
 * dropped rather than waited for, so the web server is never held up.
 */
export async function feed(
  input: Readable,
  parser: LineParser,
  socket: LoggerSocket,
  options: { drop: boolean; logger: Logger; source: string },
  counts: FeedCounts,
): Promise<void> {
  let inFlight = 0;
  let last: Promise<void> = Promise.resolve();
  let sendError: unknown = null;
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    counts.lines += 1;
    if (line === '') continue;
    const outcome = processLine(parser, line);
    if (outcome.kind === 'ignored') {
      counts.ignored += 1;
      continue;
    }
    if (outcome.kind === 'bad') {
      counts.bad += 1;
      if (counts.bad <= BAD_LINES_SHOWN) options.logger.warn({ source: options.source, line: counts.lines }, `skipped bad log line: ${outcome.reason}`);
      continue;
    }
    if (sendError !== null) throw sendError;
    if (options.drop && inFlight > 0) {
      counts.dropped += 1;
      continue;
    }
    inFlight += 1;
    last = send(socket, outcome.message).then(
      () => {
        inFlight -= 1;
        counts.sent += 1;
      },
      (error: unknown) => {
        inFlight -= 1;
        sendError = error;
      },
    );
    if (!options.drop && inFlight >= MAX_IN_FLIGHT) await last;
  }
  if (!options.drop) await last;
  if (sendError !== null) throw sendError;
}

function send(socket: LoggerSocket, m: LogMessage): Promise<void> {
  switch (m.msg) {
    case 'LOGDOWNLOAD':
      return socket.send(m.msg, m.data);
    case 'LOGSEARCH':
      return socket.send(m.msg, m.data);
    default:
      return socket.send(m.msg, m.data);
  }
}

/** A file (gunzipped when it starts with gzip's magic bytes) or stdin for "-". */
async function openLog(path: string): Promise<Readable> {
  if (path === '-') return process.stdin;
  let magic: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      magic = Buffer.alloc(2);
      await handle.read(magic, 0, 2, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new UserError(`cannot read log file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const stream = createReadStream(path);
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    stream.pipe(gunzip);
    stream.on('error', (error) => gunzip.destroy(error));
    return gunzip;
  }
  return stream;
}

function program(): Command {
  return withCommonOptions(new Command('piw-logger'))
    .description(
      'Feed web-server access logs (Apache or nginx, combined format by default) to the coordinator, which records ' +
        'wheel downloads, searches, project page and JSON hits and page views. Use it as a piped log program (it reads ' +
        'stdin when no files are given, or for "-") or on existing logs; gzipped files are read as they are. Run it ' +
        'on the same machine as piw-master.',
    )
    .argument('[files...]', 'log files to load; "-" or none for stdin')
    .option('--format <FORMAT>', 'log format: combined, common, common_vhost, vhost_combined or an Apache LogFormat string (default: combined; env PIW_FORMAT)')
    .option('--log-queue <ADDR>', `the coordinator's logger endpoint (default: ${DEFAULT_ENDPOINTS.logger}; env PIW_LOG_QUEUE)`)
    .option('--drop', 'drop records the coordinator cannot take at once instead of waiting: use this for piped logging (env PIW_DROP)')
    .addHelpText('after', '\nBad lines are skipped and counted; the exit status is 0 unless a file cannot be read or the format is unusable.');
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<CommonFlags & { format?: string; logQueue?: string; drop?: boolean }>();
  const logger = toolLogger('piw-logger', opts);
  const config = toolConfig(settings, 'logger', { format: opts.format, logQueue: opts.logQueue, drop: opts.drop }, opts.configuration);
  const parser = compileLogFormat(config.format);
  const files = command.args.length > 0 ? command.args : ['-'];
  const socket: LoggerSocket = createSocket('PUSH', { protocol: loggerProtocol, logger, sendHwm: 10_000 });
  socket.connect(config.logQueue);
  const counts: FeedCounts = { lines: 0, sent: 0, ignored: 0, bad: 0, dropped: 0 };
  try {
    for (const file of files) {
      const input = await openLog(file);
      logger.info({ source: file }, file === '-' ? 'reading log entries from stdin' : `reading ${file}`);
      try {
        await feed(input, parser, socket, { drop: config.drop, logger, source: file }, counts);
      } catch (error) {
        if (error instanceof UserError) throw error;
        throw new UserError(`cannot read log file ${file}: ${(error as Error).message}`);
      }
    }
  } finally {
    // give queued records time to reach the coordinator unless dropping is allowed
    socket.close(config.drop ? 1 : 60);
  }
  logger.info(counts, `${counts.lines} lines: ${counts.sent} sent, ${counts.ignored} not recorded, ${counts.bad} bad, ${counts.dropped} dropped`);
  return 0;
}
