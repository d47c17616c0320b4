// Everything a project's pages need, read in one snapshot: the package, its
// name spellings, its releases with their per-ABI status and wheels (with
// their dependencies) and what upstream serves of them, and its download
// counts.
import { sql } from 'kysely';
import type { AttemptInfo, BuildDetails, FileInfo, ProjectData, ReleaseData, ServedUpstream, WithheldFile } from '../model.ts';
import { releaseTargetStatuses, withUpstream, type BuildOutcome } from './project.ts';
import type { BuildTarget } from '../target.ts';
import type { Db, Store } from './store.ts';
import { attemptFromRow, environmentFromRow, failureFromRow } from './triage.ts';
import { fromDbFlag, fromDbTimestamp, recentFirstDay } from './values.ts';
import { compareVersionKeys, keyIsPrerelease, versionKey } from './versions.ts';

/** Everything a project's pages need, or null for an unknown package. */
export async function getProjectData(store: Store, pkg: string, now: Date = new Date()): Promise<ProjectData | null> {
  return (await getProjectDataMany(store, [pkg], now))[0] ?? null;
}

/**
 * getProjectData for several packages, in the order asked: the same queries,
 * each over all of them, so a full regeneration pays a few round trips per
 * batch of packages instead of seven per package.
 */
export async function getProjectDataMany(store: Store, pkgs: readonly string[], now: Date = new Date()): Promise<Array<ProjectData | null>> {
  if (pkgs.length === 0) return [];
  let tx = store.conn.kysely.transaction();
  if (store.conn.dialect === 'postgres') tx = tx.setIsolationLevel('repeatable read');
  return tx.execute(async (db) => {
    const rows = await db.selectFrom('packages').select(['package', 'skip', 'description']).where('package', 'in', [...pkgs]).execute();
    const known = new Map(rows.map((r) => [r.package, r]));
    const present = pkgs.filter((p) => known.has(p));
    if (present.length === 0) return pkgs.map(() => null);
    const names = byPackage(await readNames(db, present));
    const targets = await store.derived.targets(db);
    const versions = byPackage(await readVersions(db, present));
    const buildRows = byPackage(await readBuildRows(db, present));
    const allDeps = await readDependencies(db, present);
    const preinstalled = await readPreinstalled(db, [...new Set(allDeps.filter((d) => d.tool === 'apt').map((d) => d.dependency))]);
    const deps = byPackage(allDeps);
    const downloads = await readDownloads(db, present, now);
    const details = await readBuildDetails(db, present);
    const attempts = byPackage(await readAttempts(db, present));
    const withheld = byPackage(await readWithheld(db, present));
    const served = byPackage(await readServed(db, present));
    return pkgs.map((pkg): ProjectData | null => {
      const row = known.get(pkg);
      if (!row) return null;
      const spellings = (names.get(pkg) ?? []).map((n) => n.name);
      const packageBuilds = buildRows.get(pkg) ?? [];
      const builds = indexBuilds(packageBuilds);
      const files = filesByVersion(packageBuilds, builds.byId, dependenciesByFile(deps.get(pkg) ?? [], packageBuilds, preinstalled));
      const counts = downloads.get(pkg);
      return {
        package: pkg,
        name: spellings[0] ?? pkg,
        description: row.description,
        skip: row.skip,
        aliases: spellings.filter((n) => n !== pkg).sort(),
        releases: releases(versions.get(pkg) ?? [], row.skip, targets, builds.outcomes, files, attemptsByVersion(attempts.get(pkg) ?? []), {
          withheld: byVersion(withheld.get(pkg) ?? [], (w): WithheldFile => ({
            filename: w.filename,
            hash: w.filehash.trim(),
            upstreamHash: w.upstream_filehash.trim(),
            buildId: Number(w.build_id),
            abiBuilder: w.abi_tag,
          })),
          served: byVersion(served.get(pkg) ?? [], (s): ServedUpstream => ({ abi: s.abi_tag, platform: s.platform_tag, filename: s.filename })),
        }),
        downloadsRecent: counts?.recent ?? 0,
        downloadsAll: counts?.all ?? 0,
        builds: Object.fromEntries(packageBuilds.flatMap((b) => {
          const d = details.get(b.build_id);
          return d === undefined ? [] : [[b.build_id, d]];
        })),
      };
    });
  });
}

type VersionRow = Awaited<ReturnType<typeof readVersions>>[number];
type BuildRow = Awaited<ReturnType<typeof readBuildRows>>[number];
type DependencyRow = Awaited<ReturnType<typeof readDependencies>>[number];
type BuildFacts = { version: string; abi: string; status: boolean; builtAt: Date };
type Outcomes = Map<string, Map<number, BuildOutcome & { files: Array<{ abi: string; platform: string }> }>>;

/** Rows grouped by their package, each group in the rows' order. */
function byPackage<T extends { package: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const group = out.get(row.package);
    if (group) group.push(row);
    else out.set(row.package, [row]);
  }
  return out;
}

/** Rows grouped by their version, each turned into what the pages show, in filename order. */
function byVersion<R extends { version: string; filename: string }, T>(rows: readonly R[], convert: (row: R) => T): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of [...rows].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0))) {
    const group = out.get(row.version);
    if (group) group.push(convert(row));
    else out.set(row.version, [convert(row)]);
  }
  return out;
}

/** Files the packages' builds made but withheld for clashing with upstream's. */
function readWithheld(db: Db, pkgs: readonly string[]) {
  return db
    .selectFrom('upstream_clashes as c')
    .innerJoin('builds as b', 'b.build_id', 'c.build_id')
    .select(['b.package', 'b.version', 'b.abi_tag', 'c.build_id', 'c.filename', 'c.filehash', 'c.upstream_filehash'])
    .where('b.package', 'in', [...pkgs])
    .execute();
}

/** Targets the packages' releases are served on by upstream's wheels. */
function readServed(db: Db, pkgs: readonly string[]) {
  return db
    .selectFrom('upstream_served')
    .select(['package', 'version', 'abi_tag', 'platform_tag', 'filename'])
    .where('package', 'in', [...pkgs])
    .orderBy('abi_tag')
    .orderBy('platform_tag')
    .execute();
}

/** The spellings of each package's name, most recently seen first. */
function readNames(db: Db, pkgs: readonly string[]) {
  return db
    .selectFrom('package_names')
    .select(['package', 'name'])
    .where('package', 'in', [...pkgs])
    .orderBy('package')
    .orderBy('seen', 'desc')
    .orderBy('name')
    .execute();
}

function readVersions(db: Db, pkgs: readonly string[]) {
  return db.selectFrom('versions').select(['package', 'version', 'released', 'skip', 'yanked']).where('package', 'in', [...pkgs]).execute();
}

/** Builds with their files in one pass over the packages' builds. */
function readBuildRows(db: Db, pkgs: readonly string[]) {
  return db
    .selectFrom('builds as b')
    .leftJoin('files as f', 'f.build_id', 'b.build_id')
    .select([
      'b.package',
      'b.build_id',
      'b.version',
      'b.abi_tag as builder_abi',
      'b.platform_tag as builder_platform',
      'b.status',
      'b.built_at',
      'f.filename',
      'f.filesize',
      'f.filehash',
      'f.abi_tag as file_abi',
      'f.platform_tag',
      'f.requires_python',
      'f.metadata_hash',
    ])
    .where('b.package', 'in', [...pkgs])
    .execute();
}

/** One query, through the same covering indexes, however many files. */
function readDependencies(db: Db, pkgs: readonly string[]) {
  return db
    .selectFrom('builds as b')
    .innerJoin('files as f', 'f.build_id', 'b.build_id')
    .innerJoin('dependencies as d', 'd.filename', 'f.filename')
    .select(['b.package', 'd.filename', 'd.tool', 'd.dependency'])
    .where('b.package', 'in', [...pkgs])
    .execute();
}

/** 'ABI package' of each of these apt packages that a builder's OS release has preinstalled. */
async function readPreinstalled(db: Db, aptNames: readonly string[]): Promise<Set<string>> {
  const preinstalled = new Set<string>();
  for (let i = 0; i < aptNames.length; i += 500) {
    const rows = await db
      .selectFrom('preinstalled_apt_packages')
      .select(['abi_tag', 'apt_package'])
      .where('apt_package', 'in', aptNames.slice(i, i + 500))
      .execute();
    for (const row of rows) preinstalled.add(`${row.abi_tag} ${row.apt_package}`);
  }
  return preinstalled;
}

async function readDownloads(db: Db, pkgs: readonly string[], now: Date): Promise<Map<string, { recent: number; all: number }>> {
  const recentDay = recentFirstDay(now);
  const rows = await db
    .selectFrom('download_counts')
    .select([
      'package',
      sql<number | null>`SUM(downloads)`.as('all'),
      sql<number | null>`SUM(CASE WHEN day >= ${recentDay} THEN downloads ELSE 0 END)`.as('recent'),
    ])
    .where('package', 'in', [...pkgs])
    .groupBy('package')
    .execute();
  return new Map(rows.map((r) => [r.package, { recent: Number(r.recent ?? 0), all: Number(r.all ?? 0) }]));
}

/** Failures and environments of the packages' builds, by build id. */
async function readBuildDetails(db: Db, pkgs: readonly string[]): Promise<Map<number, BuildDetails>> {
  const failures = await db
    .selectFrom('builds as b')
    .innerJoin('build_failures as f', 'f.build_id', 'b.build_id')
    .select(['f.build_id', 'f.kind', 'f.attempt', 'f.retry_at', 'f.missing_kind', 'f.missing_name', 'f.debian_package'])
    .where('b.package', 'in', [...pkgs])
    .execute();
  const environments = await db
    .selectFrom('builds as b')
    .innerJoin('build_environments as e', 'e.build_id', 'b.build_id')
    .select(['e.build_id', 'e.os', 'e.python', 'e.pip', 'e.setuptools', 'e.wheel', 'e.dpkg_digest', 'e.reproduce'])
    .where('b.package', 'in', [...pkgs])
    .execute();
  const out = new Map<number, BuildDetails>();
  const entry = (id: number): BuildDetails => {
    let d = out.get(id);
    if (!d) out.set(id, (d = { failure: null, environment: null }));
    return d;
  };
  for (const f of failures) entry(Number(f.build_id)).failure = failureFromRow(f);
  for (const e of environments) entry(Number(e.build_id)).environment = environmentFromRow(e);
  return out;
}

function readAttempts(db: Db, pkgs: readonly string[]) {
  return db
    .selectFrom('build_attempts')
    .select(['package', 'version', 'abi_tag', 'attempt', 'kind', 'built_by', 'built_at', 'log_build_id'])
    .where('package', 'in', [...pkgs])
    .orderBy('attempt_id')
    .execute();
}

function attemptsByVersion(rows: ReadonlyArray<Parameters<typeof attemptFromRow>[0] & { version: string }>): Map<string, AttemptInfo[]> {
  const out = new Map<string, AttemptInfo[]>();
  for (const row of rows) out.set(row.version, [...(out.get(row.version) ?? []), attemptFromRow(row)]);
  return out;
}

/** Each build once, and per version the outcome of each build with the ABIs of the files it holds. */
function indexBuilds(buildRows: readonly BuildRow[]): { byId: Map<number, BuildFacts>; outcomes: Outcomes } {
  const byId = new Map<number, BuildFacts>();
  const outcomes: Outcomes = new Map();
  for (const b of buildRows) {
    if (byId.has(b.build_id)) continue;
    const status = fromDbFlag(b.status);
    byId.set(b.build_id, { version: b.version, abi: b.builder_abi, status, builtAt: fromDbTimestamp(b.built_at) });
    let perVersion = outcomes.get(b.version);
    if (!perVersion) outcomes.set(b.version, (perVersion = new Map()));
    perVersion.set(b.build_id, { buildId: b.build_id, builderAbi: b.builder_abi, builderPlatform: b.builder_platform, status, files: [] });
  }
  for (const f of buildRows) {
    if (f.filename === null || f.file_abi === null || f.platform_tag === null) continue;
    outcomes.get(f.version)?.get(f.build_id)?.files.push({ abi: f.file_abi, platform: f.platform_tag });
  }
  return { byId, outcomes };
}

/** Apt and pip dependencies per file; apt ones less what the builder's OS release has preinstalled. */
function dependenciesByFile(
  deps: readonly DependencyRow[],
  buildRows: readonly BuildRow[],
  preinstalled: ReadonlySet<string>,
): Map<string, { apt: string[]; pip: string[] }> {
  const depsByFile = new Map<string, { apt: string[]; pip: string[] }>();
  const builderOf = new Map(buildRows.flatMap((r) => (r.filename === null ? [] : [[r.filename, r.builder_abi] as const])));
  for (const d of deps) {
    let entry = depsByFile.get(d.filename);
    if (!entry) depsByFile.set(d.filename, (entry = { apt: [], pip: [] }));
    if (d.tool === 'apt') {
      if (!preinstalled.has(`${builderOf.get(d.filename) ?? ''} ${d.dependency}`)) entry.apt.push(d.dependency);
    } else if (d.tool === 'pip') {
      entry.pip.push(d.dependency);
    }
  }
  return depsByFile;
}

/** The wheels of each version, by filename. */
function filesByVersion(
  buildRows: readonly BuildRow[],
  buildById: ReadonlyMap<number, BuildFacts>,
  depsByFile: ReadonlyMap<string, { apt: string[]; pip: string[] }>,
): Map<string, Record<string, FileInfo>> {
  const out = new Map<string, Record<string, FileInfo>>();
  for (const f of buildRows) {
    if (f.filename === null || f.file_abi === null) continue;
    const build = buildById.get(f.build_id);
    if (!build) continue;
    let perVersion = out.get(build.version);
    if (!perVersion) out.set(build.version, (perVersion = {}));
    const fileDeps = depsByFile.get(f.filename);
    perVersion[f.filename] = {
      filename: f.filename,
      hash: (f.filehash ?? '').trim(),
      size: Number(f.filesize),
      abiBuilder: build.abi,
      abiFile: f.file_abi,
      platform: f.platform_tag ?? '',
      requiresPython: f.requires_python,
      aptDependencies: (fileDeps?.apt ?? []).sort(),
      pipDependencies: (fileDeps?.pip ?? []).sort(),
      metadataHash: f.metadata_hash === null ? null : f.metadata_hash.trim(),
      builtAt: build.builtAt,
      buildId: f.build_id,
    };
  }
  return out;
}

/** The releases, newest version first, each with its status on every active target. */
function releases(
  versions: readonly VersionRow[],
  packageSkip: string,
  targets: readonly BuildTarget[],
  outcomes: Outcomes,
  files: ReadonlyMap<string, Record<string, FileInfo>>,
  attempts: ReadonlyMap<string, AttemptInfo[]>,
  upstream: { withheld: ReadonlyMap<string, WithheldFile[]>; served: ReadonlyMap<string, ServedUpstream[]> },
): ReleaseData[] {
  const keyed = versions.map((v) => ({ v, key: versionKey(v.version) }));
  keyed.sort((a, b) => compareVersionKeys(b.key, a.key));
  return keyed.map(({ v, key }) => {
    const skip = v.skip !== '' ? v.skip : packageSkip;
    const withheld = upstream.withheld.get(v.version) ?? [];
    const servedUpstream = upstream.served.get(v.version) ?? [];
    const statuses = releaseTargetStatuses(targets, [...(outcomes.get(v.version)?.values() ?? [])], skip !== '');
    return {
      version: v.version,
      released: fromDbTimestamp(v.released),
      prerelease: keyIsPrerelease(key),
      yanked: fromDbFlag(v.yanked),
      skip,
      abis: withUpstream(statuses, servedUpstream, withheld),
      files: files.get(v.version) ?? {},
      attempts: attempts.get(v.version) ?? [],
      withheld,
      servedUpstream,
    };
  });
}
