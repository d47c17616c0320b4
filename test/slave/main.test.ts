// The piw-slave command itself: options, one-line errors, and a clean exit
// with BYE on SIGTERM.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeMaster } from '../helpers/fake-master.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'piw-slave.js');
const isRoot = typeof process.geteuid === 'function' && process.geteuid() === 0;

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('piw-slave command', () => {
  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'piw-slavecli-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('--help lists the piwheels options and ours', () => {
    const { status, stdout } = run(['--help']);
    assert.equal(status, 0);
    for (const flag of ['--master', '--timeout', '--dir', '--label', '--python', '--index-url', '--extra-index-url', '--slave-port', '--file-port', '--configuration', '--log-file']) {
      assert.ok(stdout.includes(flag), flag);
    }
  });

  test('bad input: one line saying what to fix, exit 2', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--allow-root', '--timeout', 'soon'], {}, /timeout: expected a duration/],
      [['--allow-root'], { PIW_SLAVE_PORT: 'abc' }, /slavePort.*PIW_SLAVE_PORT/],
      [['--allow-root', '--python', join(root, 'no-python')], {}, /cannot ask .*no-python.*--python/],
      [['--allow-root', '-c', join(root, 'missing.toml')], {}, /cannot read configuration file/],
      [['--no-such-flag'], {}, /unknown option/],
      [['--allow-root', '--curve-secret', 'pi.key_secret'], {}, /CURVE needs both curve-secret .* and curve-server/],
      [['--allow-root'], { PIW_CURVE_SECRET: join(root, 'none.key_secret'), PIW_CURVE_SERVER: join(root, 'm.key') }, /cannot read the certificate .*none\.key_secret/],
    ];
    for (const [args, env, pattern] of cases) {
      const { status, stderr } = run(args, env);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, pattern);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
    }
  });

  test('root is refused unless --allow-root (checked before anything else)', () => {
    const { status, stderr } = run(['--python', join(root, 'no-python')]);
    assert.equal(status, 2);
    assert.match(stderr, isRoot ? /refusing to build as root/ : /cannot ask .*no-python/);
  });

  test('SIGTERM: BYE to the master and exit 0', { timeout: 120_000 }, async () => {
    const endpoint = `ipc://${join(root, 'slave.sock')}`;
    const config = join(root, 'slave.toml');
    writeFileSync(config, `[slave]\nslave-endpoint = "${endpoint}"\nlabel = "cli-test"\n`);
    const master = await FakeMaster.start(endpoint);
    const child = spawn(process.execPath, [BIN, '--allow-root', '-c', config, '--python', '/usr/bin/python3', '-d', join(root, 'builds'), '-q'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const hello = await master.expect('HELLO', 60);
      assert.equal(hello.data[5], 'cli-test');
      await master.router.sendAddr(hello.address, 'ACK', [1, 'file:///nowhere/simple']);
      const idle = await master.expect('IDLE');
      child.kill('SIGTERM');
      await master.router.sendAddr(idle.address, 'SLEEP', false);
      await master.expect('BYE');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
      master.close();
    }
  });
});
