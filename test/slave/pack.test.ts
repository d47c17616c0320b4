// npm run pack:slave: piw-slave bundled on its own for build machines. The
// bundle needs only the native packages its package.json lists, runs --help
// without any, and the tarball installs with npm into an empty folder,
// pulling nothing of the coordinator, and starts the daemon from there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModules } from 'node:module';
import { z } from 'zod';
import { packSlave, SLAVE_RUNTIME_DEPENDENCIES } from '../../scripts/pack-slave.ts';

const manifestSchema = z.object({ bin: z.record(z.string(), z.string()), dependencies: z.record(z.string(), z.string()) });

describe('packed piw-slave', () => {
  let dir = '';
  let tarball = '';
  const stage = (): string => join(dir, 'slave-package');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'piw-pack-slave-'));
    tarball = await packSlave(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('its package.json lists exactly the packages the bundle imports', () => {
    const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(stage(), 'package.json'), 'utf8')));
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), [...SLAVE_RUNTIME_DEPENDENCIES].sort());
    const imported = new Set<string>();
    for (const name of readdirSync(join(stage(), 'bin'))) {
      const source = readFileSync(join(stage(), 'bin', name), 'utf8');
      for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)) {
        const spec = m[1] ?? '';
        if (spec.startsWith('.') || spec.startsWith('node:') || builtinModules.includes(spec)) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec));
      }
    }
    assert.deepEqual([...imported].sort(), [...SLAVE_RUNTIME_DEPENDENCIES].sort());
  });

  test('the bundle runs --help on its own', () => {
    const result = spawnSync(process.execPath, [join(stage(), 'bin', 'piw-slave.js'), '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Usage: piw-slave/);
    assert.match(result.stdout, /--master-timeout/);
  });

  test('the tarball installs into an empty folder and the daemon starts from it', { timeout: 300_000 }, async () => {
    assert.ok(existsSync(tarball));
    const home = join(dir, 'install');
    mkdirSync(home);
    writeFileSync(join(home, 'package.json'), '{ "private": true }\n');
    // from npm's cache when it has the packages, from the registry otherwise
    const npm = spawnSync('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: home,
      encoding: 'utf8',
      timeout: 240_000,
    });
    assert.equal(npm.status, 0, npm.stderr);
    const installed = readdirSync(join(home, 'node_modules'));
    for (const heavy of ['astro', 'better-sqlite3', 'pg', 'kysely', 'typescript', 'tsx', 'pino']) assert.ok(!installed.includes(heavy), heavy);

    const bin = join(home, 'node_modules', '.bin', 'piw-slave');
    const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 0, help.stderr);

    // ZeroMQ and CBOR load, Python is probed, and the slave says so before connecting
    const child = spawn(bin, ['--slave-endpoint', 'tcp://127.0.0.1:9', '--file-endpoint', 'tcp://127.0.0.1:9', '--allow-root', '--dir', join(dir, 'build')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    const started = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: string) => {
        stderr += chunk;
        if (stderr.includes('piw-slave starting')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`piw-slave exited (${code}): ${stderr}`)));
    });
    try {
      await started;
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
