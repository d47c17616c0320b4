// MrChase: the import endpoint, where piw-import, piw-add, piw-remove and
// piw-rebuild (ours or piwheels') bring their requests. A ROUTER socket; each
// request gets exactly one answer: DONE with what was done, SEND asking for
// a file (imports), or ERROR with the reason. Requests are handled one at a
// time, in arrival order, and every change is logged.
//
// Public API:
//   MrChase(options).start() / stop()       a Task
//   MrChase.handle(client, message)         one request to its answer (the
//                                           socket loop uses it; tests too)
//   MrChaseDeps / MrChaseDatabase           what the coordinator provides
import { ProtocolError, mrChase as mrChaseProtocol, type Message } from '../../shared/wire/protocols.ts';
import { bindSocket, type WireSocket } from '../../shared/wire/transport.ts';
import { canonicalizeName, isValidProjectName } from '../../shared/names.ts';
import type { PageRequest } from '../pages/page-request.ts';
import { addArmv6Twins, buildFromMessage, nextFile, type BuildResult } from '../../shared/build.ts';
import type { BuildLog } from './build-recorder.ts';
import type { QueueRefill } from './slave-driver.ts';
import type { FileTransfers } from './file-juggler.ts';
import { Task, type TaskOptions } from '../runtime/tasks.ts';
import { checkWheelFilename } from './wheel-check.ts';
import { ANY_PLATFORM } from '../../shared/target.ts';
import { sortOutClashes } from './upstream-clash.ts';
import type { UpstreamCheck } from '../upstream/upstream-files.ts';

export type ChaseRequest = Message<typeof mrChaseProtocol.recv>;
export type ChaseReply = Message<typeof mrChaseProtocol.send>;

/** The part of the Database MrChase uses (the async proxy of a worker fits too). */
export interface MrChaseDatabase {
  getBuildAbis(excludeSkipped?: boolean): Promise<string[]>;
  getBuildPlatforms(excludeSkipped?: boolean): Promise<string[]>;
  testPackage(pkg: string): Promise<boolean>;
  testPackageVersion(pkg: string, version: string): Promise<boolean>;
  addNewPackage(pkg: string, skip?: string, description?: string): Promise<boolean>;
  addNewPackageVersion(pkg: string, version: string, released?: Date, skip?: string): Promise<boolean>;
  addPackageName(pkg: string, name: string, seen?: Date): Promise<void>;
  setPackageDescription(pkg: string, description: string): Promise<void>;
  skipPackage(pkg: string, reason: string): Promise<void>;
  skipPackageVersion(pkg: string, version: string, reason: string): Promise<void>;
  yankVersion(pkg: string, version: string): Promise<void>;
  unyankVersion(pkg: string, version: string): Promise<void>;
  deletePackage(pkg: string): Promise<void>;
  deleteVersion(pkg: string, version: string): Promise<void>;
  deleteBuild(pkg: string, version: string): Promise<void>;
  getAllPackages(): Promise<Iterable<string>>;
  getAllPackageVersions(): Promise<Map<string, Set<string>>>;
}

/** Where page rewrites and deletions go (the secretary, or the scribe directly). */
export interface PageRequests {
  request(request: PageRequest): Promise<void>;
}

/** Who rewrites statistics, the home page and the search index on demand (BigBrother's HOME). */
export interface HomePage {
  forceHome(): void | Promise<void>;
}

/** Who cancels builds of a removed package or version, handed out or queued (the slave driver). */
export interface BuildCancellation {
  deleted(pkg: string, version: string | null): void;
}

/** MrChase's collaborators. */
export interface MrChaseDeps {
  db: MrChaseDatabase;
  /** The file juggler: imported files arrive as slave 0's, as piwheels does it. */
  transfers: FileTransfers;
  /** The build recorder: stores an imported build (and hands it to the page writer). */
  recorder: BuildLog;
  pages: PageRequests;
  home: HomePage;
  builds: BuildCancellation;
  /** Versions were added or un-skipped: the build queue should look again (the architect). */
  refill?: QueueRefill;
  /** What upstream serves, asked before imported files are taken; none: nothing is checked. */
  upstream?: UpstreamCheck;
}

export interface MrChaseOptions extends TaskOptions {
  /** Where the tools connect (--import-queue). */
  endpoint: string;
  deps: MrChaseDeps;
  /** An import whose client went quiet this long is abandoned (ms). */
  importTimeoutMs?: number;
  /** Verify failures of one file before an import is refused. */
  maxTransferAttempts?: number;
  now?: () => number;
}

/** Importers send their files as slave 0, as piwheels' piw-import does. */
export const IMPORT_SLAVE_ID = 0;

interface ImportState {
  client: string;
  build: BuildResult;
  lastSeen: number;
  attempts: number;
}

const done = (data: string): ChaseReply => ({ msg: 'DONE', data });
const error = (data: string): ChaseReply => ({ msg: 'ERROR', data });

export class MrChase extends Task {
  readonly name = 'master.mr_chase';
  private socket: WireSocket<typeof mrChaseProtocol.recv, typeof mrChaseProtocol.send> | undefined;
  private loop: Promise<void> | undefined;
  private current: ImportState | undefined;
  private readonly deps: MrChaseDeps;
  private readonly now: () => number;

  constructor(private readonly options: MrChaseOptions) {
    super(options);
    this.deps = options.deps;
    this.now = options.now ?? Date.now;
  }

  get endpoint(): string | null {
    return this.socket?.endpoint ?? null;
  }

  protected override async setup(): Promise<void> {
    // import tools are REQ peers with one request in flight
    const socket = await bindSocket('ROUTER', this.options.endpoint, { protocol: mrChaseProtocol, logger: this.logger, hwm: 10 });
    this.socket = socket;
    this.loop = this.serve(socket);
  }

  private async serve(socket: WireSocket<typeof mrChaseProtocol.recv, typeof mrChaseProtocol.send>): Promise<void> {
    for (;;) {
      let address: Buffer;
      let reply: ChaseReply;
      try {
        const request = await socket.recvAddr();
        // null only when the socket is being closed
        if (request === null) return;
        address = request.address;
        reply = await this.handle(address.toString('hex'), request);
      } catch (err) {
        if (socket.closed) return;
        if (err instanceof ProtocolError && err.address !== undefined) {
          this.logger.warn({ err: err.message }, 'invalid request from an import tool');
          address = err.address;
          reply = error(`invalid request: ${err.message}`);
        } else {
          this.logger.error({ err }, 'import endpoint failed');
          continue;
        }
      }
      try {
        await socket.sendAddr(address, reply.msg, reply.data);
      } catch (err) {
        if (socket.closed) return;
        this.logger.error({ err }, 'cannot answer an import tool');
      }
    }
  }

  /** One request from the client identified by `client` to its answer. */
  async handle(client: string, request: ChaseRequest): Promise<ChaseReply> {
    try {
      switch (request.msg) {
        case 'IMPORT':
          return await this.doImport(client, request.data);
        case 'SENT':
          return await this.doSent(client);
        case 'ADDPKG':
          return await this.doAddPackage(request.data);
        case 'ADDVER':
          return await this.doAddVersion(request.data);
        case 'REMPKG':
          return await this.doRemovePackage(request.data);
        case 'REMVER':
          return await this.doRemoveVersion(request.data);
        case 'REBUILD':
          return await this.doRebuild(request.data);
      }
    } catch (err) {
      this.logger.error({ err, msg: request.msg }, 'request failed');
      if (this.current?.client === client) this.abandonImport();
      return error(`${request.msg} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
  }

  // ---- imports ----

  private abandonImport(): void {
    this.current = undefined;
    this.deps.transfers.cancel(IMPORT_SLAVE_ID);
  }

  private async doImport(client: string, data: Extract<ChaseRequest, { msg: 'IMPORT' }>['data']): Promise<ChaseReply> {
    if (this.current !== undefined) {
      const idle = this.now() - this.current.lastSeen;
      if (this.current.client !== client && idle < (this.options.importTimeoutMs ?? 600_000)) {
        return error('another import is in progress; try again when it has finished');
      }
      this.logger.warn({ package: this.current.build.package }, 'abandoning an unfinished import');
      this.abandonImport();
    }
    const imported = buildFromMessage(data);
    if (imported === null) return error('the files are built for different platforms: import one build target at a time');
    const { version, abiTag, platformTag, files } = imported;
    const pkg = canonicalizeName(imported.package);
    if (!imported.status) return error('importing a failed build is not supported');
    if (files.length === 0) return error('no files listed for import');
    const abis = await this.deps.db.getBuildAbis();
    if (!abis.includes(abiTag)) return error(`invalid ABI: ${abiTag} (build ABIs: ${abis.join(', ') || 'none'})`);
    // a farm without platforms takes wheels of any platform, as piwheels does
    const platforms = await this.deps.db.getBuildPlatforms();
    if (platforms.length > 0 && platformTag !== ANY_PLATFORM && !platforms.includes(platformTag)) {
      return error(`invalid platform: ${platformTag} (build platforms: ${platforms.join(', ')})`);
    }
    if (!(await this.deps.db.testPackageVersion(pkg, version))) return error(`unknown package version ${pkg} ${version}`);
    const names = new Set<string>();
    for (const file of files) {
      const problem = checkWheelFilename(file.filename, pkg);
      if (problem !== null) return error(`invalid file ${problem}`);
      if (!/^[0-9a-f]{64}$/.test(file.filehash)) return error(`invalid file ${JSON.stringify(file.filename)}: hash is not a SHA-256`);
      if (names.has(file.filename)) return error(`file ${file.filename} listed twice`);
      names.add(file.filename);
    }
    const clash = await this.upstreamClash(pkg, version, files);
    if (clash !== null) return error(clash);
    const build: BuildResult = { ...imported, slaveId: IMPORT_SLAVE_ID, package: pkg, files: addArmv6Twins(files) };
    const first = nextFile(build)!;
    this.current = { client, build, lastSeen: this.now(), attempts: 0 };
    this.logger.info({ package: pkg, version, abi: abiTag, platform: platformTag, files: files.length }, 'import started; send %s', first.filename);
    this.deps.transfers.expect(IMPORT_SLAVE_ID, first);
    return { msg: 'SEND', data: first.filename };
  }

  /**
   * Why an import must be refused for upstream's sake (a file whose name
   * upstream serves with other bytes, or upstream unable to say), or null.
   * The operator gets the reason at once, rather than a build half taken.
   */
  private async upstreamClash(pkg: string, version: string, files: ReadonlyArray<{ filename: string; filehash: string }>): Promise<string | null> {
    const upstream = this.deps.upstream;
    if (upstream === undefined) return null;
    const theirs = await upstream.filesOf(pkg, version);
    if (theirs === null) return `upstream could not be asked whether it serves files of these names; try again once it answers`;
    const { withheld } = sortOutClashes(files, theirs);
    if (withheld.length === 0) return null;
    return `upstream serves ${withheld.map((w) => w.filename).join(', ')} with other bytes; pip would refuse the mix, so it is not imported`;
  }

  private async doSent(client: string): Promise<ChaseReply> {
    const state = this.current;
    if (state === undefined || state.client !== client) {
      this.logger.error('SENT before IMPORT');
      return error('protocol violation');
    }
    state.lastSeen = this.now();
    const build = state.build;
    const file = nextFile(build)!;
    const committed = await this.deps.transfers.verify(IMPORT_SLAVE_ID, build.package);
    if (committed === null) {
      state.attempts += 1;
      if (state.attempts >= (this.options.maxTransferAttempts ?? 5)) {
        this.logger.error({ file: file.filename }, 'import transfer keeps failing to verify; abandoned');
        this.abandonImport();
        return error(`transfer of ${file.filename} failed verification ${state.attempts} times`);
      }
      this.logger.warn({ file: file.filename, attempt: state.attempts }, 'import transfer failed to verify; re-send');
      this.deps.transfers.expect(IMPORT_SLAVE_ID, file);
      return { msg: 'SEND', data: file.filename };
    }
    file.transferred = true;
    file.metadataHash = committed.metadataHash;
    state.attempts = 0;
    this.logger.info({ file: file.filename }, 'verified imported file');
    const next = nextFile(build);
    if (next !== undefined) {
      this.deps.transfers.expect(IMPORT_SLAVE_ID, next);
      return { msg: 'SEND', data: next.filename };
    }
    this.current = undefined;
    const buildId = await this.deps.recorder.record(build);
    this.logger.info({ package: build.package, version: build.version, build: buildId }, 'registered imported build');
    return done('IMPORT');
  }

  // ---- add ----

  /** The alias set piwheels keeps: the names given plus the canonical one, the display name last. */
  private aliases(pkg: string, displayName: string, given: string[]): string[] | string {
    for (const alias of given) {
      if (canonicalizeName(alias) !== pkg) return `alias ${alias} does not match the package name ${pkg}`;
    }
    const names = new Set([...given, pkg]);
    names.delete(displayName);
    return [...names, displayName];
  }

  private async recordAliases(pkg: string, aliases: string[]): Promise<void> {
    // one after another so that the display name (last) is the latest seen
    for (const alias of aliases) await this.deps.db.addPackageName(pkg, alias, new Date(this.now()));
  }

  private async doAddPackage([displayName, description, skip, unskip, given]: Extract<ChaseRequest, { msg: 'ADDPKG' }>['data']): Promise<ChaseReply> {
    if (!isValidProjectName(displayName)) return error(`invalid package name ${JSON.stringify(displayName)}`);
    const pkg = canonicalizeName(displayName);
    const aliases = this.aliases(pkg, displayName, given);
    if (typeof aliases === 'string') return error(aliases);
    let reply: ChaseReply;
    let rewrite: 'BOTH' | 'PROJECT';
    if (await this.deps.db.addNewPackage(pkg, skip, description)) {
      this.logger.info({ package: pkg, skip: skip || undefined }, 'added package');
      rewrite = 'BOTH';
      reply = done('NEWPKG');
    } else {
      if (skip) return error('SKIPPKG');
      if (unskip) {
        await this.deps.db.skipPackage(pkg, '');
        this.deps.refill?.nudge();
      }
      if (description) await this.deps.db.setPackageDescription(pkg, description);
      this.logger.info({ package: pkg, unskip, description: description || undefined }, 'updated package');
      rewrite = 'PROJECT';
      reply = done('UPDPKG');
    }
    await this.recordAliases(pkg, aliases);
    await this.deps.pages.request({ kind: rewrite, package: pkg });
    return reply;
  }

  private async doAddVersion([displayName, version, skip, unskip, released, yank, unyank, given]: Extract<ChaseRequest, { msg: 'ADDVER' }>['data']): Promise<ChaseReply> {
    const pkg = canonicalizeName(displayName);
    const aliases = this.aliases(pkg, displayName, given);
    if (typeof aliases === 'string') return error(aliases);
    if (version.trim() === '' || version.length > 200) return error(`invalid version ${JSON.stringify(version)}`);
    if (!(await this.deps.db.testPackage(pkg))) return error('NOPKG');
    let reply: ChaseReply;
    let rewrite: 'BOTH' | 'PROJECT';
    if (await this.deps.db.addNewPackageVersion(pkg, version, released.toDate(), skip)) {
      if (yank) await this.deps.db.yankVersion(pkg, version);
      this.logger.info({ package: pkg, version, skip: skip || undefined, yank }, 'added version');
      rewrite = 'PROJECT';
      reply = done('NEWVER');
    } else {
      if (skip) return error('SKIPVER');
      if (yank) return error('YANKVER');
      if (unskip) await this.deps.db.skipPackageVersion(pkg, version, '');
      if (unyank) await this.deps.db.unyankVersion(pkg, version);
      this.logger.info({ package: pkg, version, unskip, unyank }, 'updated version');
      rewrite = 'BOTH';
      reply = done('UPDVER');
    }
    this.deps.refill?.nudge();
    await this.recordAliases(pkg, aliases);
    await this.deps.pages.request({ kind: rewrite, package: pkg });
    return reply;
  }

  // ---- remove ----

  private async doRemovePackage([name, builds, skip]: Extract<ChaseRequest, { msg: 'REMPKG' }>['data']): Promise<ChaseReply> {
    const pkg = canonicalizeName(name);
    if (!(await this.deps.db.testPackage(pkg))) {
      this.logger.error({ package: pkg }, 'unknown package');
      return error('NOPKG');
    }
    this.deps.builds.deleted(pkg, null);
    if (!skip && !builds) {
      await this.deps.db.deletePackage(pkg);
      this.logger.info({ package: pkg }, 'deleted package');
      await this.deps.pages.request({ kind: 'DELPKG', package: pkg });
      return done('DELPKG');
    }
    let result = 'SKIPPKG';
    if (skip) {
      await this.deps.db.skipPackage(pkg, skip);
      this.logger.info({ package: pkg, skip }, 'skipped package');
    }
    if (builds) {
      const versions = (await this.deps.db.getAllPackageVersions()).get(pkg) ?? new Set<string>();
      for (const version of versions) await this.deps.db.deleteBuild(pkg, version);
      this.logger.info({ package: pkg, versions: versions.size }, 'deleted every build of package');
      // the wheels go with the directory; the pages are then written afresh
      await this.deps.pages.request({ kind: 'DELPKG', package: pkg });
      result = 'DELPKGBLD';
      if (!skip) this.deps.refill?.nudge();
    }
    await this.deps.pages.request({ kind: 'BOTH', package: pkg });
    return done(result);
  }

  private async doRemoveVersion([name, version, builds, skip, yank]: Extract<ChaseRequest, { msg: 'REMVER' }>['data']): Promise<ChaseReply> {
    const pkg = canonicalizeName(name);
    if (!(await this.deps.db.testPackageVersion(pkg, version))) {
      this.logger.error({ package: pkg, version }, 'unknown package version');
      return error('NOVER');
    }
    if (!skip && !builds && !yank) {
      this.deps.builds.deleted(pkg, version);
      await this.deps.db.deleteVersion(pkg, version);
      this.logger.info({ package: pkg, version }, 'deleted version');
      await this.deps.pages.request({ kind: 'DELVER', package: pkg, version });
      return done('DELVER');
    }
    let result = '';
    if (skip) {
      this.deps.builds.deleted(pkg, version);
      await this.deps.db.skipPackageVersion(pkg, version, skip);
      this.logger.info({ package: pkg, version, skip }, 'skipped version');
      result = 'SKIPVER';
    }
    if (yank) {
      await this.deps.db.yankVersion(pkg, version);
      this.logger.info({ package: pkg, version }, 'yanked version');
      result = 'YANKVER';
    }
    if (builds) {
      this.deps.builds.deleted(pkg, version);
      await this.deps.db.deleteBuild(pkg, version);
      this.logger.info({ package: pkg, version }, 'deleted builds of version');
      if (!skip) this.deps.refill?.nudge();
      await this.deps.pages.request({ kind: 'DELVER', package: pkg, version });
      result = 'DELVERBLD';
    }
    await this.deps.pages.request({ kind: 'BOTH', package: pkg });
    return done(result);
  }

  // ---- rebuild ----

  private async doRebuild(data: Extract<ChaseRequest, { msg: 'REBUILD' }>['data']): Promise<ChaseReply> {
    if (data[0] === 'HOME' || data[0] === 'SEARCH') {
      this.logger.info('rebuilding home page and search index');
      await this.deps.home.forceHome();
      return done('REBUILD');
    }
    const [part, name] = data;
    if (name === null) {
      const packages = [...(await this.deps.db.getAllPackages())].sort();
      this.logger.warn({ part, packages: packages.length }, 'rebuilding pages of every package');
      for (const pkg of packages) await this.deps.pages.request({ kind: part, package: pkg });
      return done('REBUILD');
    }
    const pkg = canonicalizeName(name);
    if (!(await this.deps.db.testPackage(pkg))) return error(`unknown package ${name}`);
    this.logger.info({ part, package: pkg }, 'rebuilding pages');
    await this.deps.pages.request({ kind: part, package: pkg });
    return done('REBUILD');
  }

  protected override async teardown(): Promise<void> {
    this.socket?.close(0);
    await this.loop;
    if (this.current !== undefined) this.abandonImport();
  }
}
