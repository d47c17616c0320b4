// piw-initdb as a subprocess, against real SQLite files and real PostgreSQL
// databases: create from empty, upgrade from the previous migration, adopt a
// piwheels 0.23 database, do nothing the second time, refuse what it cannot
// handle with one line and exit code 2.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sql } from 'kysely';
import { openDatabase } from '../../../shared/db/index.ts';
import { connect, type DialectName } from '../../../shared/db/connect.ts';
import { LATEST_VERSION, MIGRATIONS } from '../../../shared/db/migrate.ts';

/** The schema version before the last migration (numbers may skip). */
const PREVIOUS_VERSION = MIGRATIONS.at(-2)?.version ?? 0;
import { toDbTimestamp } from '../../../shared/db/values.ts';
import { adminQuery, DIALECTS, logBuild, migrateTo, scratchDatabase, type Scratch } from '../../helpers/db.ts';

const BIN = fileURLToPath(new URL('../../../bin/piw-initdb.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function initdb(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...process.env, PIW_DATA_DIR: '' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

const scratches: Scratch[] = [];
async function scratch(dialect: DialectName): Promise<Scratch> {
  const s = await scratchDatabase(dialect);
  scratches.push(s);
  return s;
}
after(async () => {
  for (const s of scratches) await s.drop();
});

const TABLES = [
  'configuration', 'packages', 'package_names', 'versions', 'build_abis', 'builds', 'files', 'dependencies', 'downloads',
  'searches', 'project_page_hits', 'project_json_downloads', 'web_page_hits', 'rewrites_pending', 'preinstalled_apt_packages',
] as const;

/** Every row of every piwheels table, as text, for before/after comparisons. */
async function snapshot(dsn: string): Promise<Record<string, string[]>> {
  const conn = await connect(dsn);
  try {
    const out: Record<string, string[]> = {};
    for (const table of TABLES) {
      const rows = await conn.kysely.selectFrom(table).selectAll().execute();
      out[table] = rows
        .map((r) => {
          const row: Record<string, unknown> = { ...r };
          delete row.metadata_hash;
          if (table === 'configuration') delete row.version;
          return JSON.stringify(row);
        })
        .sort();
    }
    return out;
  } finally {
    await conn.close();
  }
}

for (const dialect of DIALECTS) {
  describe(`piw-initdb (${dialect})`, () => {
    test('initialises an empty database, then has nothing to do', async () => {
      const s = await scratch(dialect);
      const first = await initdb('--dsn', s.dsn, '--yes', '--abi', 'cp311', '--abi', 'cp39');
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /empty database/);
      assert.match(first.stdout, new RegExp(`schema is now at version ${LATEST_VERSION}`));
      const before = await snapshot(s.dsn);
      const second = await initdb('--dsn', s.dsn, '--yes', '--abi', 'cp39', '--check');
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /nothing to do/);
      assert.match(second.stdout, /derived tables match the rows/);
      assert.deepEqual(await snapshot(s.dsn), before);
      const db = await openDatabase(s.dsn);
      assert.deepEqual(await db.getBuildAbis(), ['cp39', 'cp311']);
      await db.close();
    });

    test('upgrades a database at the previous migration, data intact', async () => {
      const s = await scratch(dialect);
      await migrateTo(s.dsn, PREVIOUS_VERSION);
      const conn = await connect(s.dsn);
      await conn.kysely.insertInto('build_abis').values({ abi_tag: 'cp39', skip: '' }).execute();
      await conn.kysely.insertInto('packages').values({ package: 'foo', skip: '', description: 'Foo' }).execute();
      await conn.kysely
        .insertInto('versions')
        .values([
          { package: 'foo', version: '1.0', released: toDbTimestamp(new Date('2024-01-01T00:00:00Z')), skip: '', yanked: 0 },
          { package: 'foo', version: '2.0', released: toDbTimestamp(new Date('2024-02-01T00:00:00Z')), skip: '', yanked: 0 },
        ])
        .execute();
      await conn.close();
      const before = await snapshot(s.dsn);
      const run = await initdb('--dsn', s.dsn, '--yes');
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`schema version ${PREVIOUS_VERSION}`));
      assert.deepEqual(await snapshot(s.dsn), before);
      const db = await openDatabase(s.dsn);
      assert.deepEqual((await db.getBuildQueue()).get('cp39'), [
        { package: 'foo', version: '1.0' },
        { package: 'foo', version: '2.0' },
      ]);
      assert.deepEqual(await db.verifyDerived(), []);
      await db.close();
    });

    test('refuses a schema newer than it knows, with one line and exit 2', async () => {
      const s = await scratch(dialect);
      await migrateTo(s.dsn);
      const conn = await connect(s.dsn);
      await conn.kysely.insertInto('schema_migrations').values({ version: 99, name: 'future', applied_at: toDbTimestamp(new Date()) }).execute();
      await conn.close();
      const run = await initdb('--dsn', s.dsn, '--yes');
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^piw-initdb: the database is at schema version 99, newer than this software knows \(\d+\): upgrade the software\n$/);
    });

    test('asks first: without --yes and no terminal, nothing happens', async () => {
      const s = await scratch(dialect);
      const run = await initdb('--dsn', s.dsn);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /not confirmed: run interactively or pass --yes/);
      assert.match(run.stdout, /apply migration 1/);
      if (dialect === 'postgres') {
        const conn = await connect(s.dsn);
        const tables = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM pg_catalog.pg_tables WHERE schemaname = 'public'`.execute(conn.kysely);
        await conn.close();
        assert.equal(Number(tables.rows[0]?.n), 0);
      }
    });

    test('--check finds drift, --rebuild repairs it; ABIs retire and return', async () => {
      const s = await scratch(dialect);
      assert.equal((await initdb('-d', s.dsn, '-y', '--abi', 'cp39', '--abi', 'cp311')).code, 0);
      const db = await openDatabase(s.dsn);
      await db.addNewPackage('foo');
      await db.addNewPackageVersion('foo', '1.0');
      await db.close();
      const conn = await connect(s.dsn);
      await conn.kysely.deleteFrom('build_queue').execute();
      await conn.close();
      const check = await initdb('-d', s.dsn, '--check');
      assert.equal(check.code, 1);
      assert.match(check.stderr, /build_queue: 1 row\(s\) missing/);
      assert.equal((await initdb('-d', s.dsn, '-y', '--rebuild', '--check')).code, 0);
      const retire = await initdb('-d', s.dsn, '-y', '--skip-abi', 'cp39');
      assert.equal(retire.code, 0, retire.stderr);
      const db2 = await openDatabase(s.dsn);
      assert.deepEqual(await db2.getBuildAbis(true), ['cp311']);
      assert.deepEqual((await db2.getBuildQueue()).get('cp311'), [{ package: 'foo', version: '1.0' }]);
      await db2.close();
      const unknown = await initdb('-d', s.dsn, '-y', '--skip-abi', 'cp27mu');
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /no build ABI "cp27mu" to retire/);
      const badAbi = await initdb('-d', s.dsn, '-y', '--abi', 'none');
      assert.equal(badAbi.code, 2);
    });
  });
}

describe('piw-initdb: adopting a piwheels 0.23 database', () => {
  test('keeps every row of every table and drops the view and functions', async () => {
    const s = await scratch('postgres');
    const client = new pg.Client({ connectionString: s.dsn });
    await client.connect();
    await client.query(readFileSync(new URL('../../fixtures/db/piwheels-0.23.sql', import.meta.url), 'utf8'));
    await client.end();
    const before = await snapshot(s.dsn);
    for (const table of TABLES) assert.ok((before[table]?.length ?? 0) > 0, `fixture has rows in ${table}`);

    const run = await initdb('--dsn', s.dsn, '--yes');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /piwheels 0\.23 database/);
    assert.match(run.stdout, /adopt the piwheels 0\.23 database/);
    assert.deepEqual(await snapshot(s.dsn), before, 'every row of every table intact');

    const again = await initdb('--dsn', s.dsn, '--yes');
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to do/);

    const check = new pg.Client({ connectionString: s.dsn });
    await check.connect();
    const leftovers = await check.query(
      `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
       UNION ALL SELECT viewname FROM pg_views WHERE schemaname = 'public'`,
    );
    await check.end();
    assert.deepEqual(leftovers.rows, []);

    const db = await openDatabase(s.dsn);
    assert.equal(await db.getPypiSerial(), 24000000);
    assert.deepEqual(await db.getBuildAbis(true), ['cp39', 'cp311']);
    const numpy = await db.getProjectData('numpy', new Date('2024-07-10T00:00:00Z'));
    assert.equal(numpy?.name, 'NumPy');
    assert.deepEqual(numpy?.aliases, ['NumPy']);
    assert.deepEqual(numpy?.releases.map((r) => r.version), ['2.1.0rc1', '2.0.0', '1.26.4']);
    assert.equal(numpy?.releases[0]?.prerelease, true);
    assert.equal(numpy?.releases[0]?.yanked, true);
    const old = numpy?.releases[2];
    assert.deepEqual(old?.abis, { cp39: { status: 'success', buildId: 1 }, cp311: { status: 'success', buildId: 2 } });
    assert.deepEqual(old?.files['numpy-1.26.4-cp39-cp39-linux_armv7l.whl']?.aptDependencies, ['libopenblas0-pthread']);
    assert.equal(numpy?.downloadsAll, 2);
    assert.deepEqual((await db.getBuildQueue()).get('cp311'), [{ package: 'numpy', version: '2.0.0' }]);
    assert.deepEqual((await db.getBuildQueue()).get('cp39'), [{ package: 'numpy', version: '2.1.0rc1' }]);
    const stats = await db.getStatistics();
    assert.equal(stats.filesCount, 4);
    assert.equal(stats.buildsSize, 10000000 + 11000000 + 5000);
    assert.equal(stats.packagesBuilt, 2);
    assert.equal(stats.buildsTime, (25 + 28 + 1) * 60 + 5);
    assert.deepEqual(await db.loadRewritesPending(), [{ package: 'numpy', addedAt: new Date('2024-07-01T10:00:01Z'), command: 'BOTH' }]);
    const id = await logBuild(db, {
      package: 'pure',
      version: '1.0',
      abiTag: 'cp311',
      status: false,
      duration: 1,
      slaveId: 2,
      builtAt: new Date(),
      files: [],
    });
    assert.equal(id, 5, 'build ids carry on from the adopted sequence');
    assert.deepEqual(await db.verifyDerived(), []);
    await db.close();
  });

  test('refuses older piwheels versions', async () => {
    const s = await scratch('postgres');
    const client = new pg.Client({ connectionString: s.dsn });
    await client.connect();
    await client.query(`CREATE TABLE configuration (id INTEGER PRIMARY KEY, version VARCHAR(16) NOT NULL, pypi_serial BIGINT DEFAULT 0 NOT NULL);
                        INSERT INTO configuration VALUES (1, '0.19', 0);
                        CREATE TABLE packages (package VARCHAR(200) PRIMARY KEY);`);
    await client.end();
    const run = await initdb('--dsn', s.dsn, '--yes');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /piwheels 0\.19 database; only 0\.23 can be adopted/);
  });
});

describe('piw-initdb: the coordinator role', () => {
  test('--user grants an ordinary role what the coordinator needs', async () => {
    const s = await scratch('postgres');
    const role = `piw_role_${randomBytes(5).toString('hex')}`;
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    try {
      const run = await initdb('--dsn', s.dsn, '--yes', '--abi', 'cp39', '--user', role);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`role ${role} granted`));
      const url = new URL(s.dsn);
      url.username = role;
      const db = await openDatabase(url.toString());
      assert.equal(await db.addNewPackage('granted'), true);
      await db.addNewPackageVersion('granted', '1.0');
      await logBuild(db, { package: 'granted', version: '1.0', abiTag: 'cp39', status: false, duration: 1, slaveId: 0, builtAt: new Date(), files: [] });
      await db.setPypiSerial(5);
      assert.deepEqual((await db.getBuildQueue()).get('cp39'), []);
      await db.close();
      const superuser = await initdb('--dsn', s.dsn, '--yes', '--user', 'postgres');
      assert.equal(superuser.code, 2);
      assert.match(superuser.stderr, /is a superuser/);
      const missing = await initdb('--dsn', s.dsn, '--yes', '--user', 'no_such_role_here');
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /no PostgreSQL role "no_such_role_here"/);
    } finally {
      const url = new URL(s.dsn);
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      await client.query(`DROP OWNED BY ${role}`);
      await client.end();
      await s.drop();
      await adminQuery(`DROP ROLE ${role}`);
    }
  });

  test('--user is for PostgreSQL only', async () => {
    const s = await scratch('sqlite');
    const run = await initdb('--dsn', s.dsn, '--yes', '--user', 'someone');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--user applies to PostgreSQL databases only/);
  });
});

describe('piw-initdb: bad input', () => {
  const oneLine = (run: Run): void => {
    assert.equal(run.code, 2);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^piw-initdb: /);
  };
  test('unreachable server', async () => {
    const run = await initdb('--dsn', 'postgres://postgres@127.0.0.1:59999/piwheels', '--yes');
    oneLine(run);
    assert.match(run.stderr, /cannot connect to postgres:\/\/postgres@127\.0\.0\.1:59999\/piwheels: .*ECONNREFUSED/);
  });
  test('missing database on a reachable server', async () => {
    const run = await initdb('--dsn', 'postgres://postgres@127.0.0.1:5432/no_such_db_for_piw', '--yes');
    oneLine(run);
    assert.match(run.stderr, /database "no_such_db_for_piw" does not exist/);
  });
  test('unsupported or malformed DSN', async () => {
    oneLine(await initdb('--dsn', 'mysql://localhost/piwheels', '--yes'));
    oneLine(await initdb('--dsn', 'postgres://localhost', '--yes'));
  });
  test('a file that is not a database', async () => {
    const run = await initdb('--dsn', fileURLToPath(new URL('../../fixtures/db/piwheels-0.23.sql', import.meta.url)), '--yes');
    oneLine(run);
    assert.match(run.stderr, /cannot open SQLite database .*: file is not a database/);
  });
  test('unknown option', async () => {
    const run = await initdb('--frobnicate');
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown option '--frobnicate'/);
  });
  test('--help lists the options', async () => {
    const run = await initdb('--help');
    assert.equal(run.code, 0);
    for (const option of ['--dsn', '--user', '--yes', '--abi', '--skip-abi', '--check', '--rebuild', '--verbose', '--quiet']) {
      assert.ok(run.stdout.includes(option), option);
    }
  });
});
