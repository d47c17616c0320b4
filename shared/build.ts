// One build as the farm models it, from the wire to the database. The slave
// makes its BUILT data here and the master reads it back here (an importer's
// IMPORT carries the same file states), so both ends share one shape; the
// master adds the armv6l twins and turns the finished build into the record
// the database stores.
import type { BuildEnvironment } from './build-log.ts';
import type { BuildRecord, WithheldFileRecord } from './db/index.ts';
import type { FailureKind, MissingDependency } from './failure.ts';
import type { Timedelta } from './wire/cbor.ts';
import type { BuildStateMessage, BuiltMessage, FileStateMessage } from './wire/protocols.ts';

/** The facts about one wheel that a file state carries, by name. */
export interface WheelFileFields {
  filename: string;
  filesize: number;
  /** Lower-case hex SHA-256 of the file. */
  filehash: string;
  packageTag: string;
  packageVersionTag: string;
  pyVersionTag: string;
  abiTag: string;
  platformTag: string;
  requiresPython: string | null;
}

/** A wheel as a builder reports it. */
export interface WheelFile extends WheelFileFields {
  /** Dependencies by tool: "apt" packages, "pip" projects, "" libraries no package provides. */
  dependencies: Record<string, string[]>;
}

/** One wheel of a build at the master, and whether it has arrived. */
export interface BuiltFile extends WheelFile {
  location: string;
  transferred: boolean;
  /** SHA-256 of the wheel's METADATA (PEP 658) once the master holds the file; null before, or when unreadable. */
  metadataHash: string | null;
}

/** A finished build attempt, ready to be recorded. */
export interface BuildResult {
  slaveId: number;
  package: string;
  version: string;
  /** ABI of the build machine. */
  abiTag: string;
  /** Native platform of the build machine; '' when not known. */
  platformTag: string;
  status: boolean;
  /** Seconds. */
  duration: number;
  output: string;
  files: BuiltFile[];
  /** Why it failed, once the master has triaged it; null or absent: not known. */
  failure?: { kind: FailureKind; missing: MissingDependency | null } | null;
  /** The builder's environment, from our slave's log header. */
  environment?: BuildEnvironment | null;
  /** Files the master did not publish: upstream serves their names with other bytes. */
  withheld?: WithheldFileRecord[];
}

/** piwheels' slaves always say their wheels go under /simple; the master decides the place itself. */
const LOCATION = '/simple';

const byFilename = (a: { filename: string }, b: { filename: string }): number =>
  a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0;

export function fileToMessage(file: WheelFile & { location?: string }): FileStateMessage {
  return [
    file.filename, file.filesize, file.filehash, file.packageTag, file.packageVersionTag, file.pyVersionTag,
    file.abiTag, file.platformTag, file.requiresPython, file.dependencies, file.location ?? LOCATION,
  ];
}

export function fileFromMessage(message: FileStateMessage): BuiltFile {
  const [filename, filesize, filehash, packageTag, packageVersionTag, pyVersionTag, abiTag, platformTag, requiresPython, dependencies, location] = message;
  return {
    filename, filesize, filehash: filehash.toLowerCase(), packageTag, packageVersionTag, pyVersionTag,
    abiTag, platformTag, requiresPython, dependencies, location, transferred: false, metadataHash: null,
  };
}

/** The slave's BUILT data for a build attempt. */
export function builtToMessage(status: boolean, duration: Timedelta, output: string, files: readonly WheelFile[]): BuiltMessage {
  return [status, duration, output, files.map((f) => fileToMessage(f))];
}

/** The BUILT data as the master keeps it; the package and version come from the BUILD it answers. */
export function builtFromMessage([status, duration, output, files]: BuiltMessage): Pick<BuildResult, 'status' | 'duration' | 'output' | 'files'> {
  return { status, duration: duration.totalSeconds(), output, files: files.map((f) => fileFromMessage(f)) };
}

/** A whole build as IMPORT carries it, files in filename order (as piwheels sends them); the wire has no platform. */
export function buildToMessage(build: Omit<BuildResult, 'duration' | 'files' | 'platformTag'> & { duration: Timedelta; files: readonly WheelFile[] }): BuildStateMessage {
  const files = [...build.files].sort(byFilename).map((f) => fileToMessage(f));
  return [build.slaveId, build.package, build.version, build.abiTag, build.status, build.duration, build.output, files];
}

/**
 * A build from IMPORT. The message names the builder's ABI but not its
 * platform: that is the one platform its wheels are tagged for (an armv7l
 * wheel's armv6l twin aside), '' when they are all portable, and null when
 * they name several, which is not one build.
 */
export function buildFromMessage([slaveId, pkg, version, abiTag, status, duration, output, files]: BuildStateMessage): BuildResult | null {
  const built = files.map((f) => fileFromMessage(f));
  const platformTag = builderPlatform(built);
  if (platformTag === null) return null;
  return { slaveId, package: pkg, version, abiTag, platformTag, status, duration: duration.totalSeconds(), output, files: built };
}

/** The platform wheels were built on, from their tags: see buildFromMessage. */
export function builderPlatform(files: ReadonlyArray<Pick<WheelFileFields, 'platformTag'>>): string | null {
  const tags = new Set(files.map((f) => f.platformTag).filter((tag) => tag !== 'any'));
  if (tags.has('linux_armv7l')) tags.delete('linux_armv6l');
  if (tags.size > 1) return null;
  return [...tags][0] ?? '';
}

/** The next file of a build still to transfer, in filename order (as piwheels). */
export function nextFile(build: BuildResult): BuiltFile | undefined {
  return [...build.files].sort(byFilename).find((f) => !f.transferred);
}

const ARMV7 = 'linux_armv7l.whl';

/** The name under which an armv7l wheel also serves armv6l Pis; null for other wheels. */
export function armv6TwinName(filename: string): string | null {
  return filename.endsWith(ARMV7) ? `${filename.slice(0, -ARMV7.length)}linux_armv6l.whl` : null;
}

/**
 * An armv7l wheel also serves armv6l Pis: add the twin entry (already
 * "transferred": the file juggler links it on commit), as piwheels does.
 */
export function addArmv6Twins(files: readonly BuiltFile[]): BuiltFile[] {
  const out = [...files];
  for (const file of files) {
    const twin = file.platformTag === 'linux_armv7l' ? armv6TwinName(file.filename) : null;
    if (twin === null || out.some((f) => f.filename === twin)) continue;
    out.push({ ...file, filename: twin, platformTag: 'linux_armv6l', transferred: true });
  }
  return out;
}

/** A build as the database records it; an armv6l twin shares its original's METADATA hash. */
export function toBuildRecord(build: BuildResult, builtAt: Date): BuildRecord {
  const metadataByHash = new Map<string, string>();
  for (const f of build.files) if (f.metadataHash !== null) metadataByHash.set(f.filehash, f.metadataHash);
  return {
    package: build.package,
    version: build.version,
    abiTag: build.abiTag,
    platformTag: build.platformTag,
    status: build.status,
    duration: build.duration,
    slaveId: build.slaveId,
    builtAt,
    failure: build.failure ?? null,
    environment: build.environment ?? null,
    withheld: build.withheld ?? [],
    files: build.files.map((f) => ({
      filename: f.filename,
      filesize: f.filesize,
      filehash: f.filehash,
      packageTag: f.packageTag,
      packageVersionTag: f.packageVersionTag,
      pyVersionTag: f.pyVersionTag,
      abiTag: f.abiTag,
      platformTag: f.platformTag,
      requiresPython: f.requiresPython,
      dependencies: { apt: f.dependencies.apt ?? [], pip: f.dependencies.pip ?? [] },
      metadataHash: f.metadataHash ?? metadataByHash.get(f.filehash) ?? null,
    })),
  };
}
