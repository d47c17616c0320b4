// Opt-in: our piw-slave building for the original Python piw-master (from
// the piwheels checkout named by PIWHEELS_SRC; see python-master.ts for what
// it needs). The Python master hands out three seeded packages; our slave
// builds them from the local upstream, and the results must be where the
// Python master keeps them: builds, files and dependencies rows in its
// database, the wheels in its output tree with the hash the database holds,
// and the build logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { logPathParts } from '../../site/lib/views.ts';
import { probePython } from '../../shared/sysinfo.ts';
import { PYTHON, sha256File, spawnSlave, waitFor } from '../helpers/farm.ts';
import { PIWHEELS_SRC, startPythonMaster } from '../helpers/python-master.ts';

interface BuildRow {
  build_id: number;
  package: string;
  version: string;
  built_by: number;
  status: boolean;
  abi_tag: string;
}

interface FileRow {
  filename: string;
  build_id: number;
  filesize: number;
  filehash: string;
  platform_tag: string;
}

const title = PIWHEELS_SRC
  ? 'our slave builds for the Python piwheels master: rows in its database, verified wheels and logs in its output'
  : 'Python master interop (our slave) NOT RUN: set PIWHEELS_SRC to a piwheels checkout to run it';

test(title, { timeout: 600_000 }, async (t) => {
  if (!PIWHEELS_SRC) {
    t.diagnostic('interop with the Python master was not run (PIWHEELS_SRC is not set)');
    return;
  }
  const { abi } = await probePython(PYTHON);
  const master = await startPythonMaster({ abis: [abi], fixtures: ['e2e-pure', 'e2e-cext', 'e2e-broken'] });
  const slave = spawnSlave(master.dir, { slave: master.slaveQueue, file: master.fileQueue }, 'ts-slave');
  try {
    const builds = await waitFor('three builds in the Python master\'s database', async () => {
      const rows = await master.query<BuildRow>('SELECT build_id, package, version, built_by, status, abi_tag FROM builds ORDER BY build_id');
      return rows.length >= 3 ? rows : undefined;
    }, 400_000);
    const byPackage = new Map(builds.map((b) => [b.package, b]));
    assert.deepEqual([...byPackage.keys()].sort(), ['e2e-broken', 'e2e-cext', 'e2e-pure']);
    assert.equal(byPackage.get('e2e-pure')?.status, true);
    assert.equal(byPackage.get('e2e-cext')?.status, true);
    assert.equal(byPackage.get('e2e-broken')?.status, false);
    assert.match(master.log(), /slave 1 \(ts-slave\): hello/);
    for (const b of builds) {
      assert.equal(b.abi_tag, abi);
      assert.equal(b.built_by, 1, 'built by the one slave the master knows');
    }

    const files = await master.query<FileRow>('SELECT filename, build_id, filesize, filehash, platform_tag FROM files ORDER BY filename');
    assert.deepEqual(files.map((f) => f.build_id).sort(), [byPackage.get('e2e-cext')!.build_id, byPackage.get('e2e-pure')!.build_id].sort());
    for (const f of files) {
      const pkg = f.filename.startsWith('e2e_pure') ? 'e2e-pure' : 'e2e-cext';
      const path = join(master.output, 'simple', pkg, f.filename);
      assert.ok(existsSync(path), `${f.filename} is in the Python master's index`);
      assert.equal(sha256File(path), f.filehash, 'the wheel has the hash the database holds');
      assert.equal(statSync(path).size, f.filesize);
    }
    assert.equal(files.find((f) => f.filename.startsWith('e2e_pure'))?.platform_tag, 'any');
    const cext = files.find((f) => f.filename.startsWith('e2e_cext'));
    assert.ok(cext !== undefined && cext.platform_tag !== 'any', 'the C extension is a platform wheel');
    const deps = await master.query<{ tool: string; dependency: string }>('SELECT tool, dependency FROM dependencies WHERE filename = $1', [cext.filename]);
    assert.ok(deps.some((d) => d.tool === 'apt' && d.dependency === 'libc6'), 'the C extension\'s apt dependency is recorded');

    for (const b of builds) {
      const path = join(master.output, 'logs', ...logPathParts(b.build_id));
      await waitFor(`the log of build ${b.build_id}`, () => existsSync(path), 60_000);
      const text = gunzipSync(readFileSync(path)).toString();
      assert.ok(text.length > 0);
      if (!b.status) assert.match(text, /broken on purpose/);
    }
    const pure = files.find((f) => f.filename.startsWith('e2e_pure'))!;
    const index = join(master.output, 'simple', 'e2e-pure', 'index.html');
    await waitFor('the Python master\'s simple page listing the wheel', () =>
      existsSync(index) && readFileSync(index, 'utf8').includes(`${pure.filename}#sha256=${pure.filehash}`), 60_000);

    await slave.kill();
    assert.equal(await slave.exited, 0, 'the slave exits cleanly on SIGTERM');
    await waitFor('the master to hear the slave leave', () => master.log().includes('slave 1 (ts-slave): shutdown'), 30_000);
  } finally {
    await slave.kill('SIGKILL');
    await master.stop();
  }
});
