// One build: `pip wheel <package>==<version>` in a private temporary
// directory, with a timeout, then inspection of every wheel it made. The
// slave starts a Build, polls it while reporting BUSY, and closes it (which
// kills whatever is still running and removes the directory) on DONE.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFooter, frameLog, type BuildEnding, type BuildEnvironment } from '../shared/build-log.ts';
import { canonicalizeName } from '../shared/names.ts';
import { reproduceCommand } from './environment.ts';
import { killGroup, trackGroup } from './process-group.ts';
import type { InspectedWheel } from '../shared/wheel/inspect.ts';

export interface BuildOptions {
  package: string;
  version: string;
  /** The interpreter whose pip builds the wheel. */
  python: string;
  /** The index the source comes from (the master's ACK). */
  indexUrl: string;
  /** More indexes, for build dependencies that have wheels. */
  extraIndexUrls: readonly string[];
  timeoutMs: number;
  /** Parent of the build's private temporary directory. */
  dir: string;
  /** Extra environment for the build (on top of this process's). */
  env?: Readonly<Record<string, string>>;
  /** Seconds between SIGTERM and SIGKILL when a build is stopped. */
  killGraceMs?: number;
  /** What the build runs on, for the log's header (the slave probes its machine); without it the log has only a footer. */
  describe?: (options: BuildOptions) => Promise<BuildEnvironment>;
}

export interface BuildResult {
  status: boolean;
  /** Time pip ran, in milliseconds (inspection excluded: users don't pay for it). */
  durationMs: number;
  output: string;
  wheels: InspectedWheel[];
}

/** Logs past this are cut in the middle: the master stores and serves them. */
export const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/** The pip command line (after the interpreter). */
export function pipArguments(options: BuildOptions, wheelDir: string, logFile: string): string[] {
  return [
    '-m',
    'pip',
    'wheel',
    `${options.package}==${options.version}`,
    `--wheel-dir=${wheelDir}`,
    `--log=${logFile}`,
    '--no-deps',
    '--no-cache-dir',
    // The package itself always from source; its build dependencies may be wheels.
    `--no-binary=${canonicalizeName(options.package)}`,
    '--prefer-binary',
    '--exists-action=w',
    '--disable-pip-version-check',
    '--no-input',
    // Machine-wide pip settings (PIP_* variables, user config) must not change
    // where sources come from: the master's index and the configured extras are the only ones.
    '--isolated',
    `--index-url=${options.indexUrl}`,
    ...options.extraIndexUrls.map((url) => `--extra-index-url=${url}`),
  ];
}

/** What the build sets in its environment beyond the slave's own (the reproduce command repeats these). */
export function buildSettings(tmp: string): Record<string, string> {
  return {
    PIP_NO_INPUT: '1',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    // Some setup.py files clone with git; never let that prompt or reach out.
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'file',
    // Lets a project know it is being built by a wheel farm.
    PIWHEELS_BUILD: '1',
    TMPDIR: tmp,
    LC_ALL: 'C.UTF-8',
  };
}

/** The command that repeats this build on a like machine (wheels to ./wheels, temporary files in /tmp). */
export function reproduceBuild(options: BuildOptions): string {
  const args = pipArguments(options, 'wheels', 'build.log').filter((a) => !a.startsWith('--log='));
  return reproduceCommand(options.python, args, buildSettings('/tmp'));
}

/** The build's environment: non-interactive, temporary files inside the build directory. */
export function buildEnvironment(
  base: Readonly<Record<string, string | undefined>>,
  tmp: string,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) if (value !== undefined) env[key] = value;
  Object.assign(env, buildSettings(tmp), extra);
  return env;
}

/** Keeps the head and the tail of an over-long log (the error is usually at the end). */
export function truncateOutput(output: string, max = MAX_OUTPUT_BYTES): string {
  const bytes = Buffer.from(output, 'utf8');
  if (bytes.length <= max) return output;
  const head = Math.floor(max / 4);
  const marker = `\n[... ${bytes.length - max} bytes of build output omitted ...]\n`;
  return (
    bytes.subarray(0, head).toString('utf8').replace(/\uFFFD$/, '') +
    marker +
    bytes.subarray(bytes.length - (max - head)).toString('utf8').replace(/^\uFFFD/, '')
  );
}

type Ending = { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null } | { kind: 'error'; error: Error };

export class Build {
  readonly options: BuildOptions;
  /** Settles when pip has finished and the wheels are inspected; never rejects. */
  readonly result: Promise<BuildResult>;
  private finished: BuildResult | null = null;
  private workDir: string | null = null;
  private pgid: number | null = null;
  private stopReason: string | null = null;
  private readonly abort = new AbortController();
  private stopRequested: (() => void) | null = null;

  constructor(options: BuildOptions) {
    this.options = options;
    this.result = this.run().then((result) => {
      this.finished = result;
      return result;
    });
  }

  /** The result, or null while the build is still running. */
  get done(): BuildResult | null {
    return this.finished;
  }

  /** Where the build's files live (null before it started or after close). */
  get directory(): string | null {
    return this.workDir;
  }

  /** Stops the build (if running), waits for it to settle, and removes its directory. */
  async close(reason = 'build stopped'): Promise<void> {
    this.stop(reason);
    await this.result;
    if (this.workDir !== null) {
      const dir = this.workDir;
      this.workDir = null;
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Asks a running build to stop; its result records the reason. */
  stop(reason: string): void {
    if (this.finished !== null || this.stopReason !== null) return;
    this.stopReason = reason;
    this.abort.abort(new Error(reason));
    this.stopRequested?.();
  }

  private async run(): Promise<BuildResult> {
    const { options } = this;
    let pipOutput = '';
    let durationMs = 0;
    // the log's frame: what the build ran on, and how pip ended; pip's own output stays as it was
    let environment: BuildEnvironment | null = null;
    const failed = (ending: BuildEnding): BuildResult => ({ status: false, durationMs, output: this.frame(environment, pipOutput, ending), wheels: [] });
    try {
      await mkdir(options.dir, { recursive: true });
      this.workDir = await mkdtemp(join(options.dir, 'piw-build-'));
      const wheelDir = join(this.workDir, 'wheels');
      const tmp = join(this.workDir, 'tmp');
      const logFile = join(this.workDir, 'build.log');
      await mkdir(wheelDir);
      await mkdir(tmp);
      environment = (await options.describe?.(options)) ?? null;
      if (this.stopReason !== null) return failed({ kind: 'stopped', reason: this.stopReason });

      const started = performance.now();
      const { ending, captured, timedOut } = await this.runPip(options, wheelDir, logFile, tmp);
      durationMs = performance.now() - started;

      const log = await readFile(logFile, 'utf8').catch(() => '');
      pipOutput = log.trim() !== '' ? log : captured;
      if (timedOut) return failed({ kind: 'timeout', seconds: Math.round(options.timeoutMs / 1000) });
      if (this.stopReason !== null) return failed({ kind: 'stopped', reason: this.stopReason });
      if (ending.kind === 'error') return failed({ kind: 'error', message: ending.error.message });
      if (ending.signal !== null) return failed({ kind: 'signal', signal: ending.signal });
      if (ending.code !== 0) return failed({ kind: 'exit', code: ending.code ?? -1 });

      const names = (await readdir(wheelDir)).filter((name) => name.endsWith('.whl')).sort();
      // the zip reader and apt lookups are loaded on the first successful build, not while idle
      const { inspectWheel } = await import('../shared/wheel/inspect.ts');
      const wheels: InspectedWheel[] = [];
      for (const name of names) wheels.push(await inspectWheel(join(wheelDir, name), this.abort.signal));
      if (this.stopReason !== null) return failed({ kind: 'stopped', reason: this.stopReason });
      return { status: true, durationMs, output: this.frame(environment, pipOutput, { kind: 'exit', code: 0 }), wheels };
    } catch (error) {
      return failed({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  }

  /** The log as sent: pip's output with the frame (only the footer when the environment is not known), cut to size. */
  private frame(environment: BuildEnvironment | null, pipOutput: string, ending: BuildEnding): string {
    return truncateOutput(environment !== null ? frameLog(environment, pipOutput, ending) : `${pipOutput}${formatFooter(ending)}`);
  }

  private runPip(
    options: BuildOptions,
    wheelDir: string,
    logFile: string,
    tmp: string,
  ): Promise<{ ending: Ending; captured: string; timedOut: boolean }> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const keep = (chunk: Buffer): void => {
        // Only a fallback for when pip writes no log; bounded all the same.
        if (size < MAX_OUTPUT_BYTES) chunks.push(chunk);
        size += chunk.length;
      };
      const child = spawn(options.python, pipArguments(options, wheelDir, logFile), {
        cwd: this.workDir ?? undefined,
        env: buildEnvironment(process.env, tmp, options.env),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let timedOut = false;
      let killing: Promise<void> | null = null;
      const killTree = (): void => {
        if (this.pgid !== null && killing === null) killing = killGroup(this.pgid, options.killGraceMs ?? 5000);
      };
      if (child.pid !== undefined) {
        this.pgid = child.pid;
        trackGroup(child.pid);
      }
      const timer = setTimeout(() => {
        timedOut = true;
        killTree();
      }, options.timeoutMs);
      this.stopRequested = killTree;
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let settled = false;
      const finish = (ending: Ending): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.stopRequested = null;
        // Whatever pip left behind in its group goes too (daemonised helpers, stuck compilers).
        killTree();
        void (killing ?? Promise.resolve()).then(() =>
          resolve({ ending, captured: Buffer.concat(chunks).toString('utf8'), timedOut }),
        );
      };
      child.on('error', (error) => finish({ kind: 'error', error }));
      child.on('exit', (code, signal) => {
        // Leftovers in the group may hold our pipes open, which would hold back
        // 'close': kill them now, and give up on the pipes if something that
        // left the group still holds them.
        killTree();
        void (killing ?? Promise.resolve()).then(() => {
          setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
            finish({ kind: 'exit', code, signal });
          }, 2000).unref();
        });
      });
      child.on('close', (code, signal) => finish({ kind: 'exit', code, signal }));
    });
  }
}
