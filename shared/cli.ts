// The convention every piw-* command follows: bad input ends in one line on
// stderr saying what to fix, and exit code 2; other failures exit 1.
import type { CommanderError } from 'commander';
import type { ZodError } from 'zod';

/** An error whose message is already the one line the user should read. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}

// Both recognised by shape rather than class: UserError is imported by
// worker threads and --help paths that load neither commander nor zod.
function isCommanderError(error: unknown): error is CommanderError {
  const code: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('commander.');
}

function isZodError(error: unknown): error is ZodError {
  return error instanceof Error && error.name === 'ZodError' && Array.isArray((error as { issues?: unknown }).issues);
}

/** Flattens a zod error to "field: problem; field: problem". */
export function describeZodError(error: ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/**
 * Runs a command's main function and turns whatever it throws into the
 * one-line message and exit code convention.
 */
export async function runCli(prog: string, main: () => Promise<number | void>): Promise<void> {
  try {
    const code = await main();
    process.exitCode = code ?? 0;
  } catch (error) {
    if (isCommanderError(error)) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof UserError) {
      process.stderr.write(`${prog}: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    if (isZodError(error)) {
      process.stderr.write(`${prog}: invalid input: ${describeZodError(error)}\n`);
      process.exitCode = 2;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${prog}: ${message.split('\n')[0]}\n`);
    if (process.env.PIW_DEBUG) console.error(error);
    process.exitCode = 1;
  }
}
