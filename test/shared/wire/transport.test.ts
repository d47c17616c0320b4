import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Timedelta, UtcDateTime, encodeCbor } from '../../../shared/wire/cbor.ts';
import { ProtocolError, lumberjack, masterControl, monitorStats, reverse, slaveDriver, type DataOf } from '../../../shared/wire/protocols.ts';
import { DEFAULT_ENDPOINTS, PeerGoneError, TransportError, createSocket, type WireSocket } from '../../../shared/wire/transport.ts';
import type { Table } from '../../../shared/wire/protocols.ts';

const dir = mkdtempSync(join(tmpdir(), 'wire-transport-'));
const open: Array<WireSocket<Table, Table>> = [];
function track<T extends WireSocket<Table, Table>>(socket: T): T {
  open.push(socket);
  return socket;
}
after(() => {
  for (const socket of open) socket.close(0);
  rmSync(dir, { recursive: true, force: true });
});

const hello: DataOf<typeof slaveDriver.recv, 'HELLO'> = [
  new Timedelta(0, 10800),
  new Timedelta(0, 300),
  '311',
  'cp311',
  'linux_armv7l',
  'pi4',
  'Raspbian GNU/Linux',
  '12 (bookworm)',
  'c03114',
  '100000001',
];

async function boundRouter() {
  const router = track(createSocket('ROUTER', { protocol: slaveDriver }));
  await router.bind('tcp://127.0.0.1:0');
  const endpoint = router.endpoint;
  assert.ok(endpoint !== null && /^tcp:\/\/127\.0\.0\.1:\d+$/.test(endpoint));
  return { router, endpoint };
}

describe('transport', () => {
  test('endpoint defaults match piwheels', () => {
    assert.equal(DEFAULT_ENDPOINTS.slaves, 'tcp://*:5555');
    assert.equal(DEFAULT_ENDPOINTS.files, 'tcp://*:5556');
    assert.equal(DEFAULT_ENDPOINTS.status, 'ipc:///tmp/piw-status');
    assert.equal(DEFAULT_ENDPOINTS.control, 'ipc:///tmp/piw-control');
    assert.equal(DEFAULT_ENDPOINTS.import, 'ipc:///tmp/piw-import');
    assert.equal(DEFAULT_ENDPOINTS.logger, 'ipc:///tmp/piw-logger');
  });

  test('REQ slave and ROUTER master exchange HELLO / ACK with addresses', async () => {
    const { router, endpoint } = await boundRouter();
    const req = track(createSocket('REQ', { protocol: reverse(slaveDriver) }));
    req.connect(endpoint);
    await req.send('HELLO', hello);
    const got = await router.recvAddr();
    assert.equal(got.msg, 'HELLO');
    assert.deepEqual(got.data, hello);
    assert.ok(got.address.length > 0);
    await router.sendAddr(got.address, 'ACK', [1, 'https://www.piwheels.org/simple']);
    assert.deepEqual(await req.recv(), { msg: 'ACK', data: [1, 'https://www.piwheels.org/simple'] });
    await req.send('BYE');
    const bye = await router.recvAddr();
    assert.equal(bye.msg, 'BYE');
    assert.equal(bye.data, undefined);
  });

  test('recv with a timeout resolves null when nothing arrives', async () => {
    const { router } = await boundRouter();
    assert.equal(await router.recvAddr(0.05), null);
    const pull = track(createSocket('PULL', { protocol: lumberjack }));
    await pull.bind(`ipc://${join(dir, 'timeout')}`);
    assert.equal(await pull.recv(0), null);
  });

  test('malformed input gives a ProtocolError with the address and the ROUTER keeps serving', async () => {
    const { router, endpoint } = await boundRouter();
    const raw = track(createSocket('REQ'));
    raw.connect(endpoint);
    const good = track(createSocket('REQ', { protocol: reverse(slaveDriver) }));
    good.connect(endpoint);
    const bad: Array<[Buffer, string]> = [
      [Buffer.from('82654845', 'hex'), 'decode'], // truncated CBOR
      [encodeCbor({ msg: 'HELLO' }), 'structure'], // a map where a list belongs
      [encodeCbor(['HELLO', hello.slice(0, 9)]), 'invalid-data'], // tuple one short
      [encodeCbor('GOODBYE'), 'unknown'],
      [encodeCbor(['IDLE', [new Timedelta(1), 1, 2, 3, 4, 5, 6, 0.5, 0]]), 'invalid-data'], // timedelta where a datetime belongs
      [Buffer.from('d907d1636162', 'hex'), 'decode'], // tag 2001 around a string
    ];
    for (const [payload, kind] of bad) {
      await raw.sendRaw([payload]);
      let address: Buffer | undefined;
      await assert.rejects(router.recvAddr(), (error: unknown) => {
        assert.ok(error instanceof ProtocolError);
        assert.equal(error.kind, kind);
        address = error.address;
        return true;
      });
      assert.ok(address !== undefined && address.length > 0);
      // the caller may answer the offender: REQ is lockstep, so it waits for one
      await router.sendRaw([address, '', encodeCbor('DONE')]);
      assert.deepEqual(await raw.recvRaw(), [Buffer.from(encodeCbor('DONE'))]);
    }
    // the ROUTER still serves a well-formed peer
    await good.send('HELLO', hello);
    const ok = await router.recvAddr();
    assert.equal(ok.msg, 'HELLO');
  });

  test('every malformed kind on a PULL socket, each followed by a valid message', async () => {
    const address = `ipc://${join(dir, 'pull')}`;
    const pull = track(createSocket('PULL', { protocol: lumberjack, maxMessageSize: 4096 }));
    await pull.bind(address);
    const raw = track(createSocket('PUSH'));
    raw.connect(address);
    const entry: DataOf<typeof lumberjack.recv, 'LOGPAGE'> = ['index.html', '10.0.0.1', UtcDateTime.parse('2026-01-01T00:00:00Z'), 'curl/8'];
    const bad: Array<[Buffer | Buffer[], string]> = [
      [Buffer.from('8267', 'hex'), 'decode'],
      [encodeCbor({ LOGPAGE: entry }), 'structure'],
      [encodeCbor(['LOGPAGE', entry.slice(0, 3)]), 'invalid-data'],
      [encodeCbor(['LOGPAGE', [...entry, 'extra']]), 'invalid-data'],
      [encodeCbor('LOGNOTHING'), 'unknown'],
      [encodeCbor('LOGPAGE'), 'missing-data'],
      [encodeCbor(['LOGPAGE', ['index.html', '10.0.0.1', new Timedelta(1), 'curl/8']]), 'invalid-data'],
      [[encodeCbor('LOGPAGE'), encodeCbor('LOGPAGE')], 'structure'],
    ];
    const pusher = track(createSocket('PUSH', { protocol: reverse(lumberjack) }));
    pusher.connect(address);
    for (const [payload, kind] of bad) {
      await raw.sendRaw(Array.isArray(payload) ? payload : [payload]);
      await assert.rejects(pull.recv(), (error: unknown) => error instanceof ProtocolError && error.kind === kind, kind);
      await pusher.send('LOGPAGE', entry);
      assert.deepEqual(await pull.recv(), { msg: 'LOGPAGE', data: entry });
    }
    // one over the size limit never arrives: libzmq drops its sender's connection before allocating it
    await raw.sendRaw([encodeCbor(['LOGPAGE', ['x'.repeat(5000), '10.0.0.1', entry[2], 'curl/8']])]);
    await pusher.send('LOGPAGE', entry);
    assert.deepEqual(await pull.recv(), { msg: 'LOGPAGE', data: entry });
    assert.equal(await pull.recv(0.3), null);
  });

  test('PUB / SUB status and PUSH / PULL control over ipc', async () => {
    const statusAddress = `ipc://${join(dir, 'status')}`;
    const pub = track(createSocket('PUB', { protocol: monitorStats }));
    await pub.bind(statusAddress);
    const sub = track(createSocket('SUB', { protocol: reverse(monitorStats) }));
    sub.connect(statusAddress);
    sub.subscribe();
    const data: DataOf<typeof monitorStats.send, 'HELLO'> = [UtcDateTime.parse('2026-01-01T00:00:00.000001Z'), 'master', 'Debian', '12', 'unknown', 'unknown'];
    // PUB drops messages sent before the subscription reaches it
    let got = null;
    for (let i = 0; i < 100 && got === null; i++) {
      await pub.send('HELLO', data);
      got = await sub.recv(0.05);
    }
    assert.deepEqual(got, { msg: 'HELLO', data });

    const controlAddress = `ipc://${join(dir, 'control')}`;
    const pull = track(createSocket('PULL', { protocol: masterControl, hwm: 10 }));
    await pull.bind(controlAddress);
    const push = track(createSocket('PUSH', { protocol: reverse(masterControl) }));
    push.connect(controlAddress);
    await push.send('SLEEP', null);
    await push.send('KILL', 4);
    assert.deepEqual(await pull.recv(), { msg: 'SLEEP', data: null });
    assert.deepEqual(await pull.recv(), { msg: 'KILL', data: 4 });
  });

  test('DEALER / ROUTER raw frames carry no delimiter', async () => {
    const router = track(createSocket('ROUTER'));
    await router.bind('tcp://127.0.0.1:0');
    const dealer = track(createSocket('DEALER'));
    dealer.connect(router.endpoint!);
    await dealer.sendRaw(['HELLO', '1']);
    const frames = await router.recvRaw();
    assert.equal(frames.length, 3);
    assert.deepEqual(frames.slice(1).map(String), ['HELLO', '1']);
    await router.sendRaw([frames[0]!, 'FETCH', '0', '1226']);
    assert.deepEqual((await dealer.recvRaw()).map(String), ['FETCH', '0', '1226']);
  });

  test('misuse is refused before anything is sent', async () => {
    const pull = track(createSocket('PULL', { protocol: lumberjack }));
    assert.throws(() => pull.sendRaw(['x']), TransportError);
    const push = track(createSocket('PUSH', { protocol: reverse(lumberjack) }));
    await assert.rejects(async () => push.recvRaw(), TransportError);
    assert.throws(() => push.subscribe(), TransportError);
    assert.throws(() => push.send('LOGPAGE', ['a', 'b', UtcDateTime.now()] as unknown as DataOf<typeof lumberjack.recv, 'LOGPAGE'>), ProtocolError);
    pull.close();
    assert.equal(pull.closed, true);
    pull.close();
  });

  test('a send with nobody to take it times out as a TransportError', async () => {
    const push = track(createSocket('PUSH', { protocol: reverse(masterControl), sendTimeout: 0.05, sendHwm: 1 }));
    push.connect(`ipc://${join(dir, 'nobody')}`);
    // the queue towards the absent peer fills, then a send waits and gives up
    await assert.rejects(async () => {
      for (let i = 0; i < 100; i++) await push.send('QUIT');
    }, TransportError);
  });

  test('many sends queued at once all arrive, in order', async () => {
    const address = `ipc://${join(dir, 'burst')}`;
    const pull = track(createSocket('PULL', { protocol: masterControl }));
    await pull.bind(address);
    const push = track(createSocket('PUSH', { protocol: reverse(masterControl), sendHwm: 2 }));
    push.connect(address);
    const sends = Array.from({ length: 200 }, (_, i) => push.send('KILL', i));
    const seen: unknown[] = [];
    for (let i = 0; i < 200; i++) seen.push((await pull.recv()).data);
    await Promise.all(sends);
    assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
  });

  test('a mandatory ROUTER refuses at once a send to a peer that is gone, and keeps serving the others', async () => {
    const router = track(createSocket('ROUTER', { protocol: slaveDriver, mandatory: true }));
    await router.bind('tcp://127.0.0.1:0');
    await assert.rejects(router.sendAddr(Buffer.from('nobody'), 'DIE'), PeerGoneError);
    const [doomed, other] = [track(createSocket('REQ', { protocol: reverse(slaveDriver) })), track(createSocket('REQ', { protocol: reverse(slaveDriver) }))];
    for (const req of [doomed, other]) {
      req.connect(router.endpoint!);
      await req.send('HELLO', hello);
    }
    const first = await router.recvAddr();
    const second = await router.recvAddr();
    doomed.close(0);
    other.close(0);
    const live = track(createSocket('REQ', { protocol: reverse(slaveDriver) }));
    live.connect(router.endpoint!);
    await live.send('HELLO', hello);
    const third = await router.recvAddr();
    // the disconnections reach libzmq's I/O thread in their own time
    for (const gone of [first.address, second.address]) {
      const end = Date.now() + 10_000;
      for (;;) {
        const error = await router.sendAddr(gone, 'DIE').then(() => null, (e: unknown) => e);
        if (error instanceof PeerGoneError) break;
        assert.ok(Date.now() < end, 'a send to a closed peer fails');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await router.sendAddr(third.address, 'ACK', [3, 'x']);
    assert.deepEqual(await live.recv(10), { msg: 'ACK', data: [3, 'x'] });
  });

  test('a frame over the maximum message size drops its sender before it is received; others are served', async () => {
    const router = track(createSocket('ROUTER', { maxMessageSize: 1000 }));
    await router.bind('tcp://127.0.0.1:0');
    const hostile = track(createSocket('DEALER'));
    hostile.connect(router.endpoint!);
    await hostile.sendRaw(['CHUNK', '0', Buffer.alloc(100_000)]);
    const good = track(createSocket('DEALER'));
    good.connect(router.endpoint!);
    await good.sendRaw(['HELLO', '1']);
    const frames = await router.recvRaw(10);
    assert.deepEqual(frames?.slice(1).map(String), ['HELLO', '1']);
    assert.equal(await router.recvRaw(0.3), null, 'nothing of the oversized message arrives');
  });
});
