import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Architect, BuildQueues, type BuildKey, type QueueSnapshot } from '../../../coordinator/builds/architect.ts';

const snap = (entries: Record<string, BuildKey[]>): QueueSnapshot => new Map(Object.entries(entries));

describe('build queues', () => {
  test('a build machine takes from the target of its ABI and platform, else its ABI on any platform', () => {
    const q = new BuildQueues();
    q.replace(snap({ 'cp311-linux_armv7l': [], 'cp311-linux_aarch64': [], cp313: [] }), 0, 0);
    assert.equal(q.targetFor('cp311', 'linux_aarch64'), 'cp311-linux_aarch64');
    assert.equal(q.targetFor('cp311', 'linux_armv7l'), 'cp311-linux_armv7l');
    assert.equal(q.targetFor('cp311', 'linux_x86_64'), null);
    assert.equal(q.targetFor('cp313', 'linux_x86_64'), 'cp313');
    assert.equal(q.targetFor('cp39', 'linux_armv7l'), null);
    assert.deepEqual(q.targets(), ['cp311-linux_armv7l', 'cp311-linux_aarch64', 'cp313']);
  });
  test('hands out in order per ABI, never the same version twice', () => {
    const q = new BuildQueues();
    q.replace(snap({ cp311: [['a', '1'], ['b', '1']], cp39: [['a', '1']] }), 0, 0);
    assert.deepEqual(q.next('cp311', 100), ['a', '1']);
    assert.deepEqual(q.next('cp39', 100), ['a', '1']);
    // a refresh that still lists a/1 for cp311 must not hand it out again
    q.replace(snap({ cp311: [['a', '1'], ['b', '1']] }), 10, 10);
    assert.deepEqual(q.next('cp311', 100), ['b', '1']);
    assert.equal(q.next('cp311', 100), undefined);
    assert.equal(q.next('cp27', 100), undefined);
    assert.ok(q.isBuilding('cp311', 'a', '1'));
  });

  test('a hand-out lapses after its timeout', () => {
    const q = new BuildQueues();
    q.replace(snap({ cp311: [['a', '1']] }), 0, 0);
    q.next('cp311', 50);
    q.replace(snap({ cp311: [['a', '1']] }), 60, 60);
    assert.deepEqual(q.next('cp311', 200), ['a', '1']);
  });

  test('finished builds stay out until a refresh that started later', () => {
    const q = new BuildQueues();
    q.replace(snap({ cp311: [['a', '1']] }), 0, 0);
    q.next('cp311', 1000);
    q.finish('cp311', 'a', '1', 20);
    q.replace(snap({ cp311: [['a', '1']] }), 10, 25); // query began before the result was stored
    assert.equal(q.next('cp311', 1000), undefined);
    q.replace(snap({ cp311: [['a', '1']] }), 30, 30); // e.g. a rebuild request re-queued it
    assert.deepEqual(q.next('cp311', 1000), ['a', '1']);
  });

  test('abandoned builds go back to the head of the queue once', () => {
    const q = new BuildQueues();
    q.replace(snap({ cp311: [['a', '1'], ['b', '1']] }), 0, 0);
    q.next('cp311', 1000);
    q.abandon('cp311', 'a', '1');
    q.abandon('cp311', 'a', '1');
    assert.deepEqual(q.sizes(), { cp311: 2 });
    assert.deepEqual(q.next('cp311', 1000), ['a', '1']);
    q.abandon('cp311', 'zzz', '9'); // never handed out: ignored
    assert.deepEqual(q.sizes(), { cp311: 1 });
  });

  test('deletions remove queued versions and keep them out', () => {
    const q = new BuildQueues();
    q.replace(snap({ cp311: [['a', '1'], ['a', '2'], ['b', '1']], cp39: [['b', '1'], ['b', '2']] }), 0, 0);
    q.remove('a', '1', 5);
    q.remove('b', null, 5);
    assert.deepEqual(q.sizes(), { cp311: 1, cp39: 0 });
    q.replace(snap({ cp311: [['a', '1'], ['a', '2'], ['b', '1']], cp39: [['b', '1']] }), 4, 6);
    assert.deepEqual(q.next('cp311', 100), ['a', '2']);
    assert.equal(q.next('cp311', 100), undefined);
    assert.equal(q.next('cp39', 100), undefined);
  });

  test('queues are capped at the limit', () => {
    const q = new BuildQueues(3);
    const many: BuildKey[] = Array.from({ length: 10 }, (_, i) => [`p${i}`, '1'] as const);
    q.replace(snap({ cp311: many }), 0, 0);
    assert.deepEqual(q.sizes(), { cp311: 3 });
  });
});

describe('architect task', () => {
  test('refreshes at start and when nudged, telling listeners', async () => {
    let calls = 0;
    let limitAsked = 0;
    const source = {
      async getBuildQueue(limit: number): Promise<QueueSnapshot> {
        calls += 1;
        limitAsked = limit;
        return snap({ cp311: calls === 1 ? [] : [['new', '1.0']] });
      },
    };
    let refreshed = 0;
    const architect = new Architect({ source, queues: new BuildQueues(), refreshSeconds: 3600, onRefresh: () => { refreshed += 1; } });
    await architect.start();
    for (let i = 0; i < 200 && refreshed < 1; i += 1) await sleep(2);
    assert.equal(architect.queues.next('cp311', Infinity), undefined);
    architect.nudge();
    for (let i = 0; i < 200 && refreshed < 2; i += 1) await sleep(2);
    assert.equal(limitAsked, 1000);
    assert.deepEqual(architect.queues.next('cp311', Infinity), ['new', '1.0']);
    await architect.stop();
  });

  test('a failing query leaves the old queues in place', async () => {
    let calls = 0;
    const source = {
      async getBuildQueue(): Promise<QueueSnapshot> {
        calls += 1;
        if (calls > 1) throw new Error('database went away');
        return snap({ cp311: [['a', '1']] });
      },
    };
    const architect = new Architect({ source, queues: new BuildQueues(), refreshSeconds: 3600 });
    await architect.start();
    for (let i = 0; i < 200 && calls < 1; i += 1) await sleep(2);
    await sleep(5);
    architect.nudge();
    for (let i = 0; i < 200 && calls < 2; i += 1) await sleep(2);
    await sleep(5);
    assert.deepEqual(architect.queues.sizes(), { cp311: 1 });
    await architect.stop();
  });
});
