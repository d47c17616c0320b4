// The whole loop, end to end: a new release is uploaded upstream; how long
// until its wheel is in the farm's index and pip installs it? A local PyPI
// stand-in (piw-upstream) plays PyPI; piw-farm follows it with an allow-list
// (the same path as following the real PyPI), with its default settings
// (10 s changelog polls). The build's own time is measured apart, by running
// the slave's pip command by hand on the same sdist, so the farm's share
// shows. LOOP_BENCH_ROUNDS sets the number of uploads (default 3).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pipArguments } from '../slave/builder.ts';
import { UpstreamServer } from '../upstream/server.ts';
import { writeDemoSdist } from '../upstream/demo-samples/samples.ts';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..');
const PYTHON = '/usr/bin/python3';
const SAMPLE = 'piwdemo-hello';
const ROUNDS = Number(process.env.LOOP_BENCH_ROUNDS ?? 3);
// asynchronous: the upstream stand-in answers pip from this process's event loop
const run = promisify(execFile);

const dir = mkdtempSync(join(tmpdir(), 'piw-loop-'));
const files = join(dir, 'files');
mkdirSync(files);
const upstream = new UpstreamServer();
const base = await upstream.start();
const sdist = writeDemoSdist(SAMPLE, files, '1.0');
upstream.upload(SAMPLE, '1.0', { filename: sdist.filename, content: readFileSync(sdist.path) });
writeFileSync(join(dir, 'allow.txt'), `${SAMPLE}\n`);

let output = '';
const farm = spawn(
  process.execPath,
  [
    join(REPO, 'bin', 'piw-farm.js'),
    '--data-dir', join(dir, 'data'),
    '--allow-list', join(dir, 'allow.txt'),
    '--pypi-xmlrpc', `${base}/pypi`, '--pypi-simple', `${base}/simple`, '--pypi-json', `${base}/pypi`,
    '--port', '0', '--slave-port', '0', '--file-port', '0',
    '--python', PYTHON,
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
farm.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
farm.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 600_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (farm.exitCode !== null) throw new Error(`piw-farm exited while waiting for ${what}:\n${output}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${output}`);
    await sleep(100);
  }
}

async function wheelListed(indexUrl: string, version: string): Promise<true | undefined> {
  try {
    const response = await fetch(`${indexUrl}/${SAMPLE}/`);
    const text = await response.text();
    return text.includes(`piwdemo_hello-${version}-py3-none-any.whl`) ? true : undefined;
  } catch {
    return undefined;
  }
}

async function pipInstalls(indexUrl: string, version: string): Promise<true | undefined> {
  const target = mkdtempSync(join(dir, 'target-'));
  try {
    await run(
      PYTHON,
      ['-m', 'pip', 'install', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--quiet', '--index-url', indexUrl, '--target', target, `${SAMPLE}==${version}`],
      { env: { ...process.env, PIP_FIND_LINKS: '' } },
    );
    return true;
  } catch {
    return undefined;
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

async function buildByHand(version: string): Promise<number> {
  const work = mkdtempSync(join(dir, 'hand-'));
  const started = performance.now();
  const args = pipArguments(
    { package: SAMPLE, version, python: PYTHON, indexUrl: `${base}/simple`, extraIndexUrls: [], timeoutMs: 600_000, dir: work },
    join(work, 'wheels'),
    join(work, 'pip.log'),
  );
  try {
    await run(PYTHON, args, { env: { ...process.env, TMPDIR: work } });
    return performance.now() - started;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

try {
  const indexUrl = await until('the index line', () => /index:\s+(http\S+\/simple)\//.exec(output)?.[1]);
  await until('the first build', () => wheelListed(indexUrl, '1.0'));
  const totals: number[] = [];
  const builds: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const version = `1.${round}`;
    const next = writeDemoSdist(SAMPLE, files, version);
    const uploaded = performance.now();
    upstream.upload(SAMPLE, version, { filename: next.filename, content: readFileSync(next.path) });
    await until(`${version} in the index`, () => wheelListed(indexUrl, version));
    await until(`pip installing ${version}`, () => pipInstalls(indexUrl, version), 60_000);
    totals.push(performance.now() - uploaded);
    builds.push(await buildByHand(version));
    console.error(`round ${round}: ${seconds(totals.at(-1) as number)} upload to installable; the build alone ${seconds(builds.at(-1) as number)}`);
  }
  const total = median(totals);
  const build = median(builds);
  console.log('| figure | result | target |');
  console.log('|---|---|---|');
  console.log(
    `| upstream upload → wheel in the index, pip-installable (median of ${ROUNDS}; 10 s changelog polls) | ${seconds(total)} (build ${seconds(build)}, farm ${seconds(total - build)}) | ≤ 60 s + build time |`,
  );
} finally {
  farm.kill('SIGTERM');
  await new Promise((resolvePromise) => (farm.exitCode !== null ? resolvePromise(null) : farm.once('exit', resolvePromise)));
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
}
