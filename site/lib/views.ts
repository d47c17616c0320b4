// Pure transformations from the database's ProjectData / SearchEntry /
// FarmStatistics into what each output file shows. The Astro components and
// the scribe both use these, so the HTML and the JSON always agree.
import type { BuildEnvironment } from '../../shared/build-log.ts';
import { FAILURE_KIND_TITLES } from '../../shared/failure.ts';
import type { AbiStatusKind, BuildDetails, FailureInfo, FileInfo, ProjectData, ReleaseData, SearchEntry, WithheldFile } from '../../shared/model.ts';
import type { SiteOptions } from '../../shared/site-settings.ts';
import { targetKey } from '../../shared/target.ts';
import { formatDate, formatDateTime, formatSize } from './format.ts';

export type { SiteOptions };

/** What a page writer given no settings uses: it names no real farm. */
export const DEFAULT_SITE: SiteOptions = { baseUrl: 'http://localhost', name: 'piwheels', contact: null };

/** PEP 691 / PEP 700 API version written in every simple page. */
export const SIMPLE_API_VERSION = '1.1';

export function fileUrl(pkg: string, filename: string): string {
  return `/simple/${pkg}/${filename}`;
}

/**
 * The three path parts of a build log: the id zero-padded to 12 digits and
 * split in groups of four ("/logs/0000/0012/3456.txt.gz").
 */
export function logPathParts(buildId: number): [string, string, string] {
  if (!Number.isSafeInteger(buildId) || buildId < 0 || buildId > 999_999_999_999) {
    throw new RangeError(`build id out of range: ${buildId}`);
  }
  const digits = String(buildId).padStart(12, '0');
  return [digits.slice(0, 4), digits.slice(4, 8), `${digits.slice(8)}.txt.gz`];
}

export function logUrl(buildId: number): string {
  return `/logs/${logPathParts(buildId).join('/')}`;
}

/** Raspberry Pi OS release and Python version for the ABIs piwheels has built for. */
export const KNOWN_ABIS: ReadonlyMap<string, { os: string; python: string }> = new Map([
  ['cp34m', { os: 'Jessie', python: 'Python 3.4' }],
  ['cp35m', { os: 'Stretch', python: 'Python 3.5' }],
  ['cp37m', { os: 'Buster', python: 'Python 3.7' }],
  ['cp39', { os: 'Bullseye', python: 'Python 3.9' }],
  ['cp311', { os: 'Bookworm', python: 'Python 3.11' }],
  ['cp313', { os: 'Trixie', python: 'Python 3.13' }],
]);

/** What Pi users call the platforms a farm builds for. */
const KNOWN_PLATFORMS: ReadonlyMap<string, string> = new Map([
  ['linux_armv6l', '32-bit (armv6l)'],
  ['linux_armv7l', '32-bit (armv7l)'],
  ['linux_aarch64', '64-bit (aarch64)'],
]);

/** A build target's name split into ABI and platform ('' for an any-platform target). */
function splitTarget(target: string): { abi: string; platform: string } {
  const hyphen = target.indexOf('-');
  return hyphen < 0 ? { abi: target, platform: '' } : { abi: target.slice(0, hyphen), platform: target.slice(hyphen + 1) };
}

/**
 * A human label for a build target's column (cp311, cp311-linux_aarch64):
 * known ABIs by OS, others by tag; the platform, when the target has one, by
 * word size for the Pi's, else by tag.
 */
export function targetLabel(target: string): { os: string; python: string; platform: string } {
  const { abi, platform } = splitTarget(target);
  const m = /^cp(\d)(\d+)/.exec(abi);
  const label = KNOWN_ABIS.get(abi) ?? { os: abi, python: m ? `Python ${m[1]}.${m[2]}` : abi };
  return { ...label, platform: platform === '' ? '' : (KNOWN_PLATFORMS.get(platform) ?? platform.replace(/^linux_/, '')) };
}

/** Every build target that appears in a project, known ABIs in release order first, then by platform. */
export function projectAbis(data: ProjectData): string[] {
  const seen = new Set<string>();
  for (const release of data.releases) for (const target of Object.keys(release.abis)) seen.add(target);
  const known = [...KNOWN_ABIS.keys()];
  const rank = (target: string): number => {
    const i = known.indexOf(splitTarget(target).abi);
    return i === -1 ? known.length : i;
  };
  return [...seen].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------- simple ---

/** One link of a simple page, with everything PEP 503/592/658/691/700 carry. */
export interface SimpleFile {
  filename: string;
  url: string;
  sha256: string;
  requiresPython: string | null;
  yanked: boolean;
  /** SHA-256 of the `.metadata` companion file, or null when there is none. */
  metadataSha256: string | null;
  size: number;
  uploadTime: string;
}

/**
 * The files of a project's simple page, newest release first. `metadata`
 * overrides or supplies the core-metadata hash per filename (the scribe
 * passes what it extracted when the database has no hash yet).
 */
export function simpleFiles(data: ProjectData, metadata?: ReadonlyMap<string, string | null>): SimpleFile[] {
  const out: SimpleFile[] = [];
  for (const release of data.releases) {
    for (const file of Object.values(release.files)) {
      const known = metadata?.get(file.filename);
      out.push({
        filename: file.filename,
        url: fileUrl(data.package, file.filename),
        sha256: file.hash,
        requiresPython: file.requiresPython,
        yanked: release.yanked,
        metadataSha256: known !== undefined ? known : file.metadataHash,
        size: file.size,
        uploadTime: file.builtAt.toISOString(),
      });
    }
  }
  return out;
}

/** PEP 691 project detail (JSON variant of /simple/<pkg>/). */
export function simpleProjectJson(data: ProjectData, files: SimpleFile[]): object {
  return {
    meta: { 'api-version': SIMPLE_API_VERSION },
    name: data.package,
    files: files.map((f) => {
      const metadata = f.metadataSha256 === null ? false : { sha256: f.metadataSha256 };
      return {
        filename: f.filename,
        url: f.url,
        hashes: { sha256: f.sha256 },
        'requires-python': f.requiresPython,
        yanked: f.yanked,
        // PEP 714: only the new key in JSON; pip 22.3 to 23.1 crash on the
        // old `dist-info-metadata` key when it holds a hash dictionary.
        'core-metadata': metadata,
        size: f.size,
        'upload-time': f.uploadTime,
      };
    }),
    versions: data.releases.map((r) => r.version).reverse(),
  };
}

/** PEP 691 root index (JSON variant of /simple/). */
export function simpleIndexJson(packages: readonly string[]): object {
  return {
    meta: { 'api-version': SIMPLE_API_VERSION },
    projects: packages.map((name) => ({ name })),
  };
}

// ------------------------------------------------------------ project JSON ---

/**
 * The public per-project JSON: every key piwheels publishes, in its order,
 * plus `name`, download counts and per-release `abis` (build status per build target: per ABI on a farm without platforms).
 */
export function projectJson(data: ProjectData, site: SiteOptions): object {
  const releases: Record<string, object> = {};
  for (const release of data.releases) {
    const files: Record<string, object> = {};
    for (const file of Object.values(release.files)) {
      files[file.filename] = {
        file_url: fileUrl(data.package, file.filename),
        filehash: file.hash,
        filesize: file.size,
        builder_abi: file.abiBuilder,
        file_abi_tag: file.abiFile,
        platform: file.platform,
        requires_python: file.requiresPython,
        apt_dependencies: [...file.aptDependencies].sort(),
        pip_dependencies: [...file.pipDependencies].sort(),
      };
    }
    const abis: Record<string, object> = {};
    for (const [abi, status] of Object.entries(release.abis)) {
      const details = status.buildId === null ? undefined : data.builds[status.buildId];
      abis[abi] = {
        status: status.status,
        build_id: status.buildId,
        log_url: status.buildId === null ? null : logUrl(status.buildId),
        failure: details?.failure ? failureJson(details.failure) : null,
        environment: details?.environment ? environmentJson(details.environment) : null,
      };
    }
    releases[release.version] = {
      released: formatDateTime(release.released),
      prerelease: release.prerelease,
      yanked: release.yanked,
      skip_reason: release.skip,
      files,
      abis,
      attempts: release.attempts.map((a) => ({
        abi: a.abi,
        attempt: a.attempt,
        kind: a.kind,
        built_at: formatDateTime(a.builtAt),
        log_url: a.logBuildId === null ? null : logUrl(a.logBuildId),
      })),
      // Upstream's part: built files not published because upstream serves
      // their names with other bytes, and targets upstream's wheels serve.
      withheld_files: release.withheld.map((w) => ({
        filename: w.filename,
        filehash: w.hash,
        upstream_filehash: w.upstreamHash,
        builder_abi: w.abiBuilder,
        build_id: w.buildId,
      })),
      served_by_upstream: release.servedUpstream.map((s) => ({ abi: s.abi, platform: s.platform, filename: s.filename })),
    };
  }
  return {
    package: data.package,
    summary: data.description,
    pypi_url: `https://pypi.org/project/${data.package}`,
    piwheels_url: `${site.baseUrl}/project/${data.package}`,
    releases,
    name: data.name,
    downloads_recent: data.downloadsRecent,
    downloads_all: data.downloadsAll,
  };
}

function failureJson(f: FailureInfo): object {
  return {
    kind: f.kind,
    attempt: f.attempt,
    retry_at: f.retryAt === null ? null : formatDateTime(f.retryAt),
    missing: f.missing === null ? null : { kind: f.missing.kind, name: f.missing.name },
    debian_package: f.debianPackage,
  };
}

function environmentJson(env: BuildEnvironment): object {
  return {
    os: env.os,
    python: env.python,
    pip: env.pip,
    setuptools: env.setuptools,
    wheel: env.wheel,
    dpkg_digest: env.dpkgDigest,
    reproduce: env.reproduce,
  };
}

// ------------------------------------------------------------ project page ---

export interface StatusCell {
  abi: string;
  status: AbiStatusKind | 'none';
  title: string;
  logUrl: string | null;
}

export interface FileRow {
  filename: string;
  url: string;
  sha256: string;
  size: string;
  abi: string;
  platform: string;
  requiresPython: string | null;
  aptDependencies: string[];
  environment: EnvironmentView | null;
}

/** A builder's environment as the page lists it. */
export interface EnvironmentView {
  os: string;
  python: string;
  /** "pip 23.0.1, setuptools 66.1.1, wheel 0.38.4" (those known). */
  tools: string;
  dpkgDigest: string | null;
  reproduce: string;
}

/** A failed build the page explains: why, when it is tried again, what it lacked. */
export interface FailureRow {
  version: string;
  abi: string;
  kind: string;
  /** What the kind means. */
  kindTitle: string;
  attempt: number;
  /** "2026-01-01 00:05:00" (UTC), or null when not retried automatically. */
  retryAt: string | null;
  /** The missing header, library or pkg-config module, as the compiler named it. */
  missing: string | null;
  debianPackage: string | null;
  logUrl: string;
  environment: EnvironmentView | null;
}

/** A built file the farm did not publish: upstream serves its name with other bytes. */
export interface WithheldRow {
  filename: string;
  sha256: string;
  upstreamSha256: string;
}

export interface ReleaseRow {
  version: string;
  anchor: string;
  date: string;
  dateTime: string;
  prerelease: boolean;
  yanked: boolean;
  skip: string;
  cells: StatusCell[];
  files: FileRow[];
  withheld: WithheldRow[];
}

export interface ProjectView {
  package: string;
  name: string;
  description: string;
  skip: string;
  /** Why the index has no page for this package (no file published), or null when it has one. */
  unpublished: string | null;
  /** The build targets' columns (abi: the target's name). */
  abis: { abi: string; os: string; python: string; platform: string }[];
  releases: ReleaseRow[];
  failures: FailureRow[];
  fileCount: number;
  aptDependencies: string[];
  pipDependencies: string[];
  installVersion: string | null;
  downloadsRecent: number;
  downloadsAll: number;
}

const STATUS_TITLES: Record<AbiStatusKind | 'none', string> = {
  success: 'Build succeeded',
  fail: 'Build failed',
  pending: 'Build pending',
  skip: 'Skipped',
  upstream: 'Served by PyPI',
  none: 'Not attempted',
};

function upstreamTitle(abi: string, release: ReleaseData, buildId: number | null): string {
  const clashes = release.withheld.filter((w: WithheldFile) => w.buildId === buildId).map((w) => w.filename);
  if (clashes.length > 0) return `Built, not published: PyPI serves ${clashes.join(', ')} with other bytes`;
  const served = release.servedUpstream.filter((s) => s.abi === abi || targetKey(s) === abi).map((s) => s.filename);
  return served.length > 0 ? `Served by PyPI: ${[...new Set(served)].join(', ')}` : STATUS_TITLES.upstream;
}

function statusCell(abi: string, release: ReleaseData, builds: ProjectData['builds']): StatusCell {
  const status = release.abis[abi];
  if (!status) return { abi, status: 'none', title: STATUS_TITLES.none, logUrl: null };
  const failure = status.status === 'fail' && status.buildId !== null ? builds[status.buildId]?.failure : undefined;
  const title =
    status.status === 'skip' && release.skip
      ? `Skipped: ${release.skip}`
      : status.status === 'upstream'
        ? upstreamTitle(abi, release, status.buildId)
        : failure
        ? `${STATUS_TITLES.fail}: ${FAILURE_KIND_TITLES[failure.kind]}${failure.retryAt === null ? '' : `; retry at ${formatDateTime(failure.retryAt)} UTC`}`
        : STATUS_TITLES[status.status];
  return { abi, status: status.status, title, logUrl: status.buildId === null ? null : logUrl(status.buildId) };
}

function environmentView(env: BuildEnvironment | null | undefined): EnvironmentView | null {
  if (!env) return null;
  const tools = (['pip', 'setuptools', 'wheel'] as const).flatMap((t) => (env[t] === null ? [] : [`${t} ${env[t]}`])).join(', ');
  return { os: env.os, python: env.python, tools, dpkgDigest: env.dpkgDigest, reproduce: env.reproduce };
}

/** The failed builds with a known kind, newest release first, in ABI order. */
function failureRows(data: ProjectData, abis: readonly string[]): FailureRow[] {
  const rows: FailureRow[] = [];
  for (const release of data.releases) {
    for (const abi of abis) {
      const status = release.abis[abi];
      if (status?.status !== 'fail' || status.buildId === null) continue;
      const details: BuildDetails | undefined = data.builds[status.buildId];
      if (!details?.failure) continue;
      const f = details.failure;
      rows.push({
        version: release.version,
        abi,
        kind: f.kind,
        kindTitle: FAILURE_KIND_TITLES[f.kind],
        attempt: f.attempt,
        retryAt: f.retryAt === null ? null : formatDateTime(f.retryAt),
        missing: f.missing === null ? null : f.missing.kind === 'library' ? `-l${f.missing.name}` : f.missing.name,
        debianPackage: f.debianPackage,
        logUrl: logUrl(status.buildId),
        environment: environmentView(details.environment),
      });
    }
  }
  return rows;
}

/**
 * Why a package with no published file is missing from the index, in a
 * sentence; null when it has files. pip and uv stop at the first index that
 * has a page for a project, so the index leaves such a package out and
 * installers go on to PyPI; the project page says why.
 */
export function unpublishedReason(data: ProjectData): string | null {
  if (data.releases.some((r) => Object.keys(r.files).length > 0)) return null;
  const statuses = new Set(data.releases.flatMap((r) => Object.values(r.abis).map((a) => a.status)));
  const why: string[] = [];
  if (data.skip !== '') why.push(`it is not built here (${data.skip})`);
  else if (data.releases.length === 0) why.push('it has no releases yet');
  if (statuses.has('upstream')) why.push('PyPI serves wheels of it that install here');
  if (statuses.has('fail')) why.push('its builds failed (the marks below link to their logs)');
  if (statuses.has('pending')) why.push('some builds are still to come');
  if (why.length === 0 && statuses.has('skip')) why.push('its releases are skipped');
  const reasons = why.length === 0 ? '' : `: ${why.join('; ')}`;
  return `No file of this package is published here, so the index does not list it and pip looks for it on PyPI${reasons}.`;
}

function fileRow(pkg: string, file: FileInfo, builds: ProjectData['builds']): FileRow {
  return {
    filename: file.filename,
    url: fileUrl(pkg, file.filename),
    sha256: file.hash,
    size: formatSize(file.size),
    abi: file.abiFile,
    platform: file.platform,
    requiresPython: file.requiresPython,
    aptDependencies: [...file.aptDependencies].sort(),
    environment: environmentView(builds[file.buildId]?.environment),
  };
}

/** An id-safe anchor for a version ("v1.0rc1"). */
export function versionAnchor(version: string): string {
  return `v${version.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

export function projectView(data: ProjectData): ProjectView {
  const abis = projectAbis(data);
  // The install hint follows the newest stable, unyanked release with a wheel.
  const installFrom = data.releases.find(
    (r) => !r.prerelease && !r.yanked && Object.keys(r.files).length > 0,
  );
  const firstFile = installFrom ? Object.values(installFrom.files)[0] : undefined;
  return {
    package: data.package,
    name: data.name,
    description: data.description,
    skip: data.skip,
    unpublished: unpublishedReason(data),
    abis: abis.map((abi) => ({ abi, ...targetLabel(abi) })),
    releases: data.releases.map((release) => ({
      version: release.version,
      anchor: versionAnchor(release.version),
      date: formatDate(release.released),
      dateTime: `${formatDateTime(release.released)} UTC`,
      prerelease: release.prerelease,
      yanked: release.yanked,
      skip: release.skip,
      cells: abis.map((abi) => statusCell(abi, release, data.builds)),
      files: Object.values(release.files).map((f) => fileRow(data.package, f, data.builds)),
      withheld: release.withheld.map((w) => ({ filename: w.filename, sha256: w.hash, upstreamSha256: w.upstreamHash })),
    })),
    failures: failureRows(data, abis),
    fileCount: data.releases.reduce((n, r) => n + Object.keys(r.files).length, 0),
    aptDependencies: firstFile ? [...firstFile.aptDependencies].sort() : [],
    pipDependencies: firstFile ? [...firstFile.pipDependencies].sort() : [],
    installVersion: installFrom ? installFrom.version : null,
    downloadsRecent: data.downloadsRecent,
    downloadsAll: data.downloadsAll,
  };
}

// ------------------------------------------------------------------ search ---

/**
 * packages.json rows: `[package, downloads_30_days, downloads_all, description]`.
 * The first three positions are piwheels' layout, so existing scripts that
 * unpack `pkg, d_month, d_all, *_` keep working.
 */
export function searchIndexRows(entries: readonly SearchEntry[]): [string, number, number, string][] {
  return entries.map((e) => [e.package, e.downloadsRecent, e.downloadsAll, e.description]);
}

// ----------------------------------------------------------------- sitemap ---

export const SITEMAP_LINKS_PER_PAGE = 50_000;
export const STATIC_PAGES = ['index.html', 'packages.html', 'faq.html', 'json.html', 'stats.html'] as const;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function xmlEscape(text: string): string {
  return /[&<>"']/.test(text) ? text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c) : text;
}

function urlset(locs: readonly string[]): string {
  const body = locs.map((loc) => `<url><loc>${xmlEscape(loc)}</loc></url>\n`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${body}</urlset>\n`;
}

/**
 * Every sitemap file by name: `sitemap0.xml` (static pages), then one file
 * per 50,000 projects, and the `sitemap.xml` index listing them all.
 */
export function sitemaps(packages: readonly string[], site: SiteOptions, today: Date, perPage = SITEMAP_LINKS_PER_PAGE): Map<string, string> {
  const files = new Map<string, string>();
  files.set('sitemap0.xml', urlset(STATIC_PAGES.map((page) => `${site.baseUrl}/${page}`)));
  for (let start = 0, n = 1; start < packages.length; start += perPage, n += 1) {
    const chunk = packages.slice(start, start + perPage);
    files.set(`sitemap${n}.xml`, urlset(chunk.map((pkg) => `${site.baseUrl}/project/${pkg}/`)));
  }
  const lastmod = formatDate(today);
  const entries = [...files.keys()]
    .map((name) => `<sitemap><loc>${xmlEscape(`${site.baseUrl}/${name}`)}</loc><lastmod>${lastmod}</lastmod></sitemap>\n`)
    .join('');
  files.set(
    'sitemap.xml',
    `<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${entries}</sitemapindex>\n`,
  );
  return files;
}

export function robotsTxt(site: SiteOptions): string {
  return `User-agent: *\nDisallow: /simple/\nDisallow: /logs/\nSitemap: ${site.baseUrl}/sitemap.xml\n`;
}
