import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Retrier } from '../../../coordinator/builds/retrier.ts';
import type { Retried } from '../../../shared/db/index.ts';
import { silentLogger } from '../../../shared/log.ts';

test('due failures are re-queued a batch at a time; the queue is refreshed and each package rewritten once', async () => {
  const due: Retried[] = Array.from({ length: 150 }, (_, i) => ({ package: i % 2 ? 'a' : 'b', version: String(i), abi: 'cp311', buildId: i, kind: 'upstream' }));
  const limits: number[] = [];
  let nudges = 0;
  const rewritten: string[] = [];
  const retrier = new Retrier({
    logger: silentLogger(),
    intervalSeconds: 3600,
    now: () => new Date('2026-01-01T00:00:00Z'),
    deps: {
      retryDueBuilds: async (_now, limit) => {
        limits.push(limit);
        return due.splice(0, limit);
      },
      queueChanged: () => void (nudges += 1),
      rewrite: (pkg) => void rewritten.push(pkg),
    },
  });
  assert.equal((await retrier.retryDue()).length, 150);
  assert.deepEqual(limits, [100, 100]);
  assert.equal(nudges, 1);
  assert.deepEqual(rewritten.sort(), ['a', 'b']);
  assert.deepEqual(await retrier.retryDue(), [], 'nothing due: nothing done');
  assert.equal(nudges, 1);
});
