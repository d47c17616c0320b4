// Opt-in: piwheels' own piw-add, piw-import, piw-rebuild, piw-remove and
// piw-logger (from the checkout named by PIWHEELS_SRC) against our MrChase
// and Lumberjack. They need Debian's python3-zmq, python3-cbor2,
// python3-voluptuous, python3-configargparse, python3-apt,
// python3-packaging, python3-dateutil, python3-requests and
// python3-simplejson. piw-logger also needs lars, which Debian does not
// package: LARS_SRC names a checkout of it (put on PYTHONPATH beside
// PIWHEELS_SRC), and lars needs Debian's python3-pygeoip.
// piw-import always sends its files to tcp://localhost:5556.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import { hasPythonLogger, PIWHEELS_SRC as source, runPiwheels as runPython } from '../helpers/python-master.ts';
import { buildWheel } from '../helpers/wheel.ts';
import { sampleAccessLog, sampleAccessRows, startHarness, until } from '../helpers/tool-harness.ts';
import { getPackageFiles } from '../helpers/db.ts';

const hasLars = hasPythonLogger();

describe(source ? "piwheels' Python operator tools against our coordinator" : 'Python tools interop NOT RUN: set PIWHEELS_SRC to a piwheels checkout to run it', () => {
  test(source ? 'piw-add, piw-import, piw-rebuild and piw-remove (Python) do their work through MrChase' : 'Python piw-add/import/rebuild/remove interop NOT RUN (PIWHEELS_SRC is not set)', async (t) => {
    if (!source) {
      t.diagnostic('interop with the Python operator tools was not run (PIWHEELS_SRC is not set)');
      return;
    }
    const h = await startHarness('sqlite', { fileQueue: 'tcp://*:5556' });
    try {
      const q = ['--import-queue', h.importQueue];
      const add = await runPython('add', [...q, '-y', '-d', 'from python', 'Py_Pkg']);
      assert.equal(add.code, 0, add.output);
      assert.equal((await h.t.db.getProjectData('py-pkg'))?.description, 'from python');
      const ver = await runPython('add', [...q, '-y', 'py-pkg', '1.0']);
      assert.equal(ver.code, 0, ver.output);
      assert.equal(await h.t.db.testPackageVersion('py-pkg', '1.0'), true);
      const refused = await runPython('add', [...q, '-y', '-d', 'x', '-s', 'nope', 'py-pkg']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.output, /Cannot skip a known package/);

      const wheel = await buildWheel(join(h.dir, 'py'), 'py_pkg', '1.0');
      const imported = await runPython('importer', [...q, '-y', '--abi', 'cp311', wheel.path]);
      assert.equal(imported.code, 0, imported.output);
      const served = await readFile(join(h.output, 'simple', 'py-pkg', wheel.filename));
      assert.equal(createHash('sha256').update(served).digest('hex'), wheel.sha256);
      assert.equal((await getPackageFiles(h.t.kysely, 'py-pkg')).get(wheel.filename), wheel.sha256);

      const home = await runPython('rebuild', [...q, '-y', 'home']);
      assert.equal(home.code, 0, home.output);
      const unknown = await runPython('rebuild', [...q, '-y', 'project', 'nope']);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.output, /unknown package nope/);

      const yank = await runPython('remove', [...q, '-y', '--yank', 'py-pkg', '1.0']);
      assert.equal(yank.code, 0, yank.output);
      assert.equal((await h.t.db.getProjectData('py-pkg'))?.releases[0]?.yanked, true);
      const gone = await runPython('remove', [...q, '-y', 'py-pkg']);
      assert.equal(gone.code, 0, gone.output);
      assert.equal(await h.t.db.testPackage('py-pkg'), false);
    } finally {
      await h.stop();
    }
  });

  test(hasLars ? 'piw-logger (Python) feeds the Lumberjack: a download, a search, project, JSON and page hits' : 'Python piw-logger interop NOT RUN: set PIWHEELS_SRC, and LARS_SRC to a lars checkout', async (t) => {
    if (!hasLars) {
      t.diagnostic('interop with the Python piw-logger was not run (PIWHEELS_SRC or LARS_SRC unset, or lars cannot be imported)');
      return;
    }
    const h = await startHarness('sqlite');
    try {
      const wheel = 'py_pkg-1.0-py3-none-any.whl';
      await writeFile(join(h.dir, 'access.log'), sampleAccessLog('py-pkg', wheel));
      const fed = await runPython('logger', ['--log-queue', h.logQueue, join(h.dir, 'access.log')]);
      assert.equal(fed.code, 0, fed.output);
      const expected = sampleAccessRows('py-pkg', wheel);
      const read = async (): Promise<unknown[][]> =>
        Promise.all(expected.map(async ({ query }) => (await sql.raw(query).execute(h.t.kysely)).rows));
      await until(async () => (await read()).flat().length === 5, 'every record in our tables');
      assert.deepEqual(await read(), expected.map(({ rows }) => rows));
    } finally {
      await h.stop();
    }
  });
});
