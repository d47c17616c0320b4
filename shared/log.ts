// One logger for every process. Structured JSON (pino) when writing to a file
// or a pipe; -v / -q on each CLI move the level.
import { z } from 'zod';
import { pino, destination, multistream, type Logger, type LevelWithSilent, type StreamEntry } from 'pino';

export type { Logger };
export type LogLevel = LevelWithSilent;

export interface LogOptions {
  name: string;
  /** Net verbosity: +1 per -v, -1 per -q. 0 is "info". */
  verbosity?: number;
  /** Append JSON lines here as well as to stderr. */
  file?: string | undefined;
  /** An exact level, instead of one from `verbosity` (a worker thread follows its parent's). */
  level?: LogLevel;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export function levelFor(verbosity: number): (typeof LEVELS)[number] {
  const index = Math.min(LEVELS.length - 1, Math.max(0, 3 + verbosity));
  return LEVELS[index] ?? 'info';
}

export function createLogger(options: LogOptions): Logger {
  const level = options.level ?? levelFor(options.verbosity ?? 0);
  if (level === 'silent') return silentLogger();
  const streams: StreamEntry[] = [{ level, stream: destination(2) }];
  if (options.file) streams.push({ level, stream: destination({ dest: options.file, append: true, mkdir: true }) });
  return pino({ name: options.name, level, base: { name: options.name } }, multistream(streams));
}

const levelWithSilent = z.enum([...LEVELS, 'silent']);

/** A logger's level, for a worker thread that must log alike. */
export function logLevel(logger: Logger): LogLevel {
  const parsed = levelWithSilent.safeParse(logger.level);
  return parsed.success ? parsed.data : 'info';
}

/** A logger that discards everything, for tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
