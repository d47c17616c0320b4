// Web output: how long one package's pages take to re-render and write
// (what the secretary triggers after every build), and how fast the whole
// tree regenerates from project data, with peak memory. Synthetic but
// realistically shaped data (versions, two ABIs, wheels, aliases); set
// SITE_BENCH_PACKAGES to change the regeneration size (default 10,000) and
// SITE_BENCH_DB to choose the databases (default "sqlite,postgres"; PostgreSQL
// on 127.0.0.1:5432). The farm is written into a fresh database first, and
// regenerated from it as `astro build` does.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FarmStatistics, FileInfo, ProjectData, ReleaseData, SearchEntry } from '../shared/model.ts';
import { Scribe } from '../coordinator/pages/scribe.ts';
import type { RegenerateDatabase } from '../coordinator/pages/regenerate.ts';
import { buildSiteFromDatabase } from '../coordinator/pages/site-build.ts';
import { loadSiteRenderer } from '../coordinator/pages/site-bundle.ts';
import { projectView, simpleFiles, DEFAULT_SITE } from '../site/lib/views.ts';
import { openDatabase } from '../shared/db/index.ts';
import type { DialectName } from '../shared/db/connect.ts';
import { migrateTo, scratchDatabase } from '../test/helpers/db.ts';

/** Deterministic pseudo-random numbers so every run sees the same farm. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function hex(r: () => number): string {
  let out = '';
  while (out.length < 64) out += Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0');
  return out.slice(0, 64);
}

export function syntheticProject(index: number, versions: number): ProjectData {
  const r = rng(index + 1);
  const pkg = `bench-pkg-${index}`;
  const dist = pkg.replace(/-/g, '_');
  const releases: ReleaseData[] = [];
  for (let v = versions; v >= 1; v--) {
    const version = `${Math.floor(v / 10)}.${v % 10}.0`;
    const files: Record<string, FileInfo> = {};
    const abis: ReleaseData['abis'] = {};
    for (const [abi, py] of [['cp311', 'cp311'], ['cp313', 'cp313']] as const) {
      const ok = r() < 0.8;
      abis[abi] = { status: ok ? 'success' : 'fail', buildId: index * 100 + v };
      if (ok) {
        const filename = `${dist}-${version}-${py}-${py}-linux_armv7l.whl`;
        files[filename] = {
          filename,
          hash: hex(r),
          size: Math.floor(r() * 5_000_000),
          abiBuilder: abi,
          abiFile: py,
          platform: 'linux_armv7l',
          requiresPython: '>=3.8',
          aptDependencies: r() < 0.3 ? ['libatlas3-base', 'libgfortran5'] : [],
          pipDependencies: r() < 0.5 ? ['numpy'] : [],
          metadataHash: hex(r),
          builtAt: new Date(1_700_000_000_000 + v * 86_400_000),
          buildId: index * 100 + v,
        };
      }
    }
    releases.push({
      version,
      released: new Date(1_700_000_000_000 + v * 86_400_000),
      prerelease: false,
      yanked: v === versions - 1 && r() < 0.2,
      skip: '',
      abis,
      files,
      attempts: [],
      withheld: [],
      servedUpstream: [],
    });
  }
  return {
    package: pkg,
    name: `Bench_Pkg_${index}`,
    description: `Synthetic package number ${index} for the site benchmark <fast> & small`,
    builds: {},
    skip: '',
    aliases: [`Bench_Pkg_${index}`],
    releases,
    downloadsRecent: Math.floor(r() * 1000),
    downloadsAll: Math.floor(r() * 100_000),
  };
}

const STATS: FarmStatistics = {
  packagesBuilt: 0,
  buildsTime: 0,
  buildsSize: 0,
  filesCount: 0,
  newLastHour: 0,
  buildsLastHour: { cp311: 10, cp313: 12 },
  buildsPending: { cp311: 100, cp313: 50 },
  downloadsLastHour: 0,
  downloadsLastMonth: 0,
  downloadsAll: 0,
};

/** Builds each package's data on request, as a database would, instead of holding 10k in memory. */
class SyntheticDatabase implements RegenerateDatabase {
  constructor(private readonly count: number) {}
  private versions(i: number): number {
    return 1 + (i % 40 === 0 ? 60 : i % 12);
  }
  async getProjectData(pkg: string): Promise<ProjectData | null> {
    const i = Number(pkg.slice('bench-pkg-'.length));
    return Number.isInteger(i) && i < this.count ? syntheticProject(i, this.versions(i)) : null;
  }
  async getAllPackages(): Promise<string[]> {
    return Array.from({ length: this.count }, (_, i) => `bench-pkg-${i}`);
  }
  async getPackagesWithFiles(): Promise<string[]> {
    const all = await this.getAllPackages();
    return all.filter((_, i) => syntheticProject(i, this.versions(i)).releases.some((r) => Object.keys(r.files).length > 0));
  }
  async getPackageAliases(pkg: string): Promise<string[]> {
    return (await this.getProjectData(pkg))?.aliases ?? [];
  }
  async getStatistics(): Promise<FarmStatistics> {
    return STATS;
  }
  async getSearchIndex(): Promise<SearchEntry[]> {
    return (await this.getAllPackages()).map((p) => ({ package: p, description: 'x', downloadsRecent: 1, downloadsAll: 2 }));
  }
}

/** Records the synthetic farm's first `count` packages in the database at `dsn`. */
async function loadSyntheticFarm(dsn: string, count: number): Promise<void> {
  const db = await openDatabase(dsn);
  const source = new SyntheticDatabase(count);
  try {
    await db.addBuildAbi('cp311');
    await db.addBuildAbi('cp313');
    for (const pkg of await source.getAllPackages()) {
      const data = await source.getProjectData(pkg);
      if (data === null) continue;
      await db.addNewPackage(pkg, '', data.description);
      for (const alias of data.aliases) await db.addPackageName(pkg, alias, new Date(1_700_000_000_000));
      for (const release of [...data.releases].reverse()) await db.addNewPackageVersion(pkg, release.version, release.released);
      await db.logBuilds(
        data.releases.flatMap((release) =>
          Object.entries(release.abis).map(([abi, status], n) => ({
            package: pkg,
            version: release.version,
            abiTag: abi,
            status: status.status === 'success',
            duration: 60,
            slaveId: n + 1,
            builtAt: release.released,
            files: Object.values(release.files)
              .filter((f) => f.abiBuilder === abi)
              .map((f) => ({
                filename: f.filename,
                filesize: f.size,
                filehash: f.hash,
                packageTag: pkg.replace(/-/g, '_'),
                packageVersionTag: release.version,
                pyVersionTag: f.abiFile,
                abiTag: f.abiFile,
                platformTag: f.platform,
                requiresPython: f.requiresPython,
                dependencies: { apt: f.aptDependencies, pip: f.pipDependencies },
                metadataHash: f.metadataHash,
              })),
          })),
        ),
      );
    }
  } finally {
    await db.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

async function main(): Promise<void> {
  const renderer = await loadSiteRenderer();
  const rows: string[][] = [];

  // Rendering alone, no files: a small simple page and a typical project page.
  const small = syntheticProject(1, 3);
  const typical = syntheticProject(2, 12);
  for (let i = 0; i < 300; i++) await renderer.simplePackage(small.package, simpleFiles(small), 'x');
  const renderTimes: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const t = performance.now();
    await renderer.simplePackage(small.package, simpleFiles(small), 'x');
    renderTimes.push(performance.now() - t);
  }
  renderTimes.sort((a, b) => a - b);
  rows.push(['render small simple page (in-process Astro)', fmt(percentile(renderTimes, 50)), fmt(percentile(renderTimes, 99)), '']);
  const projectTimes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = performance.now();
    await renderer.project(projectView(typical), DEFAULT_SITE, 'x');
    projectTimes.push(performance.now() - t);
  }
  projectTimes.sort((a, b) => a - b);
  rows.push(['render project page, 12 versions', fmt(percentile(projectTimes, 50)), fmt(percentile(projectTimes, 99)), '']);

  // One package's pages re-rendered and written: project HTML + JSON, simple HTML + JSON, alias links.
  const out = await mkdtemp(join(tmpdir(), 'piw-site-bench-'));
  try {
    const db = new SyntheticDatabase(100);
    const scribe = await Scribe.create({ output: join(out, 'incremental'), db, renderer });
    for (const [label, versions] of [['12 versions', 12], ['61 versions', 61]] as const) {
      const data = syntheticProject(5, versions);
      for (let i = 0; i < 50; i++) await scribe.writeProject(data, { both: true });
      const times: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < 1000; i++) {
        const t = performance.now();
        await scribe.writeProject(data, { both: true });
        times.push(performance.now() - t);
      }
      const cpu = process.cpuUsage(cpu0);
      times.sort((a, b) => a - b);
      rows.push([
        `re-render + write one package (${label}), 4 files`,
        fmt(percentile(times, 50)),
        fmt(percentile(times, 99)),
        fmt((cpu.user + cpu.system) / 1000 / 1000),
      ]);
    }

    // Full regeneration from the database, as `astro build` and `piw-rebuild index` run it.
    const count = Number(process.env.SITE_BENCH_PACKAGES ?? 10_000);
    const dialects = (process.env.SITE_BENCH_DB ?? 'sqlite,postgres').split(',').filter((d): d is DialectName => d === 'sqlite' || d === 'postgres');
    const workers = availableParallelism();
    console.log('| measure | p50 | p99 | CPU per call |\n|---|---|---|---|');
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    console.log('\n| full regeneration from the database | packages | seconds | packages/s | CPU per package | peak RSS |\n|---|---|---|---|---|---|');
    for (const dialect of dialects) {
      const scratch = await scratchDatabase(dialect);
      try {
        await migrateTo(scratch.dsn);
        const loadStart = performance.now();
        await loadSyntheticFarm(scratch.dsn, count);
        console.error(`${dialect}: loaded ${count} packages in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
        globalThis.gc?.();
        let peak = process.memoryUsage().rss;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss);
        }, 50);
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const result = await buildSiteFromDatabase({ dsn: scratch.dsn, outputPath: join(out, `full-${dialect}`), site: DEFAULT_SITE }, { workers });
        const seconds = (performance.now() - t0) / 1000;
        // CPU of every thread of the process: what the work costs, whatever else the machine runs.
        const cpu = process.cpuUsage(cpu0);
        clearInterval(sampler);
        // Worker threads share the process, so the process's RSS covers them too.
        peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
        console.log(
          `| ${dialect}, synthetic farm (1-61 versions, 2 ABIs), ${workers} worker threads | ${result.packages.toLocaleString('en-US')} | ${seconds.toFixed(1)} | ${Math.round(result.packages / seconds).toLocaleString('en-US')} | ${((cpu.user + cpu.system) / 1000 / result.packages).toFixed(2)} ms | ${Math.round(peak / 2 ** 20)} MB |`,
        );
      } finally {
        await scratch.drop();
      }
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

await main();
