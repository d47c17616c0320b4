// A coordinator made of the real parts the operator tools talk to: MrChase
// and the Lumberjack on ipc endpoints, the file juggler on a loopback port,
// the scribe writing a real output tree, over a fresh database. Tools run as
// child processes through their bin/ shims.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { BuildRecorder } from '../../coordinator/builds/build-recorder.ts';
import { FileJuggler } from '../../coordinator/builds/file-juggler.ts';
import { Lumberjack } from '../../coordinator/access/lumberjack.ts';
import { MrChase } from '../../coordinator/builds/mr-chase.ts';
import type { PageRequest } from '../../coordinator/pages/page-request.ts';
import { Scribe } from '../../coordinator/pages/scribe.ts';
import { AccessStore } from '../../coordinator/access/access-store.ts';
import type { UpstreamCheck } from '../../coordinator/upstream/upstream-files.ts';
import { createDatabase, tempDir, type Dialect, type TestDatabase } from './tool-db.ts';

export interface Harness {
  t: TestDatabase;
  dir: string;
  output: string;
  importQueue: string;
  fileQueue: string;
  logQueue: string;
  chase: MrChase;
  jack: Lumberjack;
  deleted: Array<[string, string | null]>;
  pages: PageRequest[];
  stop(): Promise<void>;
}

export async function startHarness(
  dialect: Dialect,
  options: { fileQueue?: string; importQueue?: string; logQueue?: string; upstream?: UpstreamCheck } = {},
): Promise<Harness> {
  const t = await createDatabase(dialect, ['cp311', 'cp39']);
  const tmp = await tempDir();
  const output = join(tmp.path, 'www');
  const scribe = await Scribe.create({ output, db: t.db });
  await scribe.writeStaticPages();
  const juggler = new FileJuggler({ address: options.fileQueue ?? 'tcp://127.0.0.1:0', outputPath: output });
  const deleted: Array<[string, string | null]> = [];
  const pages: PageRequest[] = [];
  const recorder = new BuildRecorder({
    store: t.db,
    pages: {
      buildRecorded: (buildId, build) => {
        void scribe.writeLog(buildId, build.output).then(() => scribe.handle({ kind: 'BOTH', package: build.package }));
      },
    },
  });
  const chase = new MrChase({
    endpoint: options.importQueue ?? `ipc://${join(tmp.path, 'import')}`,
    deps: {
      db: t.db,
      transfers: juggler,
      recorder,
      pages: {
        request: async (request) => {
          pages.push(request);
          await scribe.handle(request);
        },
      },
      home: {
        forceHome: async () => {
          await scribe.writeHome(await t.db.getStatistics());
          await scribe.writeSearchIndex(await t.db.getSearchIndex());
        },
      },
      builds: { deleted: (pkg, version) => deleted.push([pkg, version]) },
      ...(options.upstream ? { upstream: options.upstream } : {}),
    },
  });
  const jack = new Lumberjack({
    endpoint: options.logQueue ?? `ipc://${join(tmp.path, 'logger')}`,
    deps: { store: new AccessStore(t.db) },
    flushInterval: 0.05,
  });
  await juggler.start();
  await chase.start();
  await jack.start();
  return {
    t,
    dir: tmp.path,
    output,
    importQueue: chase.endpoint!,
    fileQueue: juggler.endpoint!,
    logQueue: jack.endpoint!,
    chase,
    jack,
    deleted,
    pages,
    stop: async () => {
      await jack.stop();
      await chase.stop();
      await juggler.stop();
      await t.cleanup();
      await tmp.cleanup();
    },
  };
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/piw-<name>.js with the arguments; stdin is closed unless given. */
export function runTool(name: string, args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`bin/piw-${name}.js`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

export async function until(check: () => Promise<boolean> | boolean, what: string, seconds = 15): Promise<void> {
  for (let i = 0; i < seconds * 20; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface Tmux {
  run(...args: string[]): string;
  /** The visible text of the session's pane. */
  pane(): string;
  keys(...keys: string[]): void;
  /** True once the session has ended (its program exited). */
  gone(): boolean;
  kill(): void;
}

/** A private tmux server with one detached session running `command` on a width × height terminal. */
export function startTmux(name: string, command: string, width = 160, height = 40): Tmux {
  const run = (...args: string[]): string => execFileSync('tmux', ['-L', name, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run('new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), command);
  return {
    run,
    pane: () => run('capture-pane', '-p', '-t', name),
    keys: (...keys) => void run('send-keys', '-t', name, ...keys),
    gone: () => {
      try {
        run('has-session', '-t', name);
        return false;
      } catch {
        return true;
      }
    },
    kill: () => {
      try {
        run('kill-server');
      } catch {
        // already gone
      }
    },
  };
}

/**
 * Five access-log lines (combined format), one of each kind piw-logger
 * records: a wheel download by pip, a simple-page hit (a search), a project
 * page, a project JSON download and a page view.
 */
export function sampleAccessLog(pkg: string, wheel: string): string {
  const pip = 'pip/23.0.1 {"cpu":"armv7l","distro":{"name":"Raspbian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.11.2"},"installer":{"name":"pip","version":"23.0.1"},"python":"3.11.2","setuptools_version":"66.1.1","system":{"name":"Linux","release":"6.1.0-rpi7-rpi-v7"}}';
  const line = (second: string, path: string, agent: string): string =>
    `192.0.2.7 - - [25/Nov/2026:10:00:${second} +0000] "GET ${path} HTTP/1.1" 200 900 "-" "${agent.replace(/"/g, '\\"')}"\n`;
  return [
    line('00', `/simple/${pkg}/${wheel}`, pip),
    line('01', `/simple/${pkg}/`, pip),
    line('02', `/project/${pkg}/`, 'Mozilla/5.0'),
    line('03', `/project/${pkg}/json/`, 'curl/8.0'),
    line('04', '/faq.html', 'Mozilla/5.0'),
  ].join('');
}

/** Queries over piwheels' access tables, and what each returns after sampleAccessLog(pkg, wheel). */
export function sampleAccessRows(pkg: string, wheel: string): Array<{ query: string; rows: Array<Record<string, string>> }> {
  return [
    {
      query: 'SELECT filename, accessed_by, arch, distro_name, py_version, installer_version FROM downloads',
      rows: [{ filename: wheel, accessed_by: '192.0.2.7', arch: 'armv7l', distro_name: 'Raspbian GNU/Linux', py_version: '3.11.2', installer_version: '23.0.1' }],
    },
    { query: 'SELECT package FROM searches', rows: [{ package: pkg }] },
    { query: 'SELECT package FROM project_page_hits', rows: [{ package: pkg }] },
    { query: 'SELECT package FROM project_json_downloads', rows: [{ package: pkg }] },
    { query: 'SELECT page FROM web_page_hits', rows: [{ page: 'faq' }] },
  ];
}
