import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerObject, isPostgresDsn } from '../../../coordinator/runtime/db-pool.ts';
import type { Counter } from './fixtures/remote-counter.ts';

const fixture = new URL('./fixtures/remote-counter.ts', import.meta.url).href;

describe('database worker', () => {
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

  test('dialect from the DSN', () => {
    assert.ok(isPostgresDsn('postgres://u@h/db'));
    assert.ok(isPostgresDsn('postgresql:///piwheels'));
    assert.ok(!isPostgresDsn('data/piwheels.sqlite'));
    assert.ok(!isPostgresDsn('sqlite:postgres://'));
  });
});
