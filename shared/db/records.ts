// What the farm hands the database to record: builds from the slaves and
// access-log entries from the logger. Validated here because they come from
// outside (slaves, log lines) however many hands they pass through.
import { z } from 'zod';
import { BuildEnvironmentSchema } from '../build-log.ts';
import { FailureKindSchema, MissingDependencySchema } from '../failure.ts';

const name = z.string().min(1).max(200);
const tag = z.string().min(1).max(100);

export const BuildFileRecordSchema = z.object({
  filename: z
    .string()
    .min(1)
    .max(255)
    .refine((f) => !/[/\\\0]/.test(f) && f !== '.' && f !== '..', 'must be a plain file name'),
  filesize: z.number().int().nonnegative(),
  /** SHA-256 of the wheel, hex. */
  filehash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
  packageTag: name,
  packageVersionTag: name,
  pyVersionTag: tag,
  abiTag: tag,
  platformTag: tag,
  requiresPython: z.string().max(200).nullable(),
  dependencies: z.object({
    apt: z.array(z.string().min(1).max(255)),
    pip: z.array(z.string().min(1).max(255)),
  }),
  /** SHA-256 of the wheel's METADATA (PEP 658), when known. */
  metadataHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits').nullable(),
});

/** A file a build produced but the farm withheld: upstream serves its name with other bytes. */
export const WithheldFileRecordSchema = z.object({
  filename: BuildFileRecordSchema.shape.filename,
  filehash: BuildFileRecordSchema.shape.filehash,
  upstreamFilehash: BuildFileRecordSchema.shape.filehash,
});

export const BuildRecordSchema = z
  .object({
    package: name,
    version: name,
    /** ABI of the build machine. */
    abiTag: tag.refine((t) => t !== 'none', 'a build machine has a real ABI'),
    /** Native platform of the build machine; '' (or left out) when not known, as for an import of portable wheels. */
    platformTag: z.string().max(100).refine((t) => t !== 'any', 'a build machine has a real platform').default(''),
    status: z.boolean(),
    /** Seconds. */
    duration: z.number().finite().nonnegative(),
    slaveId: z.number().int().nonnegative(),
    builtAt: z.date(),
    files: z.array(BuildFileRecordSchema),
    /** Why a failed build failed (builds from the import tools and older callers: not known). */
    failure: z.object({ kind: FailureKindSchema, missing: MissingDependencySchema.nullable() }).nullable().default(null),
    /** What the builder ran, from our slave's log header; null for other slaves. */
    environment: BuildEnvironmentSchema.nullable().default(null),
    /** Files of a successful build not published for clashing with upstream's. */
    withheld: z.array(WithheldFileRecordSchema).default([]),
  })
  .refine((b) => !b.status || b.failure === null, { message: 'a successful build has no failure', path: ['failure'] })
  .refine((b) => !b.status || b.files.length + b.withheld.length > 0, {
    message: 'a successful build must include at least one file',
    path: ['files'],
  })
  .refine((b) => b.status || b.withheld.length === 0, { message: 'a failed build withholds nothing', path: ['withheld'] })
  .refine((b) => b.status || b.files.length === 0, { message: 'a failed build has no files', path: ['files'] })
  .refine((b) => new Set(b.files.map((f) => f.filename)).size === b.files.length, {
    message: 'file names must be unique',
    path: ['files'],
  });

export type BuildFileRecord = z.infer<typeof BuildFileRecordSchema>;
/** A build as handed to the database (the platform may be left out). */
export type BuildRecord = z.input<typeof BuildRecordSchema>;
/** A build as validated, its platform filled in. */
export type ValidBuildRecord = z.output<typeof BuildRecordSchema>;
export type WithheldFileRecord = z.infer<typeof WithheldFileRecordSchema>;

/** One of upstream's wheels of a release, as its JSON API describes it. */
export const UpstreamFileRecordSchema = z.object({
  filename: BuildFileRecordSchema.shape.filename,
  filehash: BuildFileRecordSchema.shape.filehash,
  requiresPython: z.string().max(200).nullable(),
  uploadedAt: z.date(),
});
export type UpstreamFileRecord = z.infer<typeof UpstreamFileRecordSchema>;

// Longer values are cut to the column width when stored, not refused: an odd
// user agent must not cost the log entry.
const agentField = z.string().nullable().optional();

/** pip's user-agent details, as piw-logger extracts them. */
const PipAgentSchema = z.object({
  arch: agentField,
  distroName: agentField,
  distroVersion: agentField,
  osName: agentField,
  osVersion: agentField,
  pyName: agentField,
  pyVersion: agentField,
  installerName: agentField,
  installerVersion: agentField,
  setuptoolsVersion: agentField,
});

const access = {
  /** Client address (IPv4 or IPv6). */
  host: z.string().min(1),
  timestamp: z.date(),
};

export const DownloadRecordSchema = PipAgentSchema.extend({ filename: z.string().min(1).max(255), ...access });
export const SearchRecordSchema = PipAgentSchema.extend({ package: name, ...access });
/** Hits on pages people read also say whether a crawler made them (false when not said). */
const bot = z.boolean().optional();

export const ProjectHitRecordSchema = z.object({ package: name, ...access, userAgent: agentField, bot });
export const JsonHitRecordSchema = z.object({ package: name, ...access, userAgent: agentField });
export const PageHitRecordSchema = z.object({ page: z.string().min(1).max(30), ...access, userAgent: agentField, bot });

export type DownloadRecord = z.infer<typeof DownloadRecordSchema>;
export type SearchRecord = z.infer<typeof SearchRecordSchema>;
export type ProjectHitRecord = z.infer<typeof ProjectHitRecordSchema>;
export type JsonHitRecord = z.infer<typeof JsonHitRecordSchema>;
export type PageHitRecord = z.infer<typeof PageHitRecordSchema>;

export const RewritePendingSchema = z.object({
  package: name,
  addedAt: z.date(),
  command: z.enum(['PROJECT', 'BOTH']),
});
export type RewritePending = z.infer<typeof RewritePendingSchema>;
