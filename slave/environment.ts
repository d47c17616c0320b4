// What a build runs on, for the header of its log (shared/build-log.ts): the
// OS, the Python and its pip / setuptools / wheel, a digest of the installed
// Debian packages, and the command that repeats the build on a like machine.
// Asked afresh for every build (a few tens of milliseconds), since an
// operator may upgrade a builder between builds. Parsing is pure; the probe
// at the bottom never fails a build: what it cannot learn it reports as
// unknown.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BuildEnvironmentSchema, type BuildEnvironment } from '../shared/build-log.ts';
import { readOsRelease } from '../shared/sysinfo.ts';

export const TOOL_VERSIONS_SCRIPT = `
import json, platform
try:
    from importlib import metadata
except ImportError:
    metadata = None
def version(name):
    try:
        return metadata.version(name)
    except Exception:
        return None
print(json.dumps({'python': platform.python_version(), 'pip': version('pip'), 'setuptools': version('setuptools'), 'wheel': version('wheel')}))
`;

const ToolVersionsSchema = z.object({
  python: z.string(),
  pip: z.string().nullable(),
  setuptools: z.string().nullable(),
  wheel: z.string().nullable(),
});
export type ToolVersions = z.infer<typeof ToolVersionsSchema>;

const UNKNOWN_TOOLS: ToolVersions = { python: 'unknown', pip: null, setuptools: null, wheel: null };

/** The probe's answer (its last line of output); unknown versions when it makes no sense. */
export function parseToolVersions(stdout: string): ToolVersions {
  try {
    const parsed = ToolVersionsSchema.safeParse(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
    return parsed.success ? parsed.data : UNKNOWN_TOOLS;
  } catch {
    return UNKNOWN_TOOLS;
  }
}

/** A digest of `dpkg-query -W` output that does not depend on the order of its lines. */
export function dpkgDigest(listing: string): string | null {
  const lines = listing
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
  if (lines.length === 0) return null;
  return `sha256:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
}

/** An argument as a POSIX shell reads it back unchanged. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_/.=:,+@%-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that repeats a build: the build's own settings (not this
 * machine's extra environment, which may hold secrets) and pip's arguments,
 * with the wheels going to ./wheels.
 */
export function reproduceCommand(python: string, pipArgs: readonly string[], settings: Readonly<Record<string, string>>): string {
  const env = Object.entries(settings).map(([k, v]) => `${k}=${shellQuote(v)}`);
  return ['env', ...env, shellQuote(python), ...pipArgs.map(shellQuote)].join(' ');
}

/** The environment as the log header states it; fields cut or dropped so that it always validates. */
export function buildEnvironment(os: string, tools: ToolVersions, digest: string | null, reproduce: string): BuildEnvironment {
  const version = (v: string | null): string | null => (v !== null && /^[^\s]{1,50}$/.test(v) ? v : null);
  const candidate = {
    os: os.replace(/[\r\n]+/g, ' ').trim().slice(0, 200) || 'Linux',
    python: version(tools.python) ?? 'unknown',
    pip: version(tools.pip),
    setuptools: version(tools.setuptools),
    wheel: version(tools.wheel),
    dpkgDigest: digest,
    reproduce: reproduce.replace(/[\r\n]+/g, ' ').slice(0, 2000),
  };
  return BuildEnvironmentSchema.parse(candidate);
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => resolve(error ? '' : stdout));
  });
}

/** Asks this machine what a build with `python` runs on. */
export async function probeEnvironment(python: string, reproduce: string): Promise<BuildEnvironment> {
  const [release, tools, listing] = await Promise.all([
    readOsRelease(),
    run(python, ['-c', TOOL_VERSIONS_SCRIPT]).then(parseToolVersions),
    run('dpkg-query', ['-W', '--showformat=${binary:Package} ${Version}\\n']),
  ]);
  const os = release.version === '' ? release.name : `${release.name} ${release.version}`;
  return buildEnvironment(os, tools, dpkgDigest(listing), reproduce);
}
