// The crash campaign: simulated slaves build a burst of versions (real wheel
// files, transferred and verified) against a real piw-master child process,
// which is SIGKILLed at seeded random moments and started again. After each
// trial: every build the master acknowledged (DONE) is in the database with
// its file; every wheel under simple/ has the hash the database records and
// no temporary file is left; every recorded build's pages exist and list its
// files; piw-audit finds the tree and the database in agreement.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { openDatabase } from '../../shared/db/index.ts';
import type { Connection, DialectName } from '../../shared/db/connect.ts';
import { BurstSlave, wheelKey, type Acknowledged } from './burst-slave.ts';
import { runAudit, strayTempFiles, treeHashes } from './campaign-checks.ts';
import { migrateTo, openTables, scratchDatabase } from './db.ts';
import { MasterProcess, loopbackEndpoints } from './master-process.ts';
import { Prng } from './prng.ts';
import { buildWheel, type BuiltWheel } from './wheel.ts';

export const CRASH_ABI = 'cp311';

export interface CrashOptions {
  dialect: DialectName;
  trials: number;
  seed: number;
  packages?: number;
  versionsPerPackage?: number;
  slaves?: number;
  /** Progress lines (the benchmark prints them; tests stay quiet). */
  log?: (line: string) => void;
}

export interface TrialResult {
  trial: number;
  kills: number;
  acknowledged: number;
  recorded: number;
  /** Acknowledged builds missing from the database (or with another file). */
  lost: string[];
  /** Wheels whose bytes differ from the database's hash, and temporary files left behind. */
  partial: string[];
  /** Recorded builds whose project or index page is missing or does not list their files. */
  pagesMissing: string[];
  audit: string[];
  reconnections: number;
  seconds: number;
}

export interface CrashReport {
  trials: TrialResult[];
}

interface Version {
  package: string;
  version: string;
}

/** The burst's versions and a real wheel for each, made once and reused by every trial. */
export async function makeBurst(dir: string, packages: number, versionsPerPackage: number): Promise<{ versions: Version[]; wheels: Map<string, BuiltWheel> }> {
  const versions: Version[] = [];
  const wheels = new Map<string, BuiltWheel>();
  for (let p = 0; p < packages; p++) {
    for (let v = 0; v < versionsPerPackage; v++) {
      const entry = { package: `crash-p${p}`, version: `1.${v}` };
      versions.push(entry);
      // a few MB each, so that transfers take long enough to be cut short
      wheels.set(wheelKey(entry.package, entry.version), await buildWheel(join(dir, 'wheels'), `crash_p${p}`, entry.version, { padBytes: (2 + (v % 3)) << 20 }));
    }
  }
  return { versions, wheels };
}

async function seedDatabase(dsn: string, versions: readonly Version[]): Promise<void> {
  await migrateTo(dsn);
  const db = await openDatabase(dsn);
  try {
    await db.addBuildAbi(CRASH_ABI);
    const released = Date.parse('2024-01-01T00:00:00Z');
    for (const pkg of new Set(versions.map((v) => v.package))) await db.addNewPackage(pkg);
    for (const [i, v] of versions.entries()) await db.addNewPackageVersion(v.package, v.version, new Date(released + i * 1000));
    await db.rebuildDerived();
  } finally {
    await db.close();
  }
}

interface RecordedFile {
  package: string;
  version: string;
  build_id: number;
  filename: string | null;
  filehash: string | null;
}

async function recordedBuilds(db: Connection): Promise<RecordedFile[]> {
  const rows = await db.kysely
    .selectFrom('builds as b')
    .leftJoin('files as f', 'f.build_id', 'b.build_id')
    .select(['b.package', 'b.version', 'b.build_id', 'f.filename', 'f.filehash'])
    .where(sql<boolean>`b.status`)
    .where('b.abi_tag', '=', CRASH_ABI)
    .execute();
  return rows.map((r) => ({ ...r, build_id: Number(r.build_id), filehash: r.filehash?.trim() ?? null }));
}

/** Recorded builds whose simple or project page is missing or does not name their files. */
function pageProblems(output: string, recorded: readonly RecordedFile[]): string[] {
  const problems: string[] = [];
  for (const row of recorded) {
    if (row.filename === null) continue;
    for (const page of [join('simple', row.package, 'index.html'), join('project', row.package, 'index.html')]) {
      let html: string;
      try {
        html = readFileSync(join(output, page), 'utf8');
      } catch {
        problems.push(`${page} missing (build ${row.build_id})`);
        continue;
      }
      if (!html.includes(row.filename)) problems.push(`${page} does not list ${row.filename}`);
    }
  }
  return problems;
}

async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function runTrial(
  trial: number,
  options: CrashOptions,
  rng: Prng,
  burst: { versions: Version[]; wheels: Map<string, BuiltWheel> },
  workDir: string,
): Promise<TrialResult> {
  const started = Date.now();
  const log = options.log ?? ((): void => undefined);
  const dir = mkdtempSync(join(workDir, `trial${trial}-`));
  const scratch = await scratchDatabase(options.dialect);
  const output = join(dir, 'www');
  mkdirSync(output);
  const master = new MasterProcess(dir, scratch.dsn, output, await loopbackEndpoints(dir), ['--idle-hold', '1', '--page-window', '0.2']);
  const acknowledged: Acknowledged[] = [];
  const slaves: BurstSlave[] = [];
  let db: Connection | undefined;
  try {
    await seedDatabase(scratch.dsn, burst.versions);
    await master.start();
    const deadline = Date.now() + 600_000;
    for (let n = 0; n < (options.slaves ?? 4); n++) {
      slaves.push(
        new BurstSlave({
          label: `sim${n}`, slaveEndpoint: master.endpoints.slaves, fileEndpoint: master.endpoints.files, abi: CRASH_ABI,
          wheels: burst.wheels, onDone: (build) => acknowledged.push(build), replyTimeout: 4,
        }),
      );
    }
    const running = slaves.map((slave) => slave.run(deadline));
    const total = burst.versions.length;
    // one or two kills, each once a random share of the burst is acknowledged, up to 150 ms later
    const kills = rng.chance(0.5) ? 2 : 1;
    const thresholds = Array.from({ length: kills }, () => rng.int(0, total - 1)).sort((a, b) => a - b);
    for (const threshold of thresholds) {
      await waitUntil(`${threshold} acknowledged builds`, 180_000, async () => (acknowledged.length >= threshold ? true : undefined));
      await sleep(rng.int(0, 150));
      await master.kill();
      log(`  trial ${trial}: killed with ${acknowledged.length}/${total} acknowledged`);
      await sleep(rng.int(0, 300));
      await master.start();
    }
    db = await openTables(scratch.dsn);
    const dbNow = db;
    // the burst is over when every version has a successful build
    await waitUntil('the burst to finish', 300_000, async () => {
      const built = new Set((await recordedBuilds(dbNow)).map((r) => wheelKey(r.package, r.version)));
      return built.size >= total ? true : undefined;
    });
    for (const slave of slaves) slave.stop();
    await Promise.all(running);
    // pages of the last builds: give the writer a bounded while to catch up
    let recorded = await recordedBuilds(db);
    let pagesMissing = pageProblems(output, recorded);
    for (let tries = 0; tries < 50 && pagesMissing.length > 0; tries++) {
      await sleep(200);
      recorded = await recordedBuilds(db);
      pagesMissing = pageProblems(output, recorded);
    }
    const lost: string[] = [];
    for (const ack of acknowledged) {
      const row = recorded.find((r) => r.package === ack.package && r.version === ack.version && r.filename === ack.filename);
      if (row === undefined) lost.push(`${ack.package} ${ack.version}: acknowledged to ${ack.slave}, not in the database`);
      else if (row.filehash !== ack.sha256) lost.push(`${ack.package} ${ack.version}: database has hash ${row.filehash}`);
    }
    const partial: string[] = [];
    const hashes = new Map(recorded.filter((r) => r.filename !== null).map((r) => [join('simple', r.package, r.filename!), r.filehash]));
    for (const [path, hash] of await treeHashes(output, ['simple'])) {
      if (!path.endsWith('.whl')) continue;
      if (hashes.get(path) !== hash) partial.push(`${path}: ${hash}, database has ${hashes.get(path) ?? 'nothing'}`);
    }
    partial.push(...(await strayTempFiles(output)).map((path) => `${path}: temporary file left behind`));
    await db.close();
    db = undefined;
    await master.stop();
    const audit = await runAudit(scratch.dsn, output);
    const auditProblems = audit.status === 0 ? [] : audit.problems.length > 0 ? audit.problems : [`piw-audit exited with ${audit.status}`];
    return {
      trial, kills, acknowledged: acknowledged.length, recorded: recorded.length, lost, partial, pagesMissing, audit: auditProblems,
      reconnections: slaves.reduce((n, s) => n + s.connections - 1, 0), seconds: (Date.now() - started) / 1000,
    };
  } finally {
    for (const slave of slaves) slave.stop();
    await db?.close();
    await master.kill();
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runCrashCampaign(options: CrashOptions): Promise<CrashReport> {
  const rng = new Prng(options.seed);
  const workDir = mkdtempSync(join(tmpdir(), 'piw-crash-'));
  try {
    const burst = await makeBurst(workDir, options.packages ?? 6, options.versionsPerPackage ?? 4);
    const trials: TrialResult[] = [];
    for (let trial = 1; trial <= options.trials; trial++) {
      const result = await runTrial(trial, options, rng.fork(), burst, workDir);
      options.log?.(
        `  trial ${trial}: ${result.kills} kills, ${result.acknowledged} acknowledged, ${result.recorded} recorded, lost ${result.lost.length}, ` +
          `partial ${result.partial.length}, pages missing ${result.pagesMissing.length}, audit ${result.audit.length} (${result.seconds.toFixed(1)} s)`,
      );
      for (const line of [...result.lost, ...result.partial, ...result.pagesMissing, ...result.audit]) options.log?.(`    ${line}`);
      trials.push(result);
    }
    return { trials };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
