// piw-logger: feeds web-server access logs to the coordinator's logger
// endpoint. Works as a piped log program (nginx/Apache writing to its stdin)
// or on existing log files, gzipped or not. Each line is parsed, classified
// and, when it is a hit worth recording, sent on; bad lines are counted and
// skipped, never fatal.
//
// Records go as LOGBATCH messages (many records each, ours only) unless
// --no-batch asks for piwheels' one message per record, which the Python
// master needs: a PUSH socket gets no answer, so there is no asking the
// coordinator which it understands.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../shared/cli.ts';
import { envBoolean, zmqAddress } from '../../shared/config.ts';
import type { Logger } from '../../shared/log.ts';
import { lumberjack, reverse } from '../../shared/wire/protocols.ts';
import { DEFAULT_ENDPOINTS, createSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { compileLogFormat, LogBatchBuilder, processLine, recordMessage, type LineParser, type LogRecord } from '../access/access-log.ts';
import { toolConfig, toolLogger, withCommonOptions, withCurveOptions, useToolCurve, type CommonFlags } from './common.ts';

const settings = z.object({
  logQueue: zmqAddress.default(DEFAULT_ENDPOINTS.logger),
  format: z.string().min(1).default('combined'),
  drop: envBoolean.default(false),
  batch: envBoolean.default(true),
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

/** Records in one LOGBATCH: large enough that per-message costs vanish. */
const BATCH_RECORDS = 1000;
/** Longest a record waits for its batch to fill (a quiet piped log). */
const BATCH_WAIT_MS = 250;
/** Records sent but not yet taken by ZeroMQ before the reader waits. */
const MAX_IN_FLIGHT = 10_000;
/** How long the end of the input waits for queued sends when dropping. */
const DROP_GRACE_MS = 100;
/** Bad lines described in the log before they are only counted. */
const BAD_LINES_SHOWN = 10;

/** The lines of a stream, a chunk's worth at a time (readline costs more than the parsing). */
export async function* lineChunks(input: Readable): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const lines = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = lines.pop()!;
    yield lines;
  }
  rest += decoder.end();
  if (rest !== '') yield [rest];
}

/**
 * Sends records as they come, in batches or one by one. With `drop`, what
 * ZeroMQ cannot take at once (coordinator away, queue full) is dropped
 * rather than waited for, so the web server is never held up.
 */
class Outbox {
  private readonly batch = new LogBatchBuilder();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private last: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;
  /** Set when the end came with sends still queued (dropping): they count as dropped. */
  private abandoned = false;

  constructor(
    private readonly socket: LoggerSocket,
    private readonly options: { drop: boolean; batch: boolean },
    private readonly counts: FeedCounts,
  ) {}

  add(record: LogRecord): void {
    if (!this.options.batch) {
      const m = recordMessage(record);
      this.dispatch(1, () => this.socket.send(m.msg, m.data));
      return;
    }
    this.batch.add(record);
    if (this.batch.size >= BATCH_RECORDS) this.flush();
    else if (this.batch.size === 1) this.timer = setTimeout(() => this.flush(), BATCH_WAIT_MS);
  }

  /** Sends what is gathered. */
  flush(): void {
    clearTimeout(this.timer);
    if (this.batch.size === 0) return;
    const size = this.batch.size;
    const data = this.batch.take();
    this.dispatch(size, () => this.socket.send('LOGBATCH', data));
  }

  private dispatch(records: number, send: () => Promise<void>): void {
    if (this.options.drop && this.inFlight > 0) {
      this.counts.dropped += records;
      return;
    }
    this.inFlight += records;
    // through a promise, so that a message refused on encoding fails like a send
    this.last = Promise.resolve().then(send).then(
      () => {
        if (this.abandoned) return;
        this.inFlight -= records;
        this.counts.sent += records;
      },
      (error: unknown) => {
        if (this.abandoned) return;
        this.inFlight -= records;
        this.failure ??= { error };
      },
    );
  }

  /** Waits while too much is in flight; throws the first failed send. */
  async ready(): Promise<void> {
    if (!this.options.drop && this.inFlight >= MAX_IN_FLIGHT) await this.last;
    if (this.failure !== null) throw this.failure.error;
  }

  /** Sends the rest and waits for it; when dropping, only briefly: what is still queued then is dropped. */
  async finish(): Promise<void> {
    this.flush();
    if (this.options.drop) {
      await Promise.race([this.last, new Promise((resolve) => setTimeout(resolve, DROP_GRACE_MS))]);
      this.counts.dropped += this.inFlight;
      this.abandoned = true;
    } else {
      await this.last;
    }
    if (this.failure !== null) throw this.failure.error;
  }
}

/** Sends every recordable line of `input` to the socket. */
export async function feed(
  input: Readable,
  parser: LineParser,
  socket: LoggerSocket,
  options: { drop: boolean; batch: boolean; logger: Logger; source: string },
  counts: FeedCounts,
): Promise<void> {
  const outbox = new Outbox(socket, options, counts);
  for await (const lines of lineChunks(input)) {
    for (const line of lines) {
      counts.lines += 1;
      // a blank line (or the \r of a CRLF one) is no entry
      if (line.length <= 1 && (line === '' || line === '\r')) continue;
      const outcome = processLine(parser, line);
      if (outcome.kind === 'record') {
        outbox.add(outcome.record);
      } else if (outcome.kind === 'ignored') {
        counts.ignored += 1;
      } else {
        counts.bad += 1;
        if (counts.bad <= BAD_LINES_SHOWN) options.logger.warn({ source: options.source, line: counts.lines }, `skipped bad log line: ${outcome.reason}`);
      }
    }
    await outbox.ready();
  }
  await outbox.finish();
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
  // large reads: fewer, longer runs of parsing between awaits
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: 1 << 18 });
    stream.pipe(gunzip);
    stream.on('error', (error) => gunzip.destroy(error));
    return gunzip;
  }
  return stream;
}

function program(): Command {
  return withCurveOptions(withCommonOptions(new Command('piw-logger')))
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
    .option('--batch', 'send many records a message (LOGBATCH), which only this project\'s coordinator understands (the default; env PIW_BATCH)')
    .option('--no-batch', "send one message per record, as piwheels' own piw-logger does: needed when the coordinator is piwheels' Python piw-master")
    .addHelpText('after', '\nBad lines are skipped and counted; the exit status is 0 unless a file cannot be read or the format is unusable.');
}

export async function main(argv: string[]): Promise<number> {
  const command = program();
  command.parse(argv);
  const opts = command.opts<CommonFlags & { format?: string; logQueue?: string; drop?: boolean; batch?: boolean }>();
  const logger = toolLogger('piw-logger', opts);
  useToolCurve('logger', opts);
  const config = toolConfig(settings, 'logger', { format: opts.format, logQueue: opts.logQueue, drop: opts.drop, batch: opts.batch }, opts.configuration);
  const parser = compileLogFormat(config.format);
  const files = command.args.length > 0 ? command.args : ['-'];
  // a bound on queued records either way, however many each message holds
  const sendHwm = config.batch ? 10 : 10_000;
  const socket: LoggerSocket = createSocket('PUSH', { protocol: loggerProtocol, logger, sendHwm });
  socket.connect(config.logQueue);
  const counts: FeedCounts = { lines: 0, sent: 0, ignored: 0, bad: 0, dropped: 0 };
  try {
    for (const file of files) {
      const input = await openLog(file);
      logger.info({ source: file }, file === '-' ? 'reading log entries from stdin' : `reading ${file}`);
      try {
        await feed(input, parser, socket, { drop: config.drop, batch: config.batch, logger, source: file }, counts);
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
