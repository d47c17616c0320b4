// piw-logger + the coordinator's Lumberjack storing an access log: a
// generated 1M-line combined-format log (mostly wheel downloads by pip, some
// searches, project and page hits, a few bad lines; in time order over about
// a week, as a server writes it) is fed by the real piw-logger process to a
// Lumberjack writing to a fresh database. Timed from the start of piw-logger
// to the last record committed. Also: parsing alone, as piw-logger reads.
//
// LOGGER_BENCH_LINES=200000 for a quicker run; LOGGER_BENCH_DIALECTS=postgres
// to skip SQLite; LOGGER_BENCH_SINGLE=1 adds piw-logger --no-batch (piwheels'
// one message per record) on PostgreSQL.
import { createReadStream, createWriteStream } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Lumberjack } from '../coordinator/access/lumberjack.ts';
import { compileLogFormat, processLine } from '../coordinator/access/access-log.ts';
import { AccessStore } from '../coordinator/access/access-store.ts';
import { lineChunks } from '../coordinator/tools/logger.ts';
import { logBuild } from '../test/helpers/db.ts';
import { createDatabase, tempDir, type Dialect } from '../test/helpers/tool-db.ts';
import { runTool } from '../test/helpers/tool-harness.ts';

const LINES = Number(process.env.LOGGER_BENCH_LINES ?? 1_000_000);
const DIALECTS = (process.env.LOGGER_BENCH_DIALECTS ?? 'postgres,sqlite').split(',') as Dialect[];
const SINGLE = process.env.LOGGER_BENCH_SINGLE === '1';
const PACKAGES = 500;

const PIP = (v: string, py: string, arch: string): string =>
  `pip/${v} {"ci":null,"cpu":"${arch}","distro":{"id":"bookworm","libc":{"lib":"glibc","version":"2.36"},"name":"Raspbian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"${py}"},"installer":{"name":"pip","version":"${v}"},"openssl_version":"OpenSSL 3.0.11 19 Sep 2023","python":"${py}","setuptools_version":"66.1.1","system":{"name":"Linux","release":"6.1.21-v7+"}}`;
const AGENTS = [PIP('23.0.1', '3.11.2', 'armv7l'), PIP('24.0', '3.11.2', 'aarch64'), PIP('20.3.4', '3.9.2', 'armv6l')];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function wheel(i: number): string {
  return `pkg${i}-1.0-cp311-cp311-linux_armv7l.whl`;
}

/** A deterministic pseudo-random sequence (no Math.random: reproducible logs). */
function* numbers(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield x;
  }
}

async function writeLog(path: string): Promise<number> {
  const out = createWriteStream(path);
  const rnd = numbers(42);
  // the high bits: an LCG's low bits repeat with a short period
  const next = (): number => Math.floor((rnd.next().value as number) / 65536);
  let recordable = 0;
  let chunk: string[] = [];
  let second = Date.UTC(2026, 9, 1) / 1000;
  for (let i = 0; i < LINES; i++) {
    const r = next() % 1000;
    const host = `10.${next() % 256}.${next() % 256}.${next() % 256}`;
    second += next() % 2;
    const at = new Date(second * 1000);
    const time = `${String(at.getUTCDate()).padStart(2, '0')}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:${at.toISOString().slice(11, 19)} +0000`;
    const ua = (AGENTS[next() % AGENTS.length] ?? '').replace(/"/g, '\\"');
    const pkg = next() % PACKAGES;
    let line: string;
    if (r < 850) line = `${host} - - [${time}] "GET /simple/pkg${pkg}/${wheel(pkg)} HTTP/1.1" 200 81234 "-" "${ua}"`;
    else if (r < 950) line = `${host} - - [${time}] "GET /simple/pkg${pkg}/ HTTP/1.1" 200 2034 "-" "${ua}"`;
    else if (r < 975) line = `${host} - - [${time}] "GET /project/pkg${pkg}/ HTTP/1.1" 200 9034 "https://www.example.org/" "Mozilla/5.0 (X11; Linux x86_64)"`;
    else if (r < 998) line = `${host} - - [${time}] "GET /faq.html HTTP/1.1" 200 9034 "-" "Mozilla/5.0 (compatible; Googlebot/2.1)"`;
    else line = `garbage line ${i}`;
    if (r < 998) recordable += 1;
    chunk.push(line);
    if (chunk.length === 10_000) {
      if (!out.write(`${chunk.join('\n')}\n`)) await new Promise<void>((r2) => out.once('drain', () => r2()));
      chunk = [];
    }
  }
  out.end(chunk.length > 0 ? `${chunk.join('\n')}\n` : '');
  await new Promise<void>((r) => out.once('finish', () => r()));
  return recordable;
}

async function seed(db: Awaited<ReturnType<typeof createDatabase>>['db']): Promise<void> {
  for (let i = 0; i < PACKAGES; i++) {
    await db.addNewPackage(`pkg${i}`);
    await db.addNewPackageVersion(`pkg${i}`, '1.0', new Date('2026-09-01T00:00:00Z'));
    await logBuild(db, {
      package: `pkg${i}`, version: '1.0', abiTag: 'cp311', status: true, duration: 10, slaveId: 1, builtAt: new Date('2026-09-02T00:00:00Z'),
      files: [{
        filename: wheel(i), filesize: 81234, filehash: 'b'.repeat(64), packageTag: `pkg${i}`, packageVersionTag: '1.0',
        pyVersionTag: 'cp311', abiTag: 'cp311', platformTag: 'linux_armv7l', requiresPython: null, dependencies: { apt: [], pip: [] }, metadataHash: null,
      }],
    });
  }
}

interface Run {
  seconds: number;
  rss: number;
  /** CPU seconds of this process: the Lumberjack and the store. */
  cpu: number;
}

async function endToEnd(dialect: Dialect, logPath: string, recordable: number, dir: string, loggerArgs: string[] = []): Promise<Run> {
  const t = await createDatabase(dialect);
  try {
    await seed(t.db);
    const jack = new Lumberjack({ endpoint: `ipc://${join(dir, `logger-${dialect}`)}`, deps: { store: new AccessStore(t.db) } });
    await jack.start();
    let peakRss = 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const result = await runTool('logger', ['-q', '-q', ...loggerArgs, '--log-queue', jack.endpoint!, logPath]);
    if (result.code !== 0) throw new Error(`piw-logger failed: ${result.stderr}`);
    while (jack.stored + jack.failed < recordable) await new Promise((r) => setTimeout(r, 20));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    clearInterval(sampler);
    await jack.stop();
    if (jack.failed > 0) throw new Error(`${jack.failed} records failed to store`);
    const problems = await t.db.verifyDerived();
    if (problems.length > 0) throw new Error(`download counters wrong: ${problems.join('; ')}`);
    return { seconds, rss: peakRss, cpu: (used.user + used.system) / 1e6 };
  } finally {
    await t.cleanup();
  }
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
const rate = (seconds: number): string => Math.round(LINES / seconds).toLocaleString('en');
const dir = await tempDir('piw-logger-bench-');
try {
  const logPath = join(dir.path, 'access.log');
  const recordable = await writeLog(logPath);
  const parser = compileLogFormat('combined');
  const loadBefore = load();
  const parseStart = process.hrtime.bigint();
  let records = 0;
  for await (const lines of lineChunks(createReadStream(logPath, { highWaterMark: 1 << 20 }))) {
    for (const line of lines) if (line !== '' && processLine(parser, line).kind === 'record') records += 1;
  }
  const parseSeconds = Number(process.hrtime.bigint() - parseStart) / 1e9;
  if (records !== recordable) throw new Error(`parsed ${records} records, expected ${recordable}`);

  const rows: string[] = [];
  rows.push(`| parse + classify only (in process, one core) | ${LINES.toLocaleString('en')} | ${parseSeconds.toFixed(2)} s | ${rate(parseSeconds)} | — | — | ${load()} |`);
  const runs: Array<[string, Dialect, string[]]> = DIALECTS.map((d) => [d === 'postgres' ? 'PostgreSQL' : 'SQLite', d, []]);
  if (SINGLE) runs.push(['PostgreSQL, --no-batch', 'postgres', ['--no-batch']]);
  for (const [label, dialect, args] of runs) {
    const { seconds, rss, cpu } = await endToEnd(dialect, logPath, recordable, dir.path, args);
    rows.push(
      `| piw-logger → Lumberjack → ${label} | ${LINES.toLocaleString('en')} | ${seconds.toFixed(2)} s | ${rate(seconds)} | ${cpu.toFixed(1)} s | ${Math.round(rss / 1048576)} MB | ${load()} |`,
    );
  }
  console.log(`${recordable.toLocaleString('en')} of the ${LINES.toLocaleString('en')} lines are recorded (about 85% downloads, 10% searches, 5% page hits; the rest bad)`);
  console.log(`2 cores shared with piw-logger and the database server; load average (1, 5, 15 min) before: ${loadBefore}\n`);
  console.log('| path | lines | time | lines/s | coordinator CPU | coordinator RSS | load after |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
} finally {
  await dir.cleanup();
}
