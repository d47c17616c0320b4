// `npm start -- --offline` end to end: the farm comes up on a fresh data dir,
// builds the bundled samples, pip installs one from the printed index line,
// and Ctrl+C (SIGINT to the whole process group, as a terminal sends it)
// stops every process it started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const PYTHON = '/usr/bin/python3';

interface Farm {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startFarm(dataDir: string, extra: string[] = []): Farm {
  const args = [
    join(REPO, 'bin', 'piw-farm.js'),
    '--offline', '--data-dir', dataDir,
    '--port', '0', '--slave-port', '0', '--file-port', '0',
    '--python', PYTHON, '--poll-interval', '1',
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    ...extra,
  ];
  // its own process group, like a job in a terminal
  const child = spawn(process.execPath, args, { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolvePromise) =>
    child.once('exit', (code, signal) => resolvePromise({ code, signal })),
  );
  return { child, output: () => text, exited };
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, farm: Farm, timeoutMs = 240_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (farm.child.exitCode !== null) throw new Error(`the farm exited while waiting for ${what}:\n${farm.output()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${farm.output()}`);
    await sleep(200);
  }
}

/** Every process whose ancestry leads to `root` (from /proc). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      continue;
    }
  }
  const found: number[] = [];
  for (const pid of parents.keys()) {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

test('offline farm: builds the samples, pip installs from the printed index, SIGINT stops everything', { timeout: 400_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-start-'));
  const farm = startFarm(join(dir, 'data'));
  t.after(() => {
    if (farm.child.exitCode === null) process.kill(-(farm.child.pid as number), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const tryLine = await waitFor('the pip line', () => /try:\s+(pip install .*)$/m.exec(farm.output())?.[1], farm);
  const match = /^pip install --index-url (http:\/\/127\.0\.0\.1:\d+\/simple) (\S+)$/.exec(tryLine);
  assert.ok(match, `unexpected pip line: ${tryLine}`);
  const [, indexUrl, sample] = match as unknown as [string, string, string];
  assert.equal(sample, 'piwdemo-hello');

  // the slave is a child process of the farm
  const slaves = await waitFor('the slave process', () => {
    const kids = descendants(farm.child.pid as number);
    return kids.length > 0 ? kids : undefined;
  }, farm);
  assert.ok(slaves.length >= 1);

  // all three samples are decided: two wheels built, the broken one failed
  await waitFor('all builds', () => /builds: 2 built, 1 failed, 0 pending; 2 wheels/.test(farm.output()), farm);
  // the database has the builds; the pages follow once the page writer's short debounce has passed
  const page = await waitFor('the wheel on the simple page', async () => {
    const text = await (await fetch(`${indexUrl}/${sample}/`)).text();
    return /piwdemo_hello-1\.0-py3-none-any\.whl/.test(text) ? text : undefined;
  }, farm, 30_000);
  assert.match(page, /href="[^"]*piwdemo_hello-1\.0-py3-none-any\.whl#sha256=[0-9a-f]{64}"/);
  const json = await fetch(`${indexUrl}/${sample}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
  assert.equal(json.headers.get('content-type'), 'application/vnd.pypi.simple.v1+json');
  const site = indexUrl.replace(/\/simple$/, '');
  const project = await fetch(`${site}/project/piwdemo-broken/`);
  assert.equal(project.status, 200);

  const target = join(dir, 'target');
  const pip = spawnSync(
    PYTHON,
    ['-m', 'pip', 'install', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--index-url', indexUrl, '--target', target, sample],
    { encoding: 'utf8', env: { ...process.env, PIP_FIND_LINKS: '' }, timeout: 120_000 },
  );
  assert.equal(pip.status, 0, pip.stderr + pip.stdout);
  assert.ok(readdirSync(target).some((name) => name.startsWith('piwdemo_hello-1.0') && name.endsWith('.dist-info')));
  const run = spawnSync(PYTHON, ['-c', 'import piwdemo_hello; print(piwdemo_hello.greet("test"))'], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: target },
  });
  assert.match(run.stdout, /Hello, test!/);

  const before = [farm.child.pid as number, ...descendants(farm.child.pid as number)];
  process.kill(-(farm.child.pid as number), 'SIGINT');
  const { code } = await farm.exited;
  assert.equal(code, 0, farm.output());
  assert.match(farm.output(), /stopped\.\s*$/);
  for (let i = 0; i < 50 && before.some(alive); i++) await sleep(100);
  assert.deepEqual(before.filter(alive), [], 'processes left behind');
});

test('SIGTERM to the farm alone (as a service manager sends it) also stops its slave', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'piw-start-'));
  const farm = startFarm(join(dir, 'data'));
  t.after(() => {
    if (farm.child.exitCode === null) process.kill(-(farm.child.pid as number), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitFor('the banner', () => /Ctrl\+C stops the farm/.test(farm.output()), farm);
  const slaves = await waitFor('the slave process', () => {
    const kids = descendants(farm.child.pid as number);
    return kids.length > 0 ? kids : undefined;
  }, farm);
  farm.child.kill('SIGTERM');
  const { code } = await farm.exited;
  assert.equal(code, 0, farm.output());
  for (let i = 0; i < 100 && slaves.some(alive); i++) await sleep(100);
  assert.deepEqual(slaves.filter(alive), [], 'slave left behind');
});

test('a bad option ends in one line on stderr and exit code 2', { timeout: 120_000 }, () => {
  const result = spawnSync(process.execPath, [join(REPO, 'bin', 'piw-farm.js'), '--port', 'eighty'], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /^piw-farm: invalid configuration: port: .*option --port/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});
