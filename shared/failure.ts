// The model of a failed build: why it failed (its kind), which native
// dependency it lacked, and whether trying again can help. The master
// decides these (coordinator/builds/failure-triage.ts); the database stores
// them and the pages and monitor show them.
import { z } from 'zod';

export const FAILURE_KINDS = ['package', 'upstream', 'disk', 'killed', 'timeout', 'slave-lost'] as const;
export const FailureKindSchema = z.enum(FAILURE_KINDS);
export type FailureKind = z.infer<typeof FailureKindSchema>;

/** What each kind means, for pages and the monitor. */
export const FAILURE_KIND_TITLES: Readonly<Record<FailureKind, string>> = {
  package: "the package's own error",
  upstream: 'upstream file not (yet) served, or a network error',
  disk: "the builder's disk was full",
  killed: 'the build was killed (out of memory or a signal)',
  timeout: 'the build ran out of time',
  'slave-lost': 'the build machine went silent',
};

/**
 * Kinds caused by something outside the package: tried again automatically.
 * A package's own error is retried only for a new version, a changed
 * builder or an operator's rebuild.
 */
export function isTransient(kind: FailureKind): boolean {
  return kind !== 'package';
}

/** A full disk is the builder's fault: such attempts never use up a package's tries. */
export function countsAgainstPackage(kind: FailureKind): boolean {
  return kind !== 'disk';
}

/** A failure with the attempts before it, as the retry schedule sees it. */
export interface FailureHistory {
  kind: FailureKind;
  /** Attempts before this one that count against the package (disk-full ones do not). */
  countedBefore: number;
  /** Every attempt before this one. */
  attemptsBefore: number;
  failedAt: Date;
}

/** When a failure is tried again (null: never by itself); the master's retry policy. */
export type RetrySchedule = (failure: FailureHistory) => Date | null;

export const MISSING_KINDS = ['header', 'library', 'pkg-config'] as const;

/** A native dependency a build lacked, as its compiler or linker named it. */
export const MissingDependencySchema = z.object({
  kind: z.enum(MISSING_KINDS),
  /** "zstd.h", "openssl/ssl.h" (header); "zstd" (library, from -lzstd); "libffi" (pkg-config module). */
  name: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9_+.-][A-Za-z0-9_+./-]*$/)
    .refine((n) => !n.split('/').includes('..'), 'no parent directories'),
});
export type MissingDependency = z.infer<typeof MissingDependencySchema>;
