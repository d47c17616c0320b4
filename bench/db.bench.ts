// Database benchmark on the full-scale farm (886k packages, 6.16M versions,
// 8.13M builds, 7.3M files, 3M downloads), both dialects, beside the figures
// of the original piwheels on the same data. Loads the dataset first (or
// reuses an earlier load): see bench/farm-data.ts for where it comes from.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '../shared/db/connect.ts';
import { Database } from '../shared/db/index.ts';
import { countVersionBuilds, largestPackage, logBuild } from '../test/helpers/db.ts';
import {
  BENCH_PG_ADMIN,
  BENCH_PG_DBNAME,
  farmDataDir,
  loadPostgres,
  loadSqlite,
  readManifest,
  sqlitePath,
  type LoadReport,
} from './farm-data.ts';

const dataDir = farmDataDir();
if (!existsSync(join(dataDir, 'manifest.json'))) {
  console.log(`No dataset in ${dataDir}: generate one with gen_dataset.py --out DIR and pass --data DIR or PIW_FARM_DATA=DIR.`);
  process.exit(0);
}
const manifest = readManifest(dataDir) as ReturnType<typeof readManifest> & { now?: string };
const now = manifest.now ? new Date(`${manifest.now}Z`) : new Date();
const reload = process.argv.includes('--reload');

async function time<T>(runs: number, work: () => Promise<T>): Promise<{ median: number; result: T }> {
  let result = await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    result = await work();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] ?? 0, result };
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : value >= 10 ? `${value.toFixed(0)} ms` : `${value.toFixed(2)} ms`;
}

interface Figures {
  load: LoadReport;
  queue1000: number;
  queue10: number;
  queueSizes: string;
  project: number;
  projectName: string;
  projectReleases: number;
  statistics: number;
  search: number;
  searchEntries: number;
  logBuild: number;
}

async function measure(load: LoadReport): Promise<Figures> {
  const conn = await connect(load.dsn);
  const db = new Database(conn);
  try {
    const projectName = await largestPackage(conn);
    const q1000 = await time(5, () => db.getBuildQueue(1000));
    const q10 = await time(5, () => db.getBuildQueue(10));
    const project = await time(20, () => db.getProjectData(projectName, now));
    const statistics = await time(10, () => db.getStatistics(now));
    const search = await time(3, () => db.getSearchIndex(now));

    // Recording a build (with the queue and counters it moves), then taking
    // it out again so the loaded data stays as generated.
    const candidates = (await db.getBuildQueue(20)).get('cp39') ?? [];
    const times: number[] = [];
    let n = 0;
    for (const { package: pkg, version } of candidates) {
      if ((await countVersionBuilds(conn, pkg, version)) > 0) continue;
      const t0 = performance.now();
      await logBuild(db, {
        package: pkg,
        version,
        abiTag: 'cp39',
        status: true,
        duration: 42,
        slaveId: 1,
        builtAt: new Date(now.getTime() + n * 1000),
        files: [
          {
            filename: `${pkg.replace(/-/g, '_')}-${version}-py3-none-any.bench.whl`,
            filesize: 12345,
            filehash: 'f'.repeat(64),
            packageTag: pkg.replace(/-/g, '_'),
            packageVersionTag: version,
            pyVersionTag: 'py3',
            abiTag: 'none',
            platformTag: 'any',
            requiresPython: null,
            dependencies: { apt: ['libc6'], pip: [] },
            metadataHash: null,
          },
        ],
      });
      times.push(performance.now() - t0);
      n += 1;
      await db.deleteBuild(pkg, version);
    }
    times.sort((a, b) => a - b);
    return {
      load,
      queue1000: q1000.median,
      queue10: q10.median,
      queueSizes: [...q1000.result].map(([abi, list]) => `${abi}: ${list.length}`).join(', '),
      project: project.median,
      projectName,
      projectReleases: project.result?.releases.length ?? 0,
      statistics: statistics.median,
      search: search.median,
      searchEntries: search.result.length,
      logBuild: times[Math.floor(times.length / 2)] ?? 0,
    };
  } finally {
    await db.close();
  }
}

// --only postgres|sqlite measures one dialect (loading the SQLite copy takes
// the longer of the two).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const measured: Array<[string, Figures]> = [];
if (only !== 'sqlite') measured.push(['PostgreSQL', await measure(await loadPostgres(dataDir, BENCH_PG_ADMIN, BENCH_PG_DBNAME, reload))]);
if (only !== 'postgres') measured.push(['SQLite', await measure(await loadSqlite(dataDir, sqlitePath(dataDir), reload))]);

const column = (f: (x: Figures) => string): string[] => measured.map(([, x]) => f(x));
const first = measured[0]?.[1];
const rows: Array<[string, string, ...string[]]> = [
  ['build queue, first 1000 per ABI', '67 s', ...column((x) => ms(x.queue1000))],
  ['build queue, first 10 per ABI', '—', ...column((x) => ms(x.queue10))],
  [`project data, largest package (${first?.projectName}, ${first?.projectReleases} versions)`, '50 ms', ...column((x) => ms(x.project))],
  ['statistics', '3.6 s', ...column((x) => ms(x.statistics))],
  [`search index (${first?.searchEntries} packages)`, '8 min 48 s', ...column((x) => ms(x.search))],
  ['log one build (queue and counters kept)', '—', ...column((x) => ms(x.logBuild))],
  ['load dataset (bulk load, indexes, derived tables)', '—', ...column((x) => (x.load.reused ? 'reused' : `${(x.load.loadSeconds / 60).toFixed(1)} min`))],
  ['  of which derived tables (queue, counters)', '—', ...column((x) => (x.load.reused ? '—' : `${x.load.derivedSeconds.toFixed(0)} s`))],
  ['database size', '—', ...column((x) => `${(x.load.bytes / 2 ** 30).toFixed(2)} GiB`)],
];

console.log(`| figure | original (PostgreSQL) | ${measured.map(([name]) => name).join(' | ')} |`);
console.log(`|---|---|${measured.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
console.log(`\nMedians of repeated runs. Queue sizes at 1000: ${measured.map(([name, x]) => `${name} ${x.queueSizes}`).join('; ')}.`);
