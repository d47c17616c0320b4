import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerObject, WorkerThread, isPostgresDsn } from '../../../coordinator/runtime/worker-thread.ts';
import type { Counter } from './fixtures/remote-counter.ts';

const fixture = new URL('./fixtures/remote-counter.ts', import.meta.url).href;

describe('worker object (a thread of its own)', () => {
  test('forwards calls, keeps state, carries Dates and Maps', async () => {
    const remote = new WorkerObject<Counter>(fixture, 'openCounter', [10]);
    await remote.ready;
    assert.equal(await remote.api.add(5), 15);
    assert.equal(await remote.api.total(), 15);
    const snap = await remote.api.snapshot();
    assert.ok(snap.when instanceof Date);
    assert.equal(snap.values.get('value'), 15);
    await remote.close('close');
    await assert.rejects(remote.api.total(), /closed/);
  });

  test('errors come back with name, message and code', async () => {
    const remote = new WorkerObject<Counter>(fixture, 'openCounter', [0]);
    await remote.ready;
    await assert.rejects(remote.api.fail(), (e: Error & { code?: string }) => e.message === 'no such table: builds' && e.code === 'SQLITE_ERROR');
    assert.equal(await remote.api.add(1), 1, 'the worker survives an error');
    await remote.close();
  });

  test('a long call does not block the caller\'s event loop', async () => {
    const remote = new WorkerObject<Counter>(fixture, 'openCounter', [0]);
    await remote.ready;
    const order: string[] = [];
    const slow = remote.api.spin(300).then(() => order.push('slow call'));
    await new Promise<void>((resolve) => setImmediate(() => { order.push('event loop'); resolve(); }));
    await slow;
    assert.deepEqual(order, ['event loop', 'slow call']);
    await remote.close();
  });

  test('a factory that fails rejects ready', async () => {
    const remote = new WorkerObject<Counter>(fixture, 'openBroken', []);
    await assert.rejects(remote.ready, /unable to open database file/);
    await remote.close();
  });

  test('the proxy is not a thenable', async () => {
    const remote = new WorkerObject<Counter>(fixture, 'openCounter', [0]);
    const api = await Promise.resolve(remote.api);
    assert.equal(typeof api.total, 'function');
    await remote.close();
  });

  test('a young-generation cap is accepted and the object works under it', async () => {
    const remote = new WorkerObject<Counter>(fixture, 'openCounter', [1], { youngGenerationMb: 4 });
    await remote.ready;
    assert.equal(await remote.api.add(1), 2);
    await remote.close();
  });

  test('dialect from the DSN', () => {
    assert.ok(isPostgresDsn('postgres://u@h/db'));
    assert.ok(isPostgresDsn('postgresql:///piwheels'));
    assert.ok(!isPostgresDsn('data/piwheels.sqlite'));
    assert.ok(!isPostgresDsn('sqlite:postgres://'));
  });
});

describe('worker thread hosting several objects', () => {
  test('each object keeps its own state; calls sent before it is built wait for it', async () => {
    const thread = new WorkerThread();
    const a = thread.open<Counter>(fixture, 'openCounter', [100]);
    const b = thread.open<Counter>(fixture, 'openCounter', [0]);
    // no await on ready: the calls queue behind the construction
    assert.equal(await a.remote.api.add(1), 101);
    assert.equal(await b.remote.api.add(2), 2);
    await Promise.all([a.ready, b.ready]);
    assert.equal(await a.remote.api.total(), 101);
    assert.equal(await b.remote.api.total(), 2);
    await thread.close();
  });

  test('a failed construction rejects its ready and its calls, not its neighbours', async () => {
    const thread = new WorkerThread();
    const good = thread.open<Counter>(fixture, 'openCounter', [5]);
    const bad = thread.open<Counter>(fixture, 'openBroken', []);
    await assert.rejects(bad.ready, /unable to open database file/);
    await assert.rejects(bad.remote.api.total(), /unable to open database file/);
    assert.equal(await good.remote.api.total(), 5);
    await thread.close();
  });

  test('a closed object refuses calls, the others go on', async () => {
    const thread = new WorkerThread();
    const a = thread.open<Counter>(fixture, 'openCounter', [1]);
    const b = thread.open<Counter>(fixture, 'openCounter', [2]);
    await a.remote.close('close');
    await assert.rejects(a.remote.api.total(), /closed/);
    assert.equal(await b.remote.api.total(), 2);
    await thread.close();
  });

  test('closing the thread fails what is still waiting, and every later call', async () => {
    const thread = new WorkerThread();
    const a = thread.open<Counter>(fixture, 'openCounter', [0]);
    await a.ready;
    const slow = assert.rejects(a.remote.api.spin(500), /closed/);
    await thread.close();
    await slow;
    await assert.rejects(a.remote.api.total(), /closed/);
    await a.remote.close('close');
  });

  test('an unknown module export is reported by name', async () => {
    const thread = new WorkerThread();
    const x = thread.open<Counter>(fixture, 'noSuchExport', []);
    await assert.rejects(x.ready, /has no function noSuchExport/);
    await thread.close();
  });
});
