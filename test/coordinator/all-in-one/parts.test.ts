import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromArgv, explainExit, ipcEndpoint, pipInstallLine, prepareDatabase, publicHost } from '../../../coordinator/all-in-one/farm.ts';
import { formatProgress, readProgress, StatusLine } from '../../../coordinator/all-in-one/progress.ts';
import { DEFAULT_ALLOW_LIST, defaultAllowListText, newestRelease, reachable, seedFromUpstream } from '../../../coordinator/all-in-one/upstream-seed.ts';
import { parseAllowList } from '../../../coordinator/upstream/allow-list.ts';
import { openDatabase } from '../../../shared/db/index.ts';
import { UpstreamServer } from '../../../upstream/server.ts';
import { DEMO_SAMPLES, isDemoVersion, writeDemoSdist, writeDemoSdists } from '../../../upstream/demo-samples/samples.ts';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'piw-farm-parts-'));

describe('configuration', () => {
  test('defaults for one machine', () => {
    const { config, verbosity } = configFromArgv([], {});
    assert.equal(config.dataDir, './data');
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.offline, false);
    assert.equal(config.pypiSimple, 'https://pypi.org/simple');
    assert.equal(verbosity, 0);
  });

  test('flags over PIW_* environment over the TOML file', () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'farm.toml');
      writeFileSync(file, 'data-dir = "/srv/piwheels"\nport = 9000\n[farm]\nslave_port = 6000\noffline = true\n');
      const { config } = configFromArgv(['-c', file, '--port', '9100'], { PIW_PORT: '9050', PIW_FILE_PORT: '6001', PIW_PYTHON: 'python3.11' });
      assert.equal(config.dataDir, '/srv/piwheels');
      assert.equal(config.port, 9100);
      assert.equal(config.slavePort, 6000);
      assert.equal(config.filePort, 6001);
      assert.equal(config.python, 'python3.11');
      assert.equal(config.offline, true);
      const envOnly = configFromArgv(['-c', file], { PIW_PORT: '9050', PIW_OFFLINE: 'no' }).config;
      assert.equal(envOnly.port, 9050);
      assert.equal(envOnly.offline, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad values name the option, variable or file they came from', () => {
    assert.throws(() => configFromArgv(['--port', '70000'], {}), /port: .*option --port/);
    assert.throws(() => configFromArgv([], { PIW_PROBE_TIMEOUT: '0' }), /probeTimeout: .*environment PIW_PROBE_TIMEOUT/);
    assert.throws(() => configFromArgv(['--pypi-json', 'file:///etc'], {}), /pypiJson/);
    const dir = tempDir();
    try {
      const file = join(dir, 'farm.toml');
      writeFileSync(file, 'colour = "blue"\n');
      assert.throws(() => configFromArgv(['-c', file], {}), /unknown setting "colour"/);
      writeFileSync(file, 'port = \n');
      assert.throws(() => configFromArgv(['-c', file], {}), /not valid TOML/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what the farm prints', () => {
  test('the pip line needs --trusted-host only for plain http off this machine', () => {
    assert.equal(pipInstallLine('http://127.0.0.1:8080/simple', 'six'), 'pip install --index-url http://127.0.0.1:8080/simple six');
    assert.equal(pipInstallLine('http://localhost:8080/simple', 'six'), 'pip install --index-url http://localhost:8080/simple six');
    assert.equal(pipInstallLine('http://pi-farm.lan:8080/simple', 'six'), 'pip install --index-url http://pi-farm.lan:8080/simple --trusted-host pi-farm.lan six');
    assert.equal(pipInstallLine('https://pi-farm.lan/simple', 'six'), 'pip install --index-url https://pi-farm.lan/simple six');
  });

  test('wildcard listen addresses are shown as a host name; IPv6 in brackets', () => {
    assert.notEqual(publicHost('0.0.0.0'), '0.0.0.0');
    assert.equal(publicHost('192.168.1.5'), '192.168.1.5');
    assert.equal(publicHost('fe80::1'), '[fe80::1]');
  });

  test('ipc endpoints live in the data dir; over-long paths are refused', () => {
    assert.equal(ipcEndpoint('/srv/piwheels', 'piw-status'), 'ipc:///srv/piwheels/piw-status');
    assert.throws(() => ipcEndpoint(`/srv/${'x'.repeat(120)}`, 'piw-status'), /shorter --data-dir/);
  });

  test("a slave's exit is explained by its own error line, else its last log message", () => {
    assert.equal(explainExit(['{"msg":"starting"}', 'piw-slave: refusing to build as root: run it unprivileged']), 'piw-slave: refusing to build as root: run it unprivileged');
    assert.equal(explainExit(['{"level":30,"msg":"starting"}', '{"level":50,"msg":"cannot reach the master"}']), 'piw-slave: cannot reach the master');
    assert.equal(explainExit(['Segmentation fault']), 'Segmentation fault');
    assert.equal(explainExit([]), 'piw-slave stopped without a message');
  });

  test('progress line', () => {
    assert.equal(formatProgress({ built: 2, failed: 1, pending: 0, files: 2 }), 'builds: 2 built, 1 failed, 0 pending; 2 wheels in the index');
    assert.equal(formatProgress({ built: 1, failed: 0, pending: 3, files: 1 }), 'builds: 1 built, 0 failed, 3 pending; 1 wheel in the index');
  });

  test('status line: in place on a terminal, new lines only on change elsewhere', () => {
    const written: string[] = [];
    const plain = new StatusLine({ isTTY: false, write: (text: string) => written.push(text) });
    plain.update('a');
    plain.update('a');
    plain.message('note');
    plain.update('b');
    plain.finish();
    assert.deepEqual(written, ['a\n', 'note\n', 'b\n']);

    const screen: string[] = [];
    const tty = new StatusLine({ isTTY: true, write: (text: string) => screen.push(text) });
    tty.update('a');
    tty.message('note');
    tty.update('a');
    tty.finish();
    assert.deepEqual(screen, ['\r\x1b[2Ka', '\r\x1b[2Knote\na', '\r\x1b[2Ka', '\n']);
  });
});

describe('database set-up', () => {
  test('creates the SQLite database once, adds the ABI, and counts progress', async () => {
    const dir = tempDir();
    try {
      const dsn = join(dir, 'sub', 'piwheels.sqlite');
      assert.deepEqual(await prepareDatabase(dsn, 'cp311'), { created: true, upgraded: false });
      assert.deepEqual(await prepareDatabase(dsn, 'cp39'), { created: false, upgraded: false });
      const db = await openDatabase(dsn);
      try {
        assert.deepEqual((await db.getBuildAbis(true)).sort(), ['cp311', 'cp39']);
        assert.deepEqual(await readProgress(db), { built: 0, failed: 0, pending: 0, files: 0 });
        await db.addNewPackage('foo');
        await db.addNewPackageVersion('foo', '1.0');
        assert.ok((await readProgress(db)).pending > 0);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a file that is not a database is refused', async () => {
    const dir = tempDir();
    try {
      const dsn = join(dir, 'piwheels.sqlite');
      writeFileSync(dsn, 'this is not SQLite at all, just some text that is long enough to have a header');
      await assert.rejects(prepareDatabase(dsn, 'cp311'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('following upstream with an allow-list', () => {
  test('the default allow-list parses to its packages', () => {
    assert.deepEqual([...parseAllowList(defaultAllowListText()).names].sort(), [...DEFAULT_ALLOW_LIST].sort());
  });

  test('newest release from a JSON API document; unusable documents give null', () => {
    const release = newestRelease({
      info: { name: 'Foo.Bar', summary: 'x'.repeat(300), version: '2.0' },
      releases: { '1.0': [{ upload_time_iso_8601: '2020-01-01T00:00:00Z' }], '2.0': [{ upload_time_iso_8601: '2021-02-03T04:05:06.000Z' }] },
    });
    assert.ok(release);
    assert.equal(release.package, 'foo-bar');
    assert.equal(release.version, '2.0');
    assert.equal(release.released.toISOString(), '2021-02-03T04:05:06.000Z');
    assert.ok(release.summary.length <= 200);
    assert.equal(newestRelease({ info: { name: 'foo', version: null }, releases: {} }), null);
    assert.equal(newestRelease({ info: { name: 'foo', version: '1.0' }, releases: { '1.0': [] } }), null);
    assert.equal(newestRelease({ info: { name: 'foo', version: '1.0' }, releases: { '1.0': [{ yanked: true }] } }), null);
    assert.equal(newestRelease('not json at all'), null);
    assert.equal(newestRelease({ info: {} }), null);
  });

  test('a fresh database starts at upstream serial with the newest allowed releases; an old one is left alone', async () => {
    const dir = tempDir();
    const upstream = new UpstreamServer({ systemWheels: false });
    try {
      upstream.upload('Alpha', '1.0', { summary: 'first' });
      upstream.upload('Alpha', '1.1');
      upstream.upload('beta', '0.1');
      upstream.upload('unlisted', '3.0');
      const base = await upstream.start();
      const dsn = join(dir, 'piwheels.sqlite');
      await prepareDatabase(dsn, 'cp311');
      const db = await openDatabase(dsn);
      try {
        const result = await seedFromUpstream(db, ['alpha', 'beta', 'gamma'], { xmlrpc: `${base}/pypi`, json: `${base}/pypi` }, 5_000);
        assert.ok(result);
        assert.equal(result.serial, upstream.serial);
        assert.deepEqual(result.added.map((r) => [r.package, r.version]), [['alpha', '1.1'], ['beta', '0.1']]);
        assert.deepEqual(result.missing, ['gamma']);
        assert.equal(await db.getPypiSerial(), upstream.serial);
        assert.deepEqual([...(await db.getAllPackages())].sort(), ['alpha', 'beta']);
        assert.deepEqual([...((await db.getAllPackageVersions()).get('alpha') ?? [])], ['1.1']);
        assert.equal(await seedFromUpstream(db, ['unlisted'], { xmlrpc: `${base}/pypi`, json: `${base}/pypi` }, 5_000), null);
        assert.equal(await db.testPackage('unlisted'), false);
      } finally {
        await db.close();
      }
    } finally {
      await upstream.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an upstream that fails the serial call stops the seeding with an error, storing nothing', async () => {
    const dir = tempDir();
    const upstream = new UpstreamServer({ systemWheels: false });
    try {
      upstream.upload('alpha', '1.0');
      upstream.setFault({ kind: '500', target: 'xmlrpc' });
      const base = await upstream.start();
      const dsn = join(dir, 'piwheels.sqlite');
      await prepareDatabase(dsn, 'cp311');
      const db = await openDatabase(dsn);
      try {
        await assert.rejects(seedFromUpstream(db, ['alpha'], { xmlrpc: `${base}/pypi`, json: `${base}/pypi` }, 5_000), /HTTP 500/);
        assert.equal(await db.getPypiSerial(), 0);
        assert.equal(await db.testPackage('alpha'), false);
      } finally {
        await db.close();
      }
    } finally {
      await upstream.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('reachability probe: a listening server yes, a closed port no', async () => {
    const upstream = new UpstreamServer({ systemWheels: false });
    const base = await upstream.start();
    assert.equal(await reachable(`${base}/simple/`, 2_000), true);
    await upstream.stop();
    assert.equal(await reachable(`${base}/simple/`, 2_000), false);
  });
});

describe('demo samples', () => {
  test('reproducible sdists with PKG-INFO, one per sample', () => {
    const dir = tempDir();
    try {
      const first = writeDemoSdists(join(dir));
      assert.deepEqual(first.map((s) => s.name), Object.keys(DEMO_SAMPLES));
      assert.equal(first[0]!.summary, 'Demo package of the offline farm: pure Python');
      const bytes = readFileSync(first[0]!.path);
      const again = writeDemoSdist('piwdemo-hello', dir);
      assert.deepEqual(readFileSync(again.path), bytes);
      const listing = execFileSync('tar', ['-tzf', again.path], { encoding: 'utf8' }).split('\n');
      assert.ok(listing.includes('piwdemo-hello-1.0/PKG-INFO'));
      assert.ok(listing.includes('piwdemo-hello-1.0/piwdemo_hello/__init__.py'));
      const bumped = writeDemoSdist('piwdemo-hello', dir, '1.0.7');
      assert.equal(bumped.filename, 'piwdemo-hello-1.0.7.tar.gz');
      const pyproject = execFileSync('tar', ['-xzOf', bumped.path, 'piwdemo-hello-1.0.7/pyproject.toml'], { encoding: 'utf8' });
      assert.match(pyproject, /^version = "1\.0\.7"$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('versions that could break a filename are refused', () => {
    assert.equal(isDemoVersion('1.2rc1.post3.dev4'), true);
    for (const bad of ['', '1.0/../x', '1 0', 'latest', '1.0-1']) assert.equal(isDemoVersion(bad), false, bad);
    assert.throws(() => writeDemoSdist('piwdemo-hello', tmpdir(), '../evil'), /not a usable sample version/);
  });
});
