// The frame our slave puts around pip's output in a build log: a header with
// the builder's environment and the command that reproduces the build, and a
// footer saying how pip ended. BUILT is a fixed schema shared with piwheels,
// so what only our slave knows travels in the log text; the master reads it
// back here. pip's output between the two is kept exactly as pip wrote it.
// Logs of piwheels' own slaves have no frame: reading one gives nulls.
import { z } from 'zod';

const HEADER = '== piwheels build environment ==';
const BODY = '== pip output ==';
const FOOTER = /^== piwheels build ended: (.*) ==$/;

const version = z.string().min(1).max(50).regex(/^[^\s]+$/);

/** What a build ran on; enough to set up a like machine. */
export const BuildEnvironmentSchema = z.object({
  /** The OS release's pretty name, e.g. "Debian GNU/Linux 12 (bookworm)". */
  os: z.string().min(1).max(200),
  python: version,
  pip: version.nullable(),
  setuptools: version.nullable(),
  wheel: version.nullable(),
  /** SHA-256 of the sorted list of installed Debian packages and versions; null without dpkg. */
  dpkgDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/).nullable(),
  /** A shell command that repeats the build on a like machine. */
  reproduce: z.string().min(1).max(2000),
});
export type BuildEnvironment = z.infer<typeof BuildEnvironmentSchema>;

/** How pip ended, as the slave saw it. */
export type BuildEnding =
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; signal: string }
  | { kind: 'timeout'; seconds: number }
  /** The slave stopped the build (the master said so, or it was shutting down). */
  | { kind: 'stopped'; reason: string }
  /** pip could not be started or the build directory not made. */
  | { kind: 'error'; message: string };

const FIELDS: ReadonlyArray<[keyof BuildEnvironment, string]> = [
  ['os', 'os'],
  ['python', 'python'],
  ['pip', 'pip'],
  ['setuptools', 'setuptools'],
  ['wheel', 'wheel'],
  ['dpkgDigest', 'dpkg'],
  ['reproduce', 'reproduce'],
];

/** One line of free text: newlines would break the frame. */
const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ').trim();

export function formatHeader(env: BuildEnvironment): string {
  const lines = FIELDS.map(([key, label]) => `${label}: ${env[key] ?? 'none'}`);
  return `${HEADER}\n${lines.join('\n')}\n${BODY}\n`;
}

export function formatEnding(ending: BuildEnding): string {
  switch (ending.kind) {
    case 'exit':
      return `exit status ${ending.code}`;
    case 'signal':
      return `killed by ${ending.signal}`;
    case 'timeout':
      return `timed out after ${ending.seconds} s`;
    case 'stopped':
      return `stopped: ${oneLine(ending.reason)}`;
    case 'error':
      return `error: ${oneLine(ending.message)}`;
  }
}

export function formatFooter(ending: BuildEnding): string {
  return `\n== piwheels build ended: ${formatEnding(ending)} ==\n`;
}

/** The whole log: header, pip's output untouched, footer. */
export function frameLog(env: BuildEnvironment, pipOutput: string, ending: BuildEnding): string {
  return `${formatHeader(env)}${pipOutput}${formatFooter(ending)}`;
}

/** The environment in a log's header, or null (no frame, or a frame that does not validate). */
export function parseEnvironment(log: string): BuildEnvironment | null {
  if (!log.startsWith(`${HEADER}\n`)) return null;
  const end = log.indexOf(`\n${BODY}\n`);
  if (end < 0) return null;
  const values = new Map<string, string>();
  for (const line of log.slice(HEADER.length + 1, end).split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) values.set(line.slice(0, colon), line.slice(colon + 2));
  }
  const raw: Record<string, string | null> = {};
  for (const [key, label] of FIELDS) {
    const value = values.get(label);
    raw[key] = value === undefined || value === 'none' ? null : value;
  }
  const parsed = BuildEnvironmentSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** How the build ended, from the log's last line, or null (no footer). */
export function parseEnding(log: string): BuildEnding | null {
  const last = log.trimEnd().split('\n').at(-1) ?? '';
  const match = FOOTER.exec(last);
  if (!match) return null;
  const text = match[1] ?? '';
  let m: RegExpExecArray | null;
  if ((m = /^exit status (-?\d{1,4})$/.exec(text))) return { kind: 'exit', code: Number(m[1]) };
  if ((m = /^killed by (SIG[A-Z0-9]{1,10})$/.exec(text))) return { kind: 'signal', signal: m[1] as string };
  if ((m = /^timed out after (\d{1,9}) s$/.exec(text))) return { kind: 'timeout', seconds: Number(m[1]) };
  if ((m = /^stopped: (.*)$/.exec(text))) return { kind: 'stopped', reason: m[1] as string };
  if ((m = /^error: (.*)$/.exec(text))) return { kind: 'error', message: m[1] as string };
  return null;
}
