// Opt-in: our operator tools (piw-add, piw-import, piw-rebuild, piw-logger,
// piw-remove, piw-monitor) against the original Python piw-master, from the
// piwheels checkout named by PIWHEELS_SRC (see ../e2e/python-master.ts for
// what it needs). Each tool's effect is read back from the Python master's
// database and output tree; what the master refuses must end the tool with a
// non-zero exit. The tests share one master and run in order; the monitor
// test comes last because it stops the master.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probePython } from '../../shared/sysinfo.ts';
import { PYTHON, sha256File, spawnSlave, waitFor, type Slave } from '../helpers/farm.ts';
import { PIWHEELS_SRC, startPythonMaster, type PythonMaster } from '../helpers/python-master.ts';
import { buildWheel } from '../helpers/wheel.ts';
import { runTool, sampleAccessLog, sampleAccessRows, startTmux, type Tmux } from '../helpers/tool-harness.ts';

if (!PIWHEELS_SRC) {
  test('Python master interop (our tools) NOT RUN: set PIWHEELS_SRC to a piwheels checkout to run it', (t) => {
    t.diagnostic('our tools against the Python master were not run (PIWHEELS_SRC is not set)');
  });
} else {
  describe('our operator tools against the Python piwheels master', { timeout: 600_000 }, () => {
    let master: PythonMaster;
    let abi = '';
    const q = (): string[] => ['--import-queue', master.importQueue];
    const count = async (sql: string, params: unknown[] = []): Promise<number> =>
      Number((await master.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql}`, params))[0]?.n);

    before(async () => {
      abi = (await probePython(PYTHON)).abi;
      master = await startPythonMaster({ abis: [abi] });
    });
    after(async () => {
      await master.stop();
    });

    test('piw-add adds a package (with its display name) and a version; what the master refuses exits non-zero', async () => {
      const add = await runTool('add', [...q(), '-y', '-d', 'from our piw-add', 'Ts_Pkg']);
      assert.equal(add.code, 0, add.stderr);
      assert.deepEqual(await master.query('SELECT package, skip, description FROM packages'), [{ package: 'ts-pkg', skip: '', description: 'from our piw-add' }]);
      const names = await master.query<{ name: string }>("SELECT name FROM package_names WHERE package = 'ts-pkg' ORDER BY name");
      assert.deepEqual(names.map((n) => n.name), ['Ts_Pkg', 'ts-pkg']);

      const version = await runTool('add', [...q(), '-y', '--pypi-json', `${master.upstream}/pypi`, 'ts-pkg', '2.0']);
      assert.equal(version.code, 0, version.stderr);
      assert.deepEqual(await master.query('SELECT version, skip, yanked FROM versions'), [{ version: '2.0', skip: '', yanked: false }]);

      const skip = await runTool('add', [...q(), '-y', '--pypi-json', `${master.upstream}/pypi`, '-s', 'nope', 'ts-pkg']);
      assert.notEqual(skip.code, 0);
      assert.match(skip.stderr, /cannot skip a known package/);
      assert.equal(await count("packages WHERE skip = ''"), 1, 'the package is still not skipped');

      const orphan = await runTool('add', [...q(), '-y', '--pypi-json', `${master.upstream}/pypi`, 'no-such-pkg', '1.0']);
      assert.notEqual(orphan.code, 0);
      assert.equal(await count("versions WHERE package = 'no-such-pkg'"), 0);
    });

    test('piw-import sends a wheel: a build by the importer, the file in the output tree with the database\'s hash', async () => {
      const wheel = await buildWheel(join(master.dir, 'wheels'), 'ts_pkg', '2.0');
      const imported = await runTool('import', [...q(), '--file-queue', master.fileQueue, '-y', '--abi', abi, wheel.path]);
      assert.equal(imported.code, 0, imported.stderr);
      const builds = await master.query<{ build_id: number; built_by: number; status: boolean; abi_tag: string }>(
        "SELECT build_id, built_by, status, abi_tag FROM builds WHERE package = 'ts-pkg' AND version = '2.0'");
      assert.equal(builds.length, 1);
      assert.deepEqual({ ...builds[0], build_id: 0 }, { build_id: 0, built_by: 0, status: true, abi_tag: abi });
      const files = await master.query<{ filename: string; filehash: string; filesize: number; requires_python: string | null }>(
        'SELECT filename, filehash, filesize, requires_python FROM files WHERE build_id = $1', [builds[0]!.build_id]);
      assert.deepEqual(files, [{ filename: wheel.filename, filehash: wheel.sha256, filesize: wheel.bytes.length, requires_python: null }]);
      const served = join(master.output, 'simple', 'ts-pkg', wheel.filename);
      assert.ok(existsSync(served));
      assert.equal(sha256File(served), wheel.sha256);

      const badAbi = await runTool('import', [...q(), '--file-queue', master.fileQueue, '-y', '--abi', 'cp34m', wheel.path]);
      assert.notEqual(badAbi.code, 0);
      assert.match(badAbi.stderr, /invalid ABI: cp34m/);
      const unknown = await buildWheel(join(master.dir, 'wheels'), 'ts_pkg', '3.0');
      const badVersion = await runTool('import', [...q(), '--file-queue', master.fileQueue, '-y', '--abi', abi, unknown.path]);
      assert.notEqual(badVersion.code, 0);
      assert.match(badVersion.stderr, /unknown package version ts-pkg 3\.0/);
      assert.equal(await count('builds'), 1, 'nothing recorded for the refused imports');
    });

    test('piw-rebuild has the master rewrite the project page and the home page; an unknown package exits non-zero', async () => {
      const project = join(master.output, 'project', 'ts-pkg', 'index.html');
      const home = join(master.output, 'index.html');
      await waitFor('the first project page', () => existsSync(project), 60_000);
      rmSync(project);
      const rebuilt = await runTool('rebuild', [...q(), '-y', 'project', 'ts-pkg']);
      assert.equal(rebuilt.code, 0, rebuilt.stderr);
      await waitFor('the project page rewritten', () => existsSync(project), 60_000);

      await waitFor('the first home page', () => existsSync(home), 60_000);
      rmSync(home);
      const homeRebuilt = await runTool('rebuild', [...q(), '-y', 'home']);
      assert.equal(homeRebuilt.code, 0, homeRebuilt.stderr);
      await waitFor('the home page rewritten', () => existsSync(home), 60_000);

      const unknown = await runTool('rebuild', [...q(), '-y', 'project', 'no-such-pkg']);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /unknown package no-such-pkg/);
    });

    test('piw-logger feeds an access log to the Lumberjack: a download, a search, project, JSON and page hits', async () => {
      const wheel = 'ts_pkg-2.0-py3-none-any.whl';
      const log = join(master.dir, 'access.log');
      writeFileSync(log, sampleAccessLog('ts-pkg', wheel));
      // the Python master takes piwheels' one message per record only
      const fed = await runTool('logger', ['--no-batch', '--log-queue', master.logQueue, log]);
      assert.equal(fed.code, 0, fed.stderr);
      const expected = sampleAccessRows('ts-pkg', wheel);
      const read = (): Promise<unknown[][]> => Promise.all(expected.map(({ query }) => master.query(query)));
      await waitFor('every record in the Python master\'s tables', async () => (await read()).flat().length === 5, 60_000).catch((error: unknown) => {
        const said = master.log().split('\n').filter((l) => l.includes('lumberjack')).join(' | ');
        throw new Error(`${error instanceof Error ? error.message : String(error)}; the master's Lumberjack logged: ${said}`);
      });
      assert.deepEqual(await read(), expected.map(({ rows }) => rows));
    });

    test('piw-remove yanks a version, deletes its builds, then the package; unknown ones exit non-zero', async () => {
      const yank = await runTool('remove', [...q(), '-y', '--yank', 'ts-pkg', '2.0']);
      assert.equal(yank.code, 0, yank.stderr);
      assert.deepEqual(await master.query("SELECT yanked FROM versions WHERE package = 'ts-pkg'"), [{ yanked: true }]);

      const missing = await runTool('remove', [...q(), '-y', 'ts-pkg', '9.9']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /does not exist/);

      const builds = await runTool('remove', [...q(), '-y', '--builds', 'ts-pkg', '2.0']);
      assert.equal(builds.code, 0, builds.stderr);
      assert.equal(await count('builds'), 0);
      assert.equal(await count('files'), 0);
      assert.equal(await count("versions WHERE package = 'ts-pkg'"), 1, 'the version itself stays');

      const gone = await runTool('remove', [...q(), '-y', 'ts-pkg']);
      assert.equal(gone.code, 0, gone.stderr);
      assert.equal(await count('packages'), 0);
      const again = await runTool('remove', [...q(), '-y', 'ts-pkg']);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /does not exist/);
    });

    test('piw-monitor in tmux sees the master and our slave; its SLEEP, WAKE, KILL and QUIT reach the master', async () => {
      const slave: Slave = spawnSlave(master.dir, { slave: master.slaveQueue, file: master.fileQueue }, 'tmux-py-slave');
      const session = `piwpymon${randomBytes(4).toString('hex')}`;
      const tmux: Tmux = startTmux(session, `${process.execPath} bin/piw-monitor.js --status-queue ${master.statusQueue} --control-queue ${master.controlQueue}`);
      const seen = (text: string | RegExp, what: string): Promise<true> =>
        waitFor(what, () => (typeof text === 'string' ? tmux.pane().includes(text) : text.test(tmux.pane())), 120_000);
      const logged = (text: string): Promise<true> => waitFor(`"${text}" in the master's log`, () => master.log().includes(text), 60_000);
      try {
        await seen(new RegExp(`1 {2}tmux-py-slave +${abi}`), 'our slave in the monitor');
        await seen(/piw-monitor — master .*, up \d/, 'the master\'s HELLO in the monitor');
        await seen(/Packages built \d+/, 'the master\'s statistics in the monitor');

        tmux.keys('S');
        await seen('Sleep ALL slaves? [y/N]', 'the confirmation');
        tmux.keys('y');
        await logged('sleeping all slaves and master');
        await seen('SLEEP true', 'the paused master\'s answer in the slave\'s messages');
        tmux.keys('W');
        await seen('Wake ALL slaves? [y/N]', 'the confirmation');
        tmux.keys('y');
        await logged('waking all slaves and master');
        await seen(/SLEEP true[\s\S]*SLEEP false/, 'SLEEP false after the wake');

        tmux.keys('k');
        await seen('Kill slave 1 (tmux-py-slave)? [y/N]', 'the confirmation');
        tmux.keys('y');
        await logged('killing slave 1');
        assert.equal(await slave.exited, 0, 'our slave leaves when the master answers DIE');

        tmux.keys('Q');
        await seen('Stop the master? [y/N]', 'the confirmation');
        tmux.keys('y');
        assert.equal(await master.exited, 0, 'the Python master stops on QUIT');
        assert.match(master.log(), /shutting down on QUIT message/);
        tmux.keys('q');
        await waitFor('the monitor to exit on q', () => tmux.gone(), 30_000);
      } finally {
        tmux.kill();
        await slave.kill('SIGKILL');
      }
    });
  });
}
