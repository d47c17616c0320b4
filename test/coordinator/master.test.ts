import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { configFromArgv } from '../../coordinator/master.ts';
import { migrateTo } from '../helpers/db.ts';

const BIN = join(fileURLToPath(import.meta.url), '..', '..', '..', 'bin', 'piw-master.js');

describe('piw-master command line', () => {
  test('flags, environment and file merge into the configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'piw-master-cli-'));
    try {
      const file = join(dir, 'piwheels.toml');
      writeFileSync(file, 'output-path = "/srv/www"\n[master]\nqueue-refresh = 30\n');
      const { config, verbosity } = configFromArgv(['-c', file, '-d', 'x.sqlite', '-vv', '-q', '--no-follow'], { PIW_IDLE_HOLD: '4' });
      assert.equal(config.dsn, 'x.sqlite');
      assert.equal(config.outputPath, '/srv/www');
      assert.equal(config.queueRefresh, 30);
      assert.equal(config.idleHold, 4);
      assert.equal(config.follow, false);
      assert.equal(config.slaveQueue, 'tcp://*:5555');
      assert.equal(verbosity, 1);
      assert.equal(configFromArgv([], {}).config.follow, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad input: one line and exit code 2', () => {
    const curveless = ['--curve-secret', '/nonexistent/master.key_secret', '--curve-clients', tmpdir()];
    for (const args of [['--file-queue', 'nowhere'], ['--pypi-simple', 'ftp://x/simple'], ['-d', '/nonexistent/dir/piwheels.sqlite', '-o', tmpdir()], ['--bogus'], ['--curve-secret', 'master.key_secret'], curveless]) {
      const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, PIW_DATA_DIR: tmpdir() } });
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      const lines = result.stderr.split('\n').filter((l) => l.startsWith('piw-master:') || l.startsWith('error:'));
      assert.equal(lines.length, 1, result.stderr);
    }
    const half = spawnSync(process.execPath, [BIN, '--curve-secret', 'm.key_secret'], { encoding: 'utf8' });
    assert.match(half.stderr, /CURVE needs both curve-secret .* and curve-clients/);
    const missing = spawnSync(process.execPath, [BIN, ...curveless], { encoding: 'utf8' });
    assert.match(missing.stderr, /cannot read the certificate \/nonexistent\/master\.key_secret/);
  });

  test('CURVE settings come from PIW_* variables and the file too', () => {
    const { config } = configFromArgv([], { PIW_CURVE_SECRET: '/etc/piwheels/master.key_secret', PIW_CURVE_CLIENTS: '/etc/piwheels/clients' });
    assert.equal(config.curveSecret, '/etc/piwheels/master.key_secret');
    assert.equal(config.curveClients, '/etc/piwheels/clients');
  });

  test('starts every task and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piw-master-run-'));
    try {
      const dsn = join(dir, 'piwheels.sqlite');
      await migrateTo(dsn);
      const log = join(dir, 'master.log');
      const child = spawn(process.execPath, [
        BIN, '-d', dsn, '-o', join(dir, 'www'), '--no-follow', '-l', log,
        '--status-queue', `ipc://${dir}/status`, '--control-queue', `ipc://${dir}/control`,
        '--import-queue', `ipc://${dir}/import`, '--log-queue', `ipc://${dir}/logger`,
        '--slave-queue', 'tcp://127.0.0.1:0', '--file-queue', 'tcp://127.0.0.1:0',
      ], { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      for (let i = 0; i < 1200 && !(existsSync(log) && readFileSync(log, 'utf8').includes('all tasks started')); i += 1) await sleep(100);
      assert.match(readFileSync(log, 'utf8'), /all tasks started/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const text = readFileSync(log, 'utf8');
      assert.match(text, /shutting down on SIGTERM/);
      assert.match(text, /"msg":"stopped"/);
      assert.ok(existsSync(join(dir, 'www', 'index.html')) || existsSync(join(dir, 'www', 'faq.html')), 'pages written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
