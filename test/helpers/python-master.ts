// The original Python piwheels, from a checkout named by PIWHEELS_SRC, for
// the opt-in interop tests: running its programs (piw-initdb, piw-add, ...)
// and a whole Python piw-master on a throwaway PostgreSQL database.
//
// What the Python master needs here, besides Debian's python3-sqlalchemy,
// python3-psycopg2, python3-chameleon, python3-requests, python3-simplejson,
// python3-zmq, python3-cbor2, python3-voluptuous, python3-configargparse,
// python3-dateutil and python3-packaging:
// - it refuses to run as root, so as root it runs as "nobody" (its output
//   tree and ipc sockets live in world-writable temp directories);
// - piw-initdb wants a superuser connection and a separate non-superuser
//   role for the master, so each run creates a database and a role;
// - it has no build ABIs until one is inserted into build_abis;
// - its page writer fetches https://blog.piwheels.org/posts.json for the home
//   page and stops the master when that fails; it is given an HTTPS proxy
//   (HTTPS_PROXY, REQUESTS_CA_BUNDLE) that answers for the blog with an empty
//   post list, so nothing leaves the machine;
// - its changelog reader always speaks https to --pypi-xmlrpc, which our
//   plain-http upstream cannot answer; it treats that as "no news", so the
//   packages to build are seeded with the database's own functions
//   (add_new_package, add_new_package_version). The upstream still serves the
//   sdists: the master hands its --pypi-simple to slaves as their index.
// piw-logger also needs lars (not packaged by Debian; its checkout is named by
// LARS_SRC), which needs Debian's python3-pygeoip.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { UpstreamServer } from '../../upstream/server.ts';
import { PG_ADMIN, adminQuery } from './db.ts';
import { buildSdist, type FixtureName } from '../fixtures/packages/sdist.ts';
import { PYTHON, freePort, waitFor } from './farm.ts';

export const PIWHEELS_SRC = process.env.PIWHEELS_SRC;
export const LARS_SRC = process.env.LARS_SRC;

/** The environment piwheels' programs run in: Debian's modules plus the checkouts. */
export function piwheelsEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const path = [PIWHEELS_SRC, LARS_SRC].filter((p): p is string => p !== undefined && p !== '').join(':');
  return { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), PYTHONPATH: path, ...extra };
}

/** `command` prefixed to run as "nobody" when we are root (piwheels' daemons refuse root). */
export function unprivileged(command: string[]): string[] {
  return process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...command] : command;
}

/** `python -c` that runs the `main` of piwheels' module (e.g. "master", "add"). */
export function piwheelsCommand(module: string, args: string[]): string[] {
  return [PYTHON, '-c', `import sys; from piwheels.${module} import main; sys.exit(main())`, ...args];
}

/** True when piwheels' piw-logger can be imported (lars and its pygeoip present). */
export function hasPythonLogger(): boolean {
  if (PIWHEELS_SRC === undefined) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import piwheels.logger'], { env: piwheelsEnv(), stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface PythonResult {
  code: number | null;
  output: string;
}

/** Runs one of piwheels' programs to completion, stdout and stderr together. */
export function runPiwheels(module: string, args: string[], stdin = ''): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const [program, ...rest] = piwheelsCommand(module, args);
    const child = spawn(program!, rest, { stdio: ['pipe', 'pipe', 'pipe'], env: piwheelsEnv() });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(stdin);
  });
}

interface BlogStandIn {
  proxy: string;
  caFile: string;
  close(): void;
}

// An HTTPS proxy that answers CONNECT blog.piwheels.org:443 itself, with a
// certificate made for the occasion, and refuses every other destination.
async function startBlogStandIn(dir: string): Promise<BlogStandIn> {
  const key = join(dir, 'blog-key.pem');
  const cert = join(dir, 'blog-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', key, '-out', cert,
    '-subj', '/CN=blog.piwheels.org', '-addext', 'subjectAltName=DNS:blog.piwheels.org'], { stdio: 'ignore' });
  chmodSync(cert, 0o644);
  const blog = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    res.writeHead(req.url === '/posts.json' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/posts.json' ? '{"posts": []}' : '{}');
  });
  const sockets = new Set<Socket>();
  const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (req.url !== 'blog.piwheels.org:443') {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    blog.emit('connection', socket);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  if (address === null || typeof address === 'string') throw new Error('the blog stand-in has no port');
  return {
    proxy: `http://127.0.0.1:${address.port}`,
    caFile: cert,
    close() {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    },
  };
}

export interface PythonMasterOptions {
  /** Build ABIs to insert into build_abis. */
  abis: string[];
  /** Fixture projects served by the upstream and seeded as packages to build. */
  fixtures?: FixtureName[];
  /** Called as the master process is launched (benchmarks time its start from here). */
  onSpawn?: (master: { pid: number; slaveQueue: string }) => void;
}

export interface PythonMaster {
  dir: string;
  output: string;
  upstream: string;
  slaveQueue: string;
  fileQueue: string;
  statusQueue: string;
  controlQueue: string;
  importQueue: string;
  logQueue: string;
  /** Resolves to the master's exit code once it has stopped. */
  exited: Promise<number | null>;
  /** The master's own log so far. */
  log(): string;
  /** Runs SQL on the master's database as the superuser. */
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  stop(): Promise<void>;
}

export async function startPythonMaster(options: PythonMasterOptions): Promise<PythonMaster> {
  if (PIWHEELS_SRC === undefined) throw new Error('PIWHEELS_SRC names no piwheels checkout');
  const dir = mkdtempSync(join(tmpdir(), 'piw-pymaster-'));
  chmodSync(dir, 0o755);
  const writable = (name: string): string => {
    const path = join(dir, name);
    mkdirSync(path);
    chmodSync(path, 0o777);
    return path;
  };
  const output = writable('www');
  const run = writable('run');
  const files = join(dir, 'upstream');
  mkdirSync(files);
  const fixtures = (options.fixtures ?? []).map((fixture) => buildSdist(fixture, files));

  const name = `piw_py_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE ROLE ${name} LOGIN`);
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN);
  url.protocol = 'postgresql:'; // SQLAlchemy 1.4 knows no "postgres:" scheme
  url.pathname = `/${name}`;
  const superDsn = url.toString();
  url.username = name;
  const masterDsn = url.toString();
  const admin = new pg.Client({ connectionString: superDsn });
  const cleanups: Array<() => Promise<void> | void> = [
    () => rmSync(dir, { recursive: true, force: true }),
    () => adminQuery(`DROP ROLE IF EXISTS ${name}`),
    () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  ];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const initdb = await runPiwheels('initdb', ['-d', superDsn, '-u', name, '-y']);
    if (initdb.code !== 0) throw new Error(`piwheels' piw-initdb failed: ${initdb.output}`);
    await admin.connect();
    cleanups.push(() => admin.end());
    for (const abi of options.abis) await admin.query('INSERT INTO build_abis (abi_tag) VALUES ($1)', [abi]);
    for (const sdist of fixtures) {
      await admin.query("SELECT add_new_package($1, '', '')", [sdist.name]);
      await admin.query("SELECT add_new_package_version($1, $2, NULL, '')", [sdist.name, sdist.version]);
    }

    const upstream = new UpstreamServer({ dir: files });
    const base = await upstream.start();
    cleanups.push(() => upstream.stop());
    const blog = await startBlogStandIn(dir);
    cleanups.push(() => blog.close());

    const slaveQueue = `tcp://127.0.0.1:${await freePort()}`;
    const fileQueue = `tcp://127.0.0.1:${await freePort()}`;
    const queue = (q: string): string => `ipc://${join(run, q)}`;
    const [statusQueue, controlQueue, importQueue, logQueue] = [queue('status'), queue('control'), queue('import'), queue('logger')];
    const logPath = join(dir, 'master.log');
    const fd = openSync(logPath, 'a');
    const [program, ...args] = unprivileged(piwheelsCommand('master', [
      '-d', masterDsn, '-o', output, '--dev-mode',
      '--pypi-xmlrpc', `${base}/pypi`, '--pypi-simple', `${base}/simple`, '--pypi-json', `${base}/pypi`,
      '--status-queue', statusQueue, '--control-queue', controlQueue, '--import-queue', importQueue, '--log-queue', logQueue,
      '--slave-queue', slaveQueue, '--file-queue', fileQueue,
    ]));
    const child = spawn(program!, args, {
      cwd: run,
      stdio: ['ignore', fd, fd],
      env: piwheelsEnv({ HOME: run, HTTPS_PROXY: blog.proxy, NO_PROXY: '127.0.0.1,localhost', REQUESTS_CA_BUNDLE: blog.caFile }),
    });
    closeSync(fd);
    if (child.pid !== undefined) options.onSpawn?.({ pid: child.pid, slaveQueue });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));
    const log = (): string => readFileSync(logPath, 'utf8');
    const stopMaster = async (): Promise<void> => {
      if (!running) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    };
    cleanups.push(stopMaster);
    await waitFor('the Python master to start', () => {
      if (!running) throw new Error(`the Python master exited:\n${log()}`);
      return log().includes('all tasks ready');
    }, 120_000);
    return {
      dir, output, upstream: base, slaveQueue, fileQueue, statusQueue, controlQueue, importQueue, logQueue, exited, log,
      query: async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await admin.query<R>(text, params)).rows,
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
