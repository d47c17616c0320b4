// Runs Debian's nginx on a random port with the project's site config
// (deploy/nginx/piwheels.conf) pointed at a temporary output tree.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../coordinator/pages/site-bundle.ts';
import { freePort } from './farm.ts';

export interface Nginx {
  port: number;
  base: string;
  accessLog: string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start listening');
}

/** The deploy config with listen/root/log lines swapped for the test's own. */
export async function testConfig(root: string, work: string, port: number): Promise<string> {
  const site = (await readFile(join(REPO_ROOT, 'deploy', 'nginx', 'piwheels.conf'), 'utf8'))
    .replace(/^\s*listen\s+\[::\].*$/m, '')
    .replace(/^(\s*)listen\s+.*;$/m, `$1listen 127.0.0.1:${port};`)
    .replace(/^(\s*)root\s+.*;$/m, `$1root ${root};`)
    .replace(/^(\s*)access_log\s+.*;$/m, `$1access_log ${join(work, 'access.log')} probe;`)
    .replace(/^(\s*)error_log\s+.*;$/m, `$1error_log ${join(work, 'error.log')};`);
  return `user root;
worker_processes 1;
pid ${join(work, 'nginx.pid')};
error_log ${join(work, 'error.log')};
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  log_format probe '$request_method $request_uri $status "$sent_http_content_type" "$http_accept"';
  client_body_temp_path ${work}/client_body;
  proxy_temp_path ${work}/proxy;
  fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi;
  scgi_temp_path ${work}/scgi;
${site}
}
`;
}

export async function startNginx(root: string, work: string): Promise<Nginx> {
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  await writeFile(conf, await testConfig(root, work, port));
  const child = spawn('/usr/sbin/nginx', ['-p', work, '-c', conf, '-e', join(work, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  try {
    await waitForPort(port, child);
  } catch (error) {
    child.kill('SIGTERM');
    throw new Error(`${error instanceof Error ? error.message : String(error)}: ${stderr}`);
  }
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    accessLog: join(work, 'access.log'),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGQUIT');
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A plain HTTP GET with exactly the given headers (no automatic decompression). */
export function get(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
