import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { sendFile } from '../../../shared/wire/file-transfer.ts';
import { createSocket } from '../../../shared/wire/transport.ts';
import { FileJuggler } from '../../../coordinator/builds/file-juggler.ts';
import type { WheelFileFields } from '../../../shared/build.ts';
import { buildWheel } from '../../helpers/wheel.ts';

function wheelFile(name: string, data: Buffer): WheelFileFields {
  return {
    filename: name, filesize: data.length, filehash: createHash('sha256').update(data).digest('hex'),
    packageTag: 'foo', packageVersionTag: '1.0', pyVersionTag: 'py3', abiTag: 'none', platformTag: 'any',
    requiresPython: null,
  };
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'piw-juggler-'));
  const output = join(dir, 'www');
  mkdirSync(join(output, 'simple'), { recursive: true });
  writeFileSync(join(output, 'simple', '.transfer-0123abcd.tmp'), 'left over');
  const juggler = new FileJuggler({ address: 'tcp://127.0.0.1:0', outputPath: output });
  await juggler.start();
  const endpoint = juggler.endpoint!;
  const source = join(dir, 'src');
  mkdirSync(source);
  return {
    dir, output, juggler, endpoint,
    write(name: string, data: Buffer): string { const p = join(source, name); writeFileSync(p, data); return p; },
    async done() { await juggler.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

function dealer(endpoint: string) {
  const socket = createSocket('DEALER', { linger: 0 });
  socket.connect(endpoint);
  return socket;
}

const hidden = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.'));

describe('file juggler', () => {
  test('receives, verifies and commits a multi-chunk file; removes stale temp files', async () => {
    const s = await setup();
    assert.deepEqual(hidden(join(s.output, 'simple')), [], 'stale temp file removed at start');
    const data = randomBytes(1_000_003);
    const name = 'foo-1.0-py3-none-any.whl';
    const file = wheelFile(name, data);
    s.juggler.expect(1, file);
    const socket = dealer(s.endpoint);
    await sendFile(socket, 1, s.write(name, data));
    assert.ok(!existsSync(join(s.output, 'simple', 'foo', name)), 'nothing in simple/<pkg>/ before verify');
    const committed = await s.juggler.verify(1, 'foo');
    assert.deepEqual(committed, { path: join(s.output, 'simple', 'foo', name), metadataHash: null }, 'random bytes have no METADATA');
    assert.deepEqual(readFileSync(join(s.output, 'simple', 'foo', name)), data);
    assert.ok(!existsSync(join(s.output, 'simple', 'foo', `${name}.metadata`)));
    assert.deepEqual(hidden(join(s.output, 'simple')), []);
    assert.equal(await s.juggler.verify(1, 'foo'), null, 'nothing left to verify');
    socket.close();
    await s.done();
  });

  test('a corrupt chunk fails verification, leaves nothing behind, and a re-send succeeds', async () => {
    const s = await setup();
    const data = randomBytes(200_000);
    const name = 'foo-1.0-py3-none-any.whl';
    s.juggler.expect(2, wheelFile(name, data));
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(s.endpoint);
    await raw.send(['HELLO', '2']);
    let corrupted = false;
    for (;;) {
      const [msg, offset, size] = await raw.receive();
      if (msg!.toString() === 'DONE') break;
      const start = Number(offset!.toString());
      const chunk = Buffer.from(data.subarray(start, start + Number(size!.toString())));
      // one flipped byte, in whichever chunk the juggler's FETCH length puts it
      if (!corrupted && start <= 65546 && 65546 < start + chunk.length) {
        chunk[65546 - start] = chunk[65546 - start]! ^ 0xff;
        corrupted = true;
      }
      await raw.send(['CHUNK', String(start), chunk]);
    }
    assert.equal(await s.juggler.verify(2, 'foo'), null);
    assert.ok(!existsSync(join(s.output, 'simple', 'foo', name)));
    assert.deepEqual(hidden(join(s.output, 'simple')), [], 'failed transfer discarded');
    s.juggler.expect(2, wheelFile(name, data));
    const socket = dealer(s.endpoint);
    await sendFile(socket, 2, s.write(name, data));
    assert.notEqual(await s.juggler.verify(2, 'foo'), null);
    raw.close();
    socket.close();
    await s.done();
  });

  test('garbage and unexpected senders are ignored; transfers carry on', async () => {
    const s = await setup();
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(s.endpoint);
    await raw.send(Buffer.from([0xde, 0xad]));
    await raw.send(['HELLO', 'not-a-number']);
    await raw.send(['HELLO', '99']);
    await raw.send(['CHUNK', '0', 'stray']);
    const data = randomBytes(70_000);
    const name = 'foo-1.0-py3-none-any.whl';
    s.juggler.expect(3, wheelFile(name, data));
    const socket = dealer(s.endpoint);
    await sendFile(socket, 3, s.write(name, data));
    assert.notEqual(await s.juggler.verify(3, 'foo'), null);
    raw.close();
    socket.close();
    await s.done();
  });

  test('more than was announced is refused: a chunk past the end, a frame over the size limit; a valid sender is served after', async () => {
    const s = await setup();
    const data = randomBytes(5000);
    const name = 'foo-1.0-py3-none-any.whl';
    s.juggler.expect(6, wheelFile(name, data));
    assert.equal(s.juggler.lastActivity(6), undefined, 'nothing heard yet');
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(s.endpoint);
    await raw.send(['HELLO', '6']);
    const [msg] = await raw.receive();
    assert.equal(msg!.toString(), 'FETCH');
    assert.notEqual(s.juggler.lastActivity(6), undefined, 'HELLO is a sign of life');
    // the announced 5000 bytes, then 1000 more past the end
    await raw.send(['CHUNK', '0', Buffer.concat([data, randomBytes(1000)])]);
    await raw.send(['CHUNK', '5000', randomBytes(1000)]);
    // a frame longer than any FETCH: libzmq drops the connection unread
    await raw.send(['CHUNK', '0', Buffer.alloc(2 << 20)]);
    await raw.send(['HELLO', '6']);
    const temp = await waitForValue(() => hidden(join(s.output, 'simple'))[0]);
    assert.ok(readFileSync(join(s.output, 'simple', temp)).length <= data.length, 'nothing written past the announced size');
    assert.equal(await s.juggler.verify(6, 'foo'), null, 'the transfer never completed');
    raw.close();
    s.juggler.expect(7, wheelFile(name, data));
    const socket = dealer(s.endpoint);
    await sendFile(socket, 7, s.write(name, data));
    assert.notEqual(await s.juggler.verify(7, 'foo'), null, 'the juggler keeps serving');
    socket.close();
    await s.done();
  });

  test('unsafe filenames are refused before anything is written', async () => {
    const s = await setup();
    for (const bad of ['../evil.whl', 'a/b.whl', 'x\0.whl', '..']) {
      assert.throws(() => s.juggler.expect(4, wheelFile(bad, Buffer.from('x'))), bad);
    }
    assert.deepEqual(readdirSync(join(s.output, 'simple')), []);
    await s.done();
  });

  test('stopping mid-transfer discards the partial file', async () => {
    const s = await setup();
    const data = randomBytes(500_000);
    s.juggler.expect(5, wheelFile('foo-1.0-py3-none-any.whl', data));
    const raw = new zmq.Dealer({ linger: 0 });
    raw.connect(s.endpoint);
    await raw.send(['HELLO', '5']);
    const [msg, offset, size] = await raw.receive();
    assert.equal(msg!.toString(), 'FETCH');
    await raw.send(['CHUNK', offset!.toString(), data.subarray(0, Number(size!.toString()))]);
    await raw.receive();
    assert.equal(hidden(join(s.output, 'simple')).length, 1, 'the transfer is in a hidden temp file');
    await s.juggler.stop();
    assert.deepEqual(readdirSync(join(s.output, 'simple')), [], 'nothing left after stop');
    raw.close();
    await s.done();
  });

  test('the armv7l wheel gets its armv6l link on commit', async () => {
    const s = await setup();
    const data = randomBytes(1000);
    const name = 'foo-1.0-cp311-cp311-linux_armv7l.whl';
    s.juggler.expect(6, { ...wheelFile(name, data), platformTag: 'linux_armv7l' });
    const socket = dealer(s.endpoint);
    await sendFile(socket, 6, s.write(name, data));
    assert.notEqual(await s.juggler.verify(6, 'foo'), null);
    assert.deepEqual(readFileSync(join(s.output, 'simple', 'foo', 'foo-1.0-cp311-cp311-linux_armv6l.whl')), data);
    socket.close();
    await s.done();
  });

  test('a real wheel: its METADATA hash is returned and written as the .metadata file, beside the armv6l link too', async () => {
    const s = await setup();
    const wheel = await buildWheel(join(s.dir, 'built'), 'foo', '1.0', { tag: 'cp311-cp311-linux_armv7l' });
    const metadataHash = createHash('sha256').update(wheel.metadata).digest('hex');
    s.juggler.expect(7, { ...wheelFile(wheel.filename, wheel.bytes), platformTag: 'linux_armv7l' });
    const socket = dealer(s.endpoint);
    await sendFile(socket, 7, wheel.path);
    const dir = join(s.output, 'simple', 'foo');
    assert.deepEqual(await s.juggler.verify(7, 'foo'), { path: join(dir, wheel.filename), metadataHash });
    assert.deepEqual(readFileSync(join(dir, `${wheel.filename}.metadata`)), wheel.metadata);
    const twin = 'foo-1.0-cp311-cp311-linux_armv6l.whl';
    assert.equal(readlinkSync(join(dir, twin)), wheel.filename);
    assert.deepEqual(readFileSync(join(dir, `${twin}.metadata`)), wheel.metadata);
    socket.close();
    await s.done();
  });

  test('a real armv6l build keeps its own .metadata when the armv7l wheel arrives after it', async () => {
    const s = await setup();
    const armv6 = await buildWheel(join(s.dir, 'v6'), 'foo', '1.0', { tag: 'cp311-cp311-linux_armv6l' });
    const armv7 = await buildWheel(join(s.dir, 'v7'), 'foo', '1.0', { tag: 'cp311-cp311-linux_armv7l', requiresPython: '>=3.9' });
    const socket = dealer(s.endpoint);
    s.juggler.expect(8, { ...wheelFile(armv6.filename, armv6.bytes), platformTag: 'linux_armv6l' });
    await sendFile(socket, 8, armv6.path);
    assert.notEqual(await s.juggler.verify(8, 'foo'), null);
    s.juggler.expect(8, { ...wheelFile(armv7.filename, armv7.bytes), platformTag: 'linux_armv7l' });
    await sendFile(socket, 8, armv7.path);
    assert.notEqual(await s.juggler.verify(8, 'foo'), null);
    const dir = join(s.output, 'simple', 'foo');
    assert.deepEqual(readFileSync(join(dir, `${armv6.filename}.metadata`)), armv6.metadata);
    assert.deepEqual(readFileSync(join(dir, `${armv7.filename}.metadata`)), armv7.metadata);
    socket.close();
    await s.done();
  });
});

async function waitForValue<T>(get: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('value not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
