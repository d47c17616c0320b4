// A real piw-master (node bin/piw-master.js) as a child process, on loopback
// endpoints only (tcp://127.0.0.1 for slaves and files, ipc:// in its own
// directory for the rest), logging JSON to a file: what the fuzzing and
// crash campaigns attack, kill and restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from './farm.ts';

const REPO = join(fileURLToPath(import.meta.url), '..', '..', '..');

export interface MasterEndpoints {
  slaves: string;
  files: string;
  status: string;
  control: string;
  import: string;
  logger: string;
}

export interface LogEntry {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** Loopback endpoints for a master whose ipc:// sockets live in `dir`. */
export async function loopbackEndpoints(dir: string): Promise<MasterEndpoints> {
  return {
    slaves: `tcp://127.0.0.1:${await freePort()}`,
    files: `tcp://127.0.0.1:${await freePort()}`,
    status: `ipc://${dir}/status`,
    control: `ipc://${dir}/control`,
    import: `ipc://${dir}/import`,
    logger: `ipc://${dir}/logger`,
  };
}

export class MasterProcess {
  child: ChildProcess | undefined;
  /** Entries of the log already read by earlier starts (each start appends). */
  private started = 0;
  readonly logPath: string;

  constructor(
    readonly dir: string,
    readonly dsn: string,
    readonly output: string,
    readonly endpoints: MasterEndpoints,
    private readonly extraArgs: string[] = [],
  ) {
    this.logPath = join(dir, 'master.log');
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('piw-master is not running');
    return pid;
  }

  /** True while the child has not exited. */
  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts piw-master and resolves once every task has started (from its log). */
  async start(timeoutMs = 120_000): Promise<void> {
    this.started = this.entries().length;
    const e = this.endpoints;
    const args = [
      join(REPO, 'bin', 'piw-master.js'), '-d', this.dsn, '-o', this.output, '-l', this.logPath, '--no-follow',
      // slaves are simulated: no upstream is ever contacted
      '--pypi-simple', 'http://127.0.0.1:1/simple', '--pypi-xmlrpc', 'http://127.0.0.1:1/pypi', '--pypi-json', 'http://127.0.0.1:1/pypi',
      '--slave-queue', e.slaves, '--file-queue', e.files, '--status-queue', e.status, '--control-queue', e.control,
      '--import-queue', e.import, '--log-queue', e.logger, ...this.extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    this.child = child;
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`piw-master exited (${child.exitCode ?? child.signalCode}) while starting`);
      if (this.entries().slice(this.started).some((entry) => entry.msg === 'all tasks started')) return;
      if (Date.now() > end) throw new Error('piw-master did not start in time');
      await sleep(50);
    }
  }

  /** SIGKILL, resolving once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (a clean stop), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Resident memory of the master process in bytes (VmRSS), its threads included. */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    if (!match) throw new Error('no VmRSS in /proc status');
    return Number(match[1]) * 1024;
  }

  /** Every JSON log entry written so far (all starts). */
  entries(): LogEntry[] {
    if (!existsSync(this.logPath)) return [];
    const out: LogEntry[] = [];
    for (const line of readFileSync(this.logPath, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogEntry);
      } catch {
        // a line cut short by SIGKILL
      }
    }
    return out;
  }
}
