import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHasher, HashError } from '../../../shared/wire/file-hasher.ts';

const root = mkdtempSync(join(tmpdir(), 'file-hasher-'));
const hasher = new FileHasher();
after(async () => {
  await hasher.close();
  rmSync(root, { recursive: true, force: true });
});

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('FileHasher', () => {
  test('hashes the prefix it is told is final, however it grows', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const path = join(root, 'grow');
    writeFileSync(path, data);
    const job = hasher.start(path);
    for (const upTo of [10, 5, 1024 * 1024, 3 * 1024 * 1024, data.length]) job.advance(upTo);
    assert.deepEqual(await job.digest(), { digest: sha256(data), hashed: data.length });
  });

  test('only what was advanced to is hashed', async () => {
    const data = randomBytes(1000);
    const path = join(root, 'part');
    writeFileSync(path, data);
    const job = hasher.start(path);
    job.advance(600);
    assert.deepEqual(await job.digest(), { digest: sha256(data.subarray(0, 600)), hashed: 600 });
    await assert.rejects(job.digest(), HashError, 'a job ends with its digest');
  });

  test('a missing file or one shorter than advertised is a HashError, and the worker carries on', async () => {
    const missing = hasher.start(join(root, 'nowhere'));
    missing.advance(10);
    await assert.rejects(missing.digest(), (error: unknown) => error instanceof HashError && /ENOENT/.test(error.message));
    const path = join(root, 'short');
    writeFileSync(path, 'abc');
    const short = hasher.start(path);
    short.advance(10);
    await assert.rejects(short.digest(), /short read/);
    const fine = hasher.start(path);
    fine.advance(3);
    assert.equal((await fine.digest()).digest, sha256(Buffer.from('abc')));
  });

  test('a closed hasher rejects at once', async () => {
    const doomed = new FileHasher();
    await doomed.close();
    assert.equal(doomed.alive, false);
    await assert.rejects(doomed.start(join(root, 'grow')).digest(), HashError);
  });
});
