// The scribe: renders pages with the Astro site (compiled once, run
// in-process) and writes the output tree nginx serves. Every file is replaced
// atomically; alternative spellings of a package resolve through symlinks to
// the canonical directory.
//
// The simple index lists only packages with a file published, and only they
// have a simple page: pip and uv stop at the first index that knows a
// project (uv's default strategy), so an empty page here would hide PyPI's
// wheels from them. Every package keeps its project page, which says why.
//
// API for the coordinator:
//   const scribe = await Scribe.create({ output, db });
//   await scribe.writeStaticPages();                 assets, faq/json/packages/404, robots.txt
//   await scribe.handle({ kind: 'BOTH', package });  any PageRequest (what the secretary sends)
//   await scribe.writeProject(data, { both });       one package's pages from ProjectData
//   await scribe.writeSimpleIndex(), writeHome(stats), writeSearchIndex(entries),
//         writeSitemaps(), writeLog(buildId, text), deletePackage(pkg, aliases),
//         deleteVersion(pkg, version), deleteFiles(pkg, filenames)
//   await regenerate(db, { output })                 the whole tree from the database
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FarmStatistics, ProjectData, SearchEntry } from '../../shared/model.ts';
import { compareVersions, isValidVersion } from '../../shared/names.ts';
import { isSafeFilename, tryParseWheelFilename } from '../../shared/wheel/name.ts';
import { silentLogger, type Logger } from '../../shared/log.ts';
import type { SiteRenderer, StaticPage } from '../../site/lib/renderer.ts';
import {
  DEFAULT_SITE,
  logPathParts,
  projectJson,
  projectView,
  robotsTxt,
  searchIndexRows,
  simpleFiles,
  simpleIndexJson,
  simpleProjectJson,
  sitemaps,
  type SiteOptions,
} from '../../site/lib/views.ts';
import { ensureRealDir, removeDeadTemps, removeFile, removeSymlink, symlinkAtomic, writeFileAtomic } from './atomic.ts';
import { BoundedCache } from '../../shared/cache.ts';
import { ensureMetadataFile } from './metadata-file.ts';
import { packageName, parsePageRequest, type PageRequest } from './page-request.ts';
import { SITE_DIR, loadSiteRenderer } from './site-bundle.ts';

/** What the scribe needs from the database. */
export interface ScribeDatabase {
  /** Null when the package is unknown (deleted meanwhile). */
  getProjectData(pkg: string): Promise<ProjectData | null>;
  getAllPackages(): Promise<Iterable<string>>;
  /** The packages with a file published: those the simple index lists. */
  getPackagesWithFiles(): Promise<Iterable<string>>;
  /** Other spellings of a package; asked before its pages are deleted. */
  getPackageAliases(pkg: string): Promise<string[]>;
}

export interface ScribeOptions {
  /** Root of the output tree. */
  output: string;
  db: ScribeDatabase;
  site?: SiteOptions;
  logger?: Logger;
  /** Clock for the generation stamps (tests pin it). */
  now?: () => Date;
  /** A renderer to share (regeneration workers); loaded on demand otherwise. */
  renderer?: SiteRenderer;
  /** False: never write the root simple index (regeneration workers: the main thread writes it once). */
  rootIndex?: boolean;
}

const gzipAsync = promisify(gzip);

const STATIC_PAGES: Record<StaticPage, string> = {
  faq: 'faq.html',
  json: 'json.html',
  packages: 'packages.html',
  '404': '404.html',
};

/** True when `filename` is a wheel of `version` (by PEP 440 equality or escaped spelling). */
export function wheelIsVersion(filename: string, version: string): boolean {
  const wheel = tryParseWheelFilename(filename);
  if (wheel === null) return false;
  if (wheel.version === version.replace(/-/g, '_')) return true;
  return isValidVersion(wheel.version) && isValidVersion(version) && compareVersions(wheel.version, version) === 0;
}

export class Scribe {
  readonly output: string;
  readonly site: SiteOptions;
  private readonly db: ScribeDatabase;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly renderer: SiteRenderer;
  /** Every package with a project page (the sitemaps list them). */
  private packages = new Set<string>();
  /** The packages the root simple index lists: those with a file published. */
  private indexed = new Set<string>();
  private readonly rootIndex: boolean;
  /**
   * Directories already cleared of temp files a killed writer left: once per
   * directory and process is enough, since only a dead writer leaves them.
   */
  private readonly swept = new BoundedCache<string, true>(100_000);
  /** The log directory last made sure of. */
  private logDir: string | undefined;

  private constructor(options: ScribeOptions, renderer: SiteRenderer) {
    this.output = options.output;
    this.db = options.db;
    this.site = options.site ?? DEFAULT_SITE;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? (() => new Date());
    this.renderer = renderer;
    this.rootIndex = options.rootIndex ?? true;
  }

  static async create(options: ScribeOptions): Promise<Scribe> {
    const renderer = options.renderer ?? (await loadSiteRenderer());
    const scribe = new Scribe(options, renderer);
    // Known at start, so a package first seen later (or first with a file) is added.
    scribe.packages = new Set(await options.db.getAllPackages());
    scribe.indexed = new Set(await options.db.getPackagesWithFiles());
    await mkdir(join(options.output, 'simple'), { recursive: true });
    await mkdir(join(options.output, 'project'), { recursive: true });
    return scribe;
  }

  private generated(): string {
    return this.now().toISOString();
  }

  /**
   * Carries out one request; project requests read the database first. The
   * request is checked here, where it arrives from another thread.
   */
  async handle(input: PageRequest): Promise<void> {
    const request = parsePageRequest(input);
    switch (request.kind) {
      case 'PROJECT':
      case 'BOTH': {
        const data = await this.db.getProjectData(request.package);
        if (data === null) {
          this.logger.warn({ package: request.package }, 'no such package; pages not written');
          return;
        }
        await this.writeProject(data, { both: request.kind === 'BOTH' });
        return;
      }
      case 'DELPKG': {
        const aliases = await this.db.getPackageAliases(request.package);
        await this.deletePackage(request.package, aliases);
        return;
      }
      case 'DELVER': {
        await this.deleteVersion(request.package, request.version);
        const data = await this.db.getProjectData(request.package);
        if (data !== null) {
          const remaining = { ...data, releases: data.releases.filter((r) => r.version !== request.version) };
          await this.writeProject(remaining, { both: true });
        }
        return;
      }
      case 'DELFILES': {
        this.deleteFiles(request.package, request.filenames);
        const data = await this.db.getProjectData(request.package);
        if (data !== null) await this.writeProject(data, { both: true });
        return;
      }
      case 'LOG':
        await this.writeLog(request.buildId, request.log);
        return;
      case 'HOME':
        await this.writeHome(request.stats);
        await this.writeSitemaps();
        return;
      case 'SEARCH':
        await this.writeSearchIndex(request.entries);
        return;
    }
  }

  /** Copies the stylesheet and scripts and writes the pages that hold no data. */
  /** Clears `dir` of a killed writer's temp files, the first time this process writes there. */
  private sweep(dir: string): void {
    if (this.swept.get(dir)) return;
    const removed = removeDeadTemps(dir);
    if (removed > 0) this.logger.info({ dir, removed }, 'removed temp files a killed writer left');
    this.swept.set(dir, true);
  }

  async writeStaticPages(): Promise<void> {
    this.sweep(this.output);
    // alias links are made beside the packages' directories: a killed writer can leave one half-made here too
    this.sweep(join(this.output, 'simple'));
    this.sweep(join(this.output, 'project'));
    const publicDir = join(SITE_DIR, 'public');
    for (const name of await readdir(publicDir)) {
      writeFileAtomic(join(this.output, name), await readFile(join(publicDir, name)));
    }
    for (const [page, file] of Object.entries(STATIC_PAGES) as [StaticPage, string][]) {
      writeFileAtomic(join(this.output, file), await this.renderer.staticPage(page, this.site));
    }
    writeFileAtomic(join(this.output, 'robots.txt'), robotsTxt(this.site));
    if (!(await this.exists(join(this.output, 'simple', 'index.html')))) await this.writeSimpleIndex();
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes a package's project page and JSON, and with `both` its simple
   * page (HTML and PEP 691 JSON) and the `.metadata` files of its wheels, or,
   * when it has no file published, takes its simple directory away; then
   * points every alias at what there is.
   */
  async writeProject(data: ProjectData, { both }: { both: boolean }): Promise<void> {
    const pkg = packageName.parse(data.package);
    const generated = this.generated();
    const projectDir = join(this.output, 'project', pkg);
    ensureRealDir(projectDir);
    ensureRealDir(join(projectDir, 'json'));
    this.sweep(projectDir);
    this.sweep(join(projectDir, 'json'));
    const [page, json] = [
      await this.renderer.project(projectView(data), this.site, generated),
      JSON.stringify(projectJson(data, this.site)),
    ];
    writeFileAtomic(join(projectDir, 'index.html'), page);
    writeFileAtomic(join(projectDir, 'json', 'index.json'), json);
    this.packages.add(pkg);
    const published = data.releases.some((r) => Object.keys(r.files).length > 0);
    if (both && !published) await this.unpublish(pkg, data.aliases);
    if (both && published) {
      const simpleDir = join(this.output, 'simple', pkg);
      ensureRealDir(simpleDir);
      this.sweep(simpleDir);
      const metadata = new Map<string, string | null>();
      for (const release of data.releases) {
        for (const file of Object.values(release.files)) {
          if (!isSafeFilename(file.filename)) throw new Error(`unsafe filename in ${pkg}: ${JSON.stringify(file.filename)}`);
          metadata.set(file.filename, await ensureMetadataFile(join(simpleDir, file.filename), file.metadataHash));
        }
      }
      const files = simpleFiles(data, metadata);
      writeFileAtomic(join(simpleDir, 'index.html'), await this.renderer.simplePackage(pkg, files, generated));
      writeFileAtomic(join(simpleDir, 'index.json'), JSON.stringify(simpleProjectJson(data, files)));
      if (!this.indexed.has(pkg)) {
        this.indexed.add(pkg);
        await this.writeRootIndex();
      }
    }
    for (const alias of data.aliases) {
      if (alias === pkg || !isSafeFilename(alias)) continue;
      for (const area of published ? ['simple', 'project'] : ['project']) {
        if (!(symlinkAtomic(pkg, join(this.output, area, alias)))) {
          this.logger.warn({ package: pkg, alias, area }, 'alias is a real directory; not linked');
        }
      }
    }
    this.logger.debug({ package: pkg, both }, 'wrote project pages');
  }

  /**
   * A package with no file published leaves the index: its simple
   * directory (pages, and any wheel no build claims any more) and the alias
   * links to it go.
   */
  private async unpublish(pkg: string, aliases: readonly string[]): Promise<void> {
    for (const alias of aliases) if (alias !== pkg && isSafeFilename(alias)) removeSymlink(join(this.output, 'simple', alias));
    await rm(join(this.output, 'simple', pkg), { recursive: true, force: true });
    if (this.indexed.delete(pkg)) await this.writeRootIndex();
  }

  private async writeRootIndex(): Promise<void> {
    if (this.rootIndex) await this.writeSimpleIndex();
  }

  /** The root simple index (HTML and PEP 691 JSON), sorted by name: the packages with a file published. */
  async writeSimpleIndex(): Promise<void> {
    const packages = [...this.indexed].sort();
    const generated = this.generated();
    writeFileAtomic(join(this.output, 'simple', 'index.html'), await this.renderer.simpleIndex(packages, generated));
    writeFileAtomic(join(this.output, 'simple', 'index.json'), JSON.stringify(simpleIndexJson(packages)));
  }

  async writeHome(stats: FarmStatistics): Promise<void> {
    const generated = this.generated();
    writeFileAtomic(join(this.output, 'index.html'), await this.renderer.home(stats, this.site, generated));
    writeFileAtomic(join(this.output, 'stats.html'), await this.renderer.stats(stats, this.site, generated));
  }

  /** packages.json, plus a gzipped twin nginx serves as is (it runs to tens of megabytes). */
  async writeSearchIndex(entries: readonly SearchEntry[]): Promise<void> {
    const json = Buffer.from(JSON.stringify(searchIndexRows(entries)));
    writeFileAtomic(join(this.output, 'packages.json'), json);
    // Compressed off the main thread, like logs: at full scale this takes a second or two.
    writeFileAtomic(join(this.output, 'packages.json.gz'), await gzipAsync(json));
  }

  async writeSitemaps(): Promise<void> {
    const packages = [...this.packages].sort();
    for (const [name, xml] of sitemaps(packages, this.site, this.now())) {
      writeFileAtomic(join(this.output, name), xml);
    }
  }

  /** A build log, gzipped, at /logs/AAAA/BBBB/CCCC.txt.gz. */
  async writeLog(buildId: number, log: string): Promise<void> {
    const [a, b, file] = logPathParts(buildId);
    const dir = join(this.output, 'logs', a, b);
    const data = await gzipAsync(Buffer.from(log, 'utf8'));
    // a log directory holds 10,000 builds' logs: make sure of it once, and
    // again only if it went away meanwhile
    if (this.logDir === dir) {
      try {
        writeFileAtomic(join(dir, file), data);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    await mkdir(dir, { recursive: true });
    this.sweep(dir);
    this.logDir = dir;
    writeFileAtomic(join(dir, file), data);
  }

  /** Removes a package's simple and project directories (wheels included) and its alias links. */
  async deletePackage(pkg: string, aliases: readonly string[]): Promise<void> {
    packageName.parse(pkg);
    for (const alias of aliases) {
      if (alias === pkg || !isSafeFilename(alias)) continue;
      removeSymlink(join(this.output, 'simple', alias));
      removeSymlink(join(this.output, 'project', alias));
    }
    await rm(join(this.output, 'simple', pkg), { recursive: true, force: true });
    await rm(join(this.output, 'project', pkg), { recursive: true, force: true });
    this.packages.delete(pkg);
    if (this.indexed.delete(pkg)) await this.writeRootIndex();
    this.logger.info({ package: pkg }, 'deleted package');
  }

  /** Removes these wheels (and their .metadata) from a package's simple directory. */
  deleteFiles(pkg: string, filenames: readonly string[]): void {
    packageName.parse(pkg);
    for (const name of filenames) {
      if (!isSafeFilename(name)) throw new Error(`unsafe filename in ${pkg}: ${JSON.stringify(name)}`);
      removeFile(join(this.output, 'simple', pkg, name));
      removeFile(join(this.output, 'simple', pkg, `${name}.metadata`));
    }
    this.logger.info({ package: pkg, removed: filenames }, 'deleted files');
  }

  /** Removes one version's wheels (and their .metadata) from a package's simple directory. */
  async deleteVersion(pkg: string, version: string): Promise<string[]> {
    packageName.parse(pkg);
    const dir = join(this.output, 'simple', pkg);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      if (name.endsWith('.whl') && wheelIsVersion(name, version)) {
        removeFile(join(dir, name));
        removeFile(join(dir, `${name}.metadata`));
        removed.push(name);
      }
    }
    this.logger.info({ package: pkg, version, removed }, 'deleted version files');
    return removed;
  }
}
