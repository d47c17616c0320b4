import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuildResult } from '../../../shared/build.ts';
import type { BuildRecord } from '../../../shared/db/index.ts';
import { BuildRecorder } from '../../../coordinator/builds/build-recorder.ts';

const build = (version: string): BuildResult => ({
  slaveId: 1, package: 'pkg', version, abiTag: 'cp311', platformTag: 'linux_armv7l', status: false, duration: 1, output: `log of ${version}`, files: [],
});

function recorder(logBuilds: (records: readonly BuildRecord[]) => Promise<number[]>, maxBatch?: number) {
  const recorded: Array<[number, string]> = [];
  const r = new BuildRecorder({
    store: { logBuilds },
    pages: { buildRecorded: (buildId, b) => recorded.push([buildId, b.output]) },
    now: () => new Date(0),
    ...(maxBatch === undefined ? {} : { maxBatch }),
  });
  return { r, recorded };
}

test('builds finishing together share one write, ids back in order; each then goes to the page writer', async () => {
  const writes: string[][] = [];
  let next = 100;
  const { r, recorded } = recorder(async (records) => {
    writes.push(records.map((rec) => rec.version));
    assert.deepEqual(records.map((rec) => rec.builtAt), [new Date(0), new Date(0), new Date(0)]);
    return records.map(() => next++);
  });
  const ids = await Promise.all(['1', '2', '3'].map((v) => r.record(build(v))));
  assert.deepEqual(ids, [100, 101, 102]);
  assert.deepEqual(writes, [['1', '2', '3']]);
  assert.deepEqual(recorded, [[100, 'log of 1'], [101, 'log of 2'], [102, 'log of 3']]);
});

test('arrivals during a write go in the next one; batches are capped', async () => {
  const writes: string[][] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { r } = recorder(async (records) => {
    writes.push(records.map((rec) => rec.version));
    if (writes.length === 1) await gate;
    return records.map((_, i) => i);
  }, 2);
  const first = r.record(build('a'));
  await new Promise((resolve) => setImmediate(resolve));
  const later = ['b', 'c', 'd'].map((v) => r.record(build(v)));
  release();
  await Promise.all([first, ...later]);
  await r.flush();
  assert.deepEqual(writes, [['a'], ['b', 'c'], ['d']]);
});

test('a refused record fails alone: the others of its batch are written one by one; it never reaches the pages', async () => {
  const writes: string[][] = [];
  const { r, recorded } = recorder(async (records) => {
    writes.push(records.map((rec) => rec.version));
    if (records.some((rec) => rec.version === 'bad')) throw new Error('unknown version');
    return records.map((rec) => Number(rec.version));
  });
  const results = await Promise.allSettled(['1', 'bad', '3'].map((v) => r.record(build(v))));
  assert.deepEqual(results.map((res) => res.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal((results[0] as PromiseFulfilledResult<number>).value, 1);
  assert.equal((results[2] as PromiseFulfilledResult<number>).value, 3);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /unknown version/);
  assert.deepEqual(writes, [['1', 'bad', '3'], ['1'], ['bad'], ['3']]);
  assert.deepEqual(recorded.map(([id]) => id), [1, 3]);
});

test('the journal is written before the commit and handed back with each build; a refused build discards its entry', async () => {
  const events: string[] = [];
  const discarded: Array<string | null> = [];
  const r = new BuildRecorder({
    store: {
      logBuilds: async (records) => {
        events.push(`commit ${records.map((rec) => rec.version).join(',')}`);
        if (records.some((rec) => rec.version === 'bad')) throw new Error('refused');
        return records.map((_, i) => 10 + i);
      },
    },
    pages: {
      journal: async (builds) => {
        events.push(`journal ${builds.map((b) => b.log).join(',')}`);
        return builds.map((b) => ({ ticket: 7, spool: b.log }));
      },
      buildRecorded: (buildId, b, journaled) => events.push(`recorded ${buildId} ${journaled.spool} ${journaled.ticket}`),
      discard: (journaled) => discarded.push(journaled.spool),
    },
    now: () => new Date(0),
  });
  const results = await Promise.allSettled([r.record(build('1')), r.record(build('bad'))]);
  assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected']);
  assert.deepEqual(events, ['journal log of 1,log of bad', 'commit 1,bad', 'commit 1', 'commit bad', 'recorded 10 log of 1 7']);
  assert.deepEqual(discarded, ['log of bad']);
});
