// The shapes the database hands to the rest of the farm: what a project page,
// the statistics and the search index are made from. The database layer
// produces them for both dialects; the site renders them; the coordinator
// passes them along. Keep field meanings in step with the piwheels originals
// (noted per field) so that output built from them stays compatible. The
// statistics and search rows travel to the page writer's thread, so they are
// schemas that the receiving side checks.
import { z } from 'zod';
import type { BuildEnvironment } from './build-log.ts';
import type { FailureKind, MissingDependency } from './failure.ts';

/**
 * Build outcome of one version for one active build target (piwheels:
 * releases[v].abis, keyed by ABI: the same on a farm without platforms);
 * 'upstream': not built or not published here because upstream serves a
 * wheel for it.
 */
export type AbiStatusKind = 'success' | 'fail' | 'pending' | 'skip' | 'upstream';

export interface AbiStatus {
  status: AbiStatusKind;
  /** The build that decided this status; null when pending or skipped without a build. */
  buildId: number | null;
}

/** One wheel of a release (piwheels: releases[v].files[filename]). */
export interface FileInfo {
  filename: string;
  /** SHA-256, hex. */
  hash: string;
  size: number;
  /** ABI of the build machine that produced it (piwheels: abi_builder). */
  abiBuilder: string;
  /** ABI tag in the wheel's filename (piwheels: abi_file). */
  abiFile: string;
  platform: string;
  requiresPython: string | null;
  /** Debian packages to install, less those preinstalled for the ABI. */
  aptDependencies: string[];
  pipDependencies: string[];
  /** SHA-256 of the wheel's METADATA (PEP 658), when known. */
  metadataHash: string | null;
  /** When the build that produced it finished (PEP 700 upload-time). */
  builtAt: Date;
  buildId: number;
}

/** A failed build's triage: why it failed, which try it was, when it is tried again. */
export interface FailureInfo {
  kind: FailureKind;
  /** Which try this was (1: the first). */
  attempt: number;
  /** When it is tried again; null: not automatically. */
  retryAt: Date | null;
  missing: MissingDependency | null;
  /** The Debian package that provides `missing`, once looked up. */
  debianPackage: string | null;
}

/** An earlier try of a build that was tried again. */
export interface AttemptInfo {
  abi: string;
  attempt: number;
  kind: FailureKind;
  builtBy: number;
  builtAt: Date;
  /** The build id its log is filed under; null when the slave went silent before a log. */
  logBuildId: number | null;
}

/** What is known of one build beyond its outcome. */
export interface BuildDetails {
  failure: FailureInfo | null;
  /** The builder's environment (our slaves report it; piwheels' do not). */
  environment: BuildEnvironment | null;
}

/** A file a build produced that was not published: upstream serves its name with other bytes. */
export interface WithheldFile {
  filename: string;
  /** SHA-256 of our build's file, and of upstream's, hex. */
  hash: string;
  upstreamHash: string;
  buildId: number;
  /** ABI of the build machine that produced it. */
  abiBuilder: string;
}

/** A target a release is not built for, because upstream's wheel installs there. */
export interface ServedUpstream {
  abi: string;
  platform: string;
  filename: string;
}

/** One version of a project (piwheels: releases[v]). */
export interface ReleaseData {
  version: string;
  released: Date;
  prerelease: boolean;
  yanked: boolean;
  /** The version's skip reason, or else the package's; '' when not skipped. */
  skip: string;
  /** Keyed by active build target (cp311, or cp311-linux_aarch64 on a farm with platforms). */
  abis: Record<string, AbiStatus>;
  /** Keyed by filename. */
  files: Record<string, FileInfo>;
  /** Earlier tries of builds tried again, oldest first. */
  attempts: AttemptInfo[];
  /** Files built but withheld for clashing with upstream's, by filename. */
  withheld: WithheldFile[];
  /** Targets upstream serves, so not built here. */
  servedUpstream: ServedUpstream[];
}

/** Everything a project's pages need (piwheels: get_project_data). */
export interface ProjectData {
  /** Canonical (PEP 503) name: the key everywhere. */
  package: string;
  /** The most recently seen spelling of the name, for display. */
  name: string;
  description: string;
  /** Package-level skip reason; '' when not skipped. */
  skip: string;
  /** Other known spellings of the name (not including `package`). */
  aliases: string[];
  /** Newest first by PEP 440. */
  releases: ReleaseData[];
  downloadsRecent: number;
  downloadsAll: number;
  /** Triage and environment of the builds that have any, by build id. */
  builds: Record<number, BuildDetails>;
}

const count = z.number().int().nonnegative();

/** Statistics for the home page and monitors (piwheels: get_statistics). */
export const farmStatisticsSchema = z.object({
  packagesBuilt: count,
  /** Seconds of build time, builds longer than a week excluded (clock skew). */
  buildsTime: z.number().nonnegative(),
  /** Bytes of wheels, linux_armv6l twins excluded. */
  buildsSize: count,
  filesCount: count,
  newLastHour: count,
  /** Keyed by active build target (cp311, or cp311-linux_aarch64 on a farm with platforms). */
  buildsLastHour: z.record(z.string().min(1), count),
  buildsPending: z.record(z.string().min(1), count),
  downloadsLastHour: count,
  downloadsLastMonth: count,
  downloadsAll: count,
});
export type FarmStatistics = z.infer<typeof farmStatisticsSchema>;

/** One row of the search index (piwheels: get_search_index). */
export const searchEntrySchema = z.object({
  package: z.string().min(1),
  description: z.string(),
  downloadsRecent: count,
  downloadsAll: count,
});
export type SearchEntry = z.infer<typeof searchEntrySchema>;
