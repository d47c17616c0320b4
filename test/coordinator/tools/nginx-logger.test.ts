// A real nginx access log, written while pip downloads a wheel from the
// served output tree, goes through piw-logger into the database; the
// project page written afterwards shows the download.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testConfig } from '../../helpers/nginx.ts';
import { buildWheel } from '../../helpers/wheel.ts';
import { runTool, startHarness, until, type Harness } from '../../helpers/tool-harness.ts';
import { connect } from 'node:net';
import { freePort } from '../../helpers/farm.ts';
import { logBuild } from '../../helpers/db.ts';

const run = promisify(execFile);

describe('nginx access log through piw-logger', () => {
  let h: Harness;
  let nginx: ChildProcess;
  let port: number;
  let work: string;

  before(async () => {
    h = await startHarness('sqlite');
    const wheel = await buildWheel(join(h.dir, 'src'), 'served_pkg', '1.0');
    await h.t.db.addNewPackage('served-pkg');
    await h.t.db.addNewPackageVersion('served-pkg', '1.0');
    await logBuild(h.t.db, {
      package: 'served-pkg', version: '1.0', abiTag: 'cp311', status: true, duration: 1, slaveId: 1, builtAt: new Date(),
      files: [{
        filename: wheel.filename, filesize: wheel.bytes.length, filehash: wheel.sha256, packageTag: 'served_pkg', packageVersionTag: '1.0',
        pyVersionTag: 'py3', abiTag: 'none', platformTag: 'any', requiresPython: null, dependencies: { apt: [], pip: [] }, metadataHash: null,
      }],
    });
    await mkdir(join(h.output, 'simple', 'served-pkg'), { recursive: true });
    await copyFile(wheel.path, join(h.output, 'simple', 'served-pkg', wheel.filename));
    await h.chase.handle('test', { msg: 'REBUILD', data: ['BOTH', 'served-pkg'] });
    work = join(h.dir, 'nginx');
    await mkdir(work, { recursive: true });
    port = await freePort();
    // the deploy config as the site tests run it, logging in the combined format
    const conf = (await testConfig(h.output, work, port)).replace(/access\.log probe;/, 'access.log combined;');
    await writeFile(join(work, 'nginx.conf'), conf);
    nginx = spawn('/usr/sbin/nginx', ['-p', work, '-c', join(work, 'nginx.conf'), '-e', join(work, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
    await until(
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        }),
      'nginx to listen',
    );
  });

  after(async () => {
    await new Promise((resolve) => {
      if (nginx.exitCode !== null) return resolve(null);
      nginx.once('exit', resolve);
      nginx.kill('SIGQUIT');
    });
    await h.stop();
  });

  test('pip downloads, piw-logger records, the project page counts', async () => {
    const dest = join(h.dir, 'downloaded');
    await run('/usr/bin/python3', ['-m', 'pip', 'download', '--isolated', '--no-cache-dir', '--disable-pip-version-check', '--no-deps',
      '--index-url', `http://127.0.0.1:${port}/simple/`, '-d', dest, 'served-pkg'], { env: { ...process.env, PIP_FIND_LINKS: '' } });
    await until(async () => (await readFile(join(work, 'access.log'), 'utf8')).includes('.whl'), 'the download in the access log');
    const log = await readFile(join(work, 'access.log'), 'utf8');
    assert.match(log, /"GET \/simple\/served-pkg\/ HTTP\/1\.1" 200 .*"pip\/[\d.]+ \{/);

    const fed = await runTool('logger', ['--log-queue', h.logQueue, join(work, 'access.log')]);
    assert.equal(fed.code, 0, fed.stderr);
    await until(async () => (await h.t.db.getProjectData('served-pkg'))?.downloadsAll === 1, 'the download in the database');
    const search = await h.t.kysely.selectFrom('searches').selectAll().executeTakeFirstOrThrow();
    assert.equal(search.package, 'served-pkg');
    assert.equal(search.installer_name, 'pip');
    const download = await h.t.kysely.selectFrom('downloads').selectAll().executeTakeFirstOrThrow();
    assert.equal(download.accessed_by, '127.0.0.1');
    assert.ok(download.py_version?.startsWith('3.'));

    await h.chase.handle('test', { msg: 'REBUILD', data: ['PROJECT', 'served-pkg'] });
    const page = await readFile(join(h.output, 'project', 'served-pkg', 'index.html'), 'utf8');
    assert.match(page, /<dd id="downloads-all">1<\/dd>/);
  });
});
