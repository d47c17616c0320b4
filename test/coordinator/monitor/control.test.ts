import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as zmq from 'zeromq';
import { createSocket } from '../../../shared/wire/transport.ts';
import { masterControl, monitorStats, reverse } from '../../../shared/wire/protocols.ts';
import { UtcDateTime } from '../../../shared/wire/cbor.ts';
import { ControlEndpoints, GarbageLog, type SlaveAction } from '../../../coordinator/monitor/control.ts';
import { silentLogger } from '../../../shared/log.ts';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'piw-control-'));
  const calls: string[] = [];
  const endpoints = new ControlEndpoints({
    statusAddress: `ipc://${dir}/status`,
    controlAddress: `ipc://${dir}/control`,
    handlers: {
      replay: () => calls.push('replay'),
      slave: (action: SlaveAction, id: number | null) => calls.push(`${action} ${id}`),
      pauseAll: () => calls.push('pauseAll'),
      resumeAll: () => calls.push('resumeAll'),
      quit: () => calls.push('quit'),
    },
  });
  return { dir, calls, endpoints, done: () => rmSync(dir, { recursive: true, force: true }) };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i += 1) await sleep(5);
  assert.ok(check(), 'condition never became true');
}

describe('monitor endpoints', () => {
  test('status is published only while a monitor is subscribed', async () => {
    const s = setup();
    await s.endpoints.start();
    try {
      assert.equal(s.endpoints.watched, false);
      const monitor = createSocket('SUB', { protocol: reverse(monitorStats), linger: 0 });
      monitor.subscribe();
      monitor.connect(`ipc://${s.dir}/status`);
      await until(() => s.endpoints.watched);
      const hello = UtcDateTime.now();
      let heard = null;
      for (let i = 0; i < 50 && heard === null; i += 1) {
        s.endpoints.publish('SLAVE', [1, hello, 'SLEEP', false]);
        heard = await monitor.recv(0.1);
      }
      assert.equal(heard?.msg, 'SLAVE');
      monitor.close();
      await until(() => !s.endpoints.watched);
    } finally {
      await s.endpoints.stop();
      s.done();
    }
  });

  test('control messages reach their handlers; HELLO replays status', async () => {
    const s = setup();
    await s.endpoints.start();
    const monitor = createSocket('SUB', { protocol: reverse(monitorStats), linger: 0 });
    monitor.subscribe();
    monitor.connect(`ipc://${s.dir}/status`);
    const push = createSocket('PUSH', { protocol: reverse(masterControl), linger: 0 });
    push.connect(`ipc://${s.dir}/control`);
    assert.ok((statSync(`${s.dir}/control`).mode & 0o020) !== 0, 'control socket is group-writable');
    // a SUB misses what is published before its subscription arrives: ask until heard
    let hello = null;
    for (let i = 0; i < 50 && hello === null; i += 1) {
      await push.send('HELLO');
      hello = await monitor.recv(0.2);
    }
    assert.equal(hello?.msg, 'HELLO');
    assert.ok(hello?.msg === 'HELLO' && hello.data[0] instanceof UtcDateTime);
    await push.send('KILL', 3);
    await push.send('SLEEP', null);
    await push.send('WAKE', null);
    await push.send('SKIP', 1);
    await push.send('QUIT');
    await until(() => s.calls.includes('quit'));
    assert.deepEqual(s.calls.filter((c) => c !== 'replay'), [ 'KILL 3', 'pauseAll', 'SLEEP null', 'resumeAll', 'WAKE null', 'SKIP 1', 'quit']);
    assert.ok(s.calls.includes('replay'));
    s.endpoints.publish('SLAVE', [1, UtcDateTime.now(), 'BUILD', ['foo', '1.0']]);
    let slave = await monitor.recv(5);
    while (slave?.msg === 'HELLO') slave = await monitor.recv(5);
    assert.equal(slave?.msg, 'SLAVE');
    push.close();
    monitor.close();
    await s.endpoints.stop();
    s.done();
  });

  test('garbage on the control queue is ignored and the queue keeps working', async () => {
    const s = setup();
    await s.endpoints.start();
    const raw = new zmq.Push({ linger: 0 });
    raw.connect(`ipc://${s.dir}/control`);
    await raw.send(Buffer.from([0xff, 0x00, 0x13]));
    await raw.send(Buffer.from('\x82\x64KILL\x63abc', 'latin1'));
    await raw.send(['two', 'frames']);
    const push = createSocket('PUSH', { protocol: reverse(masterControl), linger: 0 });
    push.connect(`ipc://${s.dir}/control`);
    await push.send('WAKE', 7);
    await until(() => s.calls.length > 0);
    assert.deepEqual(s.calls, ['WAKE 7']);
    raw.close();
    push.close();
    await s.endpoints.stop();
    s.done();
  });

  test('a busy address fails start cleanly', async () => {
    const s = setup();
    await s.endpoints.start();
    const twin = new ControlEndpoints({
      statusAddress: 'tcp://256.0.0.1:5', controlAddress: `ipc://${s.dir}/control2`,
      handlers: { replay() {}, slave() {}, pauseAll() {}, resumeAll() {}, quit() {} },
    });
    await assert.rejects(twin.start());
    await s.endpoints.stop();
    s.done();
  });

  test('garbage logging is rate-limited', () => {
    let clock = 0;
    const log = new GarbageLog(silentLogger(), 'test', 1000, () => clock);
    assert.equal(log.note({}), true);
    assert.equal(log.note({}), false);
    clock = 999;
    assert.equal(log.note({}), false);
    clock = 1000;
    assert.equal(log.note({}), true);
  });
});
