// Kysely's view of the tables. Values are typed as they are written by this
// code, which writes the same thing to both dialects: timestamps as UTC text,
// booleans as 0/1 (PostgreSQL accepts both for BOOLEAN). What comes back may
// differ by dialect (a PostgreSQL boolean is a boolean), so reads go through
// the converters in values.ts.
import type { ColumnType, Generated } from 'kysely';

/** UTC text 'YYYY-MM-DD HH:MM:SS.fff' written; text read back. */
type Timestamp = ColumnType<string, string, string>;
/** 0/1 written; 0/1 (SQLite) or true/false (PostgreSQL) read back. */
type Flag = ColumnType<number | boolean, number | undefined, number>;
/** Interval (PostgreSQL) or REAL seconds (SQLite); written and read through SQL expressions. */
type Duration = ColumnType<unknown, unknown, unknown>;
/** BIGINT counters; read back as numbers (PostgreSQL's parser is set so). */
type Count = ColumnType<number, number, number>;

export interface ConfigurationTable {
  id: Generated<number>;
  version: string;
  pypi_serial: ColumnType<number, number | undefined, number>;
}

export interface PackagesTable {
  package: string;
  skip: Generated<string>;
  description: Generated<string>;
}

export interface PackageNamesTable {
  package: string;
  name: string;
  seen: Timestamp;
}

export interface VersionsTable {
  package: string;
  version: string;
  released: Timestamp;
  skip: Generated<string>;
  yanked: Flag;
}

export interface BuildAbisTable {
  abi_tag: string;
  skip: Generated<string>;
}

export interface BuildPlatformsTable {
  platform_tag: string;
  skip: Generated<string>;
}

export interface BuildsTable {
  build_id: Generated<number>;
  package: string;
  version: string;
  built_by: number;
  built_at: Timestamp;
  duration: Duration;
  status: Flag;
  abi_tag: string;
  /** The builder's native platform; '' when not known (older builds). */
  platform_tag: Generated<string>;
}

export interface BuildFailuresTable {
  build_id: number;
  kind: string;
  /** Which try this was (1: the first). */
  attempt: number;
  retry_at: Timestamp | null;
  missing_kind: string | null;
  missing_name: string | null;
  debian_package: string | null;
}

export interface BuildEnvironmentsTable {
  build_id: number;
  os: string;
  python: string;
  pip: string | null;
  setuptools: string | null;
  wheel: string | null;
  dpkg_digest: string | null;
  reproduce: string;
}

export interface BuildAttemptsTable {
  attempt_id: Generated<number>;
  package: string;
  version: string;
  abi_tag: string;
  attempt: number;
  kind: string;
  built_by: number;
  built_at: Timestamp;
  /** The build id the attempt's log is filed under; null when the slave was lost before a log. */
  log_build_id: number | null;
}

export interface FilesTable {
  filename: string;
  build_id: number;
  filesize: number;
  filehash: string;
  package_tag: string;
  package_version_tag: string;
  py_version_tag: string;
  abi_tag: string;
  platform_tag: string;
  requires_python: string | null;
  location: Generated<string>;
  metadata_hash: string | null;
}

export interface DependenciesTable {
  filename: string;
  tool: string;
  dependency: string;
}

interface AccessFields {
  accessed_by: string;
  accessed_at: Timestamp;
}

interface PipAgentFields {
  arch: string | null;
  distro_name: string | null;
  distro_version: string | null;
  os_name: string | null;
  os_version: string | null;
  py_name: string | null;
  py_version: string | null;
  installer_name: string | null;
  installer_version: string | null;
  setuptools_version: string | null;
}

export interface DownloadsTable extends AccessFields, PipAgentFields {
  filename: string;
}

export interface SearchesTable extends AccessFields, PipAgentFields {
  package: string;
}

export interface ProjectPageHitsTable extends AccessFields {
  package: string;
  user_agent: string | null;
  bot: Flag;
}

export interface ProjectJsonDownloadsTable extends AccessFields {
  package: string;
  user_agent: string | null;
}

export interface WebPageHitsTable extends AccessFields {
  page: string;
  user_agent: string | null;
  bot: Flag;
}

export interface RewritesPendingTable {
  package: string;
  added_at: Timestamp;
  command: string;
}

export interface PreinstalledAptPackagesTable {
  abi_tag: string;
  apt_package: string;
}

export interface BuildQueueTable {
  package: string;
  version: string;
  /** '' on a farm without platforms. */
  platform_tag: string;
  abi_tag: string;
  released: Timestamp;
}

export interface FarmCountersTable {
  name: string;
  value: Count;
}

export interface PackageTagFilesTable {
  package_tag: string;
  files: Count;
}

export interface DownloadCountsTable {
  package: string;
  /** 'YYYY-MM-DD' (UTC). */
  day: string;
  downloads: Count;
}

export interface PackageDownloadsTable {
  package: string;
  downloads_all: Count;
  /** Downloads on or after download_window.first_day. */
  downloads_recent: Count;
}

export interface DownloadWindowTable {
  id: number;
  /** 'YYYY-MM-DD' (UTC): the first day of the recent downloads. */
  first_day: string;
}

export interface DownloadsDailyTable {
  day: string;
  downloads: Count;
}

export interface UpstreamReleasesTable {
  package: string;
  version: string;
  checked_at: Timestamp;
}

export interface UpstreamFilesTable {
  package: string;
  version: string;
  filename: string;
  filehash: string;
  requires_python: string | null;
  uploaded_at: Timestamp;
}

export interface UpstreamClashesTable {
  build_id: number;
  filename: string;
  filehash: string;
  upstream_filehash: string;
}

export interface UpstreamServedTable {
  package: string;
  version: string;
  abi_tag: string;
  platform_tag: string;
  filename: string;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Timestamp;
}

export interface Tables {
  configuration: ConfigurationTable;
  packages: PackagesTable;
  package_names: PackageNamesTable;
  versions: VersionsTable;
  build_abis: BuildAbisTable;
  build_platforms: BuildPlatformsTable;
  builds: BuildsTable;
  files: FilesTable;
  build_failures: BuildFailuresTable;
  build_environments: BuildEnvironmentsTable;
  build_attempts: BuildAttemptsTable;
  dependencies: DependenciesTable;
  downloads: DownloadsTable;
  searches: SearchesTable;
  project_page_hits: ProjectPageHitsTable;
  project_json_downloads: ProjectJsonDownloadsTable;
  web_page_hits: WebPageHitsTable;
  rewrites_pending: RewritesPendingTable;
  preinstalled_apt_packages: PreinstalledAptPackagesTable;
  build_queue: BuildQueueTable;
  farm_counters: FarmCountersTable;
  package_tag_files: PackageTagFilesTable;
  download_counts: DownloadCountsTable;
  downloads_daily: DownloadsDailyTable;
  package_downloads: PackageDownloadsTable;
  download_window: DownloadWindowTable;
  upstream_releases: UpstreamReleasesTable;
  upstream_files: UpstreamFilesTable;
  upstream_clashes: UpstreamClashesTable;
  upstream_served: UpstreamServedTable;
  schema_migrations: SchemaMigrationsTable;
}
