// Build slave: what inspecting a finished wheel costs before BUILT goes out
// (SHA-256, METADATA, ELF extraction, ldd and dpkg -S), on a large wheel
// with one compiled extension and on the small sample wheels; and what the
// builder adds around pip on the pure sample (the build itself is pip's time).
//
// SLAVE_BENCH_MB (default 50) sets the size of the large wheel.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Build } from '../slave/builder.ts';
import { inspectWheel } from '../shared/wheel/inspect.ts';
import { makeFixtureIndex } from '../test/fixtures/packages/simple-index.ts';

const MEGABYTES = Number(process.env.SLAVE_BENCH_MB ?? 50);
const PYTHON = '/usr/bin/python3';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function time(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const root = mkdtempSync(join(tmpdir(), 'piw-slave-bench-'));
try {
  // A large wheel: random (incompressible) data, one real ELF object, METADATA.
  writeFileSync(join(root, 'data.bin'), randomBytes(MEGABYTES * 1024 * 1024));
  writeFileSync(join(root, 'ext.c'), '#include <string.h>\nint ext(const char *s) { return (int)strlen(s); }\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', join(root, '_ext.so'), join(root, 'ext.c')]);
  const large = join(root, 'big-1.0-cp311-cp311-linux_x86_64.whl');
  execFileSync(PYTHON, [
    '-c',
    [
      'import sys, zipfile',
      'root, out = sys.argv[1], sys.argv[2]',
      'with zipfile.ZipFile(out, "w") as z:',
      '    z.write(root + "/data.bin", "big/data.bin")',
      '    z.write(root + "/_ext.so", "big/_ext.so")',
      '    z.writestr("big-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: big\\nVersion: 1.0\\nRequires-Python: >=3.9\\n")',
    ].join('\n'),
    root,
    large,
  ]);
  const largeMs = await time(5, () => inspectWheel(large));
  console.log(`inspect a ${MEGABYTES} MB wheel (1 ELF object): ${largeMs.toFixed(0)} ms median, ${(MEGABYTES / (largeMs / 1000)).toFixed(0)} MB/s`);

  // The builder around pip, on the pure and C-extension samples.
  const { url } = makeFixtureIndex(root, ['e2e-pure', 'e2e-cext']);
  for (const [pkg, version] of [
    ['e2e-pure', '1.1'],
    ['e2e-cext', '1.0'],
  ] as const) {
    const results: { pip: number; total: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const build = new Build({
        package: pkg,
        version,
        python: PYTHON,
        indexUrl: url,
        extraIndexUrls: [],
        timeoutMs: 300_000,
        dir: join(root, 'builds'),
        env: { PIP_FIND_LINKS: '' },
      });
      const result = await build.result;
      const total = performance.now() - start;
      await build.close();
      if (!result.status) throw new Error(`${pkg} failed to build:\n${result.output.slice(-2000)}`);
      results.push({ pip: result.durationMs, total });
    }
    const pip = median(results.map((r) => r.pip));
    const total = median(results.map((r) => r.total));
    console.log(`${pkg}: pip ${pip.toFixed(0)} ms, inspection and set-up ${(total - pip).toFixed(0)} ms (median of 3)`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
