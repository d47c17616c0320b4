import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuildRecord } from '../../../shared/db/index.ts';
import { BuildRecorder } from '../../../coordinator/builds/build-recorder.ts';

const record = (version: string): BuildRecord => ({
  package: 'pkg', version, abiTag: 'cp311', status: false, duration: 1, slaveId: 1, builtAt: new Date(0), files: [],
});

test('builds finishing together share one write, ids back in order', async () => {
  const writes: string[][] = [];
  let next = 100;
  const recorder = new BuildRecorder(async (records) => {
    writes.push(records.map((r) => r.version));
    return records.map(() => next++);
  });
  const ids = await Promise.all(['1', '2', '3'].map((v) => recorder.record(record(v))));
  assert.deepEqual(ids, [100, 101, 102]);
  assert.deepEqual(writes, [['1', '2', '3']]);
});

test('arrivals during a write go in the next one; batches are capped', async () => {
  const writes: string[][] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const recorder = new BuildRecorder(async (records) => {
    writes.push(records.map((r) => r.version));
    if (writes.length === 1) await gate;
    return records.map((_, i) => i);
  }, 2);
  const first = recorder.record(record('a'));
  await new Promise((resolve) => setImmediate(resolve));
  const later = ['b', 'c', 'd'].map((v) => recorder.record(record(v)));
  release();
  await Promise.all([first, ...later]);
  await recorder.flush();
  assert.deepEqual(writes, [['a'], ['b', 'c'], ['d']]);
});

test('a refused record fails alone: the others of its batch are written one by one', async () => {
  const writes: string[][] = [];
  const recorder = new BuildRecorder(async (records) => {
    writes.push(records.map((r) => r.version));
    if (records.some((r) => r.version === 'bad')) throw new Error('unknown version');
    return records.map((r) => Number(r.version));
  });
  const results = await Promise.allSettled(['1', 'bad', '3'].map((v) => recorder.record(record(v))));
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal((results[0] as PromiseFulfilledResult<number>).value, 1);
  assert.equal((results[2] as PromiseFulfilledResult<number>).value, 3);
  assert.match(String((results[1] as PromiseRejectedResult).reason), /unknown version/);
  assert.deepEqual(writes, [['1', 'bad', '3'], ['1'], ['bad'], ['3']]);
});
