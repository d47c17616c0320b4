// When a failed build is tried again: transient kinds after an exponential
// back-off, a bounded number of times; a package's own error never
// automatically. Pure, so the schedule is tested without a clock.
import { z } from 'zod';
import { countsAgainstPackage, isTransient, type FailureHistory } from '../../shared/failure.ts';

export const RetryPolicySchema = z.object({
  /** Seconds before the first retry. */
  baseSeconds: z.number().positive().finite(),
  /** The longest wait between tries (seconds). */
  maxSeconds: z.number().positive().finite(),
  /** Tries in all (the first build included) that may fail transiently before a build stays failed. */
  maxTries: z.number().int().positive(),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

/** Seconds to wait after the `attempt`th attempt (1-based): base, 2×base, 4×base, ... up to the maximum. */
export function backoffSeconds(policy: RetryPolicy, attempt: number): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // 2^(n-1) overflows to Infinity long before n is unsafe; min() keeps the cap
  return Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** (n - 1));
}

/**
 * When to try a failed build again, or null to leave it failed. A disk-full
 * failure never uses up the package's tries; its wait still grows with
 * every attempt, so a builder that keeps filling up is not hammered.
 */
export function nextRetry(policy: RetryPolicy, failure: FailureHistory): Date | null {
  if (!isTransient(failure.kind)) return null;
  const counted = failure.countedBefore + (countsAgainstPackage(failure.kind) ? 1 : 0);
  if (counted >= policy.maxTries) return null;
  const wait = backoffSeconds(policy, failure.attemptsBefore + 1);
  return new Date(failure.failedAt.getTime() + wait * 1000);
}
