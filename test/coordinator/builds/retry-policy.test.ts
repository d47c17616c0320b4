import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffSeconds, nextRetry, RetryPolicySchema, type RetryPolicy } from '../../../coordinator/builds/retry-policy.ts';

const policy: RetryPolicy = { baseSeconds: 60, maxSeconds: 600, maxTries: 3 };
const at = new Date('2026-01-01T00:00:00Z');

test('the wait doubles with each attempt up to the maximum', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffSeconds(policy, n)), [60, 120, 240, 480, 600]);
  assert.equal(backoffSeconds(policy, 10_000), 600, 'no overflow');
  assert.equal(backoffSeconds(policy, 0), 60, 'below one counts as the first');
  assert.equal(backoffSeconds(policy, Number.NaN), 60);
});

test('transient failures are retried a bounded number of times', () => {
  const first = nextRetry(policy, { kind: 'upstream', countedBefore: 0, attemptsBefore: 0, failedAt: at });
  assert.equal(first?.toISOString(), '2026-01-01T00:01:00.000Z');
  const second = nextRetry(policy, { kind: 'killed', countedBefore: 1, attemptsBefore: 1, failedAt: at });
  assert.equal(second?.toISOString(), '2026-01-01T00:02:00.000Z');
  assert.equal(nextRetry(policy, { kind: 'timeout', countedBefore: 2, attemptsBefore: 2, failedAt: at }), null, 'third try was the last');
});

test("a package's own error is never retried automatically", () => {
  assert.equal(nextRetry(policy, { kind: 'package', countedBefore: 0, attemptsBefore: 0, failedAt: at }), null);
});

test("a full disk never uses up the package's tries, but still backs off", () => {
  const retry = nextRetry(policy, { kind: 'disk', countedBefore: 2, attemptsBefore: 9, failedAt: at });
  assert.equal(retry?.toISOString(), '2026-01-01T00:10:00.000Z');
});

test('bad settings are refused', () => {
  assert.ok(!RetryPolicySchema.safeParse({ baseSeconds: 0, maxSeconds: 1, maxTries: 1 }).success);
  assert.ok(!RetryPolicySchema.safeParse({ baseSeconds: 1, maxSeconds: 1, maxTries: 0 }).success);
  assert.ok(!RetryPolicySchema.safeParse({ baseSeconds: 1, maxSeconds: Infinity, maxTries: 1 }).success);
});
