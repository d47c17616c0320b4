import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { range } from '../../../shared/ranges.ts';
import { CHUNK_SIZE, FETCH_SIZE, TransferError, TransferState, TransferTable, parseFileFrames, sendFile, type TransferFile } from '../../../shared/wire/file-transfer.ts';
import { createSocket, type WireSocket } from '../../../shared/wire/transport.ts';
import type { Table } from '../../../shared/wire/protocols.ts';
import { UnsafeNameError } from '../../../shared/wheel/name.ts';

const root = mkdtempSync(join(tmpdir(), 'wire-transfer-'));
const sockets: Array<WireSocket<Table, Table>> = [];
after(() => {
  for (const s of sockets) s.close(0);
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  const dir = join(root, `out${counter++}`);
  mkdirSync(dir);
  return dir;
}

function describeFile(data: Buffer, filename = 'pkg-1.0-cp311-cp311-linux_armv7l.whl'): TransferFile {
  return { filename, filesize: data.length, filehash: createHash('sha256').update(data).digest('hex'), platformTag: 'linux_armv7l' };
}

const tmpFiles = (dir: string): string[] => readdirSync(join(dir, 'simple')).filter((n) => n.endsWith('.tmp'));

describe('TransferState', () => {
  test('fetches with a credit window of 10 chunks of the length asked', () => {
    const data = randomBytes(CHUNK_SIZE * 25 + 100);
    const t = new TransferState(1, describeFile(data), freshDir(), { chunkSize: CHUNK_SIZE });
    const first = [];
    for (let r = t.fetch(); r !== null; r = t.fetch()) first.push(r);
    assert.equal(first.length, 10);
    assert.deepEqual(first[0], range(0, CHUNK_SIZE));
    assert.deepEqual(first[9], range(9 * CHUNK_SIZE, 10 * CHUNK_SIZE));
    // each arriving chunk earns one more fetch
    t.chunk(0, data.subarray(0, CHUNK_SIZE));
    assert.deepEqual(t.fetch(), range(10 * CHUNK_SIZE, 11 * CHUNK_SIZE));
    assert.equal(t.fetch(), null);
    // a repeated HELLO restores the full window
    t.resetCredit();
    let n = 0;
    while (t.fetch() !== null) n++;
    assert.equal(n, 10);
  });

  test('by default asks for FETCH_SIZE bytes at a time, one chunk per whole FETCH_SIZE in the file', async () => {
    const data = randomBytes(FETCH_SIZE * 3 + 5);
    const t = new TransferState(1, describeFile(data), freshDir());
    assert.deepEqual([t.fetch(), t.fetch(), t.fetch(), t.fetch()], [range(0, FETCH_SIZE), range(FETCH_SIZE, 2 * FETCH_SIZE), range(2 * FETCH_SIZE, 3 * FETCH_SIZE), null]);
    t.chunk(0, data.subarray(0, FETCH_SIZE));
    assert.deepEqual(t.fetch(), range(3 * FETCH_SIZE, data.length));
    await t.rollback();
  });

  test('small files get a credit of one; past the end the first gap is fetched again', () => {
    const data = randomBytes(1226);
    const t = new TransferState(1, describeFile(data), freshDir());
    assert.deepEqual(t.fetch(), range(0, 1226));
    assert.equal(t.fetch(), null);
    t.resetCredit();
    assert.deepEqual(t.fetch(), range(0, 1226));
  });

  test('out-of-order and duplicate chunks still verify and commit atomically', async () => {
    const out = freshDir();
    const data = randomBytes(CHUNK_SIZE * 6 + 17);
    const file = describeFile(data);
    const t = new TransferState(3, file, out);
    const chunks = [5, 2, 2, 0, 6, 1, 1, 4, 3, 0, 6].map((i) => i * CHUNK_SIZE);
    for (const offset of chunks) t.chunk(offset, data.subarray(offset, offset + CHUNK_SIZE));
    assert.equal(t.done, true);
    assert.equal(t.fetch(), null);
    await t.verify();
    const final = await t.commit('pkg');
    assert.equal(final, join(out, 'simple', 'pkg', file.filename));
    assert.ok(readFileSync(final).equals(data));
    assert.equal(statSync(final).mode & 0o777, 0o644);
    assert.ok(!existsSync(t.tempPath), 'the temp file became the wheel');
    // armv7 wheels are linked to their armv6 name
    const armv6 = join(out, 'simple', 'pkg', 'pkg-1.0-cp311-cp311-linux_armv6l.whl');
    assert.equal(readlinkSync(armv6), file.filename);
    assert.deepEqual(tmpFiles(out), []);
  });

  test('an overlapping chunk only fills the missing bytes', async () => {
    const data = randomBytes(1000);
    const t = new TransferState(1, describeFile(data, 'p-1-py3-none-any.whl'), freshDir());
    t.chunk(100, data.subarray(100, 300));
    // the overlap carries garbage where bytes already arrived: it must not land
    const overlap = Buffer.from(data.subarray(0, 400));
    overlap.fill(0xff, 100, 300);
    t.chunk(0, overlap);
    t.chunk(400, data.subarray(400));
    await t.verify();
  });

  test('a corrupted file fails verification and rolls back', async () => {
    const out = freshDir();
    const data = randomBytes(5000);
    const t = new TransferState(1, describeFile(data, 'p-1-py3-none-any.whl'), out);
    const bad = Buffer.from(data);
    bad[4000] = bad[4000]! ^ 1;
    t.chunk(0, bad);
    await assert.rejects(t.verify(), TransferError);
    await t.rollback();
    assert.deepEqual(tmpFiles(out), []);
    assert.equal(existsSync(join(out, 'simple', 'p')), false);
  });

  test('refuses chunks outside the file, unsafe names and bad hashes', async () => {
    const data = randomBytes(100);
    const t = new TransferState(1, describeFile(data, 'p-1-py3-none-any.whl'), freshDir());
    assert.throws(() => t.chunk(90, data.subarray(0, 20)), TransferError);
    assert.throws(() => t.chunk(-1, data.subarray(0, 1)), TransferError);
    await assert.rejects(t.verify(), TransferError); // incomplete
    assert.throws(() => new TransferState(1, describeFile(data, '../evil.whl'), freshDir()), UnsafeNameError);
    assert.throws(() => new TransferState(1, { ...describeFile(data), filehash: 'abc' }, freshDir()), TransferError);
    t.chunk(0, data);
    await t.verify();
    await assert.rejects(t.commit('../elsewhere'), UnsafeNameError);
    await t.rollback();
  });

  test('commit replaces an alias symlink with a real directory, never following it', async () => {
    const out = freshDir();
    mkdirSync(join(out, 'simple', 'real'), { recursive: true });
    symlinkSync('real', join(out, 'simple', 'alias'));
    const data = randomBytes(10);
    const t = new TransferState(1, describeFile(data, 'alias-1-py3-none-any.whl'), out);
    t.chunk(0, data);
    await t.verify();
    await t.commit('alias');
    assert.equal(lstatSync(join(out, 'simple', 'alias')).isDirectory(), true);
    assert.deepEqual(readdirSync(join(out, 'simple', 'real')), []);
  });

  test('an empty file transfers with no chunks', async () => {
    const out = freshDir();
    const t = new TransferState(1, describeFile(Buffer.alloc(0), 'e-1-py3-none-any.whl'), out);
    assert.equal(t.done, true);
    await t.verify();
    assert.equal(readFileSync(await t.commit('e')).length, 0);
  });
});

describe('file frames and the transfer table', () => {
  test('parseFileFrames validates every frame kind', () => {
    const b = (...parts: string[]) => parts.map((p) => Buffer.from(p));
    assert.deepEqual(parseFileFrames(b('HELLO', '12')), { type: 'HELLO', slaveId: 12 });
    assert.deepEqual(parseFileFrames(b('FETCH', '0', '1226')), { type: 'FETCH', offset: 0, size: 1226 });
    assert.deepEqual(parseFileFrames(b('DONE')), { type: 'DONE' });
    const chunk = parseFileFrames(b('CHUNK', '65536', 'xyz'));
    assert.ok(chunk.type === 'CHUNK' && chunk.offset === 65536 && chunk.data.toString() === 'xyz');
    for (const bad of [b(), b('HELLO'), b('HELLO', 'x'), b('HELLO', '-1'), b('FETCH', '1'), b('CHUNK', '1e3', 'x'), b('DONE', 'x'), b('BYE')]) {
      assert.throws(() => parseFileFrames(bad), TransferError);
    }
  });

  test('unexpected and stray frames are ignored; the expected transfer completes', async () => {
    const table = new TransferTable();
    const addr = Buffer.from([0, 1, 2, 3]);
    const data = randomBytes(3000);
    const t = new TransferState(7, describeFile(data, 'p-1-py3-none-any.whl'), freshDir());
    assert.match(table.handle(addr, [Buffer.from('HELLO'), Buffer.from('7')]).ignored ?? '', /unexpected/);
    table.expect(t);
    assert.match(table.handle(addr, [Buffer.from('CHUNK'), Buffer.from('0'), data]).ignored ?? '', /redundant/);
    assert.match(table.handle(addr, [Buffer.from('FETCH'), Buffer.from('0'), Buffer.from('1')]).ignored ?? '', /invalid start/);
    const start = table.handle(addr, [Buffer.from('HELLO'), Buffer.from('7')]);
    assert.deepEqual(start.replies, [[addr, 'FETCH', '0', '3000']]);
    const garbled = table.handle(addr, [Buffer.from('CHUNK'), Buffer.from('zero'), data]);
    assert.ok(garbled.ignored !== null);
    const done = table.handle(addr, [Buffer.from('CHUNK'), Buffer.from('0'), data]);
    assert.equal(done.completed, t);
    assert.deepEqual(done.replies, [[addr, 'DONE']]);
    assert.equal(table.takeCompleted(7), t);
    assert.equal(table.takeCompleted(7), null);
    await t.verify();
    await t.rollback();
  });

  test('cancel discards a slave’s transfers', async () => {
    const out = freshDir();
    const table = new TransferTable();
    table.expect(new TransferState(9, describeFile(randomBytes(10), 'p-1-py3-none-any.whl'), out));
    assert.equal(tmpFiles(out).length, 1);
    await table.cancel(9);
    assert.deepEqual(tmpFiles(out), []);
    assert.match(table.handle(Buffer.from([1]), [Buffer.from('HELLO'), Buffer.from('9')]).ignored ?? '', /unexpected/);
  });
});

/** The master's loop, as the file juggler runs it. */
async function serve(router: WireSocket<Table, Table>, table: TransferTable, slaveId: number): Promise<TransferState> {
  for (;;) {
    const [address, ...frames] = await router.recvRaw();
    const result = table.handle(address!, frames);
    for (const reply of result.replies) await router.sendRaw(reply);
    if (result.completed !== null) return table.takeCompleted(slaveId)!;
  }
}

/**
 * A relay between sender and receiver that reorders, duplicates and drops
 * CHUNK frames, to show the receiver copes.
 */
async function startMeddler(backend: string): Promise<{ endpoint: string; stats: { chunks: number; duplicated: number; reordered: number; dropped: number }; stop: () => void }> {
  const front = createSocket('ROUTER');
  await front.bind('tcp://127.0.0.1:0');
  const back = createSocket('DEALER');
  back.connect(backend);
  sockets.push(front, back);
  const stats = { chunks: 0, duplicated: 0, reordered: 0, dropped: 0 };
  let senderAddress: Buffer | null = null;
  let stopped = false;
  void (async () => {
    let held: Buffer[] | null = null;
    while (!stopped) {
      const got = await front.recvRaw(0.05).catch(() => null);
      if (got === null) continue;
      const [address, ...frames] = got;
      senderAddress = address!;
      if (frames[0]?.toString() !== 'CHUNK') {
        await back.sendRaw(frames);
        continue;
      }
      const n = stats.chunks++;
      if (n === 40 || n === 900) {
        stats.dropped++;
        continue;
      }
      if (n % 7 === 3 && held === null) {
        held = frames;
        stats.reordered++;
        continue;
      }
      await back.sendRaw(frames);
      if (n % 11 === 5) {
        await back.sendRaw(frames);
        stats.duplicated++;
      }
      if (held !== null) {
        await back.sendRaw(held);
        held = null;
      }
    }
  })();
  void (async () => {
    while (!stopped) {
      const frames = await back.recvRaw(0.05).catch(() => null);
      if (frames === null || senderAddress === null) continue;
      await front.sendRaw([senderAddress, ...frames]);
    }
  })();
  return { endpoint: front.endpoint!, stats, stop: () => (stopped = true) };
}

describe('file transfer over loopback', () => {
  test('a 100 MB wheel with reordered, duplicated and dropped chunks arrives byte-exact', async () => {
    const out = freshDir();
    const source = join(root, 'big-1.0-cp311-cp311-linux_armv7l.whl');
    const data = randomBytes(100 * 1024 * 1024);
    writeFileSync(source, data);
    const router = createSocket('ROUTER');
    await router.bind('tcp://127.0.0.1:0');
    sockets.push(router);
    const meddler = await startMeddler(router.endpoint!);
    const table = new TransferTable();
    const file = describeFile(data, 'big-1.0-cp311-cp311-linux_armv7l.whl');
    // piwheels' chunk length: 1,600 chunks to reorder, duplicate and drop
    table.expect(new TransferState(5, file, out, { chunkSize: CHUNK_SIZE }));
    const dealer = createSocket('DEALER', { hwm: 10 });
    dealer.connect(meddler.endpoint);
    sockets.push(dealer);
    const [transfer] = await Promise.all([serve(router, table, 5), sendFile(dealer, 5, source, { helloInterval: 0.5 })]);
    meddler.stop();
    await transfer.verify();
    const final = await transfer.commit('big');
    assert.ok(readFileSync(final).equals(data));
    assert.ok(meddler.stats.duplicated > 100);
    assert.ok(meddler.stats.reordered > 100);
    assert.equal(meddler.stats.dropped, 2);
  });

  test('the sender says HELLO again when the receiver falls silent', async () => {
    const router = createSocket('ROUTER');
    await router.bind('tcp://127.0.0.1:0');
    sockets.push(router);
    const source = join(root, 'small.whl');
    writeFileSync(source, 'hello');
    const dealer = createSocket('DEALER');
    dealer.connect(router.endpoint!);
    sockets.push(dealer);
    const sending = sendFile(dealer, 42, source, { helloInterval: 0.1 });
    const hellos: string[] = [];
    let address: Buffer | undefined;
    while (hellos.length < 3) {
      const [a, ...frames] = await router.recvRaw();
      address = a;
      hellos.push(frames.map(String).join(' '));
    }
    assert.deepEqual(hellos, ['HELLO 42', 'HELLO 42', 'HELLO 42']);
    await router.sendRaw([address!, 'FETCH', '0', '5']);
    for (;;) {
      const [, ...frames] = await router.recvRaw();
      if (frames[0]!.toString() === 'CHUNK') {
        assert.deepEqual(frames.map(String), ['CHUNK', '0', 'hello']);
        break;
      }
    }
    await router.sendRaw([address!, 'DONE']);
    await sending;
  });

  test('an abort stops the sender at once, even mid-wait', async () => {
    const source = join(root, 'abort.whl');
    writeFileSync(source, 'data');
    const dealer = createSocket('DEALER');
    dealer.connect(`ipc://${join(root, 'nobody-listens')}`);
    const controller = new AbortController();
    const sending = sendFile(dealer, 1, source, { helloInterval: 3600, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(sending, TransferError);
    dealer.close(0);
    const unconnected = createSocket('DEALER');
    await assert.rejects(sendFile(unconnected, 1, source, { signal: controller.signal }), TransferError);
    unconnected.close(0);
  });
});
