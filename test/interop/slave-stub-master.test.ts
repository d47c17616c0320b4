// Our slave against a master written in Python with pyzmq and cbor2 (Debian's
// python3-zmq and python3-cbor2), checking types the way piwheels' schemas do.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { silentLogger } from '../../shared/log.ts';
import { Slave } from '../../slave/slave.ts';
import { fileSender } from '../../slave/transfer.ts';
import { probePython, readBoardInfo, readOsRelease, readSystemStats } from '../../shared/sysinfo.ts';
import { makeFixtureIndex } from '../fixtures/packages/simple-index.ts';

const STUB = fileURLToPath(new URL('../fixtures/python/master-stub.py', import.meta.url));

const Ports = z.object({ slave_port: z.number().int(), file_port: z.number().int() });
const Seen = z.object({
  hello: z.array(z.string()),
  built: z.object({
    status: z.boolean(),
    duration: z.number(),
    output_length: z.number(),
    files: z.array(z.tuple([z.string(), z.number(), z.string(), z.string(), z.string(), z.string(), z.string(), z.string(), z.string().nullable(), z.record(z.string(), z.array(z.string())), z.string()])),
    busy: z.number(),
  }),
  transfers: z.array(z.object({ filename: z.string(), slave_id: z.string(), sha256: z.string(), expected: z.string() })),
});

describe('interoperability with a Python master', () => {
  let root = '';
  let indexUrl = '';

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'piw-interop-'));
    indexUrl = makeFixtureIndex(root, ['e2e-cext']).url;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('HELLO accepted, BUILD performed, BUILT decoded, file transferred with a matching SHA-256', { timeout: 240_000 }, async () => {
    const python = spawn('/usr/bin/python3', [STUB, indexUrl, 'e2e-cext', '1.0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    python.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => python.on('close', (code) => resolve(code)));
    const lines = createInterface({ input: python.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    assert.equal(first.done, false, `stub printed nothing: ${stderr}`);
    const ports = Ports.parse(JSON.parse(String(first.value)));

    const tags = await probePython('/usr/bin/python3');
    const slave = new Slave({
      slaveEndpoint: `tcp://127.0.0.1:${ports.slave_port}`,
      fileEndpoint: `tcp://127.0.0.1:${ports.file_port}`,
      label: 'interop',
      timeoutMs: 180_000,
      masterTimeoutMs: 300_000,
      replyTimeoutMs: 5000,
      dir: join(root, 'builds'),
      python: '/usr/bin/python3',
      extraIndexUrls: [],
      tags,
      os: await readOsRelease(),
      board: await readBoardInfo(),
      stats: () => readSystemStats(root),
      sendFile: fileSender(60_000, silentLogger()),
      logger: silentLogger(),
      buildEnv: { PIP_FIND_LINKS: '' },
      busyIntervalMs: 500,
    });
    const run = slave.run();
    try {
      const second = await lines.next();
      const code = await exited;
      assert.equal(code, 0, `python master failed: ${stderr}`);
      assert.equal(second.done, false);
      const seen = Seen.parse(JSON.parse(String(second.value)));

      assert.equal(seen.hello[0], '0:03:00', 'build timeout as a Python timedelta');
      assert.equal(seen.hello[1], '0:05:00');
      assert.deepEqual(seen.hello.slice(2, 6), [tags.pyVersion, tags.abi, tags.platform, 'interop']);

      assert.equal(seen.built.status, true);
      assert.ok(seen.built.duration > 0);
      assert.ok(seen.built.output_length > 0);
      assert.equal(seen.built.files.length, 1);
      const [filename, , filehash, packageTag, , , abiTag, platformTag, requiresPython, deps, location] = seen.built.files[0]!;
      assert.match(filename, /^e2e_cext-1\.0-cp3\d+-cp3\d+-linux_\w+\.whl$/);
      assert.equal(packageTag, 'e2e_cext');
      assert.equal(abiTag, tags.abi);
      assert.equal(platformTag, tags.platform);
      assert.equal(requiresPython, '>=3.7');
      assert.ok(deps.apt?.includes('libc6'));
      assert.deepEqual(Object.keys(deps).sort(), ['', 'apt', 'pip']);
      assert.equal(location, '/simple');

      assert.equal(seen.transfers.length, 1);
      const transfer = seen.transfers[0]!;
      assert.equal(transfer.slave_id, '1');
      assert.equal(transfer.sha256, filehash);
      assert.equal(transfer.expected, filehash);

      assert.equal(await run, 0, 'DIE from the Python master ends the slave cleanly');
    } finally {
      slave.stop();
      python.kill();
      await run;
    }
  });
});
