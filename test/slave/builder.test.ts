import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Build, buildEnvironment, pipArguments, reproduceBuild, truncateOutput, type BuildOptions } from '../../slave/builder.ts';
import { parseEnding, parseEnvironment } from '../../shared/build-log.ts';
import { probeEnvironment } from '../../slave/environment.ts';
import { isRunning } from '../../slave/process-group.ts';
import { makeFixtureIndex } from '../fixtures/packages/simple-index.ts';

const PYTHON = '/usr/bin/python3';

describe('build command and environment', () => {
  const options: BuildOptions = {
    package: 'Foo_Bar',
    version: '1.0',
    python: PYTHON,
    indexUrl: 'http://master/simple',
    extraIndexUrls: ['http://one/simple', 'http://two/simple'],
    timeoutMs: 1000,
    dir: '/tmp',
  };

  test('pip wheel of exactly that version, from source, from the given indexes only', () => {
    const args = pipArguments(options, '/w', '/w/log');
    assert.deepEqual(args.slice(0, 4), ['-m', 'pip', 'wheel', 'Foo_Bar==1.0']);
    for (const flag of ['--no-deps', '--no-cache-dir', '--isolated', '--no-input', '--no-binary=foo-bar', '--wheel-dir=/w', '--log=/w/log']) {
      assert.ok(args.includes(flag), flag);
    }
    assert.ok(args.includes('--index-url=http://master/simple'));
    assert.deepEqual(
      args.filter((a) => a.startsWith('--extra-index-url=')),
      ['--extra-index-url=http://one/simple', '--extra-index-url=http://two/simple'],
    );
  });

  test('environment is non-interactive and keeps temporary files private', () => {
    const env = buildEnvironment({ PATH: '/bin', UNSET: undefined, PIP_NO_INPUT: '0' }, '/w/tmp', { EXTRA: 'x' });
    assert.equal(env.PATH, '/bin');
    assert.equal(env.PIP_NO_INPUT, '1');
    assert.equal(env.TMPDIR, '/w/tmp');
    assert.equal(env.GIT_TERMINAL_PROMPT, '0');
    assert.equal(env.EXTRA, 'x');
    assert.ok(!('UNSET' in env));
  });

  test('the reproduce command is the build without its private paths', () => {
    const cmd = reproduceBuild(options);
    assert.match(cmd, /^env .*PIWHEELS_BUILD=1 .*LC_ALL=C\.UTF-8 \/usr\/bin\/python3 -m pip wheel Foo_Bar==1\.0 --wheel-dir=wheels /);
    assert.ok(!cmd.includes('--log='), 'no log file of the slave');
    assert.ok(cmd.includes('--index-url=http://master/simple'));
  });

  test('over-long output keeps its head and tail', () => {
    const text = `HEAD${'x'.repeat(10_000)}TAIL`;
    const cut = truncateOutput(text, 1000);
    assert.ok(cut.startsWith('HEAD'));
    assert.ok(cut.endsWith('TAIL'));
    assert.match(cut, /bytes of build output omitted/);
    assert.ok(Buffer.byteLength(cut) < 1200);
    assert.equal(truncateOutput('short', 1000), 'short');
  });
});

describe('real pip builds', () => {
  let root = '';
  let indexUrl = '';
  const make = (pkg: string, version: string, extra: Partial<BuildOptions> = {}): Build =>
    new Build({
      package: pkg,
      version,
      python: PYTHON,
      indexUrl,
      extraIndexUrls: [],
      timeoutMs: 120_000,
      dir: join(root, 'builds'),
      env: { PIP_FIND_LINKS: '' },
      ...extra,
    });

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'piw-builder-'));
    indexUrl = makeFixtureIndex(root, ['e2e-pure', 'e2e-cext', 'e2e-broken', 'e2e-slow']).url;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('pure Python: a py3-none-any wheel with its size, hash and Requires-Python', async () => {
    const build = make('e2e-pure', '1.1');
    const result = await build.result;
    assert.equal(result.status, true, result.output);
    assert.ok(result.durationMs > 0);
    assert.match(result.output, /e2e.pure/i);
    assert.equal(result.wheels.length, 1);
    const wheel = result.wheels[0]!;
    assert.equal(wheel.filename, 'e2e_pure-1.1-py3-none-any.whl');
    assert.deepEqual(
      [wheel.packageTag, wheel.packageVersionTag, wheel.pyVersionTag, wheel.abiTag, wheel.platformTag],
      ['e2e_pure', '1.1', 'py3', 'none', 'any'],
    );
    const bytes = readFileSync(wheel.path);
    assert.equal(wheel.filesize, bytes.length);
    assert.equal(wheel.filehash, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(wheel.requiresPython, '>=3.7');
    assert.match(wheel.metadata.toString('utf8'), /^Name: e2e-pure$/m);
    assert.deepEqual(wheel.dependencies, { apt: [], pip: [], '': [] });
    const dir = build.directory;
    assert.ok(dir !== null && existsSync(dir));
    await build.close();
    assert.equal(existsSync(dir), false, 'close removes the build directory');
  });

  test('C extension: a platform wheel that needs libc6', async () => {
    const build = make('e2e-cext', '1.0');
    const result = await build.result;
    try {
      assert.equal(result.status, true, result.output);
      const wheel = result.wheels[0]!;
      assert.match(wheel.filename, /^e2e_cext-1\.0-cp3\d+-cp3\d+-linux_\w+\.whl$/);
      assert.match(wheel.abiTag, /^cp3\d+$/);
      assert.ok(wheel.dependencies.apt.includes('libc6'), JSON.stringify(wheel.dependencies));
      assert.deepEqual(wheel.dependencies[''], []);
    } finally {
      await build.close();
    }
  });

  test('a broken package fails with its output recorded', async () => {
    const build = make('e2e-broken', '1.0');
    const result = await build.result;
    await build.close();
    assert.equal(result.status, false);
    assert.deepEqual(result.wheels, []);
    assert.match(result.output, /broken on purpose/);
    assert.deepEqual(parseEnding(result.output), { kind: 'exit', code: 1 }, 'the footer says how pip ended');
  });

  test("with the slave's describer the log states the environment and how to reproduce the build", async () => {
    const build = make('e2e-broken', '1.0', { describe: (o) => probeEnvironment(o.python, reproduceBuild(o)) });
    const result = await build.result;
    await build.close();
    const env = parseEnvironment(result.output);
    assert.ok(env, result.output.slice(0, 500));
    assert.match(env.python, /^3\./);
    assert.match(env.reproduce, /pip wheel e2e-broken==1\.0/);
    assert.match(result.output, /broken on purpose/);
  });

  test('a version the index does not have fails', async () => {
    const build = make('e2e-pure', '9.9');
    const result = await build.result;
    await build.close();
    assert.equal(result.status, false);
    assert.match(result.output, /No matching distribution|Could not find a version/);
  });

  test('a missing interpreter fails cleanly', async () => {
    const build = make('e2e-pure', '1.1', { python: '/nonexistent/python3' });
    const result = await build.result;
    await build.close();
    assert.equal(result.status, false);
    assert.match(result.output, /ENOENT/);
  });

  test('a real pip build past its timeout is killed and recorded as failed', async () => {
    const pidfile = join(root, 'slow.pids');
    const build = make('e2e-slow', '1.0', { timeoutMs: 30_000, killGraceMs: 1000, env: { PIP_FIND_LINKS: '', E2E_SLOW_PIDFILE: pidfile } });
    try {
      const result = await build.result;
      assert.equal(result.status, false);
      assert.deepEqual(result.wheels, []);
      assert.match(result.output, /timed out after 30 s/);
      // e2e-slow needs no build environment, so its tree is normally up long before the timeout.
      const pids = existsSync(pidfile) ? readFileSync(pidfile, 'utf8').trim().split('\n').map(Number) : [];
      for (const pid of pids) assert.equal(isRunning(pid), false, `process ${pid} survived`);
    } finally {
      await build.close();
    }
  });

  test('on timeout the whole tree goes, grandchildren included', async () => {
    // Stands in for pip so the tree is up at once however loaded the machine is.
    const fake = join(root, 'tree-python.sh');
    const pidfile = join(root, 'tree.pids');
    writeFileSync(
      fake,
      `#!/bin/sh\nsh -c 'sleep 300 & echo $! >> ${pidfile}; trap "" TERM; sleep 300' &\necho $! >> ${pidfile}\necho $$ >> ${pidfile}\nwait\n`,
    );
    chmodSync(fake, 0o755);
    const build = make('anything', '1.0', { python: fake, timeoutMs: 3000, killGraceMs: 500 });
    try {
      const result = await build.result;
      assert.equal(result.status, false);
      assert.match(result.output, /timed out after 3 s/);
      const pids = readFileSync(pidfile, 'utf8').trim().split('\n').map(Number);
      assert.equal(pids.length, 3, 'script, child and grandchild');
      for (const pid of pids) assert.equal(isRunning(pid), false, `process ${pid} survived`);
    } finally {
      await build.close();
    }
  });

  test('stopping a running build (master said DONE) kills it and removes its files', async () => {
    const pidfile = join(root, 'stopped.pids');
    const build = make('e2e-slow', '1.0', { killGraceMs: 1000, env: { PIP_FIND_LINKS: '', E2E_SLOW_PIDFILE: pidfile } });
    // Wait until the whole tree is up before stopping it.
    for (let i = 0; i < 2400 && (!existsSync(pidfile) || readFileSync(pidfile, 'utf8').trim().split('\n').length < 3); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const dir = build.directory;
    assert.equal(build.done, null, 'still running');
    const pids = readFileSync(pidfile, 'utf8').trim().split('\n').map(Number);
    await build.close('master asked to stop');
    const result = await build.result;
    assert.equal(result.status, false);
    assert.match(result.output, /master asked to stop/);
    for (const pid of pids) assert.equal(isRunning(pid), false, `process ${pid} survived`);
    assert.ok(dir !== null && !existsSync(dir));
  });

  test('a straggler holding the output pipe after pip exits is killed, and the build still settles', async () => {
    // Stands in for pip: leaves a background process that keeps stdout open, then exits.
    const fake = join(root, 'fake-python.sh');
    const pidfile = join(root, 'straggler.pid');
    writeFileSync(fake, `#!/bin/sh\nsleep 300 &\necho $! > ${pidfile}\necho building\nexit 0\n`);
    chmodSync(fake, 0o755);
    const build = make('anything', '1.0', { python: fake, killGraceMs: 500 });
    try {
      const result = await build.result;
      assert.match(result.output, /building/);
      assert.deepEqual(result.wheels, []);
      const straggler = Number(readFileSync(pidfile, 'utf8').trim());
      assert.equal(isRunning(straggler), false, 'the straggler was killed');
    } finally {
      await build.close();
    }
  });

  test('closed builds leave nothing behind in the build dir', () => {
    assert.deepEqual(readdirSync(join(root, 'builds')), []);
  });
});
