// Worker thread of file-hasher.ts: hashes the finished prefix of files being
// received, reading it back from disk. It imports nothing but node: modules,
// so the thread starts in milliseconds.
//
// Messages in (one job per file, in order):
//   { op: 'open', id, path }      start hashing the file at path
//   { op: 'advance', id, upTo }   bytes [0, upTo) are final on disk
//   { op: 'digest', id }          reply, then forget the job
//   { op: 'close', id }           forget the job without a reply
// Messages out: { id, digest, hashed } or { id, error }.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { HashRequest } from './file-hasher.ts';

if (parentPort === null) throw new Error('file-hasher-worker must run in a worker thread');
const port = parentPort;

// one buffer for every read: no allocation, no page faults per block
const block = Buffer.allocUnsafe(1 << 20);

interface Job {
  fd: number | null;
  hash: Hash;
  hashed: number;
  error: string | null;
}

const jobs = new Map<number, Job>();

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function close(job: Job): void {
  if (job.fd !== null) closeSync(job.fd);
  job.fd = null;
}

function advance(job: Job, upTo: number): void {
  if (job.error !== null || job.fd === null) return;
  try {
    while (job.hashed < upTo) {
      const n = readSync(job.fd, block, 0, Math.min(block.length, upTo - job.hashed), job.hashed);
      if (n <= 0) throw new Error(`short read at byte ${job.hashed}`);
      job.hash.update(block.subarray(0, n));
      job.hashed += n;
    }
  } catch (error) {
    job.error = message(error);
    close(job);
  }
}

// only file-hasher.ts posts here, always one of these shapes
port.on('message', (msg: HashRequest) => {
  const job = jobs.get(msg.id);
  switch (msg.op) {
    case 'open':
      try {
        jobs.set(msg.id, { fd: openSync(msg.path, 'r'), hash: createHash('sha256'), hashed: 0, error: null });
      } catch (error) {
        jobs.set(msg.id, { fd: null, hash: createHash('sha256'), hashed: 0, error: message(error) });
      }
      break;
    case 'advance':
      if (job !== undefined) advance(job, msg.upTo);
      break;
    case 'digest':
      if (job === undefined) {
        port.postMessage({ id: msg.id, error: 'no such hash job' });
        break;
      }
      close(job);
      jobs.delete(msg.id);
      port.postMessage(job.error === null ? { id: msg.id, digest: job.hash.digest('hex'), hashed: job.hashed } : { id: msg.id, error: job.error });
      break;
    case 'close':
      if (job !== undefined) close(job);
      jobs.delete(msg.id);
      break;
  }
});
